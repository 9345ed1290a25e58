//go:build !linux

package kv

// physicalMemory returns 0: the machine's memory is not known here, and a
// memory budget is not checked against it.
func physicalMemory() int64 { return 0 }
