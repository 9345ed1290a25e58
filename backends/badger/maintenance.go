package badger

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/polykv/polykv/kv"
)

// gcDiscardRatio is the share of a value-log file that must be garbage for
// Compact to rewrite it (Badger's recommended 0.5).
const gcDiscardRatio = 0.5

// Compact runs Badger's value-log garbage collection until it finds no
// file worth rewriting. It reclaims the space of overwritten and deleted
// values kept in the value log (values of at least value_threshold bytes);
// the LSM tree reclaims its own space through Badger's background
// compactions. ctx is checked between files.
func (e *engine) Compact(ctx context.Context) error {
	if e.closed.Load() {
		return errClosed("compact", e.dir)
	}
	if e.readOnly {
		return kv.ErrReadOnly
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := e.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return nil
		default:
			return wrapErr("compact", e.dir, err)
		}
	}
}

// Stats reports the files on disk and the caches. DiskBytes counts the
// allocated blocks of every file in the directory (the memtable logs are
// sparse: their apparent size is twice memtable_size). Extra holds:
//
//	lsm_bytes, vlog_bytes, wal_bytes   apparent sizes of .sst, .vlog, .mem files
//	block_cache_bytes, index_cache_bytes   what each cache holds
//	block_cache_hits, block_cache_misses, index_cache_hits, index_cache_misses
//	tables, levels   number of LSM tables and of levels in use
func (e *engine) Stats() (kv.EngineStats, error) {
	if e.closed.Load() {
		return kv.EngineStats{}, errClosed("stats", e.dir)
	}
	// Every figure is present, zero included, so that a store without
	// tables yet still reports lsm_bytes (a metric series exists from the
	// start).
	st := kv.EngineStats{Extra: map[string]int64{"lsm_bytes": 0, "vlog_bytes": 0, "wal_bytes": 0, "tables": 0}}
	err := filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by a compaction meanwhile
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if sys, ok := info.Sys().(*syscall.Stat_t); ok {
			st.DiskBytes += sys.Blocks * 512
		} else {
			st.DiskBytes += info.Size()
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".sst"):
			st.Extra["lsm_bytes"] += info.Size()
		case strings.HasSuffix(name, ".vlog"):
			st.Extra["vlog_bytes"] += info.Size()
		case strings.HasSuffix(name, ".mem"):
			st.Extra["wal_bytes"] += info.Size()
		}
		return nil
	})
	if err != nil {
		return st, wrapErr("stats", e.dir, err)
	}
	if m := e.db.BlockCacheMetrics(); m != nil {
		c := int64(m.CostAdded()) - int64(m.CostEvicted())
		st.Extra["block_cache_bytes"] = c
		st.Extra["block_cache_hits"] = int64(m.Hits())
		st.Extra["block_cache_misses"] = int64(m.Misses())
		st.MemoryBytes += c
	}
	if m := e.db.IndexCacheMetrics(); m != nil {
		c := int64(m.CostAdded()) - int64(m.CostEvicted())
		st.Extra["index_cache_bytes"] = c
		st.Extra["index_cache_hits"] = int64(m.Hits())
		st.Extra["index_cache_misses"] = int64(m.Misses())
		st.MemoryBytes += c
	}
	levels := int64(0)
	for _, l := range e.db.Levels() {
		st.Extra["tables"] += int64(l.NumTables)
		if l.NumTables > 0 {
			levels++
		}
	}
	st.Extra["levels"] = levels
	return st, nil
}
