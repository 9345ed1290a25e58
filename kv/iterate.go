package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
)

// ctxCheckEvery is how many keys an iteration visits between checks of its
// context.
const ctxCheckEvery = 256

// Iterate calls fn for each key opts selects, on one consistent snapshot.
func (db *DB) Iterate(ctx context.Context, opts IterOptions, fn func(key, value []byte) error) error {
	if err := db.check(ctx, "Iterate"); err != nil {
		return err
	}
	if err := checkIterOptions(opts, fn); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	return iterate(ctx, db.reader(ctx), nil, opts, fn)
}

// View runs fn on a consistent snapshot.
func (db *DB) View(ctx context.Context, fn func(tx ReadTxn) error) error {
	if err := db.check(ctx, "View"); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("%w: View with a nil function", ErrInvalidConfig)
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	snap, err := db.snapshot(ctx)
	if err != nil {
		return err
	}
	defer snap.Close()
	tx := &readTxn{ctx: ctx, db: db, r: snap}
	tx.begin(false)
	defer tx.end()
	return fn(tx)
}

func checkIterOptions(opts IterOptions, fn func(key, value []byte) error) error {
	if fn == nil {
		return fmt.Errorf("%w: Iterate with a nil function", ErrInvalidConfig)
	}
	if opts.Limit < 0 {
		return fmt.Errorf("%w: IterOptions.Limit %d: want 0 (no limit) or more", ErrInvalidConfig, opts.Limit)
	}
	return nil
}

// readTxn is the ReadTxn of View.
type readTxn struct {
	ctx context.Context
	// tctx is Context's: ctx marked as this transaction's while its
	// function runs (see txnContext).
	tctx txnContext
	db   *DB
	r    Reader
	done bool
}

// begin marks Context as that of a running function of tx's store: an
// Update's when write is set, else a View's.
func (tx *readTxn) begin(write bool) {
	tx.tctx.Context, tx.tctx.db, tx.tctx.write = tx.ctx, tx.db, write
	tx.tctx.running.Store(true)
}

// end ends the transaction: it is done, and Context loses its mark.
// Context points into tx, and a caller may keep it: end lets go of what
// the transaction read (a done transaction refuses every call before it
// would use it).
func (tx *readTxn) end() {
	tx.done = true
	tx.tctx.running.Store(false)
	tx.r = nil
}

func (tx *readTxn) Context() context.Context { return &tx.tctx }

func (tx *readTxn) usable() error {
	if tx.done {
		if tx.db.closed.Load() {
			return tx.db.errClosed()
		}
		return ErrTxnDone
	}
	return nil
}

func (tx *readTxn) Get(key []byte) ([]byte, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	if err := tx.db.checkKey(key); err != nil {
		return nil, err
	}
	v, err := tx.r.Get(key, nil)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (tx *readTxn) Iterate(opts IterOptions, fn func(key, value []byte) error) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if err := checkIterOptions(opts, fn); err != nil {
		return err
	}
	return iterate(tx.ctx, tx.r, nil, opts, fn)
}

// iterate runs one bounded iteration over r merged with the pending writes
// of a transaction (nil outside Update), handing fn copies of every key and
// value in buffers reused from step to step.
func iterate(ctx context.Context, r Reader, pending []pendingWrite, opts IterOptions, fn func(key, value []byte) error) (err error) {
	s := getScan(ctx, opts, fn)
	rng, empty := s.bounds(opts)
	if empty {
		putScan(s)
		return nil
	}
	if len(pending) == 0 {
		if sc, ok := r.(Scanner); ok {
			err = sc.Scan(rng, s)
		} else {
			err = s.walk(r, rng)
		}
	} else {
		err = s.merge(r, rng, pending)
	}
	if s.err != nil { // fn's error or ctx's comes first
		err = s.err
		if errors.Is(err, SkipAll) {
			err = nil
		}
	}
	putScan(s)
	return err
}

