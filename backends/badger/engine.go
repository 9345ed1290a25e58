package badger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
)

// engine is one open Badger database behind a kv.DB.
//
// Reads use read-only Badger transactions (one per Get or iteration, one
// per snapshot). Apply writes a kv.Batch in one read-write transaction
// committed once: Badger writes its entries and an end-of-transaction
// marker to the memtable's write-ahead log as one request, and replays a
// transaction only when its marker is there, so a batch is all or nothing
// even after a crash.
//
// The closed flag turns every call after Close into kv.ErrClosed: Badger
// itself panics when an iterator is created on a closed database.
type engine struct {
	db       *badger.DB
	dir      string
	sync     bool // opened with kv.Sync: every commit is durable when it returns
	readOnly bool
	// gs makes commits durable under kv.Sync, several per sync (see
	// groupsync.go); nil under NoSync and read-only.
	gs       *groupSync
	prefetch int
	space    diskspace.Guard // the free space kept for Badger's own writes (space.go)
	// tableEnds is checkTail's copy of the tables' end keys.
	tableEnds tableEnds
	closed    atomic.Bool
}

var (
	_ kv.Engine       = (*engine)(nil)
	_ kv.Compacter    = (*engine)(nil)
	_ kv.Stater       = (*engine)(nil)
	_ kv.SyncDeferrer = (*engine)(nil)
)

// Get appends the value of key to dst, or returns kv.ErrNotFound.
func (e *engine) Get(key, dst []byte) ([]byte, error) {
	if e.closed.Load() {
		return nil, errClosed("get", e.dir)
	}
	txn := e.db.NewTransaction(false)
	defer txn.Discard()
	return e.get(txn, key, dst)
}

func (e *engine) get(txn *badger.Txn, key, dst []byte) ([]byte, error) {
	item, err := txn.Get(storedKey(key))
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, kv.ErrNotFound
		}
		return nil, wrapErr("get", e.dir, err)
	}
	dst, err = appendValue(item, dst)
	if err != nil {
		return nil, wrapErr("get", e.dir, err)
	}
	return dst, nil
}

// appendValue appends item's value to dst, copying it out of Badger's
// memory (item.ValueCopy reuses dst's capacity when dst is empty).
func appendValue(item *badger.Item, dst []byte) ([]byte, error) {
	if len(dst) == 0 {
		return item.ValueCopy(dst)
	}
	err := item.Value(func(v []byte) error {
		dst = append(dst, v...)
		return nil
	})
	return dst, err
}

