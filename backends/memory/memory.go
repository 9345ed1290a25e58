package memory

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

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
// non-persistent backend). The memory backend has no options: any entry in
// cfg.Options is an error.
func (Driver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := (Driver{}).ValidateConfig(cfg); err != nil {
		return nil, err
	}
	return newEngine(), nil
}

// ValidateConfig rejects every backend option: the memory backend has none.
// It implements kv.ConfigValidator.
func (Driver) ValidateConfig(cfg *kv.Config) error {
	if cfg == nil || len(cfg.Options) == 0 {
		return nil
	}
	names := make([]string, 0, len(cfg.Options))
	for k := range cfg.Options {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Errorf("%w: memory: unknown option(s) %s (the memory backend has none)",
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
// DeleteRange. Readers that need a stable view (iterators, snapshots) take
// a copy-on-write clone of w, made at most once between two writes and then
// shared: cloning is O(1), and the clone is never modified, so iterating it
// needs no lock and a write during an iteration can never deadlock.
type engine struct {
	mu     sync.RWMutex
	w      *btree.BTreeG[item] // nil after Close
	frozen *btree.BTreeG[item] // clone of w at the latest write, or nil
	bytes  int64               // sum of len(key)+len(value)
}

var (
	_ kv.Engine       = (*engine)(nil)
	_ kv.RangeDeleter = (*engine)(nil)
	_ kv.Stater       = (*engine)(nil)
)

func newEngine() *engine {
	return &engine{w: newTree()}
}

func newTree() *btree.BTreeG[item] {
	return btree.NewBTreeGOptions(less, btree.Options{NoLocks: true})
}

func errClosed() error { return fmt.Errorf("%w (memory)", kv.ErrClosed) }

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

// view returns a tree that no one will modify any more: the current state.
func (e *engine) view() (*btree.BTreeG[item], error) {
	e.mu.RLock()
	t, w := e.frozen, e.w
	e.mu.RUnlock()
	if w == nil {
		return nil, errClosed()
	}
	if t != nil {
		return t, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w == nil {
		return nil, errClosed()
	}
	if e.frozen == nil {
		e.frozen = e.w.Copy() // Copy also marks w's nodes as shared
	}
	return e.frozen, nil
}

// NewIter returns an iterator over the state at the time of the call.
func (e *engine) NewIter(r kv.IterRange) (kv.Iter, error) {
	t, err := e.view()
	if err != nil {
		return nil, err
	}
	return newIter(t, r), nil
}

// NewSnapshot returns a consistent view of the current state.
func (e *engine) NewSnapshot() (kv.Snapshot, error) {
	t, err := e.view()
	if err != nil {
		return nil, err
	}
	return snapshot{t}, nil
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
	for i := 0; i < b.Len(); i++ {
		kind, k, v := b.Op(i)
		switch kind {
		case kv.OpSet:
			buf := make([]byte, len(k)+len(v))
			copy(buf, k)
			copy(buf[len(k):], v)
			it := item{key: buf[:len(k):len(k)], value: buf[len(k):]}
			if prev, ok := e.w.Set(it); ok {
				e.bytes -= int64(len(prev.key) + len(prev.value))
			}
			e.bytes += int64(len(buf))
		case kv.OpDelete:
			if prev, ok := e.w.Delete(item{key: k}); ok {
				e.bytes -= int64(len(prev.key) + len(prev.value))
			}
		}
	}
	e.frozen = nil
	return nil
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
		e.w = newTree()
		e.bytes = 0
	} else {
		for _, it := range victims {
			e.w.Delete(it)
			e.bytes -= int64(len(it.key) + len(it.value))
		}
	}
	e.frozen = nil
	return nil
}

// Sync does nothing: there is nothing to make durable.
func (e *engine) Sync() error { return nil }

// Stats reports the bytes of keys and values held and the number of keys.
func (e *engine) Stats() (kv.EngineStats, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.w == nil {
		return kv.EngineStats{}, errClosed()
	}
	return kv.EngineStats{
		MemoryBytes: e.bytes,
		Extra:       map[string]int64{"keys": int64(e.w.Len())},
	}, nil
}

// Close drops the data. Snapshots and iterators still open keep the state
// they were created on.
func (e *engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.w, e.frozen, e.bytes = nil, nil, 0
	return nil
}

// snapshot is a frozen tree.
type snapshot struct{ t *btree.BTreeG[item] }

func (s snapshot) Get(key, dst []byte) ([]byte, error) { return get(s.t, key, dst) }

func (s snapshot) NewIter(r kv.IterRange) (kv.Iter, error) { return newIter(s.t, r), nil }

func (s snapshot) Close() error { return nil }

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
