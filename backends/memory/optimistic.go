package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/tidwall/btree"

	"github.com/polykv/polykv/kv"
)

// The optimistic mode (option txn=optimistic) runs Update as a networked
// engine does (kv.Transactor): no writer lock in kv, each transaction reads
// a snapshot and records what it read, and its commit applies its writes
// only if everything it read is still as it was. It exists so that kv's
// optimistic path and the suite's serializability rules run on every
// `go test` without a cluster; it is slower than the default mode under
// contention (conflicting transactions run again).
//
// Validation compares what a transaction saw with the live tree under the
// engine's write lock, just before the writes are applied: each key read by
// Get (present with the same value, or still missing), and each range an
// iteration covered (the same keys with the same values, none added, none
// removed). That is sound whatever the versions of the keys: if everything
// read is unchanged at the commit instant, the transaction read what it
// would have read running alone at that instant.

// optimisticEngine is an engine whose transactions are optimistic.
type optimisticEngine struct {
	*engine
	// check selects what Commit validates; every check but in tests.
	check validation
}

// validation is a set of the checks a commit makes. Tests turn some off to
// show the suite catching the anomalies each one prevents.
type validation uint8

const (
	checkKeys    validation = 1 << iota // keys read by Get, present or missing
	checkAdded                          // keys that appeared in an iterated range, or changed value
	checkRemoved                        // keys an iteration saw that are gone
	checkAll     = checkKeys | checkAdded | checkRemoved
)

var (
	_ kv.Transactor = (*optimisticEngine)(nil)
	_ kv.EngineTxn  = (*otxn)(nil)
)

// BeginTxn starts an optimistic transaction on the current state.
func (e *optimisticEngine) BeginTxn(ctx context.Context) (kv.EngineTxn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap, err := e.NewSnapshot()
	if err != nil {
		return nil, err
	}
	return &otxn{e: e, snap: snap}, nil
}

// otxn is one optimistic transaction: a snapshot and what was read from it.
type otxn struct {
	e    *optimisticEngine
	snap kv.Snapshot
	// reads maps each key read by Get to the value seen (nil: missing).
	reads  map[string][]byte
	ranges []*rangeRead
	done   bool
}

// rangeRead is what one iteration saw: the items it stepped on, in order,
// and whether it ran to the end of its range.
type rangeRead struct {
	r         kv.IterRange
	seen      []item // engine items: never modified, safe to keep
	exhausted bool
}

func (t *otxn) Get(key, dst []byte) ([]byte, error) {
	v, err := t.snap.Get(key, dst)
	if t.reads == nil {
		t.reads = make(map[string][]byte)
	}
	switch {
	case err == nil:
		t.reads[string(key)] = bytes.Clone(v[len(dst):])
		if t.reads[string(key)] == nil {
			t.reads[string(key)] = []byte{}
		}
	case errors.Is(err, kv.ErrNotFound):
		t.reads[string(key)] = nil
	}
	return v, err
}

func (t *otxn) NewIter(r kv.IterRange) (kv.Iter, error) {
	it, err := t.snap.NewIter(r)
	if err != nil {
		return nil, err
	}
	rr := &rangeRead{r: kv.IterRange{Lower: bytes.Clone(r.Lower), Upper: bytes.Clone(r.Upper), Reverse: r.Reverse}}
	t.ranges = append(t.ranges, rr)
	return &recordingIter{iter: it.(*iter), rr: rr}, nil
}

// recordingIter records every item its iteration steps on.
type recordingIter struct {
	*iter
	rr *rangeRead
}

func (i *recordingIter) Next() bool {
	if !i.iter.Next() {
		i.rr.exhausted = true
		return false
	}
	i.rr.seen = append(i.rr.seen, i.cur)
	return true
}

// Commit applies b if nothing the transaction read has changed.
func (t *otxn) Commit(ctx context.Context, b *kv.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := t.e.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w == nil {
		return errClosed()
	}
	if err := t.validate(e.w); err != nil {
		return err
	}
	e.applyLocked(b)
	return nil
}

// validate compares what t read with w, the live tree.
func (t *otxn) validate(w *btree.BTreeG[item]) error {
	if t.e.check&checkKeys != 0 {
		for k, seen := range t.reads {
			cur, ok := w.Get(item{key: []byte(k)})
			if ok != (seen != nil) || ok && !bytes.Equal(cur.value, seen) {
				return fmt.Errorf("%w: memory: key %q changed since the transaction read it", kv.ErrConflict, k)
			}
		}
	}
	for _, rr := range t.ranges {
		if err := t.validateRange(w, rr); err != nil {
			return err
		}
	}
	return nil
}

// validateRange compares the part of rr's range its iteration covered with
// w: up to the last key it saw, or all of it when it ran to the end.
func (t *otxn) validateRange(w *btree.BTreeG[item], rr *rangeRead) error {
	r := rr.r
	if !rr.exhausted {
		if len(rr.seen) == 0 {
			return nil // closed before its first step: it read nothing
		}
		last := rr.seen[len(rr.seen)-1].key
		if r.Reverse {
			r.Lower = last
		} else {
			r.Upper = kv.KeySuccessor(last)
		}
	}
	seen := rr.seen
	var err error
	visitRange(w, r, func(cur item) bool {
		for len(seen) > 0 {
			c := bytes.Compare(seen[0].key, cur.key)
			if r.Reverse {
				c = -c
			}
			if c >= 0 {
				break
			}
			// seen[0] comes before cur: it is gone.
			if t.e.check&checkRemoved != 0 {
				err = fmt.Errorf("%w: memory: key %q left a range the transaction iterated", kv.ErrConflict, seen[0].key)
				return false
			}
			seen = seen[1:]
		}
		if len(seen) > 0 && bytes.Equal(seen[0].key, cur.key) {
			same := bytes.Equal(seen[0].value, cur.value)
			seen = seen[1:]
			if same || t.e.check&checkAdded == 0 {
				return true
			}
			err = fmt.Errorf("%w: memory: key %q changed in a range the transaction iterated", kv.ErrConflict, cur.key)
			return false
		}
		if t.e.check&checkAdded != 0 {
			err = fmt.Errorf("%w: memory: key %q appeared in a range the transaction iterated", kv.ErrConflict, cur.key)
			return false
		}
		return true
	})
	if err == nil && len(seen) > 0 && t.e.check&checkRemoved != 0 {
		err = fmt.Errorf("%w: memory: key %q left a range the transaction iterated", kv.ErrConflict, seen[0].key)
	}
	return err
}

// Discard releases the transaction's snapshot.
func (t *otxn) Discard() {
	if !t.done {
		t.done = true
		_ = t.snap.Close() // a memory snapshot's Close cannot fail
	}
}
