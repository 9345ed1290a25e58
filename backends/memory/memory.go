package memory

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tidwall/btree"

	"github.com/polykv/polykv/kv"
)

// Name is the backend name under which the package registers its Driver.
const Name = "memory"

func init() { kv.Register(Name, Driver{}) }

// Open returns a new, empty in-memory store. It is kv.OpenDriver with
// kv.Config{Backend: "memory"}; use kv.Open with the same config when the
// backend is chosen by configuration.
func Open(ctx context.Context) (*kv.DB, error) {
	return kv.OpenDriver(ctx, kv.Config{Backend: Name}, Driver{})
}

// Driver opens in-memory engines. It is registered as "memory".
type Driver struct{}

var _ kv.Driver = Driver{}

// Open returns a new empty engine. dir is ignored (always empty for a
// non-persistent backend). The one option is txn (see ValidateConfig).
func (Driver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := (Driver{}).ValidateConfig(cfg); err != nil {
		return nil, err
	}
	if cfg != nil && cfg.Options[OptionTxn] == TxnOptimistic {
		return &optimisticEngine{engine: newEngine(), check: checkAll}, nil
	}
	return newEngine(), nil
}

// OptionTxn is the memory backend's one option: how Update transactions
// run. TxnLock (the default): kv's writer lock serializes them, as on every
// local backend. TxnOptimistic: the engine runs them optimistically
// (kv.Transactor), as a networked backend does — a mode for testing
// programs and kv's optimistic path without a cluster
// (memory:?opt.txn=optimistic).
const (
	OptionTxn     = "txn"
	TxnLock       = "lock"
	TxnOptimistic = "optimistic"
)