// Scanner is an optional capability of an Engine and of its Snapshots: a
// whole iteration in one call. Iterate, ReadTxn.Iterate and Txn.Iterate
// without pending writes use it when the Reader implements it, instead of
// stepping an Iter (three dynamic calls per key); engines whose iterator
// steps need a deferred recover (bbolt) pay for it once per scan.
type Scanner interface {
	// Scan visits the keys of r exactly as an Iter of r would, in order,
	// calling s.Emit(key, value) for each and stopping as soon as Emit
	// returns false. key and value may alias engine memory: Emit copies
	// them before the iteration's function sees them, and they need not
	// stay valid after Emit returns. When r.KeysOnly is set the engine
	// passes a nil value and need not load it. The bounds of r are private
	// to the call and do not change until Scan returns. Scan returns the
	// engine's own error, if any; the function's error stays in s, and
	// *DB reports it in preference to Scan's result.
	//
	// The function runs inside Scan: an engine that recovers its own
	// panics must re-raise one that happened while s.InCallback() is true.
	Scan(r IterRange, s *Scan) error
}

// Scan is the state of one iteration: what a Scanner hands each key to.
// *DB creates it; engines only call its methods. It is not safe for
// concurrent use, and is valid only during the Scanner.Scan call.
type Scan struct {
	ctx        context.Context
	fn         func(key, value []byte) error
	limit      int
	keysOnly   bool
	n          int
	inFn       bool
	err        error
	kbuf, vbuf []byte
	bbuf       []byte // the iteration's bounds, copied
}

var scans = sync.Pool{New: func() any { return new(Scan) }}

// maxPooledScanBuf is the largest buffer a pooled Scan keeps: an iteration
// over large values does not pin their memory afterwards.
const maxPooledScanBuf = 64 << 10

func getScan(ctx context.Context, opts IterOptions, fn func(key, value []byte) error) *Scan {
	s := scans.Get().(*Scan)
	s.ctx, s.fn, s.limit, s.keysOnly = ctx, fn, opts.Limit, opts.KeysOnly
	return s
}

func putScan(s *Scan) {
	if cap(s.kbuf) > maxPooledScanBuf || cap(s.vbuf) > maxPooledScanBuf || cap(s.bbuf) > maxPooledScanBuf {
		return
	}
	*s = Scan{kbuf: s.kbuf[:0], vbuf: s.vbuf[:0], bbuf: s.bbuf[:0]}
	scans.Put(s)
}

// bounds is Bounds(opts) with the bounds copied into s, so that the
// engine sees them unchanged even if fn reuses the caller's buffers.
func (s *Scan) bounds(opts IterOptions) (r IterRange, empty bool) {
	// Room for Start, End, Prefix and its end, reserved up front so that
	// appending never moves the slices taken along the way.
	need := len(opts.Start) + len(opts.End) + 2*len(opts.Prefix)
	b := s.bbuf[:0]
	if cap(b) < need {
		b = make([]byte, 0, max(need, 64))
	}
	take := func(p []byte) []byte {
		n := len(b)
		b = append(b, p...)
		return b[n:len(b):len(b)]
	}
	var lower, upper []byte
	if len(opts.Start) > 0 {
		lower = take(opts.Start)
	}
	if len(opts.End) > 0 {
		upper = take(opts.End)
	}
	if len(opts.Prefix) > 0 {
		prefix := take(opts.Prefix)
		if lower == nil || bytes.Compare(prefix, lower) > 0 {
			lower = prefix
		}
		for i := len(prefix) - 1; i >= 0; i-- {
			if prefix[i] != 0xFF { // else: no upper bound from the prefix
				pe := take(prefix[:i+1])
				pe[i]++
				if upper == nil || bytes.Compare(pe, upper) < 0 {
					upper = pe
				}
				break
			}
		}
	}
	s.bbuf = b
	if lower != nil && upper != nil && bytes.Compare(lower, upper) >= 0 {
		return IterRange{}, true
	}
	return IterRange{Lower: lower, Upper: upper, Reverse: opts.Reverse, KeysOnly: opts.KeysOnly}, false
}

// Remaining returns how many more keys the iteration may emit before its
// limit (IterOptions.Limit) stops it, or 0 when it has no limit. An engine
// that gathers keys before emitting them need gather no more.
func (s *Scan) Remaining() int {
	if s.limit == 0 {
		return 0
	}
	return s.limit - s.n
}