// Apply writes every op of b in one Badger transaction, committed once;
// under kv.Sync it returns once the commit is durable.
func (e *engine) Apply(ctx context.Context, b *kv.Batch) error {
	wait, err := e.ApplyDeferred(ctx, b)
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// ApplyDeferred is the group commit under kv.Sync (kv.SyncDeferrer): it
// commits b, visible to every later read when it returns, and hands back
// the wait for a sync that covers it (groupsync.go). Under NoSync, wait is
// nil.
func (e *engine) ApplyDeferred(ctx context.Context, b *kv.Batch) (wait func() error, err error) {
	if err := e.commit(ctx, b); err != nil {
		return nil, err
	}
	if e.gs == nil {
		return nil, nil
	}
	t := e.gs.ticket()
	return func() error { return e.gs.wait(t) }, nil
}

// commit writes b in one Badger transaction.
func (e *engine) commit(ctx context.Context, b *kv.Batch) error {
	if e.closed.Load() {
		return errClosed("write", e.dir)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.gs != nil {
		if err := e.gs.failed(); err != nil {
			return fmt.Errorf("kv: badger: write %s: refused after a failed sync: %w", e.dir, err)
		}
	}
	if err := e.checkSpace(b.Size()); err != nil {
		return err
	}
	n := b.Len()
	// Badger keeps references to keys, values and entries until the
	// commit: escaped keys are built in one buffer sized up front (so it is
	// never reallocated), entries in one slice.
	escaped := 0
	for i := range n {
		if _, k, _ := b.Op(i); needsEscape(k) {
			escaped += len(k) + 1
		}
	}
	var keybuf []byte
	if escaped > 0 {
		keybuf = make([]byte, 0, escaped)
	}
	entries := make([]badger.Entry, n)
	txn := e.db.NewTransaction(true)
	defer txn.Discard()
	for i := range n {
		kind, k, v := b.Op(i)
		sk := k
		if needsEscape(k) {
			start := len(keybuf)
			keybuf = appendStoredKey(keybuf, k)
			sk = keybuf[start:len(keybuf):len(keybuf)]
		}
		var err error
		if kind == kv.OpSet {
			entries[i].Key, entries[i].Value = sk, v
			err = txn.SetEntry(&entries[i])
		} else {
			err = txn.Delete(sk)
		}
		if err != nil {
			return wrapErr("write", e.dir, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return wrapErr("commit", e.dir, err)
	}
	return nil
}

// Sync makes every write applied so far durable. Badger's DB.Sync syncs
// only the write-ahead log of the memtable taking writes and the current
// value-log file; under NoSync, memtables waiting to be flushed hold
// writes in logs that were never synced, and new files may not be in the
// directory yet. Sync therefore also fsyncs every memtable log (.mem) and
// value-log file (.vlog) and the directory. Under kv.Sync every commit was
// already made durable by the group sync, which Sync joins.
func (e *engine) Sync() error {
	if e.closed.Load() {
		return errClosed("sync", e.dir)
	}
	if e.gs != nil {
		return e.gs.wait(e.gs.applied.Load())
	}
	if err := e.db.Sync(); err != nil {
		return wrapErr("sync", e.dir, err)
	}
	if e.readOnly {
		return nil
	}
	if err := syncLogs(e.dir); err != nil {
		return fmt.Errorf("kv: badger: sync %s: %w", e.dir, err)
	}
	return nil
}

// syncLogs fsyncs the logs in dir and dir itself. A log deleted meanwhile
// was flushed into a table, which Badger synced.
func syncLogs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range entries {
		name := de.Name()
		if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") {
			continue
		}
		if err := fsyncFile(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return fsyncFile(dir)
}

func fsyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes the database. kv.DB calls it once, after every call in
// flight has returned; calling it again returns nil.
func (e *engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	if err := e.db.Close(); err != nil {
		return wrapErr("close", e.dir, err)
	}
	if !e.readOnly {
		if err := writeTablesRecord(e.dir); err != nil {
			return fmt.Errorf("kv: badger: close %s: record tables: %w", e.dir, err)
		}
	}
	return nil
}

// NewSnapshot returns a read-only Badger transaction: a consistent view of
// the latest committed state.
func (e *engine) NewSnapshot() (kv.Snapshot, error) {
	if e.closed.Load() {
		return nil, errClosed("snapshot", e.dir)
	}
	return &snapshot{e: e, txn: e.db.NewTransaction(false)}, nil
}

// snapshot is a read-only transaction shared by the reads of one View.
// Badger panics when a transaction is discarded with an iterator still
// open, so Close discards the transaction only once its last iterator is
// closed; until then the snapshot refuses new reads.
type snapshot struct {
	e   *engine
	txn *badger.Txn

	mu     sync.RWMutex // Get and NewIter hold it shared, Close exclusively
	iters  int          // open iterators, under mu (exclusive)
	closed bool
}

var _ kv.Snapshot = (*snapshot)(nil)

func (s *snapshot) Get(key, dst []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || s.e.closed.Load() {
		return nil, errClosed("get", s.e.dir)
	}
	return s.e.get(s.txn, key, dst)
}

func (s *snapshot) NewIter(r kv.IterRange) (kv.Iter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.e.closed.Load() {
		return nil, errClosed("iterate", s.e.dir)
	}
	s.iters++
	return newIter(s.e, s.txn, r, s.iterClosed), nil
}

// Scan runs a whole iteration on the snapshot's transaction (kv.Scanner),
// counted as an open iterator while it runs.
func (s *snapshot) Scan(r kv.IterRange, sc *kv.Scan) error {
	s.mu.Lock()
	if s.closed || s.e.closed.Load() {
		s.mu.Unlock()
		return errClosed("iterate", s.e.dir)
	}
	s.iters++
	s.mu.Unlock()
	var it iter
	it.init(s.e, s.txn, r, s.iterClosed)
	return it.scan(sc)
}

func (s *snapshot) iterClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iters--
	if s.closed && s.iters == 0 {
		s.txn.Discard()
	}
}

// Close releases the snapshot. It is idempotent.
func (s *snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.iters == 0 {
		s.txn.Discard()
	}
	return nil
}
