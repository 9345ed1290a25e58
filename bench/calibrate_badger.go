package bench

import (
	"bytes"
	"context"
	"errors"
	"os"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/skl"

	"github.com/polykv/polykv/kv"
)

// Calibration target: Badger through its own API, configured as
// backends/badger configures it by default (options.go buildSettings):
// SyncWrites from the durability, no conflict detection, no metrics, a
// 56 MiB memtable, 2 compactors, Snappy, and the memory budget split into
// memtables and caches the same way; no value prefetch in iterators. It is what a careful
// Badger user writes: one transaction per batch, Item.Value without a copy
// in scans, ValueCopy for point reads.

func init() { rawEngines["badger"] = openRawBadger }

func openRawBadger(_ context.Context, cfg kv.Config) (target, func() error, error) {
	if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
		return nil, nil, err
	}
	budget := cfg.MemoryBudget
	if budget == 0 {
		budget = kv.DefaultMemoryBudget
	}
	o := badger.DefaultOptions(cfg.Path)
	o.Logger = nil
	o.SyncWrites = cfg.Durability == kv.Sync
	o.DetectConflicts = false
	o.MetricsEnabled = false
	o.MemTableSize = 56 << 20
	o.NumCompactors = 2
	o.Compression = options.Snappy
	o.NumMemtables, o.BlockCacheSize, o.IndexCacheSize = badgerBudgetSplit(budget, o.MemTableSize)
	db, err := badger.Open(o)
	if err != nil {
		return nil, nil, err
	}
	return &rawBadger{db: db}, db.Close, nil
}

// badgerBudgetSplit mirrors backends/badger budgetSplit (bench may not
// import a backend): each memtable holds its arena (Badger's arenaSize,
// 1.3 times the memtable), the flush a compressed level-0 table twice the
// memtable, and the caches what is left but at least an eighth.
func badgerBudgetSplit(budget, memTableSize int64) (numMemtables int, blockCache, indexCache int64) {
	const maxNumMemtables, minCache = 5, 1 << 20
	maxBatchSize := 15 * memTableSize / 100
	arena := memTableSize + maxBatchSize + maxBatchSize/int64(skl.MaxNodeSize)*int64(skl.MaxNodeSize)
	flush := 2 * memTableSize
	minCaches := max(budget/8, 2*minCache)
	n := (budget-minCaches-flush)/arena - 2
	n = max(1, min(n, maxNumMemtables))
	caches := max(budget-(n+2)*arena-flush, minCaches)
	blockCache = max(caches*2/3, minCache)
	indexCache = max(caches-blockCache, minCache)
	return int(n), blockCache, indexCache
}

type rawBadger struct{ db *badger.DB }

func (r *rawBadger) write(b *writeBatch) error {
	txn := r.db.NewTransaction(true)
	defer txn.Discard()
	for i, k := range b.keys {
		if err := txn.Set(k, b.vals[i]); err != nil {
			return err
		}
	}
	return txn.Commit()
}

func (r *rawBadger) get(key, dst []byte) ([]byte, bool, error) {
	txn := r.db.NewTransaction(false)
	defer txn.Discard()
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return dst, false, nil
	}
	if err != nil {
		return dst, false, err
	}
	v, err := item.ValueCopy(dst)
	return v, err == nil, err
}

func (r *rawBadger) scan(lower, upper []byte, limit int, keysOnly bool, fn func(k, v []byte) error) error {
	txn := r.db.NewTransaction(false)
	defer txn.Discard()
	opts := badger.IteratorOptions{PrefetchValues: false}
	if lower != nil && upper != nil {
		opts.Prefix = commonPrefix(lower, upper)
	}
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Seek(lower); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if upper != nil && bytes.Compare(k, upper) >= 0 {
			break
		}
		var err error
		if keysOnly {
			err = fn(k, nil)
		} else {
			err = item.Value(func(v []byte) error { return fn(k, v) })
		}
		if err != nil {
			return err
		}
		n++
		if limit > 0 && n == limit {
			break
		}
	}
	return nil
}

func (r *rawBadger) rmw(key []byte, f func(old []byte) []byte) error {
	return r.db.Update(func(txn *badger.Txn) error {
		var old []byte
		item, err := txn.Get(key)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			if old, err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		return txn.Set(key, f(old))
	})
}

// commonPrefix returns the longest common prefix of a and b.
func commonPrefix(a, b []byte) []byte {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}