// InCallback reports whether the iteration's function is running: true
// inside Emit while it calls the function (and afterwards if the function
// panicked).
func (s *Scan) InCallback() bool { return s.inFn }

// Emit hands key and value (ignored for a keys-only iteration) to the
// iteration's function, as copies in buffers reused from key to key. It
// returns false when the iteration must stop: the function returned an
// error (or SkipAll), the limit is reached, or the context is done.
func (s *Scan) Emit(key, value []byte) bool {
	// One flat function: Emit runs once per key of every scan.
	if s.n&(ctxCheckEvery-1) == ctxCheckEvery-1 && s.ctxDone() {
		return false
	}
	k := s.kbuf
	if len(key) > cap(k) || k == nil {
		k = grow(&s.kbuf, len(key))
	}
	k = k[:len(key)]
	copy(k, key)
	var v []byte
	if !s.keysOnly {
		v = s.vbuf
		if len(value) > cap(v) || v == nil {
			v = grow(&s.vbuf, len(value))
		}
		v = v[:len(value)] // not nil: present with an empty value
		copy(v, value)
	}
	s.n++
	s.inFn = true
	err := s.fn(k, v)
	s.inFn = false
	if err != nil {
		s.err = err
		return false
	}
	return s.n != s.limit // a limit of 0 is never reached
}

// ctxDone records the context's error, if it is done.
func (s *Scan) ctxDone() bool {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return true
	}
	return false
}

// grow replaces *buf with a buffer of at least n bytes and returns it. The
// buffers are stored back only when they grow, so that copying one key
// after another writes no pointer to the heap.
func grow(buf *[]byte, n int) []byte {
	b := make([]byte, 0, max(n, 2*cap(*buf), 32))
	*buf = b
	return b
}

// copyInto copies p into *buf, growing it when p does not fit, and returns
// the copy (never nil).
func copyInto(buf *[]byte, p []byte) []byte {
	b := *buf
	if len(p) > cap(b) || b == nil {
		b = grow(buf, len(p))
	}
	b = b[:len(p)]
	copy(b, p)
	return b
}

// call runs fn on k and v and counts the key.
func (s *Scan) call(k, v []byte) bool {
	s.n++
	s.inFn = true
	err := s.fn(k, v)
	s.inFn = false
	if err != nil {
		s.err = err
		return false
	}
	return s.limit == 0 || s.n < s.limit
}

// walk runs the iteration over an Iter of r, for engines that are not
// Scanners: the value is appended to the Scan's buffer directly.
func (s *Scan) walk(r Reader, rng IterRange) (err error) {
	it, err := r.NewIter(rng)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	for it.Next() {
		if s.n&(ctxCheckEvery-1) == ctxCheckEvery-1 {
			if err := s.ctx.Err(); err != nil {
				s.err = err
				return nil
			}
		}
		k := copyInto(&s.kbuf, it.Key())
		var v []byte
		if !s.keysOnly {
			if s.vbuf, err = it.Value(s.vbuf[:0]); err != nil {
				return err
			}
			v = s.vbuf
			if v == nil {
				v = []byte{}
			}
		}
		if !s.call(k, v) {
			return nil
		}
	}
	return it.Err()
}

// merge runs the iteration over an Iter of r merged with a transaction's
// pending writes.
func (s *Scan) merge(r Reader, rng IterRange, pending []pendingWrite) (err error) {
	it, err := r.NewIter(rng)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	m := merger{it: it, pending: pending, reverse: rng.Reverse}
	m.advance()
	for {
		if s.n&(ctxCheckEvery-1) == ctxCheckEvery-1 {
			if err := s.ctx.Err(); err != nil {
				s.err = err
				return nil
			}
		}
		key, pw, ok := m.next()
		if !ok {
			break
		}
		k := copyInto(&s.kbuf, key)
		var v []byte
		if !s.keysOnly {
			if pw != nil {
				s.vbuf = append(s.vbuf[:0], pw.value...)
			} else if s.vbuf, err = it.Value(s.vbuf[:0]); err != nil {
				return err
			}
			v = s.vbuf
			if v == nil {
				v = []byte{}
			}
		}
		if !s.call(k, v) {
			return nil
		}
	}
	return it.Err()
}
