package linearize

import (
	"bytes"
	"context"
	"errors"

	"github.com/polykv/polykv/kv"
)

// Store is a kv.Store that records every call into its History. It is safe
// for concurrent use if the store it wraps is.
type Store struct {
	s kv.Store
	h *History
}

var _ kv.Store = (*Store)(nil)

// Wrap returns s recording into h.
func (h *History) Wrap(s kv.Store) *Store { return &Store{s: s, h: h} }

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() kv.Store { return s.s }

// Limits are the wrapped store's (kv.LimitsOf), so that layers size their
// transactions as they would without the recorder.
func (s *Store) Limits() kv.Limits { return kv.LimitsOf(s.s) }

// call is one call in progress.
type call struct {
	h    *History
	lane int
	op   Op
}

func (s *Store) begin(name string) *call {
	return &call{h: s.h, lane: s.h.lane(), op: Op{Name: name, Call: s.h.opts.Now()}}
}

// end records the call as its error says: nil took effect, an unknown
// outcome may have, anything else did not.
func (c *call) end(err error) {
	switch {
	case err == nil:
		c.op.Return = c.h.opts.Now()
		c.h.finish(c.lane, c.op, false)
	case errors.Is(err, kv.ErrOutcomeUnknown):
		c.op.Return = Pending
		c.op.Err = err.Error()
		c.h.finish(c.lane, c.op, false)
	default:
		c.h.finish(c.lane, c.op, true)
	}
}

// recorder collects the steps of one call or one run of a transaction.
type recorder struct {
	h     *History
	steps []Step
}

func (r *recorder) read(key, value []byte, err error) {
	if !r.h.keep(key) {
		return
	}
	switch {
	case err == nil:
		r.steps = append(r.steps, Step{Kind: Read, Key: bytes.Clone(key), Value: bytes.Clone(value), Found: true})
	case errors.Is(err, kv.ErrNotFound):
		r.steps = append(r.steps, Step{Kind: Read, Key: bytes.Clone(key)})
	}
}

func (r *recorder) write(key, value []byte) {
	if r.h.keep(key) {
		r.steps = append(r.steps, Step{Kind: Write, Key: bytes.Clone(key), Value: bytes.Clone(value)})
	}
}

func (r *recorder) del(key []byte) {
	if r.h.keep(key) {
		r.steps = append(r.steps, Step{Kind: Delete, Key: bytes.Clone(key)})
	}
}

// scanState is what one iteration handed to its function, as far as the
// history keeps it.
type scanState struct {
	seen    []Pair
	last    []byte
	visited int
	stopped bool // the function stopped it
}

// saw records that the iteration hands k, v to its function (before the
// call: the function may write over them).
func (st *scanState) saw(h *History, opts kv.IterOptions, k, v []byte) {
	st.visited++
	st.last = append(st.last[:0], k...)
	if h.keep(k) {
		p := Pair{Key: bytes.Clone(k)}
		if !opts.KeysOnly {
			p.Value = bytes.Clone(v)
		}
		st.seen = append(st.seen, p)
	}
}

// step records a finished iteration. The range recorded is the part it
// covered: the whole of it when it ran to its end, up to (and including)
// the last key handed to the function when the function or Limit stopped
// it.
func (r *recorder) step(opts kv.IterOptions, st *scanState) {
	lower, upper, empty := kv.Bounds(opts)
	if empty {
		return
	}
	stopped := st.stopped || (opts.Limit > 0 && st.visited >= opts.Limit)
	if stopped && st.visited > 0 {
		if opts.Reverse {
			lower = bytes.Clone(st.last)
		} else {
			upper = append(bytes.Clone(st.last), 0)
		}
	}
	seen := st.seen
	if opts.Reverse {
		for i, j := 0, len(seen)-1; i < j; i, j = i+1, j-1 {
			seen[i], seen[j] = seen[j], seen[i]
		}
	}
	r.steps = append(r.steps, Step{Kind: Scan, Key: bytes.Clone(lower), Upper: bytes.Clone(upper), Seen: seen, KeysOnly: opts.KeysOnly})
}

// scan runs an iteration through it, recording what fn is handed.
func (r *recorder) scan(opts kv.IterOptions, fn func(k, v []byte) error, it func(fn func(k, v []byte) error) error) error {
	var st scanState
	err := it(func(k, v []byte) error {
		st.saw(r.h, opts, k, v)
		err := fn(k, v)
		st.stopped = st.stopped || err != nil
		return err
	})
	if err != nil {
		return err
	}
	r.step(opts, &st)
	return nil
}

// scanMany runs many iterations through one kv.IterateMany of tx,
// recording each as scan does.
func (r *recorder) scanMany(tx kv.ReadTxn, opts []kv.IterOptions, fn func(i int, k, v []byte) error) error {
	st := make([]scanState, len(opts))
	err := kv.IterateMany(tx, opts, func(i int, k, v []byte) error {
		st[i].saw(r.h, opts[i], k, v)
		err := fn(i, k, v)
		st[i].stopped = st[i].stopped || err != nil
		return err
	})
	if err != nil {
		return err
	}
	for i := range opts {
		r.step(opts[i], &st[i])
	}
	return nil
}

// getMany runs one kv.GetMany of tx, recording a read of every key: the
// found ones as fn is handed them, the missing ones once the call has
// read them all.
func (r *recorder) getMany(tx kv.ReadTxn, keys [][]byte, fn func(i int, v []byte) error) error {
	found := make([]bool, len(keys))
	err := kv.GetMany(tx, keys, func(i int, v []byte) error {
		found[i] = true
		r.read(keys[i], v, nil)
		return fn(i, v)
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		if !found[i] {
			r.read(k, nil, kv.ErrNotFound)
		}
	}
	return nil
}

// Get records a read.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	c := s.begin("get")
	v, err := s.s.Get(ctx, key)
	if err == nil || errors.Is(err, kv.ErrNotFound) {
		r := recorder{h: s.h}
		r.read(key, v, err)
		c.op.Steps = r.steps
		c.end(nil)
	} else {
		c.end(err)
	}
	return v, err
}

