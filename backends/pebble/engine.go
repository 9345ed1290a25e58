package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
	dto "github.com/prometheus/client_model/go"
)

// maxKey is greater than every key kv accepts (keys have at most
// kv.MaxKeySize bytes): the end of an unbounded range deletion and of a
// whole-store compaction.
var maxKey = bytes.Repeat([]byte{0xff}, kv.MaxKeySize+1)

// minKey is the smallest key kv accepts (keys are non-empty).
var minKey = []byte{0}

// engine is one open Pebble database.
//
// kv.DB guarantees that no call is in flight when it calls Close and that
// writers (Apply, DeleteRange) run one at a time; the engine still refuses
// every call after Close with kv.ErrClosed instead of reaching Pebble, which
// panics on use after Close.
type engine struct {
	db       *pebble.DB
	lock     *pebble.Lock
	path     string
	fs       vfs.FS
	wo       *pebble.WriteOptions
	readOnly bool

	closed  atomic.Bool
	closeMu sync.Mutex
	// fatal is set when Pebble reported a fatal failure (Logger.Fatalf,
	// or a failed WAL sync after a deferred commit); every later write
	// returns it. log logs and records such failures.
	fatal atomic.Pointer[FatalError]
	log   *logger
	// walClosedByPanic is set when a recovered panic started in a failed
	// WAL rotation: the DB holds a closed log writer (walrotation.go).
	walClosedByPanic atomic.Bool
	// bgFault receives background errors that are faults of the medium
	// (kv.Fault: a flush or compaction that met a full disk), without
	// blocking Pebble: flushOnClose stops waiting on one.
	bgFault chan error
	// space keeps the free-space reserve (space.go).
	space diskspace.Guard

	// mu guards the iterators and snapshots handed out and not yet closed:
	// Close closes any left over, so that none outlives the database.
	mu    sync.Mutex
	iters map[*iter]struct{}
	snaps map[*snapshot]struct{}
}

var (
	_ kv.Engine       = (*engine)(nil)
	_ kv.RangeDeleter = (*engine)(nil)
	_ kv.Compacter    = (*engine)(nil)
	_ kv.Stater       = (*engine)(nil)
	_ kv.SyncDeferrer = (*engine)(nil)
)

// wrapFS, when set (by tests only, through export_test.go), wraps the file
// system every engine opened afterwards uses: fault injection.
var wrapFS func(vfs.FS) vfs.FS

