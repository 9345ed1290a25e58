package bbolt

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/polykv/polykv/kv"
)

// iter is a kv.Iter over a bbolt cursor, bounded by a kv.IterRange. It
// reads within one read transaction: its own (rolled back by Close) for an
// iteration of the engine, or a snapshot's.
//
// Key and the value it reads point into bbolt's mmap, valid while the
// transaction is open; Key hands that memory out (kv.DB copies it before a
// user sees it), Value appends a copy.
type iter struct {
	tx      *bolt.Tx     // rolled back by Close when readers is set
	readers *readerSet   // the engine's open readers; nil in a snapshot
	res     *resident    // noted every iterStepsPerNote steps and at Close
	steps   int          // steps since the last note
	c       *bolt.Cursor // nil: the bucket does not exist, nothing to visit
	lower   []byte
	upper   []byte
	reverse bool
	path    string

	started bool
	done    bool
	k, v    []byte
	err     error
}

func newIter(tx *bolt.Tx, b *bolt.Bucket, r kv.IterRange, path string) *iter {
	it := new(iter)
	it.init(tx, b, r, path)
	// Copy the bounds: the caller's buffers may change while we iterate.
	if r.Lower != nil || r.Upper != nil {
		buf := make([]byte, 0, len(r.Lower)+len(r.Upper))
		if r.Lower != nil {
			buf = append(buf, r.Lower...)
			it.lower = buf[:len(r.Lower):len(r.Lower)]
		}
		if r.Upper != nil {
			buf = append(buf, r.Upper...)
			it.upper = buf[len(buf)-len(r.Upper):]
		}
	}
	return it
}

// init prepares it over b (nil: nothing to visit) with r's bounds
// aliased, not copied.
func (it *iter) init(tx *bolt.Tx, b *bolt.Bucket, r kv.IterRange, path string) {
	*it = iter{tx: tx, reverse: r.Reverse, path: path, lower: r.Lower, upper: r.Upper}
	if b != nil {
		it.c = b.Cursor()
	} else {
		it.done = true
	}
}

// iterStepsPerNote is how many steps an iteration makes between two notes
// to the resident-page policy: a step reads a new page only every few dozen
// keys, so a long scan is checked about every hundred pages it reads, and
// short ones at Close.
const iterStepsPerNote = 4096

// noteSteps tells the resident-page policy that a long iteration is
// reading pages; it runs within the iteration's transaction, open by the
// contract of every call on the iterator.
func (it *iter) noteSteps() {
	it.steps = 0
	if it.res != nil && it.tx != nil {
		it.res.note(it.tx, residentCheckEvery)
	}
}

// Next moves the cursor: the first call seeks to the range's first key
// (Seek(lower), or Seek(upper) then one step back when reversed), later
// calls step with Next or Prev, and the iteration ends at the other bound.
func (it *iter) Next() (ok bool) {
	if it.done {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			it.k, it.v, it.done = nil, nil, true
			it.err = panicErr("iterate", it.path, r)
			if it.tx != nil && it.tx.DB() == nil {
				// The snapshot that owns the transaction was closed:
				// bbolt's cursor asserts the transaction is open.
				it.err = wrapErr("iterate", it.path, berrors.ErrTxClosed)
			}
			ok = false
		}
	}()
	return it.step()
}

// step is Next without the recovery of bbolt's panics: the caller
// recovers them.
func (it *iter) step() bool {
	if it.done {
		return false
	}
	var k, v []byte
	switch {
	case it.started && it.reverse:
		k, v = it.c.Prev()
	case it.started:
		k, v = it.c.Next()
	case it.reverse:
		it.started = true
		if it.upper == nil {
			k, v = it.c.Last()
		} else if k, _ = it.c.Seek(it.upper); k == nil {
			k, v = it.c.Last() // every key is below upper
		} else {
			k, v = it.c.Prev() // Seek landed on the first key >= upper
		}
	default:
		it.started = true
		if it.lower == nil {
			k, v = it.c.First()
		} else {
			k, v = it.c.Seek(it.lower)
		}
	}
	if it.steps++; it.steps == iterStepsPerNote {
		it.noteSteps()
	}
	if k == nil ||
		(!it.reverse && it.upper != nil && bytes.Compare(k, it.upper) >= 0) ||
		(it.reverse && it.lower != nil && bytes.Compare(k, it.lower) < 0) {
		it.k, it.v, it.done = nil, nil, true
		return false
	}
	it.k, it.v = k, v
	return true
}

// scan hands every key of the iteration to s (kv.Scanner), recovering a
// bbolt panic once for the whole scan instead of once per step. A panic of
// the iteration's function is re-raised.
func (it *iter) scan(s *kv.Scan) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if s.InCallback() {
				panic(r)
			}
			it.k, it.v, it.done = nil, nil, true
			err = panicErr("iterate", it.path, r)
		}
	}()
	if it.done {
		return nil
	}
	if it.reverse {
		for it.step() {
			if !s.Emit(it.k, it.v) {
				return nil
			}
		}
		return nil
	}
	// Forward, the loop of a bbolt user: seek, then Next up to the bound.
	var k, v []byte
	if it.lower == nil {
		k, v = it.c.First()
	} else {
		k, v = it.c.Seek(it.lower)
	}
	for upper := it.upper; k != nil && (upper == nil || bytes.Compare(k, upper) < 0); k, v = it.c.Next() {
		if !s.Emit(k, v) {
			break
		}
		if it.steps++; it.steps == iterStepsPerNote {
			it.noteSteps()
		}
	}
	it.done = true
	return nil
}

// Key returns the current key, pointing into the mmap: valid until the
// next call to Next or Close, and must not be modified.
func (it *iter) Key() []byte { return it.k }

// Value appends a copy of the current value to dst.
func (it *iter) Value(dst []byte) ([]byte, error) {
	out := append(dst, it.v...)
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// Err returns the error that ended the iteration early (a bbolt panic
// turned into an error), or nil.
func (it *iter) Err() error { return it.err }

// Close ends the iteration and rolls back the transaction it owns.
func (it *iter) Close() (err error) {
	it.k, it.v, it.done = nil, nil, true
	if it.readers == nil || it.tx == nil {
		return nil
	}
	tx := it.tx
	it.tx = nil
	if !it.readers.remove(tx) {
		return nil // the engine's Close rolled it back
	}
	defer recoverTo(&err, "close iterator of", it.path)
	if it.res != nil {
		it.res.note(tx, 1) // the iteration may have read many pages
	}
	return wrapErr("close iterator of", it.path, tx.Rollback())
}
