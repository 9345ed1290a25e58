//go:build !linux

package bbolt

// unmapFile is a no-op where the process's mappings cannot be listed: a
// panic inside bolt.Open leaves the file mapped, and locked, until the
// process ends.
func unmapFile(string) int { return 0 }