func openEngine(dir string, cfg *kv.Config) (*engine, error) {
	s, err := parseSettings(cfg.Options)
	if err != nil {
		return nil, err
	}
	budget := cfg.MemoryBudget
	if budget == 0 {
		budget = kv.DefaultMemoryBudget
	}
	if budget < kv.MinMemoryBudget {
		return nil, fmt.Errorf("%w: memory_budget %d: want at least %d bytes", kv.ErrInvalidConfig, budget, int64(kv.MinMemoryBudget))
	}
	sl := cfg.Logger
	if sl == nil {
		sl = slog.New(slog.DiscardHandler)
	}
	e := &engine{
		path:     dir,
		wo:       writeOptions(cfg.Durability),
		readOnly: cfg.ReadOnly,
		iters:    make(map[*iter]struct{}),
		snaps:    make(map[*snapshot]struct{}),
		bgFault:  make(chan error, 1),
		space:    diskspace.Guard{Dir: dir, Reserve: s.reserve(budget)},
	}
	c := *cfg
	c.MemoryBudget = budget
	opts := pebbleOptions(&c, s)
	g := &logger{l: sl, path: dir, fatal: e.setFatal}
	e.log = g
	opts.Logger = g
	opts.EventListener = eventListener(g)
	opts.EventListener.BackgroundError = func(err error) {
		g.log(slog.LevelError, "pebble: background error: %v", err)
		if f := kv.Fault(err); f != err {
			select {
			case e.bgFault <- f:
			default:
			}
		}
	}

	fs := vfs.FS(vfs.Default)
	if wrapFS != nil {
		fs = wrapFS(fs)
	}
	fs = &engineFS{FS: fs, readOnly: cfg.ReadOnly, onWALFault: func(what string, err error) {
		_ = e.log.failure(what+": "+err.Error(), err) // recorded: every later write returns it
	}, onReserved: e.space.Spent}
	opts.FS = fs
	// Take Pebble's LOCK ourselves so that a lock held elsewhere is told
	// apart from any other open error without looking at messages.
	lock, err := pebble.LockDirectory(dir, fs)
	if err != nil {
		return nil, translateLock(dir, err)
	}
	opts.Lock = lock
	// The block cache is the whole budget: Pebble reserves the memtables'
	// memory inside it (Cache.Reserve), so blocks get what memtables leave.
	cache := pebble.NewCache(budget)
	opts.Cache = cache
	defer cache.Unref() // the DB holds its own reference
	recorded, haveRecord, err := readTablesRecord(fs, dir)
	if err == nil && !cfg.ReadOnly {
		err = checkOpenSpace(fs, dir, haveRecord, e.space.Reserve)
	}
	if err == nil && haveRecord && !cfg.ReadOnly {
		err = checkClosedCleanly(dir, opts, recorded, fs)
	}
	if err != nil {
		lock.Close()
		return nil, translate("open", dir, err)
	}
	db, err := openPebble(dir, opts)
	if err == nil && haveRecord && cfg.ReadOnly {
		if err = checkTables(db, dir, recorded); err != nil {
			db.Close()
		}
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	e.db = db
	e.lock = lock
	e.fs = fs
	return e, nil
}

// checkClosedCleanly opens the store read-only (Pebble deletes nothing
// then) and checks that its MANIFEST still lists the tables recorded at the
// last clean close; then it removes the record, before the read-write open
// (see tables.go).
func checkClosedCleanly(dir string, opts *pebble.Options, recorded []uint64, fs vfs.FS) error {
	ro := *opts
	ro.ReadOnly = true
	db, err := openPebble(dir, &ro)
	if err != nil {
		return err
	}
	err = checkTables(db, dir, recorded)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = translate("open", dir, cerr)
	}
	if err != nil {
		return err
	}
	return removeTablesRecord(fs, dir)
}

// openPebble is pebble.Open with a Fatalf during recovery turned into an
// error.
func openPebble(dir string, opts *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*FatalError)
			if !ok {
				panic(r)
			}
			db, err = nil, fe
		}
	}()
	db, err = pebble.Open(dir, opts)
	if err != nil {
		return nil, translate("open", dir, err)
	}
	return db, nil
}

func (e *engine) setFatal(fe *FatalError) { e.fatal.CompareAndSwap(nil, fe) }

// checkWrite returns the error a write must fail with, if any.
func (e *engine) checkWrite() error {
	if e.closed.Load() {
		return errClosed
	}
	if fe := e.fatal.Load(); fe != nil {
		return fe
	}
	if e.readOnly {
		return fmt.Errorf("kv: pebble: %s: %w", e.path, kv.ErrReadOnly)
	}
	return nil
}

// Get appends the value of key to dst. Pebble's value is valid only until
// its closer runs, so it is copied first.
func (e *engine) Get(key, dst []byte) ([]byte, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	return get(e.db, e.path, key, dst)
}

// pointReader is what *pebble.DB and *pebble.Snapshot share for point reads.
type pointReader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func get(r pointReader, path string, key, dst []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if err != nil {
		return nil, translate("get", path, err)
	}
	dst = append(dst, v...)
	if err := closer.Close(); err != nil {
		return nil, translate("get", path, err)
	}
	return dst, nil
}

// NewIter returns an iterator on the latest committed state.
func (e *engine) NewIter(r kv.IterRange) (kv.Iter, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	return e.newIter(e.db, r)
}

// NewSnapshot returns a Pebble snapshot; Close must be called.
func (e *engine) NewSnapshot() (kv.Snapshot, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	s := &snapshot{e: e, s: e.db.NewSnapshot()}
	e.mu.Lock()
	e.snaps[s] = struct{}{}
	e.mu.Unlock()
	return s, nil
}

