//go:build unix

package pebble

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// diskUsage is the space the files under dir occupy, in allocated blocks.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile (a compaction's obsolete file)
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += int64(st.Blocks) * 512
		} else if !d.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total, err
}
