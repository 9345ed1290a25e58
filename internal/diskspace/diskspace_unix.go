//go:build unix

package diskspace

import "golang.org/x/sys/unix"

// Known reports whether Free measures anything on this system.
const Known = true

// Free is the space an unprivileged writer may still use on the file
// system holding dir (statfs: available blocks times block size).
func Free(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // Bsize is int64 on linux, uint32 elsewhere
}
