package kv

import "syscall"

// physicalMemory returns the machine's memory in bytes, or 0 where it is
// not known.
func physicalMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	total := uint64(si.Totalram) * uint64(si.Unit)
	if total > 1<<62 {
		return 0
	}
	return int64(total)
}
