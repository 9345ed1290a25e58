package badger

import (
	"bytes"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/polykv/polykv/kv"
)

// iter walks a Badger iterator between stored-key bounds.
//
// Forward, it seeks to the lower bound and stops at the first key >= the
// upper bound. Reverse, Badger's Seek(k) lands on the largest key <= k, so
// it seeks to the upper bound, skips the key equal to it (the bound is
// exclusive), and stops at the first key < the lower bound. Without an
// upper bound it rewinds to the last key. Seeking to prefix+0xFF... instead
// (the usual reverse-prefix trick) would miss keys longer than that.
//
// When both bounds are set, every key between them starts with their
// common prefix; it becomes Badger's IteratorOptions.Prefix, which lets
// Badger skip tables outside it. Badger would use the prefix itself as the
// start of a reverse Rewind, which is wrong, so the iterator always seeks
// explicitly.
type iter struct {
	e       *engine
	txn     *badger.Txn
	it      *badger.Iterator
	onClose func() // the snapshot's bookkeeping, or nil: discard txn

	lower, upper []byte // stored form; nil is unbounded
	reverse      bool
	keysOnly     bool

	started, done bool
	item          *badger.Item
	key           []byte // user key of item; aliases item.Key() unless escaped
	keyBuf        []byte
	last          []byte // forward: the stored form of the last key visited (for checkTail)
	err           error
}

var (
	_ kv.Iter    = (*iter)(nil)
	_ kv.Scanner = (*engine)(nil)
	_ kv.Scanner = (*snapshot)(nil)
)

// NewIter returns an iterator over r on a read-only transaction of its own.
func (e *engine) NewIter(r kv.IterRange) (kv.Iter, error) {
	if e.closed.Load() {
		return nil, errClosed("iterate", e.dir)
	}
	return newIter(e, e.db.NewTransaction(false), r, nil), nil
}

func newIter(e *engine, txn *badger.Txn, r kv.IterRange, onClose func()) *iter {
	it := new(iter)
	it.init(e, txn, r, onClose)
	return it
}

func (it *iter) init(e *engine, txn *badger.Txn, r kv.IterRange, onClose func()) {
	*it = iter{
		e:        e,
		txn:      txn,
		onClose:  onClose,
		lower:    storedKey(r.Lower),
		upper:    storedKey(r.Upper),
		reverse:  r.Reverse,
		keysOnly: r.KeysOnly,
	}
	opts := badger.IteratorOptions{
		Reverse:        r.Reverse,
		PrefetchValues: !r.KeysOnly && e.prefetch > 0,
		PrefetchSize:   e.prefetch,
	}
	if it.lower != nil && it.upper != nil {
		opts.Prefix = commonPrefix(it.lower, it.upper)
	}
	it.it = txn.NewIterator(opts)
}

// commonPrefix returns the longest common prefix of a and b (aliasing a).
func commonPrefix(a, b []byte) []byte {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == 0 {
		return nil
	}
	return a[:i:i]
}

// Scan runs a whole iteration (kv.Scanner) on a read-only transaction of
// its own: the iterator's own steps in one loop, each key and value handed
// to s in place (kv copies them), without a dynamic call per step.
func (e *engine) Scan(r kv.IterRange, s *kv.Scan) error {
	if e.closed.Load() {
		return errClosed("iterate", e.dir)
	}
	var it iter
	it.init(e, e.db.NewTransaction(false), r, nil)
	return it.scan(s)
}

// scan hands every key of the iteration to s, then closes it.
func (it *iter) scan(s *kv.Scan) (err error) {
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	var key []byte
	var more bool
	emit := func(v []byte) error {
		more = s.Emit(key, v)
		return nil
	}
	for it.Next() {
		key = it.key
		if it.keysOnly {
			more = s.Emit(key, nil)
		} else if err := it.item.Value(emit); err != nil {
			return wrapErr("iterator value", it.e.dir, err)
		}
		if !more {
			return nil
		}
	}
	return it.err
}