// ValidateConfig accepts the option txn=lock|optimistic and rejects every
// other. It implements kv.ConfigValidator.
func (Driver) ValidateConfig(cfg *kv.Config) error {
	if cfg == nil || len(cfg.Options) == 0 {
		return nil
	}
	names := make([]string, 0, len(cfg.Options))
	for k, v := range cfg.Options {
		if k == OptionTxn {
			if v != TxnLock && v != TxnOptimistic {
				return fmt.Errorf("%w: memory: option txn=%q: want %q or %q", kv.ErrInvalidConfig, v, TxnLock, TxnOptimistic)
			}
			continue
		}
		names = append(names, k)
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return fmt.Errorf("%w: memory: unknown option(s) %s (the memory backend has one: txn)",
		kv.ErrInvalidConfig, strings.Join(names, ", "))
}

// Guarantees: nothing survives Close; range deletes are atomic.
func (Driver) Guarantees() kv.Guarantees {
	return kv.Guarantees{Persistent: false, AtomicDeleteRange: true}
}

// item is one stored entry. key and value share one allocation owned by
// the engine; they are never modified after insertion.
type item struct {
	key, value []byte
}

func less(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

// engine keeps the live tree w, changed only under mu by Apply and
// DeleteRange. Each state of w between two writes is an epoch (cur), and a
// reader that needs a stable view gets one without holding a lock while it
// runs:
//
//   - A snapshot (a View) reads the live tree under the read lock for as
//     long as its epoch is current. The first write after it clones the
//     tree for the snapshots still open, so a View that ends before the
//     next write costs the writer nothing.
//   - An iterator walks a clone of the epoch, taken at most once per epoch
//     and shared. A clone is never modified, so a write made during an
//     iteration, even from inside its callback, cannot deadlock or change
//     what the iteration visits.
//   - A whole scan (kv.Scanner) of at most scanGather keys gathers its
//     items under the read lock and hands them out after releasing it:
//     items are never modified, so the gathered list is a consistent view
//     without a clone. Larger scans walk a clone.
//
// Cloning is O(1) (github.com/tidwall/btree's copy-on-write Copy), but it
// marks every node shared, so each write after it copies the nodes it
// touches, root to leaf: avoiding clones is what the epochs are for.
type engine struct {
	mu     sync.RWMutex
	w      *btree.BTreeG[item] // nil after Close
	cur    *epoch              // the state w holds
	bytes  int64               // sum of len(key)+len(value)
	clones atomic.Int64        // clones of w taken (Stats)
}

// epoch is one state of the store, from one write to the next.
type epoch struct {
	// tree is the state, frozen: nil until a reader or a write needed a
	// clone, set once under the engine's write lock.
	tree atomic.Pointer[btree.BTreeG[item]]
	// snaps counts the open snapshots of the epoch. It grows under the
	// engine's read lock, so a writer (holding the write lock) sees every
	// snapshot it must clone the tree for.
	snaps atomic.Int64
}

// scanGather is the most keys a scan gathers under the read lock instead
// of walking a clone.
const scanGather = 256

var (
	_ kv.Engine       = (*engine)(nil)
	_ kv.RangeDeleter = (*engine)(nil)
	_ kv.Stater       = (*engine)(nil)
	_ kv.Scanner      = (*engine)(nil)
	_ kv.Scanner      = (*snapshot)(nil)
)

func newEngine() *engine {
	return &engine{w: newTree(), cur: new(epoch)}
}

func newTree() *btree.BTreeG[item] {
	return btree.NewBTreeGOptions(less, btree.Options{NoLocks: true})
}

func errClosed() error { return fmt.Errorf("%w (memory)", kv.ErrClosed) }

var errSnapshotClosed = fmt.Errorf("memory: snapshot used after Close: %w", kv.ErrClosed)

// Get appends the value of key to dst.
func (e *engine) Get(key, dst []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.w == nil {
		return nil, errClosed()
	}
	return get(e.w, key, dst)
}

func get(t *btree.BTreeG[item], key, dst []byte) ([]byte, error) {
	it, ok := t.Get(item{key: key})
	if !ok {
		return nil, kv.ErrNotFound
	}
	return append(dst, it.value...), nil
}

// freeze returns the current epoch's clone of w, taking it if need be.
// The caller holds the write lock and w is open.
func (e *engine) freeze() *btree.BTreeG[item] {
	t := e.cur.tree.Load()
	if t == nil {
		t = e.w.Copy() // Copy also marks w's nodes as shared
		e.clones.Add(1)
		e.cur.tree.Store(t)
	}
	return t
}

// nextEpoch ends the current epoch before a write changes w: the open
// snapshots of the epoch get a clone of w (or w itself when replaced is
// set: the write swaps in another tree and never changes this one). The
// caller holds the write lock.
func (e *engine) nextEpoch(replaced bool) {
	if e.cur.snaps.Load() > 0 && e.cur.tree.Load() == nil {
		if replaced {
			e.cur.tree.Store(e.w)
		} else {
			e.freeze()
		}
	}
	e.cur = new(epoch)
}

// view returns a tree that no one will modify any more: the current state.
func (e *engine) view() (*btree.BTreeG[item], error) {
	e.mu.RLock()
	w, ep := e.w, e.cur
	e.mu.RUnlock()
	if w == nil {
		return nil, errClosed()
	}
	if t := ep.tree.Load(); t != nil {
		return t, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w == nil {
		return nil, errClosed()
	}
	return e.freeze(), nil
}

// NewIter returns an iterator over the state at the time of the call.
func (e *engine) NewIter(r kv.IterRange) (kv.Iter, error) {
	t, err := e.view()
	if err != nil {
		return nil, err
	}
	return newIter(t, r), nil
}

// Scan runs a whole iteration (kv.Scanner) on the current state: gathered
// under the read lock when it has at most scanGather keys, on a clone
// otherwise.
func (e *engine) Scan(r kv.IterRange, s *kv.Scan) error {
	return e.scan(nil, r, s, e.view)
}

// scan runs r on epoch ep (nil: the current one) for s: on the epoch's
// clone if it has one; else gathered from the live tree under the read
// lock when r is small enough; else on the clone that clone returns.
func (e *engine) scan(ep *epoch, r kv.IterRange, s *kv.Scan, clone func() (*btree.BTreeG[item], error)) error {
	var t *btree.BTreeG[item]
	if ep != nil {
		t = ep.tree.Load()
	}
	if t == nil {
		e.mu.RLock()
		if ep == nil {
			if e.w == nil {
				e.mu.RUnlock()
				return errClosed()
			}
			ep = e.cur
		}
		// Without a clone under the read lock the epoch is current (a
		// write or Close would have cloned it for an open snapshot), so
		// the live tree holds it.
		if t = ep.tree.Load(); t == nil {
			g, complete := gather(e.w, r, s.Remaining())
			e.mu.RUnlock()
			if complete {
				emit(g, s)
				return nil
			}
			g.release()
			var err error
			if t, err = clone(); err != nil {
				return err
			}
		} else {
			e.mu.RUnlock()
		}
	}
	walk(t, r, s)
	return nil
}

// NewSnapshot returns a consistent view of the current state.
func (e *engine) NewSnapshot() (kv.Snapshot, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.w == nil {
		return nil, errClosed()
	}
	e.cur.snaps.Add(1)
	return &snapshot{e: e, ep: e.cur}, nil
}

// Apply applies b atomically: readers see all of it or none of it.
func (e *engine) Apply(ctx context.Context, b *kv.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w == nil {
		return errClosed()
	}
	e.applyLocked(b)
	return nil
}

// applyLocked applies b; the caller holds e.mu and has checked e is open.
func (e *engine) applyLocked(b *kv.Batch) {
	e.nextEpoch(false)
	// In key order, with a path hint, each write starts its descent where
	// the previous one ended (kv.Batch.EachInKeyOrder).
	var hint btree.PathHint
	_ = b.EachInKeyOrder(func(kind kv.OpKind, k, v []byte) error {
		switch kind {
		case kv.OpSet:
			buf := make([]byte, len(k)+len(v))
			copy(buf, k)
			copy(buf[len(k):], v)
			it := item{key: buf[:len(k):len(k)], value: buf[len(k):]}
			if prev, ok := e.w.SetHint(it, &hint); ok {
				e.bytes -= int64(len(prev.key) + len(prev.value))
			}
			e.bytes += int64(len(buf))
		case kv.OpDelete:
			if prev, ok := e.w.DeleteHint(item{key: k}, &hint); ok {
				e.bytes -= int64(len(prev.key) + len(prev.value))
			}
		}
		return nil
	})
}

// DeleteRange deletes [start, end) atomically (end nil: unbounded).
func (e *engine) DeleteRange(ctx context.Context, start, end []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w == nil {
		return errClosed()
	}
	var victims []item
	e.w.Ascend(item{key: start}, func(it item) bool {
		if end != nil && bytes.Compare(it.key, end) >= 0 {
			return false
		}
		victims = append(victims, it)
		return true
	})
	if len(victims) == 0 {
		return nil
	}
	if len(victims) == e.w.Len() {
		e.nextEpoch(true)
		e.w = newTree()
		e.bytes = 0
		return nil
	}
	e.nextEpoch(false)
	for _, it := range victims {
		e.w.Delete(it)
		e.bytes -= int64(len(it.key) + len(it.value))
	}
	return nil
}

// Sync does nothing: there is nothing to make durable.
func (e *engine) Sync() error { return nil }

// Stats reports the bytes of keys and values held, the number of keys and
// how many times the tree was cloned for readers (each clone makes the
// next writes copy the tree nodes they touch).
func (e *engine) Stats() (kv.EngineStats, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.w == nil {
		return kv.EngineStats{}, errClosed()
	}
	return kv.EngineStats{
		MemoryBytes: e.bytes,
		Extra:       map[string]int64{"keys": int64(e.w.Len()), "clones": e.clones.Load()},
	}, nil
}

// Close drops the data. Snapshots and iterators still open keep the state
// they were created on.
func (e *engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w != nil {
		e.nextEpoch(true)
	}
	e.w, e.bytes = nil, 0
	return nil
}

// snapshot is one epoch of an engine: read in the live tree while the
// epoch is current, in the epoch's clone once a write or Close made it.
type snapshot struct {
	e      *engine
	ep     *epoch
	closed atomic.Bool
}

func (s *snapshot) Get(key, dst []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, errSnapshotClosed
	}
	if t := s.ep.tree.Load(); t != nil {
		return get(t, key, dst)
	}
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if t := s.ep.tree.Load(); t != nil {
		return get(t, key, dst)
	}
	// No clone under the read lock: the epoch is still current (a write or
	// Close would have cloned it for this open snapshot), so w holds it.
	return get(s.e.w, key, dst)
}

// frozen returns the snapshot's clone, taking it if the epoch is still
// current.
func (s *snapshot) frozen() *btree.BTreeG[item] {
	if t := s.ep.tree.Load(); t != nil {
		return t
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if t := s.ep.tree.Load(); t != nil {
		return t
	}
	return s.e.freeze() // the epoch is current: see Get
}

func (s *snapshot) NewIter(r kv.IterRange) (kv.Iter, error) {
	if s.closed.Load() {
		return nil, errSnapshotClosed
	}
	return newIter(s.frozen(), r), nil
}

// Scan runs a whole iteration (kv.Scanner) on the snapshot, gathered under
// the read lock while the epoch is current and the range small, as
// engine.Scan does.
func (s *snapshot) Scan(r kv.IterRange, sc *kv.Scan) error {
	if s.closed.Load() {
		return errSnapshotClosed
	}
	return s.e.scan(s.ep, r, sc, func() (*btree.BTreeG[item], error) { return s.frozen(), nil })
}

func (s *snapshot) Close() error {
	if !s.closed.Swap(true) {
		s.ep.snaps.Add(-1)
	}
	return nil
}

// gathered holds the items of a small scan; pooled.
type gathered struct{ items []item }

var gatherPool = sync.Pool{New: func() any { return &gathered{items: make([]item, 0, scanGather+1)} }}

// gather collects the items of r in t, in the iteration's order: all of
// them (complete) when r holds at most scanGather, or the first want when
// want (the scan's remaining limit, 0 for none) is at most scanGather.
// Otherwise it stops after scanGather+1 and complete is false. The caller
// holds t's read lock.
func gather(t *btree.BTreeG[item], r kv.IterRange, want int) (g *gathered, complete bool) {
	g = gatherPool.Get().(*gathered)
	stop := scanGather + 1
	exact := want > 0 && want <= scanGather
	if exact {
		stop = want
	}
	visitRange(t, r, func(it item) bool {
		g.items = append(g.items, it)
		return len(g.items) < stop
	})
	return g, exact || len(g.items) <= scanGather
}

// emit hands the gathered items to s, then returns g to its pool.
func emit(g *gathered, s *kv.Scan) {
	for _, it := range g.items {
		if !s.Emit(it.key, it.value) {
			break
		}
	}
	g.release()
}

// release returns g to its pool, dropping its references to the items.
func (g *gathered) release() {
	clear(g.items)
	g.items = g.items[:0]
	gatherPool.Put(g)
}

// walk hands the items of r in t, a clone no one modifies, to s.
func walk(t *btree.BTreeG[item], r kv.IterRange, s *kv.Scan) {
	visitRange(t, r, func(it item) bool { return s.Emit(it.key, it.value) })
}

// visitRange calls fn on each item of r in t in the iteration's order,
// until fn returns false.
func visitRange(t *btree.BTreeG[item], r kv.IterRange, fn func(item) bool) {
	if !r.Reverse {
		visit := func(it item) bool {
			if r.Upper != nil && bytes.Compare(it.key, r.Upper) >= 0 {
				return false
			}
			return fn(it)
		}
		if r.Lower != nil {
			t.Ascend(item{key: r.Lower}, visit)
		} else {
			t.Scan(visit)
		}
		return
	}
	visit := func(it item) bool {
		if r.Upper != nil && bytes.Compare(it.key, r.Upper) >= 0 {
			return true // Descend starts at Upper itself, which is excluded
		}
		if r.Lower != nil && bytes.Compare(it.key, r.Lower) < 0 {
			return false
		}
		return fn(it)
	}
	if r.Upper != nil {
		t.Descend(item{key: r.Upper}, visit)
	} else {
		t.Reverse(visit)
	}
}

// iter walks a frozen tree within [lower, upper).
type iter struct {
	it           btree.IterG[item]
	lower, upper []byte
	reverse      bool
	started      bool
	done         bool
	cur          item
}

func newIter(t *btree.BTreeG[item], r kv.IterRange) *iter {
	return &iter{it: t.Iter(), lower: r.Lower, upper: r.Upper, reverse: r.Reverse}
}

func (i *iter) Next() bool {
	if i.done {
		return false
	}
	var ok bool
	switch {
	case i.started && !i.reverse:
		ok = i.it.Next()
	case i.started:
		ok = i.it.Prev()
	case !i.reverse:
		if i.lower != nil {
			ok = i.it.Seek(item{key: i.lower})
		} else {
			ok = i.it.First()
		}
	default:
		// Position on the last key below upper: seek to the first key
		// >= upper and step back, or start from the very last key.
		if i.upper != nil && i.it.Seek(item{key: i.upper}) {
			ok = i.it.Prev()
		} else {
			ok = i.it.Last()
		}
	}
	i.started = true
	if ok {
		i.cur = i.it.Item()
		if i.reverse {
			ok = i.lower == nil || bytes.Compare(i.cur.key, i.lower) >= 0
		} else {
			ok = i.upper == nil || bytes.Compare(i.cur.key, i.upper) < 0
		}
	}
	if !ok {
		i.done = true
		i.cur = item{}
	}
	return ok
}

// Key returns the current key: engine memory, not to be modified.
func (i *iter) Key() []byte { return i.cur.key }

// Value appends the current value to dst.
func (i *iter) Value(dst []byte) ([]byte, error) { return append(dst, i.cur.value...), nil }

func (i *iter) Err() error { return nil }

func (i *iter) Close() error {
	i.done = true
	i.it.Release()
	return nil
}
