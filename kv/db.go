package kv

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// DB is the Store of every backend: it wraps an Engine and gives every
// backend the same behaviour. It validates keys, values and transaction
// sizes before the engine sees them, guards every call against Close
// (engines such as Pebble panic when used after Close), copies every slice
// it hands out, bounds iterations, and serializes writers so that Update is
// serializable on every engine.
//
// Writers (Set, Delete, Write, Update, DeleteRange) run one at a time in a
// process, as in bbolt and SQLite; readers never wait for them. Their
// commits may be shared (SyncDeferrer, GroupCommitter), never their turns. An Update's
// function therefore must not call the same store's write methods (it would
// wait for itself): write through its Txn instead. Such a write made with
// the Txn's context fails with ErrNestedUpdate (see Update).
//
// A nil context, and every method of a DB not made by Open (a nil *DB, the
// zero DB), fail with an error matching ErrInvalidConfig that names the
// method, instead of panicking.
type DB struct {
	e    Engine
	info Info
	// deferrer is e's group commit when the store syncs (see apply).
	deferrer SyncDeferrer
	// txner is e's optimistic transactions (Transactor): when set, kv takes
	// no writer lock (see lockWrites) and Update runs in the engine.
	txner Transactor
	// grouper is e's group commit (GroupCommitter): writers share engine
	// commits (group.go). group is the open group, guarded by writeMu;
	// writersWaiting counts the writers waiting for writeMu.
	grouper GroupCommitter
	// ctxReader is e's reads with a context (ContextReader), nil when e
	// has none (readctx.go).
	ctxReader      ContextReader
	group          *writeGroup
	writersWaiting atomic.Int32
	// limits are the store's (LimitDeclarer); reduced is set when they are
	// smaller than the package constants, which Batch checks by itself.
	limits   Limits
	reduced  bool
	release  func() error
	inflight atomic.Int64
	closed   atomic.Bool
	drained  chan struct{} // signalled by the last call to exit once closed is set
	// closing holds a token while a Close runs: a channel rather than a
	// mutex, so that CloseContext can stop waiting for another Close.
	closing chan struct{}
	writeMu sync.Mutex
	// commitMu, with optimistic transactions (txner), is held shared by
	// every commit and blind write of the process, and exclusively by an
	// Update that has conflicted escalateAfter times (see Update).
	commitMu sync.RWMutex
	batches  sync.Pool
	// large keeps one transaction batch whose buffer outgrew what the pool
	// may pin (smallBatchCap). Writers run one at a time, so one is enough
	// for every large Update in turn: a store holds at most one such buffer
	// (up to MaxTxnBytes of data) instead of regrowing one per transaction.
	large atomic.Pointer[Batch]
}

var _ Store = (*DB)(nil)

// NewDB wraps an open engine. release, if not nil, runs after the engine is
// closed (kv.Open uses it to drop the directory lock). Backends do not call
// NewDB themselves: Open and OpenDriver do.
func NewDB(e Engine, info Info, release func() error) *DB {
	db := &DB{e: e, info: info, release: release, drained: make(chan struct{}, 1), closing: make(chan struct{}, 1)}
	db.batches.New = func() any { return new(Batch) }
	db.limits = DefaultLimits()
	if ld, ok := e.(LimitDeclarer); ok {
		db.limits = ld.Limits().clamp()
	}
	db.reduced = db.limits != DefaultLimits()
	db.ctxReader, _ = e.(ContextReader)
	if t, ok := e.(Transactor); ok {
		db.txner = t
	} else if g, ok := e.(GroupCommitter); ok {
		db.grouper = g
		db.info.GroupCommit = true
	} else if d, ok := e.(SyncDeferrer); ok && info.Durability == Sync {
		db.deferrer = d
	}
	return db
}

// Engine returns the engine under db, for type assertions to the optional
// capability interfaces and for backend-specific tools. Using it bypasses
// every check DB makes. It is nil for a DB not made by Open.
func (db *DB) Engine() Engine {
	if db == nil {
		return nil
	}
	return db.e
}