// Apply builds one Pebble batch from b and commits it once, with pebble.Sync
// or pebble.NoSync. A Pebble batch is applied to the WAL as one record and
// to the memtable at one sequence number: atomically. It is visible to
// every read as soon as Commit returns.
func (e *engine) Apply(ctx context.Context, b *kv.Batch) error {
	if err := e.checkSpace(b); err != nil {
		return err
	}
	pb, err := e.batch(ctx, b)
	if err != nil {
		return err
	}
	defer pb.Close()
	return e.commit("apply", pb, e.wo)
}

// ApplyDeferred is the group commit under kv.Sync (kv.SyncDeferrer): it
// commits b with DB.ApplyNoSyncWait, which returns once b is in the WAL
// queue and the memtable and visible to every read, and hands back
// Batch.SyncWait. Pebble's WAL writer syncs whatever is queued at once, so
// commits that wait together share one fsync, and a sync covers every
// record before it (the WAL is one sequence). A failed sync makes the
// engine refuse every later write.
func (e *engine) ApplyDeferred(ctx context.Context, b *kv.Batch) (wait func() error, err error) {
	if e.wo != pebble.Sync {
		return nil, e.Apply(ctx, b)
	}
	if err := e.checkSpace(b); err != nil {
		return nil, err
	}
	pb, err := e.batch(ctx, b)
	if err != nil {
		return nil, err
	}
	if err := e.commitNoSyncWait(pb); err != nil {
		// Refused before it was queued (the batch can be closed), or a
		// fatal failure half way (the batch is left to the collector: it
		// may still be in the WAL queue, and the engine takes no more
		// writes).
		if e.fatal.Load() == nil {
			_ = pb.Close()
		}
		return nil, err
	}
	return func() error {
		err := pb.SyncWait() // Pebble requires it before Close
		_ = pb.Close()
		if err != nil {
			return e.log.failure("WAL sync failed after a commit: "+err.Error(), err)
		}
		return nil
	}, nil
}

// batch checks that the engine takes writes and builds the Pebble batch of
// b, which the caller commits and closes.
func (e *engine) batch(ctx context.Context, b *kv.Batch) (*pebble.Batch, error) {
	if err := e.checkWrite(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Each write is encoded as kind, varint lengths, key and value: at most
	// 11 bytes on top of key and value, less than kv counts per write.
	size := 12 + b.Size() - b.Len()*(kv.TxnEntryOverhead-11)
	pb := e.db.NewBatchWithSize(size)
	// The memtable's skiplist inserts a batch in its order, starting each
	// search from the previous insert's position: in key order the
	// searches are short (traverse-gen at 200,000 nodes: +6% node/s in
	// the median of 13 pairs, and its ceiling's blind batches +2-30%).
	err := b.EachInKeyOrder(func(kind kv.OpKind, k, v []byte) error {
		switch kind {
		case kv.OpSet:
			return pb.Set(k, v, nil)
		case kv.OpDelete:
			return pb.Delete(k, nil)
		default:
			return fmt.Errorf("%w: batch op of kind %d", kv.ErrInvalidConfig, kind)
		}
	})
	if err != nil {
		_ = pb.Close()
		return nil, translate("apply", e.path, err)
	}
	return pb, nil
}

// commit commits pb. A synced commit that fails with a fault of the WAL
// may be applied all the same: Pebble publishes the batch (every read sees
// it) before it waits for the sync, then returns the sync's error. Such a
// failure is reported with kv.ErrOutcomeUnknown. Unsynced, the failure is
// met while the batch is queued, before it is applied.
func (e *engine) commit(op string, pb *pebble.Batch, wo *pebble.WriteOptions) error {
	if fe := e.fatal.Load(); fe != nil {
		return fe // refused: nothing reached Pebble
	}
	err := e.committing(op, func() error { return pb.Commit(wo) })
	if err != nil && wo.Sync && errors.Is(err, kv.ErrNeedsReopen) {
		return fmt.Errorf("kv: pebble: %s %s: the commit failed in its WAL write or sync and may be applied (it is visible in this process): %w: %w",
			op, e.path, kv.ErrOutcomeUnknown, err)
	}
	return err
}

// commitNoSyncWait commits pb with pebble.Sync without waiting for the
// sync (see ApplyDeferred).
func (e *engine) commitNoSyncWait(pb *pebble.Batch) error {
	return e.committing("apply", func() error { return e.db.ApplyNoSyncWait(pb, pebble.Sync) })
}

// guard runs fn, a call into Pebble that may rotate the WAL (a flush, a
// manual compaction), turning the panic Pebble raises when that fails
// (rotateWAL: panic(err)) into a *FatalError: the engine takes no more
// writes.
func (e *engine) guard(op string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*FatalError)
			if !ok {
				perr, isErr := r.(error)
				if !isErr {
					panic(r)
				}
				fe = e.log.failure(op+": "+perr.Error(), perr)
				if panicInRotateWAL() {
					e.walClosedByPanic.Store(true)
				}
			}
			e.setFatal(fe)
			err = fe
		}
	}()
	return fn()
}