// Next moves to the next key in the iteration's direction.
func (it *iter) Next() bool {
	if it.done {
		return false
	}
	if it.e.closed.Load() {
		it.err = errClosed("iterate", it.e.dir)
		it.finish()
		return false
	}
	if !it.started {
		it.started = true
		switch {
		case it.reverse && it.upper != nil:
			it.it.Seek(it.upper)
		case !it.reverse && it.lower != nil:
			it.it.Seek(it.lower)
		default:
			it.it.Rewind()
		}
	} else {
		it.it.Next()
	}
	for ; it.it.Valid(); it.it.Next() {
		item := it.it.Item()
		k := item.Key()
		if it.reverse {
			if it.upper != nil && bytes.Compare(k, it.upper) >= 0 {
				continue // Seek landed on the exclusive upper bound
			}
			if it.lower != nil && bytes.Compare(k, it.lower) < 0 {
				it.finish()
				return false
			}
		} else {
			if it.upper != nil && bytes.Compare(k, it.upper) >= 0 {
				it.finish()
				return false
			}
			it.last = append(it.last[:0], k...)
		}
		if needsEscape(k) {
			uk, ok := appendUserKey(it.keyBuf[:0], k)
			if !ok {
				continue // not written through polykv: invisible
			}
			it.keyBuf = uk
			k = uk
		}
		it.item, it.key = item, k
		return true
	}
	if !it.reverse {
		it.err = it.checkTail()
	}
	it.finish()
	return false
}

// checkTail is called when a forward iteration runs out of keys before its
// upper bound. Badger's iterator also runs out, without an error, when a
// table block cannot be read (its table iterator keeps the error, and the
// merge goes on without that table): a table whose largest key lies after
// the last key visited and before the upper bound should then have shown
// it. If that key is visible in the iteration's snapshot (a deleted key,
// or one written after the snapshot, is not), the iteration was cut short:
// kv.ErrCorrupt. It costs a binary search of a copy of the tables' end
// keys (tableends.go) and one Get per table that ends inside what is left
// of the range, only at the natural end of a forward iteration. It sees a
// cut at the end of a table, not a gap in the middle of one that the next
// table of the level covers; Open's verification (verify_on_open) and
// DB.Verify see both.
func (it *iter) checkTail() error {
	var after []byte
	if it.started && len(it.last) > 0 {
		after = it.last
	}
	for _, t := range it.e.tableEndsBetween(after, it.lower, it.upper) {
		_, err := it.txn.Get(t.key)
		switch {
		case err == nil:
			return fmt.Errorf("kv: badger: iterate %s: %w: the iteration ended after %q, but table %06d.sst holds %q, which the snapshot sees: a block of it could not be read",
				it.e.dir, kv.ErrCorrupt, it.last, t.id, t.key)
		case !errors.Is(err, badger.ErrKeyNotFound):
			return wrapErr("iterate", it.e.dir, err)
		}
	}
	return nil
}

func (it *iter) finish() {
	it.done = true
	it.item, it.key = nil, nil
}

// Key returns the current key; it is valid until the next call to Next or
// Close.
func (it *iter) Key() []byte { return it.key }

// Value appends the current value to dst.
func (it *iter) Value(dst []byte) ([]byte, error) {
	if it.item == nil {
		return dst, errors.New("kv: badger: iterator value: no current key")
	}
	v, err := appendValue(it.item, dst)
	if err != nil {
		err = wrapErr("iterator value", it.e.dir, err)
		if it.err == nil {
			it.err = err
		}
		return dst, err
	}
	return v, nil
}

// Err returns the error that ended the iteration early.
func (it *iter) Err() error { return it.err }

// Close releases the iterator and, for an iterator of its own, its
// transaction. It is safe to call more than once.
func (it *iter) Close() error {
	if it.it == nil {
		return nil
	}
	it.it.Close()
	it.it = nil
	it.finish()
	if it.onClose != nil {
		it.onClose()
	} else {
		it.txn.Discard()
	}
	return nil
}
