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

// fileRSS returns the process's resident file-backed and shared-memory
// pages in bytes: the third field of /proc/self/statm (RssFile + RssShmem),
// which is what the data file's mapping adds to RSS. ok is false when
// /proc is not mounted.
func fileRSS() (n int64, ok bool) {
	var buf [128]byte
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	m, _ := f.Read(buf[:])
	f.Close()
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
