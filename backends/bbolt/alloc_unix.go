//go:build unix

package bbolt

import (
	"os"
	"syscall"
)

// allocatedBytes is the space fi takes on disk: its allocated blocks, not
// its apparent size (bbolt grows its file in steps it has not yet filled).
func allocatedBytes(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