// dropOldFault empties bgFault of a background failure reported before
// the caller started waiting: it is not the caller's.
func (e *engine) dropOldFault() {
	select {
	case old := <-e.bgFault:
		_ = old
	default:
	}
}

// flushOnClose flushes the memtable so that Close can trim the WALs, unless
// a flush fails on the way (Pebble retries a failed flush without end, and
// DB.Flush waits for it: on a full disk, for ever).
func (e *engine) flushOnClose() error {
	e.dropOldFault() // a flush failing now reports again
	done, err := e.db.AsyncFlush()
	if err != nil {
		return err
	}
	select {
	case <-done:
		if fe := e.fatal.Load(); fe != nil {
			return fe
		}
		return nil
	case err := <-e.bgFault:
		return fmt.Errorf("kv: pebble: flush on close %s: %w", e.path, err)
	}
}

// committing runs a commit, turning a fatal commit failure (Pebble's
// Fatalf, a panic with *FatalError) into an error.
func (e *engine) committing(op string, commit func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*FatalError)
			if !ok {
				panic(r)
			}
			e.setFatal(fe)
			err = fe
		}
	}()
	// The last check before Pebble: a WAL failure seen since the batch
	// was built (engineFS) must stop this commit.
	if fe := e.fatal.Load(); fe != nil {
		return fe
	}
	return translate(op, e.path, commit())
}

