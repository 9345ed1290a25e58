//go:build !unix

package bbolt

import "os"

// allocatedBytes is the file's apparent size where the allocated blocks
// are not known.
func allocatedBytes(fi os.FileInfo) int64 { return fi.Size() }