// Set records a write.
func (s *Store) Set(ctx context.Context, key, value []byte) error {
	c := s.begin("set")
	r := recorder{h: s.h}
	r.write(key, value)
	c.op.Steps = r.steps
	err := s.s.Set(ctx, key, value)
	c.end(err)
	return err
}

// Delete records a deletion.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	c := s.begin("delete")
	r := recorder{h: s.h}
	r.del(key)
	c.op.Steps = r.steps
	err := s.s.Delete(ctx, key)
	c.end(err)
	return err
}

// Iterate records a range read.
func (s *Store) Iterate(ctx context.Context, opts kv.IterOptions, fn func(key, value []byte) error) error {
	c := s.begin("iterate")
	r := recorder{h: s.h}
	err := r.scan(opts, fn, func(f func(k, v []byte) error) error { return s.s.Iterate(ctx, opts, f) })
	c.op.Steps = r.steps
	c.end(err)
	return err
}

// View records the reads of fn as one operation.
func (s *Store) View(ctx context.Context, fn func(tx kv.ReadTxn) error) error {
	c := s.begin("view")
	r := &recorder{h: s.h}
	err := s.s.View(ctx, func(tx kv.ReadTxn) error {
		r.steps = r.steps[:0]
		return fn(&readTxn{tx: tx, r: r})
	})
	c.op.Steps = r.steps
	c.end(err)
	return err
}

// Update records the reads and writes of fn's last run (the one that
// committed) as one operation.
func (s *Store) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	c := s.begin("update")
	r := &recorder{h: s.h}
	err := s.s.Update(ctx, func(tx kv.Txn) error {
		r.steps = r.steps[:0]
		return fn(&txn{readTxn: readTxn{tx: tx, r: r}, tx: tx})
	})
	c.op.Steps = r.steps
	c.end(err)
	return err
}

// Write records a batch's writes as one operation.
func (s *Store) Write(ctx context.Context, b *kv.Batch) error {
	c := s.begin("write")
	r := recorder{h: s.h}
	for i := range b.Len() {
		kind, k, v := b.Op(i)
		if kind == kv.OpDelete {
			r.del(k)
		} else {
			r.write(k, v)
		}
	}
	c.op.Steps = r.steps
	err := s.s.Write(ctx, b)
	c.end(err)
	return err
}

// DeleteRange records a range deletion.
func (s *Store) DeleteRange(ctx context.Context, start, end []byte) error {
	c := s.deleteRange(start, end)
	err := s.s.DeleteRange(ctx, start, end)
	c.end(err)
	return err
}

// DeletePrefix records a range deletion.
func (s *Store) DeletePrefix(ctx context.Context, prefix []byte) error {
	c := s.deleteRange(prefix, kv.PrefixEnd(prefix))
	err := s.s.DeletePrefix(ctx, prefix)
	c.end(err)
	return err
}

func (s *Store) deleteRange(start, end []byte) *call {
	c := s.begin("deleterange")
	c.op.Steps = []Step{{Kind: DeleteRange, Key: bytes.Clone(start), Upper: bytes.Clone(end)}}
	if !s.s.Info().Guarantees.AtomicDeleteRange {
		c.op.Unchecked = "a range delete on " + s.s.Info().Backend + ", which does not declare it atomic"
	}
	return c
}

// Sync passes through.
func (s *Store) Sync() error { return s.s.Sync() }

// Close passes through.
func (s *Store) Close() error { return s.s.Close() }

// Info passes through.
func (s *Store) Info() kv.Info { return s.s.Info() }

// readTxn records the reads of a transaction.
type readTxn struct {
	tx kv.ReadTxn
	r  *recorder
}

func (t *readTxn) Context() context.Context { return t.tx.Context() }

func (t *readTxn) Get(key []byte) ([]byte, error) {
	v, err := t.tx.Get(key)
	t.r.read(key, v, err)
	return v, err
}

func (t *readTxn) Iterate(opts kv.IterOptions, fn func(key, value []byte) error) error {
	return t.r.scan(opts, fn, func(f func(k, v []byte) error) error { return t.tx.Iterate(opts, f) })
}

// GetMany reads through the transaction's own GetMany (kv.GetMany: one
// request on an engine that reads many keys at once) and records each
// key's read: the found ones as the callback is handed them, the missing
// ones after the call. A callback that writes a key of the same call is
// not recorded faithfully (the order of such reads and writes depends on
// the engine): the workloads checked here do not.
func (t *readTxn) GetMany(keys [][]byte, fn func(i int, value []byte) error) error {
	return t.r.getMany(t.tx, keys, fn)
}

// IterateMany iterates through the transaction's own IterateMany
// (kv.IterateMany) and records each range as Iterate does.
func (t *readTxn) IterateMany(opts []kv.IterOptions, fn func(i int, key, value []byte) error) error {
	return t.r.scanMany(t.tx, opts, fn)
}

// txn records the reads and writes of a transaction.
type txn struct {
	readTxn
	tx kv.Txn
}

func (t *txn) Set(key, value []byte) error {
	err := t.tx.Set(key, value)
	if err == nil {
		t.r.write(key, value)
	}
	return err
}

func (t *txn) Delete(key []byte) error {
	err := t.tx.Delete(key)
	if err == nil {
		t.r.del(key)
	}
	return err
}
