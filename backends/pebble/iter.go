package pebble

import (
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/polykv/polykv/kv"
)

// iterSource is what *pebble.DB and *pebble.Snapshot share for iteration.
type iterSource interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// iter wraps a Pebble iterator bounded natively with IterOptions
// LowerBound/UpperBound, walked with First/Next or, in reverse, Last/Prev.
// Key aliases Pebble's memory until the next step; Value copies.
type iter struct {
	e       *engine
	it      *pebble.Iterator
	reverse bool
	started bool
	valid   bool
	// closed is set once by whichever of Close and the engine's Close
	// comes first; the other then does nothing.
	closed atomic.Bool
	err    error
}

var (
	_ kv.Iter    = (*iter)(nil)
	_ kv.Scanner = (*engine)(nil)
	_ kv.Scanner = (*snapshot)(nil)
)

func (e *engine) newIter(src iterSource, r kv.IterRange) (*iter, error) {
	// Pebble keeps the bounds for the iterator's lifetime and must not see
	// them change: copy them (the caller's Start/End may be a buffer it
	// reuses inside its callback).
	buf := make([]byte, 0, len(r.Lower)+len(r.Upper))
	var o pebble.IterOptions
	if r.Lower != nil {
		buf = append(buf, r.Lower...)
		o.LowerBound = buf[:len(r.Lower):len(r.Lower)]
	}
	if r.Upper != nil {
		n := len(buf)
		buf = append(buf, r.Upper...)
		o.UpperBound = buf[n:]
	}
	pit, err := src.NewIter(&o)
	if err != nil {
		return nil, translate("iterate", e.path, err)
	}
	it := &iter{e: e, it: pit, reverse: r.Reverse}
	e.mu.Lock()
	e.iters[it] = struct{}{}
	e.mu.Unlock()
	return it, nil
}

// Scan runs a whole iteration on the latest committed state (kv.Scanner):
// a bounded Pebble iterator walked in one loop, each key and value handed
// to s in place (kv copies them). The iterator lives only during the call,
// so it is not tracked for Close; kv.DB never closes the engine with a
// call in flight.
func (e *engine) Scan(r kv.IterRange, s *kv.Scan) error {
	if e.closed.Load() {
		return errClosed
	}
	// kv keeps r's bounds fixed until Scan returns: no copy.
	pit, err := e.db.NewIter(&pebble.IterOptions{LowerBound: r.Lower, UpperBound: r.Upper})
	if err != nil {
		return translate("iterate", e.path, err)
	}
	return e.scan(pit, r, s)
}

// scan walks pit over r, handing every key to s, and closes pit.
func (e *engine) scan(pit *pebble.Iterator, r kv.IterRange, s *kv.Scan) (err error) {
	defer func() {
		if cerr := pit.Close(); err == nil {
			err = translate("iterate", e.path, cerr)
		}
	}()
	var ok bool
	if r.Reverse {
		ok = pit.Last()
	} else {
		ok = pit.First()
	}
	for ok {
		var v []byte
		if !r.KeysOnly {
			if v, err = pit.ValueAndErr(); err != nil {
				return translate("iterate", e.path, err)
			}
		}
		if !s.Emit(pit.Key(), v) {
			return nil
		}
		if r.Reverse {
			ok = pit.Prev()
		} else {
			ok = pit.Next()
		}
	}
	return nil // an iterator error is Close's
}

// Next moves to the first key on the first call, then to the next one.
func (i *iter) Next() bool {
	if i.closed.Load() {
		if i.err == nil {
			i.err = errClosed
		}
		return false
	}
	switch {
	case !i.started:
		i.started = true
		if i.reverse {
			i.valid = i.it.Last()
		} else {
			i.valid = i.it.First()
		}
	case !i.valid:
		return false
	case i.reverse:
		i.valid = i.it.Prev()
	default:
		i.valid = i.it.Next()
	}
	return i.valid
}

// Key returns the current key, valid until the next call to Next or Close.
func (i *iter) Key() []byte { return i.it.Key() }

// Value appends the current value to dst.
func (i *iter) Value(dst []byte) ([]byte, error) {
	if i.closed.Load() {
		return nil, errClosed
	}
	v, err := i.it.ValueAndErr()
	if err != nil {
		return nil, translate("iterate", i.e.path, err)
	}
	return append(dst, v...), nil
}

// Err returns the error that ended the iteration, if any.
func (i *iter) Err() error {
	if i.err != nil {
		return i.err
	}
	if i.closed.Load() {
		return nil
	}
	return translate("iterate", i.e.path, i.it.Error())
}

// Close closes the Pebble iterator. It is idempotent.
func (i *iter) Close() error {
	if !i.closed.CompareAndSwap(false, true) {
		return nil
	}
	i.e.mu.Lock()
	delete(i.e.iters, i)
	i.e.mu.Unlock()
	return translate("iterate", i.e.path, i.it.Close())
}

// snapshot wraps a Pebble snapshot. Its iterators are tracked by the
// engine like any other.
type snapshot struct {
	e      *engine
	s      *pebble.Snapshot
	closed atomic.Bool
}

var _ kv.Snapshot = (*snapshot)(nil)

func (s *snapshot) Get(key, dst []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	return get(s.s, s.e.path, key, dst)
}

func (s *snapshot) NewIter(r kv.IterRange) (kv.Iter, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	return s.e.newIter(s.s, r)
}

// Scan runs a whole iteration on the snapshot (kv.Scanner).
func (s *snapshot) Scan(r kv.IterRange, sc *kv.Scan) error {
	if s.closed.Load() {
		return errClosed
	}
	pit, err := s.s.NewIter(&pebble.IterOptions{LowerBound: r.Lower, UpperBound: r.Upper})
	if err != nil {
		return translate("iterate", s.e.path, err)
	}
	return s.e.scan(pit, r, sc)
}

// Close releases the snapshot. It is idempotent.
func (s *snapshot) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.e.mu.Lock()
	delete(s.e.snaps, s)
	s.e.mu.Unlock()
	return translate("snapshot", s.e.path, s.s.Close())
}
