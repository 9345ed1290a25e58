//go:build !linux

package bbolt

// residentSupported reports whether this platform can keep the mapping
// within resident_limit: only Linux, where /proc/self/statm tells the
// process's resident file pages.
const residentSupported = false

type rssReader struct{}

func openRSS() (*rssReader, bool) { return nil, false }

func (*rssReader) read() (int64, bool) { return 0, false }

func (*rssReader) close() {}

func dropPages(addr, size uintptr) error { return nil }
