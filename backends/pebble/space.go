package pebble

import "github.com/polykv/polykv/kv"

// FreeSpaceReserve returns the free space, in bytes, that a Pebble store
// opened with cfg needs to take writes: one reservation of WAL space,
// 110% of the memtable size (70.4 MiB at the default memory budget, 4.4
// MiB at the smallest). When the disk refuses a reservation the store
// refuses every later write with kv.ErrNoSpace until it is reopened (see
// the package documentation, # Full disk).
func FreeSpaceReserve(cfg kv.Config) int64 {
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = kv.DefaultMemoryBudget
	}
	size := int64(memTableSize(cfg.MemoryBudget))
	return size + size/10 // Pebble's DB.walPreallocateSize
}
