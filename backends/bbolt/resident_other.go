//go:build !linux

package bbolt

// residentSupported reports whether this platform can keep the mapping
// within resident_limit: only Linux, where /proc/self/statm tells the
// process's resident file pages.
const residentSupported = false

func fileRSS() (int64, bool) { return 0, false }

func dropPages(addr, size uintptr) error { return nil }