// Info describes the open store (the zero Info for a DB not made by Open).
func (db *DB) Info() Info {
	if db == nil {
		return Info{}
	}
	return db.info
}

// Limits returns the sizes the store accepts: the package constants, or
// the smaller ones its engine declares (LimitDeclarer). See LimitsOf.
func (db *DB) Limits() Limits {
	if db == nil || db.e == nil {
		return DefaultLimits()
	}
	return db.limits
}

// check is the first step of every method given a context: a DB not made
// by Open (nil, or the zero DB) and a nil ctx are errors naming the method
// op, not panics; then ctx's own error.
func (db *DB) check(ctx context.Context, op string) error {
	if db == nil || db.e == nil {
		return notOpened(op)
	}
	if ctx == nil {
		return fmt.Errorf("%w: %s with a nil context", ErrInvalidConfig, op)
	}
	return ctx.Err()
}

// notOpened is the error of method op of a DB not made by Open.
func notOpened(op string) error {
	return fmt.Errorf("%w: %s on a DB not made by Open", ErrInvalidConfig, op)
}

// lockWrites and unlockWrites bracket every write that reaches the engine.
// They hold the writer lock that serializes writers within the process, or,
// when the engine runs optimistic transactions itself (Transactor), only
// the shared side of commitMu: there, writes run concurrently and
// serializability comes from the commit's check, which also covers writers
// in other processes; commitMu lets a starved Update keep this process's
// writers out for one run (see Update). With group commit (grouper),
// unlockWrites commits the open group unless another writer waits to add
// to it (group.go).
//
// lockWrites fails with ErrNestedUpdate, taking nothing, for a write made
// with the context of a running Update of db (nested): it would wait for
// that Update, which waits for it. The writer lock is held for as long as
// such an Update runs, so the check is made only when the lock is busy,
// and costs nothing to the writer that finds it free.
func (db *DB) lockWrites(ctx context.Context) error {
	if db.txner != nil {
		if db.nested(ctx) {
			return db.errNested()
		}
		db.commitMu.RLock()
		return nil
	}
	if db.writeMu.TryLock() {
		return nil
	}
	if db.nested(ctx) {
		return db.errNested()
	}
	db.writersWaiting.Add(1)
	db.writeMu.Lock()
	db.writersWaiting.Add(-1)
	return nil
}

func (db *DB) unlockWrites() {
	if db.txner == nil {
		if db.grouper != nil {
			db.settleGroup()
		}
		db.writeMu.Unlock()
	} else {
		db.commitMu.RUnlock()
	}
}

// lockEngineWrites is lockWrites for a write that goes to the engine
// itself rather than through apply: it commits the open group first.
func (db *DB) lockEngineWrites(ctx context.Context) error {
	if err := db.lockWrites(ctx); err != nil {
		return err
	}
	if db.grouper != nil {
		db.flushGroup()
	}
	return nil
}

// enter registers a call in flight; it fails once Close has begun.
func (db *DB) enter() error {
	db.inflight.Add(1)
	if db.closed.Load() {
		db.exit()
		return db.errClosed()
	}
	return nil
}

