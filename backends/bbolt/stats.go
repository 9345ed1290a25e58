package bbolt

import (
	"os"

	"github.com/polykv/polykv/kv"
)

// Stats reports the data file's size and bbolt's own counters. MemoryBytes
// is zero: bbolt has no cache of its own (the OS page cache holds the
// file). Extra holds:
//
//	file_bytes          the data file's apparent size
//	page_size           bbolt's page size
//	initial_mmap_size   the mapping the store was opened with
//	free_pages          pages on the freelist, ready for reuse
//	pending_pages       pages freed but still visible to an open reader
//	free_alloc_bytes    bytes in free pages
//	freelist_inuse_bytes bytes the freelist itself takes
//	read_txs            read transactions started since Open
//	open_read_txs       read transactions open now (iterations, views)
//	pages_written       pages written by commits since Open
//	page_allocs_bytes   bytes of page buffers allocated by commits
//	cursors             cursors created since Open
//	splits, spills, rebalances   B+tree node operations since Open
//	resident_limit      OptResidentLimit in bytes; 0 when off or not
//	                    supported on this platform
//	resident_drops      times the store dropped its mapping of the file
//	                    since Open (see OptResidentLimit)
//	group_commits       transactions that committed writers' batches
//	                    together since Open (group.go)
//	group_batches       the batches they committed: group_batches /
//	                    group_commits writers shared each commit
func (e *engine) Stats() (st kv.EngineStats, err error) {
	db, err := e.use()
	if err != nil {
		return st, err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "stats of", e.path)
	fi, err := os.Stat(e.path)
	if err != nil {
		return st, wrapErr("stats of", e.path, err)
	}
	s := db.Stats()
	ts := &s.TxStats
	st.DiskBytes = allocatedBytes(fi)
	st.Extra = map[string]int64{
		"file_bytes":           fi.Size(),
		"page_size":            int64(db.Info().PageSize),
		"initial_mmap_size":    int64(e.bo.InitialMmapSize),
		"free_pages":           int64(s.FreePageN),
		"pending_pages":        int64(s.PendingPageN),
		"free_alloc_bytes":     int64(s.FreeAlloc),
		"freelist_inuse_bytes": int64(s.FreelistInuse),
		"read_txs":             int64(s.TxN),
		"open_read_txs":        int64(s.OpenTxN),
		"pages_written":        ts.GetWrite(),
		"page_allocs_bytes":    ts.GetPageAlloc(),
		"cursors":              ts.GetCursorCount(),
		"splits":               ts.GetSplit(),
		"spills":               ts.GetSpill(),
		"rebalances":           ts.GetRebalance(),
		"resident_limit":       e.res.activeLimit(),
		"group_commits":        e.groups.commits.Load(),
		"group_batches":        e.groups.batches.Load(),
		"resident_drops":       e.res.drops.Load(),
	}
	return st, nil
}
