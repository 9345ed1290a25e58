package bbolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/polykv/polykv/kv"
)

// engine is one open bbolt file. kv.DB serializes its writers (Apply,
// DeleteRange) and calls Close once, after every call in flight.
type engine struct {
	path     string
	readOnly bool
	bo       *bolt.Options // what the file was opened with, for Compact's reopen

	// mu guards db: every call holds it shared while it uses db; Compact
	// holds it exclusively to replace the file. Iterators and snapshots do
	// not hold it (they would block Compact for their whole life); they
	// are counted in readers instead, and Compact waits for none to be open.
	mu      sync.RWMutex
	db      *bolt.DB
	broken  error // set when Compact could not reopen the file
	readers readerSet

	// writesStopped is the error every write returns after a commit that
	// failed once its meta page was written (commitfault.go).
	writesStopped atomic.Pointer[error]
	// afterCommit, when set (tests only, before the first write), replaces
	// the result of each commit.
	afterCommit afterCommitHook

	// mapping watches the file's size against the mapping made at open
	// (written by Apply only, which kv serializes).
	mapping mappingWatch

	// res keeps the resident pages of the file's mapping within
	// OptResidentLimit; the calls that read or write note their work.
	res *resident

	// groups counts the group commits (group.go).
	groups groupCounters
}

// use takes mu shared and returns the open bbolt DB; release with
// e.mu.RUnlock when it returns no error.
func (e *engine) use() (*bolt.DB, error) {
	e.mu.RLock()
	if e.broken != nil {
		e.mu.RUnlock()
		return nil, e.broken
	}
	return e.db, nil
}

var (
	_ kv.Engine       = (*engine)(nil)
	_ kv.Scanner      = (*engine)(nil)
	_ kv.Scanner      = (*snapshot)(nil)
	_ kv.RangeDeleter = (*engine)(nil)
	_ kv.Stater       = (*engine)(nil)
	_ kv.Compacter    = (*engine)(nil)
)

// get looks key up in b (nil: the bucket does not exist, as in a read-only
// store never written) and appends its value to dst. It uses a cursor and
// compares the key rather than Bucket.Get, whose nil result cannot tell a
// missing key from an empty value written in the same transaction.
func get(b *bolt.Bucket, key, dst []byte) ([]byte, error) {
	if b == nil {
		return nil, kv.ErrNotFound
	}
	k, v := b.Cursor().Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, kv.ErrNotFound
	}
	// v points into the mmap, valid only during the transaction: copy it.
	out := append(dst, v...)
	if out == nil {
		out = []byte{} // found with an empty value: not nil
	}
	return out, nil
}

// Get reads key in its own read transaction and copies the value out
// before the transaction ends.
func (e *engine) Get(key, dst []byte) (out []byte, err error) {
	db, err := e.use()
	if err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "get", e.path)
	err = db.View(func(tx *bolt.Tx) error {
		out, err = get(tx.Bucket(bucketName), key, dst)
		e.res.note(tx, 1)
		return err
	})
	if err != nil {
		return nil, wrapErr("get", e.path, err)
	}
	return out, nil
}

// NewIter opens a read transaction that the iterator owns and rolls back on
// Close.
func (e *engine) NewIter(r kv.IterRange) (kv.Iter, error) {
	tx, err := e.beginRead("iterate")
	if err != nil {
		return nil, err
	}
	i := newIter(tx, tx.Bucket(bucketName), r, e.path)
	i.readers = &e.readers
	i.res = e.res
	return i, nil
}

// Scan runs a whole iteration (kv.Scanner) in a read transaction of its
// own, rolled back before it returns. Like an iterator, it does not hold
// mu while the iteration's function runs (that function may call the
// store again); Compact waits for it as for any open reader.
func (e *engine) Scan(r kv.IterRange, s *kv.Scan) (err error) {
	tx, err := e.beginRead("iterate")
	if err != nil {
		return err
	}
	var it iter
	it.init(tx, tx.Bucket(bucketName), r, e.path) // kv keeps r's bounds fixed
	it.readers = &e.readers
	it.res = e.res
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	return it.scan(s)
}

