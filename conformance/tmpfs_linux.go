//go:build linux

package conformance

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// MountTmpfs mounts a tmpfs of size bytes on a fresh directory and returns
// it; t.Cleanup unmounts it. It skips the test, saying why, where that is
// not allowed (not root, no mount permission in a container) or not
// possible (not Linux: see tmpfs_other.go).
func MountTmpfs(t testing.TB, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs (run the tests as root, or in CI)")
	}
	dir := t.TempDir()
	if err := unix.Mount("polykv-test", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("cannot mount a tmpfs here (%v): a container without CAP_SYS_ADMIN?", err)
		}
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// RemountReadOnly remounts the file system mounted on dir (by MountTmpfs)
// read-only. Nothing may have a file on it open for writing.
func RemountReadOnly(t testing.TB, dir string) {
	t.Helper()
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
}

// FreeBytes is the space left on the file system holding dir for an
// unprivileged writer (statfs: available blocks times block size).
func FreeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("conformance: statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

func fallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}