// DeleteRange deletes [start, end) with one range tombstone in one batch:
// atomically, even across a crash. A nil end is unbounded.
func (e *engine) DeleteRange(ctx context.Context, start, end []byte) error {
	if err := e.checkWrite(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(start) == 0 {
		start = minKey
	}
	if end == nil {
		end = maxKey
	}
	if bytes.Compare(start, end) >= 0 {
		return nil
	}
	pb := e.db.NewBatchWithSize(12 + len(start) + len(end) + 11)
	defer pb.Close()
	if err := pb.DeleteRange(start, end, nil); err != nil {
		return translate("delete range", e.path, err)
	}
	return e.commit("delete range", pb, e.wo)
}

// Sync makes every write committed so far durable: a synced empty record
// in the WAL syncs everything written before it.
func (e *engine) Sync() error {
	if e.closed.Load() {
		return errClosed
	}
	if e.readOnly {
		return nil
	}
	if fe := e.fatal.Load(); fe != nil {
		return fe
	}
	pb := e.db.NewBatch()
	defer pb.Close()
	if err := pb.LogData(nil, nil); err != nil {
		return translate("sync", e.path, err)
	}
	return e.commit("sync", pb, pebble.Sync)
}

// Compact compacts the whole key space (flushing the memtable first), which
// drops deleted and overwritten data and the range tombstones covering it.
func (e *engine) Compact(ctx context.Context) error {
	if err := e.checkWrite(); err != nil {
		return err
	}
	// A flush or compaction that fails on a full disk is retried by
	// Pebble without end; the compaction waits for it. Stop waiting at the
	// first such failure (bgFault) and return it.
	e.dropOldFault() // a failure now reports again
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fault atomic.Pointer[error]
	go func() {
		select {
		case f := <-e.bgFault:
			fault.Store(&f)
			cancel()
		case <-cctx.Done():
		}
	}()
	err := e.guard("compact", func() error { return e.db.Compact(cctx, minKey, maxKey, true) })
	if f := fault.Load(); f != nil && err != nil {
		return fmt.Errorf("kv: pebble: compact %s: %w", e.path, *f)
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return translate("compact", e.path, err)
}

// Stats reports Pebble's metrics: disk usage in allocated blocks, and the
// memory of the block cache and the memtables. Extra holds Pebble's own
// figures by name (see the map below); wal_fsyncs and wal_fsync_nanoseconds
// are the count and the total time of the WAL's fsyncs since Open (their
// ratio is the mean fsync latency), file_cache_hits and file_cache_misses
// count lookups of open table readers.
func (e *engine) Stats() (kv.EngineStats, error) {
	if e.closed.Load() {
		return kv.EngineStats{}, errClosed
	}
	m := e.db.Metrics()
	disk, err := diskUsage(e.path)
	if err != nil {
		return kv.EngineStats{}, translate("stats", e.path, err)
	}
	total := m.Total()
	var fsyncs dto.Metric
	if h := m.LogWriter.FsyncLatency; h != nil {
		_ = h.Write(&fsyncs) // fills a histogram; no error for one
	}
	return kv.EngineStats{
		DiskBytes:   disk,
		MemoryBytes: m.BlockCache.Size + int64(m.MemTable.Size),
		Extra: map[string]int64{
			"block_cache_bytes":            m.BlockCache.Size,
			"block_cache_hits":             m.BlockCache.Hits,
			"block_cache_misses":           m.BlockCache.Misses,
			"memtable_bytes":               int64(m.MemTable.Size),
			"memtable_count":               m.MemTable.Count,
			"disk_space_usage":             int64(m.DiskSpaceUsage()),
			"wal_bytes":                    int64(m.WAL.Size),
			"wal_physical_bytes":           int64(m.WAL.PhysicalSize),
			"l0_files":                     m.Levels[0].TablesCount,
			"l0_sublevels":                 int64(m.Levels[0].Sublevels),
			"table_count":                  total.TablesCount,
			"table_bytes":                  total.TablesSize,
			"read_amp":                     int64(m.ReadAmp()),
			"flush_count":                  m.Flush.Count,
			"compaction_count":             m.Compact.Count,
			"compaction_debt":              int64(m.Compact.EstimatedDebt),
			"range_tombstones":             int64(m.Keys.TombstoneCount),
			"snapshots_open":               int64(m.Snapshots.Count),
			"table_iterators_open":         m.TableIters,
			"file_cache_hits":              m.FileCache.Hits,
			"file_cache_misses":            m.FileCache.Misses,
			"compactions_in_progress":      m.Compact.NumInProgress,
			"compaction_in_progress_bytes": m.Compact.InProgressBytes,
			// Pebble observes fsync latencies in nanoseconds.
			"wal_fsyncs":            int64(fsyncs.GetHistogram().GetSampleCount()),
			"wal_fsync_nanoseconds": int64(fsyncs.GetHistogram().GetSampleSum()),
		},
	}, nil
}

// Close closes the database. It is idempotent. Iterators and snapshots
// still open (kv.DB never leaves any) are closed first and reported as an
// error, rather than leaked into Pebble, which would report them itself.
//
// A writable store is flushed first (the memtable goes into sstables, so
// the next Open replays no log), and then the write-ahead logs that Pebble
// no longer needs are removed: Pebble keeps up to three obsolete logs for
// recycling, each preallocated to 110% of the memtable size (70 MiB with
// the default budget), which a closed store would otherwise hold on disk.
// See trimWALs.
func (e *engine) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed.Load() {
		return nil
	}
	e.closed.Store(true)

	e.mu.Lock()
	its := make([]*iter, 0, len(e.iters))
	for it := range e.iters {
		its = append(its, it)
	}
	snaps := make([]*snapshot, 0, len(e.snaps))
	for s := range e.snaps {
		snaps = append(snaps, s)
	}
	e.mu.Unlock()
	var errs []error
	if len(its) > 0 || len(snaps) > 0 {
		errs = append(errs, fmt.Errorf("kv: pebble: close %s: %d iterator(s) and %d snapshot(s) still open (closed now)",
			e.path, len(its), len(snaps)))
	}
	for _, it := range its {
		it.Close()
	}
	for _, s := range snaps {
		s.Close()
	}
	flushed := false
	var live []uint64 // the tables the MANIFEST lists once flushed
	if !e.readOnly && e.fatal.Load() == nil {
		if err := e.guard("flush on close", e.flushOnClose); err != nil {
			errs = append(errs, translate("flush on close", e.path, err))
		} else if live, err = liveTables(e.db); err != nil {
			errs = append(errs, translate("close", e.path, err))
		} else {
			flushed = true
		}
	}

	if e.walClosedByPanic.Load() {
		if err := detachClosedWAL(e.db); err != nil {
			// Closing the DB would close its log writer twice and
			// could damage another store of this process: leave the
			// DB open, and the directory locked, for the rest of the
			// process.
			return fmt.Errorf("kv: pebble: close %s after a failed log rotation: %w; the store stays open and locked until the process exits (%w)",
				e.path, err, errors.Join(append(errs, e.fatal.Load())...))
		}
	}
	if err := e.db.Close(); err != nil {
		errs = append(errs, translate("close", e.path, err))
	} else if flushed {
		// Still under the directory lock: no one else has the store open.
		if err := trimWALs(e.fs, e.path); err != nil {
			errs = append(errs, fmt.Errorf("kv: pebble: close %s: %w", e.path, err))
		} else if onDisk, err := tablesOnDisk(e.fs, e.path); err != nil {
			errs = append(errs, fmt.Errorf("kv: pebble: close %s: list tables: %w", e.path, err))
		} else {
			// Listed after the flush and still on disk after Close: a
			// table a fault left behind unlisted (its deletion failed), or
			// one a compaction made obsolete during Close, is not recorded.
			tables := intersect(live, onDisk)
			if err := writeTablesRecord(e.fs, e.path, tables); err != nil {
				errs = append(errs, fmt.Errorf("kv: pebble: close %s: record tables: %w", e.path, err))
			}
		}
	}
	if err := e.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("kv: pebble: unlock %s: %w", e.path, err))
	}
	return errors.Join(errs...)
}