// beginRead begins a read transaction counted in e.readers (the caller
// rolls it back and decrements the count).
func (e *engine) beginRead(op string) (tx *bolt.Tx, err error) {
	db, err := e.use()
	if err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	defer rollbackOnError(&tx, &err)
	defer recoverTo(&err, op, e.path)
	tx, err = db.Begin(false)
	if err != nil {
		return nil, wrapErr(op, e.path, err)
	}
	e.readers.add(tx)
	return tx, nil
}

// NewSnapshot opens a read transaction: bbolt's MVCC gives it the state of
// the last commit, unchanged until Close rolls it back.
func (e *engine) NewSnapshot() (s kv.Snapshot, err error) {
	db, err := e.use()
	if err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	var tx *bolt.Tx
	defer rollbackOnError(&tx, &err)
	defer recoverTo(&err, "snapshot", e.path)
	tx, err = db.Begin(false)
	if err != nil {
		return nil, wrapErr("snapshot", e.path, err)
	}
	snap := &snapshot{tx: tx, b: tx.Bucket(bucketName), path: e.path, readers: &e.readers, res: e.res}
	e.readers.add(tx)
	return snap, nil
}

// rollbackOnError releases a read transaction begun by a call that then
// failed (or panicked: it runs after recoverTo), so that no transaction is
// left holding bbolt's mmap lock.
func rollbackOnError(tx **bolt.Tx, err *error) {
	if *err != nil && *tx != nil {
		defer func() { _ = recover() }() // the error at hand says more
		_ = (*tx).Rollback()
	}
}

// Apply writes b in exactly one bbolt read-write transaction (never
// DB.Batch, which may merge or re-run functions): all of it commits or none
// does. The batch's slices stay valid until Apply returns, which covers
// bbolt's rule that a value given to Put stays valid until the commit.
//
// The writes are applied in key order (stable, so that the last write to a
// key still wins). bbolt splits its nodes only at commit: until then a leaf
// takes every key inserted into it, each insertion shifting the entries
// after it, so a large batch in random order (hashed keys) costs time
// quadratic in its size, and in key order linear.
func (e *engine) Apply(ctx context.Context, b *kv.Batch) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.checkWrites(); err != nil {
		return err
	}
	db, err := e.use()
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "apply", e.path)
	err = e.update(db, "apply", func(tx *bolt.Tx) error {
		e.mapping.check(tx)
		return e.write(tx.Bucket(bucketName), b)
	})
	if err != nil {
		return err
	}
	// A commit reads, through the mapping, every page on the path to each
	// key it changes.
	e.res.noteAfterWrite(db, b.Len())
	return nil
}

// write applies b's writes to bk, in key order (kv.Batch.EachInKeyOrder).
func (e *engine) write(bk *bolt.Bucket, b *kv.Batch) error {
	return b.EachInKeyOrder(func(kind kv.OpKind, k, v []byte) error {
		if kind == kv.OpSet {
			return bk.Put(k, v)
		}
		return bk.Delete(k)
	})
}

// deleteRangeCtxEvery is how many deletions DeleteRange makes between
// checks of its context.
const deleteRangeCtxEvery = 1024

// DeleteRange deletes [start, end) in one bbolt transaction, so it is
// atomic; if ctx ends first, nothing is deleted. The whole key space is
// deleted by dropping and recreating the bucket (its pages are freed
// without being read into memory); any other range key by key.
func (e *engine) DeleteRange(ctx context.Context, start, end []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.checkWrites(); err != nil {
		return err
	}
	db, err := e.use()
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "delete range in", e.path)
	err = e.update(db, "delete range in", func(tx *bolt.Tx) error {
		if end == nil && (len(start) == 0 || bytes.Equal(start, []byte{0})) {
			if err := tx.DeleteBucket(bucketName); err != nil {
				return err
			}
			_, err := tx.CreateBucket(bucketName)
			return err
		}
		return deleteRange(ctx, tx.Bucket(bucketName).Cursor(), start, end)
	})
	if err != nil {
		return err
	}
	// It may have read every page of the range: check now.
	e.res.noteAfterWrite(db, residentCheckEvery)
	return nil
}

