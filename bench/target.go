package bench

import (
	"context"
	"errors"

	"github.com/polykv/polykv/kv"
)

// target is the handful of operations the raw kv workloads need. It is
// implemented once over kv.Store (what users run) and once over each
// engine's own API (calibrate_*.go), so that the same workload code measures
// both and the difference is the abstraction's overhead.
type target interface {
	// write applies the sets of b atomically.
	write(b *writeBatch) error
	// get appends key's value to dst; found is false for a missing key.
	get(key, dst []byte) (v []byte, found bool, err error)
	// scan calls fn for at most limit keys of [lower, upper) in order
	// (limit 0: no limit), with values unless keysOnly, and stops at fn's
	// first error, which it returns. fn's slices are valid only during the
	// call. fn is called straight from the loop over the engine (for
	// storeTarget: it is Iterate's callback), so that no adapter between
	// the two is measured on one side only.
	scan(lower, upper []byte, limit int, keysOnly bool, fn func(k, v []byte) error) error
	// rmw reads key and writes f(old value) in one transaction.
	rmw(key []byte, f func(old []byte) []byte) error
}

// writeBatch is a list of sets; keys and values alias the workload's
// buffers until the next reset.
type writeBatch struct {
	keys, vals [][]byte
	buf        []byte
}

func (b *writeBatch) reset() {
	b.keys, b.vals, b.buf = b.keys[:0], b.vals[:0], b.buf[:0]
}

// add appends a set of key (copied into the batch) to value (aliased).
func (b *writeBatch) add(key, value []byte) {
	off := len(b.buf)
	b.buf = append(b.buf, key...)
	b.keys = append(b.keys, b.buf[off:len(b.buf):len(b.buf)])
	b.vals = append(b.vals, value)
}

// openTarget opens the run's target: a kv.Store, or the raw engine for a
// raw- backend.
func (e *Env) openTarget() (target, error) {
	name, raw := e.Spec.engine()
	if !raw {
		s, err := e.OpenStore()
		if err != nil {
			return nil, err
		}
		return newStoreTarget(e.Ctx, s), nil
	}
	open, ok := rawEngines[name]
	if !ok {
		return nil, errors.New("bench: no raw calibration for engine " + name)
	}
	cfg, err := e.Config()
	if err != nil {
		return nil, err
	}
	t, closeFn, err := open(e.Ctx, cfg)
	if err != nil {
		return nil, err
	}
	e.OnClose(closeFn)
	return t, nil
}

// rawEngines maps an engine name to the opener of its raw target; each
// calibrate_<engine>.go registers one.
var rawEngines = map[string]func(ctx context.Context, cfg kv.Config) (target, func() error, error){}

// storeTarget is the target over kv.Store. It does what a careful polykv
// user does, as the raw targets do what a careful user of the engine does:
// point reads append into the workload's reused buffer with GetAppend (the
// raw targets copy into that buffer too).
type storeTarget struct {
	ctx context.Context
	s   kv.Store
	b   kv.Batch
	ga  appendGetter // s, when it offers GetAppend (a *kv.DB does)
}

// appendGetter is implemented by *kv.DB.
type appendGetter interface {
	GetAppend(ctx context.Context, dst, key []byte) ([]byte, error)
}

func newStoreTarget(ctx context.Context, s kv.Store) *storeTarget {
	t := &storeTarget{ctx: ctx, s: s}
	t.ga, _ = s.(appendGetter)
	return t
}

func (t *storeTarget) write(b *writeBatch) error {
	t.b.Reset()
	for i, k := range b.keys {
		if err := t.b.Set(k, b.vals[i]); err != nil {
			return err
		}
	}
	return t.s.Write(t.ctx, &t.b)
}

func (t *storeTarget) get(key, dst []byte) ([]byte, bool, error) {
	var v []byte
	var err error
	if t.ga != nil {
		v, err = t.ga.GetAppend(t.ctx, dst, key)
	} else if v, err = t.s.Get(t.ctx, key); err == nil {
		v = append(dst, v...)
	}
	if errors.Is(err, kv.ErrNotFound) {
		return dst, false, nil
	}
	if err != nil {
		return dst, false, err
	}
	return v, true, nil
}

func (t *storeTarget) scan(lower, upper []byte, limit int, keysOnly bool, fn func(k, v []byte) error) error {
	return t.s.Iterate(t.ctx, kv.IterOptions{Start: lower, End: upper, Limit: limit, KeysOnly: keysOnly}, fn)
}

func (t *storeTarget) rmw(key []byte, f func(old []byte) []byte) error {
	return t.s.Update(t.ctx, func(tx kv.Txn) error {
		old, err := tx.Get(key)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return tx.Set(key, f(old))
	})
}