// trimWALs removes, from the directory of a store that was just flushed
// and closed, every write-ahead log but the newest, and gives back the
// space preallocated past the end of the newest.
//
// Why this is safe: DB.Flush rotates to a new log N (log numbers only
// grow, so N is the largest) and returns once every memtable before it is
// in sstables, which sets the store's minimum unflushed log number,
// recorded in the manifest, to N. Open replays only the logs from that
// number on, and deletes the older ones itself; they are either obsolete
// logs awaiting deletion or logs kept for recycling, whose contents are
// stale. kv.DB calls Close with no write in flight, so no batch reached N
// after the flush; N itself is kept, byte for byte.
func trimWALs(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return err
	}
	newest := -1
	var logs []int
	for _, name := range names {
		num, ok := strings.CutSuffix(name, ".log")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || num != fmt.Sprintf("%06d", n) {
			continue
		}
		logs = append(logs, n)
		newest = max(newest, n)
	}
	var errs []error
	for _, n := range logs {
		if n == newest {
			continue
		}
		if err := fs.Remove(fs.PathJoin(dir, fmt.Sprintf("%06d.log", n))); err != nil {
			errs = append(errs, fmt.Errorf("remove obsolete log: %w", err))
		}
	}
	if newest >= 0 {
		if err := releasePrealloc(fs, fs.PathJoin(dir, fmt.Sprintf("%06d.log", newest))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// releasePrealloc truncates the file at path to its own size: the content
// is unchanged, and the blocks Pebble preallocated past its end
// (fallocate with FALLOC_FL_KEEP_SIZE) are released. Only on the OS file
// system; a wrapped one (tests) is left alone.
func releasePrealloc(fs vfs.FS, path string) error {
	if ef, ok := fs.(*engineFS); ok {
		fs = ef.FS // the engine's own wrapper over the file system it was given
	}
	if fs != vfs.Default {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.Truncate(path, st.Size()); err != nil {
		return fmt.Errorf("release preallocated log space: %w", err)
	}
	return nil
}
