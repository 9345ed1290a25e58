package kv

import "strings"

// SuggestedMemoryLimit returns a soft memory limit, in bytes, for a
// program whose main use of memory is one store opened with cfg: twice
// the store's memory budget (the engine's caches and memtables, and as much
// again for the program's own heap and the engine's transient buffers,
// such as Badger's compaction buffers). A program applies it with
// runtime/debug.SetMemoryLimit, normally only when the user has not set
// GOMEMLIMIT:
//
//	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
//		if limit := kv.SuggestedMemoryLimit(cfg); limit > 0 {
//			debug.SetMemoryLimit(limit)
//		}
//	}
//
// kv itself never sets a memory limit: it is a setting of the whole
// process, which a library cannot own. The polykv command applies the
// suggestion as above.
//
// It returns 0 (no suggestion) for the memory backend, whose data lives in
// the Go heap (a limit below the data would only make the garbage
// collector run constantly), and for a budget that Open would refuse.
// The memory budget bounds what the engine allocates; a limit is soft: the
// Go runtime collects harder as the heap nears it but never fails an
// allocation, and memory-mapped file pages (Badger's tables, bbolt's data
// file) count in the RSS but not against it.
func SuggestedMemoryLimit(cfg Config) int64 {
	if strings.EqualFold(cfg.Backend, "memory") {
		return 0
	}
	budget := cfg.MemoryBudget
	if budget == 0 {
		budget = DefaultMemoryBudget
	}
	if budget < MinMemoryBudget {
		return 0
	}
	return 2 * budget
}
