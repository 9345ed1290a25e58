//go:build !unix

package pebble

import (
	"io/fs"
	"path/filepath"
)

// diskUsage is the size of the files under dir (allocated blocks are not
// known on this platform).
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total, err
}
