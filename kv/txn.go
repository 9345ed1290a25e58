package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Update runs fn in a serializable read-write transaction.
//
// fn writes through tx, never through db's own methods: a write of db
// made while fn runs waits for the writer lock fn's Update holds (local
// engines), or commits apart from the transaction, once per run
// (optimistic engines). Made with tx.Context(), or a context derived from
// it, such a write fails at once with ErrNestedUpdate on every engine;
// made with another context it cannot be told from a write of another
// goroutine, and waits. Reads of db inside fn (Get, View, Iterate) are
// allowed: they see the last commit, not fn's writes.
func (db *DB) Update(ctx context.Context, fn func(tx Txn) error) error {
	if err := db.check(ctx, "Update"); err != nil {
		return err
	}
	if db.txner != nil && db.nested(ctx) {
		// The lock engines find it when they wait for the writer lock.
		return db.errNested()
	}
	if fn == nil {
		return fmt.Errorf("%w: Update with a nil function", ErrInvalidConfig)
	}
	if err := db.checkWrite(); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	for attempt := 0; ; attempt++ {
		start := time.Now()
		var err error
		if db.txner != nil {
			err = db.runOptimistic(ctx, fn, attempt)
		} else {
			err = db.runUpdate(ctx, fn)
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		if attempt >= MaxConflictRetries {
			return fmt.Errorf("%w: gave up after %d retries", ErrConflict, MaxConflictRetries)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if db.txner != nil {
			if err := conflictBackoff(ctx, attempt, time.Since(start)); err != nil {
				return err
			}
		}
	}
}

// errRetry marks a conflict reported by the engine's commit, as opposed to an
// ErrConflict returned by fn itself.
var errRetry = errors.New("kv: retry")

func (db *DB) runUpdate(ctx context.Context, fn func(tx Txn) error) error {
	b := db.txnBatch()
	defer db.putBatch(b)
	wait, err := db.commitLocked(ctx, b, fn)
	if err != nil || wait == nil {
		return err
	}
	// The commit is visible; wait for it to be durable without holding
	// the writer lock (SyncDeferrer).
	return wait()
}

// commitLocked runs fn and applies its writes (collected in b) under the
// writer lock; wait, when not nil, waits for them to be durable and must
// be called after the lock is released (see DB.apply).
func (db *DB) commitLocked(ctx context.Context, b *Batch, fn func(tx Txn) error) (wait func() error, err error) {
	if err := db.lockWrites(ctx); err != nil {
		return nil, err
	}
	defer db.unlockWrites()
	r := db.reader(ctx)
	var read *writeGroup // an open group whose writes, not committed, fn reads
	if db.grouper != nil {
		g, err := db.openGroup(ctx)
		switch {
		case errors.Is(err, ErrNeedsReopen):
			// Writes are refused, reads still work: fn reads the
			// committed state, and a write of it is refused at apply.
		case err != nil:
			return nil, err
		default:
			r = g.wg // the writes of the writers before this one in the group
			if g.writers > 0 {
				read = g
			}
		}
	}
	tx := newTxn(ctx, db, r, b)
	err = tx.run(fn)
	if err != nil || b.Len() == 0 {
		return addedNothing(read, err)
	}
	wait, err = db.apply(ctx, b)
	if errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("%w: %w", errRetry, err)
	}
	return wait, err
}

// addedNothing ends the run of a writer that adds nothing to the open
// group g (it only read, or its function failed) with result err, the
// function's. When g held writes of writers before it (not nil), the
// function read them uncommitted: the writer returns only once g has
// committed, as a reader of a committed state would (wait, called
// after the writer lock is released, as a writer's wait for its own
// group), and when that commit failed, what it read never existed: it
// runs again (errRetry) on the committed state.
func addedNothing(g *writeGroup, err error) (wait func() error, _ error) {
	if g == nil {
		return nil, err
	}
	return func() error {
		if gerr := g.wait(); gerr != nil {
			return fmt.Errorf("%w: the writes it read were not committed: %w", errRetry, gerr)
		}
		return err
	}, nil
}

// txn is the Txn of Update. Its writes collect in a Batch applied at commit;
// reads look at the batch first (read your own writes), then at the engine,
// whose state no other writer can change while the transaction runs.
type txn struct {
	readTxn
	b *Batch
	// index maps a key to the position of its latest write in b; it covers
	// the first indexed writes and is brought up to date before each read.
	index   map[string]int
	indexed int
	// err is the first write error (a limit): it fails the commit even when
	// fn ignored it.
	err error
}

// newTxn returns the Txn of one run of an Update's function, reading r
// and writing into b.
func newTxn(ctx context.Context, db *DB, r Reader, b *Batch) *txn {
	tx := &txn{readTxn: readTxn{ctx: ctx, db: db, r: r}, b: b}
	tx.begin(true)
	return tx
}

// run runs fn on tx and returns its error, or else the first write error
// fn ignored (tx.err). The transaction is done when it returns.
func (tx *txn) run(fn func(tx Txn) error) error {
	err := func() error {
		defer func() {
			tx.end()
			tx.b, tx.index = nil, nil // as tx.r (see end)
		}()
		return fn(tx)
	}()
	if err == nil {
		err = tx.err
	}
	return err
}

// txnContext is the context of a transaction (ReadTxn.Context): the one
// given to View or Update, marked with the store, with whether it is an
// Update's (write) and with whether the function still runs, so that a
// call of the same store made with it that would wait for the function
// fails instead of waiting for itself: a write inside an Update with
// ErrNestedUpdate (DB.nested), a Close or a Compact that waits for open
// reads inside a View or an Update with ErrNestedCall (DB.inCall).
type txnContext struct {
	context.Context
	db      *DB
	write   bool
	running atomic.Bool
}

// txnContextKey is the key under which a txnContext returns itself.
type txnContextKey struct{}

func (c *txnContext) Value(key any) any {
	if key == (txnContextKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// nested reports whether ctx is, or derives from, the context of an
// Update of db whose function still runs, through the Updates of any
// stores ctx is nested in. Only a context handed out by Txn.Context
// carries the mark: the context given to Update is shared with whatever
// else its caller does, in other goroutines too.
func (db *DB) nested(ctx context.Context) bool {
	return runningIn(ctx, db, true)
}

// inCall reports whether ctx is, or derives from, the context of a View
// or an Update of db whose function still runs (ReadTxn.Context), through
// the transactions of any stores ctx is nested in: a call made with it
// that waits for db's transactions to end would wait for itself.
func (db *DB) inCall(ctx context.Context) bool {
	return runningIn(ctx, db, false)
}

// runningIn reports whether ctx carries the mark of a running transaction
// of db (of any store when db is nil): an Update's only when write is set,
// else a View's or an Update's.
func runningIn(ctx context.Context, db *DB, write bool) bool {
	c, _ := ctx.Value(txnContextKey{}).(*txnContext)
	for c != nil {
		if (db == nil || c.db == db) && (c.write || !write) && c.running.Load() {
			return true
		}
		c, _ = c.Context.Value(txnContextKey{}).(*txnContext)
	}
	return false
}

// InUpdate reports whether ctx is, or derives from, the context of an
// Update (Txn.Context) whose function still runs, of any store. A layer
// that would hand a caller's write to another goroutine (nodestore's
// shared commits) keeps such a write in the caller's goroutine and
// context instead, where the store can refuse it with ErrNestedUpdate if
// it is the Update's own store, rather than have the other goroutine wait
// for that Update, which waits for the caller.
func InUpdate(ctx context.Context) bool {
	return ctx != nil && runningIn(ctx, nil, true)
}

// errNestedCall is the error of op made with the context of a running
// View or Update of db (inCall), which op would wait for.
func (db *DB) errNestedCall(op string) error {
	return fmt.Errorf("%w (%s): %s was called with the context of a View or Update of the same store whose function is running, and would wait for it; call it after the function returns",
		ErrNestedCall, db.info.Backend, op)
}

func (db *DB) errNested() error {
	return fmt.Errorf("%w (%s): the write was made with the context of an Update of the same store whose function is running, and would wait for it; write through its Txn",
		ErrNestedUpdate, db.info.Backend)
}

func (tx *txn) Set(key, value []byte) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if tx.db.reduced {
		if err := tx.checkLimits(key, value); err != nil {
			return err
		}
	}
	if err := tx.b.Set(key, value); err != nil {
		tx.fail(err)
		return err
	}
	return nil
}

func (tx *txn) Delete(key []byte) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if tx.db.reduced {
		if err := tx.checkLimits(key, nil); err != nil {
			return err
		}
	}
	if err := tx.b.Delete(key); err != nil {
		tx.fail(err)
		return err
	}
	return nil
}

// checkLimits checks a write against the store's declared limits (when
// smaller than the constants Batch checks).
func (tx *txn) checkLimits(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := tx.db.limits.checkEntry(key, value); err != nil {
		return err
	}
	if err := tx.db.limits.checkTotal(tx.b.Len()+1, tx.b.Size()+EntrySize(key, value)); err != nil {
		tx.fail(err)
		return err
	}
	return nil
}

func (tx *txn) fail(err error) {
	if tx.err == nil && errors.Is(err, ErrTxnTooLarge) {
		tx.err = err
	}
}

func (tx *txn) syncIndex() {
	if tx.indexed == tx.b.Len() {
		return
	}
	if tx.index == nil {
		tx.index = make(map[string]int, tx.b.Len())
	}
	for i := tx.indexed; i < tx.b.Len(); i++ {
		_, k, _ := tx.b.Op(i)
		tx.index[string(k)] = i
	}
	tx.indexed = tx.b.Len()
}

func (tx *txn) Get(key []byte) ([]byte, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	if err := tx.db.checkKey(key); err != nil {
		return nil, err
	}
	if tx.b.Len() > 0 {
		tx.syncIndex()
		if i, ok := tx.index[string(key)]; ok {
			kind, _, v := tx.b.Op(i)
			if kind == OpDelete {
				return nil, ErrNotFound
			}
			return append([]byte{}, v...), nil
		}
	}
	return tx.readTxn.Get(key)
}

func (tx *txn) Iterate(opts IterOptions, fn func(key, value []byte) error) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if err := checkIterOptions(opts, fn); err != nil {
		return err
	}
	return iterate(tx.ctx, tx.r, tx.pendingIn(opts), opts, fn)
}

