package bench

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// DiskUsage returns the bytes dir occupies on disk, counted like du: the
// allocated blocks of every file (st_blocks × 512), not the apparent sizes,
// so sparse and preallocated files count for what they really take. The
// directory's own entry is not counted; its subdirectories are.
func DiskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil // the directory itself is not the store's data
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += int64(st.Blocks) * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total, err
}
