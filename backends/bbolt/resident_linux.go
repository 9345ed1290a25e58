//go:build linux

package bbolt

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// residentSupported reports whether this platform can keep the mapping
// within resident_limit.
const residentSupported = true

var pageBytes = int64(os.Getpagesize())

// rssReader reads the process's resident file-backed and shared-memory
// pages: the third field of /proc/self/statm (RssFile + RssShmem), which is
// what the data file's mapping adds to RSS. It keeps the file open and
// rereads it from offset 0 with one pread (about 1 µs here, against 7 µs
// for an open, read and close each time).
type rssReader struct {
	f  *os.File
	fd int
}

// openRSS opens /proc/self/statm; ok is false when /proc is not mounted.
func openRSS() (r *rssReader, ok bool) {
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return nil, false
	}
	return &rssReader{f: f, fd: int(f.Fd())}, true
}

// read returns the resident file pages in bytes; ok is false when the
// file cannot be read or parsed. The caller serializes calls.
func (r *rssReader) read() (n int64, ok bool) {
	var buf [128]byte
	m, err := syscall.Pread(r.fd, buf[:], 0)
	if err != nil || m <= 0 {
		return 0, false
	}
	fields := bytes.Fields(buf[:m])
	if len(fields) < 3 {
		return 0, false
	}
	pages, err := strconv.ParseInt(string(fields[2]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * pageBytes, true
}

func (r *rssReader) close() { _ = r.f.Close() }

// dropPages removes this process's page-table entries for [addr,
// addr+size) of a shared file mapping (MADV_DONTNEED): the pages stay in
// the OS page cache, and the next access maps them again (a minor fault).
// The address is passed to the system call as a number, never converted
// to a Go pointer.
func dropPages(addr, size uintptr) error {
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED)
	if errno != 0 {
		return errno
	}
	return nil
}