// pendingWrite is a write of the running transaction, as an iteration
// merges it with the engine's keys.
type pendingWrite struct {
	key, value []byte
	del        bool
}

// pendingIn returns the transaction's latest write to each key in the range
// of opts, sorted in the iteration's direction. It is a snapshot: later
// writes do not change it (the batch only appends, so the slices stay put).
func (tx *txn) pendingIn(opts IterOptions) []pendingWrite {
	if tx.b.Len() == 0 {
		return nil
	}
	lower, upper, empty := Bounds(opts)
	if empty {
		return nil
	}
	tx.syncIndex()
	var out []pendingWrite
	for _, i := range tx.index {
		kind, k, v := tx.b.Op(i)
		if (lower != nil && bytes.Compare(k, lower) < 0) || (upper != nil && bytes.Compare(k, upper) >= 0) {
			continue
		}
		out = append(out, pendingWrite{key: k, value: v, del: kind == OpDelete})
	}
	slices.SortFunc(out, func(a, b pendingWrite) int { return bytes.Compare(a.key, b.key) })
	if opts.Reverse {
		slices.Reverse(out)
	}
	return out
}

// merger merges an engine iterator with a transaction's pending writes; a
// pending write hides the engine's key of the same name, a pending delete
// hides it altogether. The engine iterator stays on the key next returned
// until the following call, so that its value can be read.
type merger struct {
	it          Iter
	pending     []pendingWrite
	reverse     bool
	itValid     bool
	needAdvance bool
}

func (m *merger) advance() {
	m.itValid = m.it.Next()
	m.needAdvance = false
}

// next returns the next visible key; pw is non-nil when the key's value is
// that of a pending write (otherwise it is the engine iterator's).
func (m *merger) next() (key []byte, pw *pendingWrite, ok bool) {
	if m.needAdvance {
		m.advance()
	}
	for {
		if len(m.pending) == 0 {
			if !m.itValid {
				return nil, nil, false
			}
			m.needAdvance = true
			return m.it.Key(), nil, true
		}
		p := &m.pending[0]
		c := -1 // pending write first when the engine iterator is done
		if m.itValid {
			c = bytes.Compare(p.key, m.it.Key())
			if m.reverse {
				c = -c
			}
		}
		if c > 0 {
			m.needAdvance = true
			return m.it.Key(), nil, true
		}
		m.pending = m.pending[1:]
		if c == 0 {
			m.advance() // the pending write replaces the engine's key
		}
		if p.del {
			continue
		}
		return p.key, p, true
	}
}