// exit ends a call registered by enter, waking Close if it was the last
// call it waits for.
func (db *DB) exit() {
	if db.inflight.Add(-1) == 0 && db.closed.Load() {
		select {
		case db.drained <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

func (db *DB) errClosed() error {
	return fmt.Errorf("%w (%s)", ErrClosed, db.info.Backend)
}

// checkWrite refuses a write to a closed or read-only store. The closed
// state comes first, and before any shortcut of a write that has nothing
// to do (an empty batch, an empty range): every method of a closed store
// returns ErrClosed.
func (db *DB) checkWrite() error {
	if db.closed.Load() {
		return db.errClosed()
	}
	if db.info.ReadOnly {
		return ErrReadOnly
	}
	return nil
}

// Close waits for the calls in flight, closes the engine and releases the
// directory. Calling it again returns nil.
//
// Called from inside a View, Update or Iterate callback of db, Close
// would wait for that call, which waits for it: for ever. It cannot tell
// such a Close from one of another goroutine, which must wait; use
// CloseContext with the transaction's context (ReadTxn.Context) where a
// callback may close the store.
func (db *DB) Close() error {
	if db == nil || db.e == nil {
		return notOpened("Close")
	}
	return db.close(context.Background())
}

// CloseContext is Close for a caller that may be inside a transaction of
// db, or that must not wait for ever. Made with the context of a View or
// an Update of db whose function runs (ReadTxn.Context, or a context
// derived from it), it fails at once with ErrNestedCall and leaves db open
// and usable: a Close would wait for that function, which waits for it.
// Otherwise it is Close, except that if ctx ends before the calls in
// flight do, it stops waiting and returns an error wrapping ctx's, and db
// stays open: the calls made meanwhile failed with ErrClosed, later ones
// work, and a later Close or CloseContext closes it.
func (db *DB) CloseContext(ctx context.Context) error {
	if err := db.check(ctx, "CloseContext"); err != nil {
		return err
	}
	if db.inCall(ctx) {
		return db.errNestedCall("Close")
	}
	return db.close(ctx)
}

// close is Close, giving up when ctx ends before the calls in flight (or
// another Close) do.
func (db *DB) close(ctx context.Context) error {
	select {
	case db.closing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("kv: %s: close gave up waiting for another Close, which waits for the calls in flight: %w", db.info.Backend, ctx.Err())
	}
	defer func() { <-db.closing }()
	if db.closed.Load() {
		return nil // closed by an earlier Close: only a Close sets closed, and it is not running
	}
	db.closed.Store(true)
	// Calls that entered before closed was set finish; the last one to
	// exit signals drained (a call that enters now sees closed and exits
	// at once).
	for db.inflight.Load() > 0 {
		select {
		case <-db.drained:
		case <-ctx.Done():
			// Open again. A wake-up the last call may still send to
			// drained is read, and ignored, by the next Close's loop.
			db.closed.Store(false)
			return fmt.Errorf("kv: %s: close gave up waiting for the calls in flight; the store stays open: %w", db.info.Backend, ctx.Err())
		}
	}
	err := db.e.Close()
	if db.release != nil {
		if rerr := db.release(); err == nil {
			err = rerr
		}
	}
	return err // engines already wrap their errors with backend and path
}

// Get returns a copy of the value stored under key, or ErrNotFound. The
// value belongs to the caller; it is empty (not nil) when the key is
// present with an empty value. To read many values without allocating
// one slice each, use GetAppend.
func (db *DB) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := db.check(ctx, "Get"); err != nil {
		return nil, err
	}
	v, err := db.getAppend(ctx, nil, key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// GetAppend appends the value stored under key to dst and returns the
// extended slice, or dst unchanged and ErrNotFound (or another error). It
// is Get for callers that reuse one buffer across reads, as in
// v, err = db.GetAppend(ctx, v[:0], key): the appended bytes are a copy that
// belongs to the caller, never engine memory, and dst may be nil. Like
// every method it is safe for concurrent use (each goroutine with its own
// dst) and returns ErrClosed after Close.
func (db *DB) GetAppend(ctx context.Context, dst, key []byte) ([]byte, error) {
	if err := db.check(ctx, "GetAppend"); err != nil {
		return dst, err
	}
	return db.getAppend(ctx, dst, key)
}

// getAppend is GetAppend after its check of db and ctx.
func (db *DB) getAppend(ctx context.Context, dst, key []byte) ([]byte, error) {
	if err := db.checkKey(key); err != nil {
		return dst, err
	}
	if err := db.enter(); err != nil {
		return dst, err
	}
	v, err := db.reader(ctx).Get(key, dst)
	db.exit()
	if err != nil {
		return dst, err
	}
	return v, nil
}

// Set stores value under key.
func (db *DB) Set(ctx context.Context, key, value []byte) error {
	if err := db.check(ctx, "Set"); err != nil {
		return err
	}
	b := db.batches.Get().(*Batch)
	defer db.putBatch(b)
	if err := b.Set(key, value); err != nil {
		return err
	}
	return db.write(ctx, b)
}

// Delete removes key; a missing key is not an error.
func (db *DB) Delete(ctx context.Context, key []byte) error {
	if err := db.check(ctx, "Delete"); err != nil {
		return err
	}
	b := db.batches.Get().(*Batch)
	defer db.putBatch(b)
	if err := b.Delete(key); err != nil {
		return err
	}
	return db.write(ctx, b)
}

// smallBatchCap is the largest batch buffer the pool keeps; larger ones go
// to db.large.
const smallBatchCap = 1 << 20

// txnBatch returns a batch for an Update: the retained large one if there
// is one (a transaction that was large is likely to be followed by another),
// or one from the pool.
func (db *DB) txnBatch() *Batch {
	if b := db.large.Swap(nil); b != nil {
		return b
	}
	return db.batches.Get().(*Batch)
}

func (db *DB) putBatch(b *Batch) {
	b.Reset()
	if cap(b.data) > smallBatchCap {
		db.large.Store(b) // replaces (and frees) any other large one
		return
	}
	db.batches.Put(b)
}

// Write applies b atomically. An empty or nil b writes nothing and returns
// nil, or ErrNestedUpdate when made from inside an Update of db with its
// Txn's context, as a non-empty one.
func (db *DB) Write(ctx context.Context, b *Batch) error {
	if err := db.check(ctx, "Write"); err != nil {
		return err
	}
	return db.write(ctx, b)
}

// write is Write after its check of db and ctx.
func (db *DB) write(ctx context.Context, b *Batch) error {
	if err := db.checkWrite(); err != nil {
		return err
	}
	if b == nil || b.Len() == 0 {
		// Nothing to apply, and no writer lock to take: a nested write is
		// refused all the same (lockWrites finds the others), so that the
		// mistake shows whatever the batch holds.
		if db.nested(ctx) {
			return db.errNested()
		}
		return nil
	}
	if db.reduced {
		if err := db.limits.checkBatch(b); err != nil {
			return err
		}
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	wait, err := db.applyLocked(ctx, b)
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// applyLocked applies b under the writer lock. When the engine defers its
// sync (SyncDeferrer, under Sync), it returns the function that waits for
// b to be durable, to be called after the lock is released.
func (db *DB) applyLocked(ctx context.Context, b *Batch) (wait func() error, err error) {
	if err := db.lockWrites(ctx); err != nil {
		return nil, err
	}
	defer db.unlockWrites()
	return db.apply(ctx, b)
}

// apply applies b; the caller holds the writer lock. See applyLocked.
func (db *DB) apply(ctx context.Context, b *Batch) (wait func() error, err error) {
	if db.grouper != nil {
		return db.addToGroup(ctx, b)
	}
	if db.deferrer != nil {
		wait, err := db.deferrer.ApplyDeferred(ctx, b)
		if err != nil || wait == nil {
			return wait, err
		}
		return func() error { return db.syncOutcome(wait()) }, nil
	}
	return nil, db.e.Apply(ctx, b)
}

// syncOutcome is the error of a commit that was applied and whose sync
// then failed (SyncDeferrer's wait): the commit is visible in this
// process, and whether it survives a crash or a reopen is not known, so
// the error says ErrOutcomeUnknown, beside the engine's own (the fault,
// ErrNeedsReopen). "An error means nothing was applied" would be false
// here.
func (db *DB) syncOutcome(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kv: %s: the commit was applied but its sync failed; whether it survives a reopen is unknown: %w: %w",
		db.info.Backend, ErrOutcomeUnknown, err)
}

// Sync makes every committed write durable.
func (db *DB) Sync() error {
	if db == nil || db.e == nil {
		return notOpened("Sync")
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	return db.e.Sync()
}

func checkKey(key []byte) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("%w (key of %d bytes, limit %d)", err, len(key), MaxKeySize)
	}
	return nil
}

// checkKey is checkKey against the store's limits.
func (db *DB) checkKey(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if db.reduced && len(key) > db.limits.MaxKeySize {
		return fmt.Errorf("%w (key of %d bytes, this store's limit %d)", ErrKeyTooLarge, len(key), db.limits.MaxKeySize)
	}
	return nil
}