// deleteRange deletes [start, end) with cursor c. A bbolt cursor standing
// on a node already modified in the transaction skips a key when it
// deletes and then calls Next (the deletion shifts the next key under the
// cursor's index); on an untouched page it does not. Rather than depend on
// which, the cursor seeks again to the deleted key after each deletion,
// which lands on its successor.
func deleteRange(ctx context.Context, c *bolt.Cursor, start, end []byte) error {
	var cur []byte
	n := 0
	k, _ := c.First()
	if len(start) > 0 {
		k, _ = c.Seek(start)
	}
	for ; k != nil && (end == nil || bytes.Compare(k, end) < 0); k, _ = c.Seek(cur) {
		if n++; n%deleteRangeCtxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cur = append(cur[:0], k...)
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Sync flushes the file with fdatasync: under kv.NoSync it makes every
// commit so far survive a power loss. A read-only store has nothing to
// flush.
func (e *engine) Sync() (err error) {
	if e.readOnly {
		return nil
	}
	db, err := e.use()
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "sync", e.path)
	return wrapErr("sync", e.path, db.Sync())
}

// Close closes the file; bbolt waits for open transactions, and kv.DB
// calls Close only after all of them have ended.
func (e *engine) Close() (err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer recoverTo(&err, "close", e.path)
	var errs []error
	if left := e.readers.drain(); len(left) > 0 {
		// Only an Engine used directly can get here: kv.DB closes its
		// readers before it closes the engine.
		for _, tx := range left {
			_ = tx.Rollback() // read-only: Rollback only releases it
		}
		errs = append(errs, fmt.Errorf("kv: bbolt: close %s: %d iterator(s) or snapshot(s) still open (rolled back now)", e.path, len(left)))
	}
	e.res.close()
	txid := -1 // for the clean-close record (cleanclose.go)
	if e.broken == nil && !e.readOnly && len(errs) == 0 {
		if id, err := lastTxid(e.db); err == nil {
			txid = id
		}
	}
	// After a failed Compact the file is already closed: bbolt's Close of
	// a closed DB does nothing.
	if err := e.db.Close(); err != nil {
		errs = append(errs, wrapErr("close", e.path, err))
	} else if txid >= 0 {
		if err := writeTxidRecord(filepath.Dir(e.path), txid); err != nil {
			errs = append(errs, fmt.Errorf("kv: bbolt: close %s: record the last transaction: %w", e.path, err))
		}
	}
	return errors.Join(errs...)
}

// snapshot is a kv.Snapshot over one bbolt read transaction.
type snapshot struct {
	tx      *bolt.Tx
	b       *bolt.Bucket
	path    string
	done    bool
	readers *readerSet // the engine's open readers
	res     *resident
}

func (s *snapshot) Get(key, dst []byte) (out []byte, err error) {
	if s.done {
		return nil, wrapErr("get", s.path, berrors.ErrTxClosed)
	}
	defer recoverTo(&err, "get", s.path)
	s.res.note(s.tx, 1)
	return get(s.b, key, dst)
}

// NewIter iterates within the snapshot's transaction; the iterator does not
// own it.
func (s *snapshot) NewIter(r kv.IterRange) (kv.Iter, error) {
	if s.done {
		return nil, wrapErr("iterate", s.path, berrors.ErrTxClosed)
	}
	it := newIter(s.tx, s.b, r, s.path)
	it.res = s.res
	return it, nil
}

// Scan runs a whole iteration within the snapshot's transaction
// (kv.Scanner).
func (s *snapshot) Scan(r kv.IterRange, sc *kv.Scan) error {
	if s.done {
		return wrapErr("iterate", s.path, berrors.ErrTxClosed)
	}
	var it iter
	it.init(s.tx, s.b, r, s.path) // kv keeps r's bounds fixed
	it.res = s.res
	return it.scan(sc)
}

// Close rolls the read transaction back (a read transaction has nothing to
// commit); calling it again does nothing.
func (s *snapshot) Close() (err error) {
	if s.done {
		return nil
	}
	s.done = true
	if !s.readers.remove(s.tx) {
		return nil // the engine's Close rolled it back
	}
	defer recoverTo(&err, "close snapshot of", s.path)
	return wrapErr("close snapshot of", s.path, s.tx.Rollback())
}
