package nodestore

import (
	"bytes"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// listedReads reads, for CompleteBatch, the parents named by the
// completions' Listed hints (for BatchSetStatus and the other batch moves,
// the nodes themselves, hinted by a recent listing) ahead of the planning
// loop, a group of completions at a time with kv.GetMany: on a networked
// engine one round trip per group instead of one per completion (measured
// on traverse-gen, etcd, one member: these reads were a quarter of the
// run's wall time). A group starts small and doubles, so that a chunk that
// ends early has read few parents it does not use (each one read counts
// in the transaction's read set, which a networked engine bounds: the
// chunk plan keeps a group's worth of room, readBudget); local engines
// read them one by one all the same (GetMany's fallback).
//
// A node stored at the position a hint names is the node: a node has
// exactly one node key, and its path key points to it.
//
// On a local engine a group whose hints name one position, in ascending
// hash order — a page as PendingPage lists it — is read with one
// iteration over its node keys instead (scanGroup): they are neighbours
// in the key space, and an iterator's next key costs a fraction of a point
// read (traverse-gen on pebble, 200,000 nodes: these reads were 11% of the
// run's CPU as point reads).
type listedReads struct {
	q      QueueType
	comps  []Completion
	hashes []PathHash
	valid  []bool
	group  int // the next group's size
	max    int // the largest group
	next   int // the first completion not fetched yet
	got    map[int]Node
	keys   [][]byte
	at     []int
	buf    []byte
	// scan: read a group that allows it with one iteration (local
	// engines other than memory, where a long iteration in a transaction
	// costs the commit a copy of the tree: Store.pointExists).
	scan bool
}

// newListedReads prepares the reads of comps' parents; the groups stay
// within an eighth of the store's transaction size (lim).
func newListedReads(q QueueType, comps []Completion, hashes []PathHash, valid []bool, lim kv.Limits, scan bool) *listedReads {
	return &listedReads{q: q, comps: comps, hashes: hashes, valid: valid,
		group: 8, max: max(1, min(256, lim.MaxTxnOps/8)), got: map[int]Node{}, scan: scan}
}

// node returns completion i's parent (or, for the batch moves, node i) as
// its Listed hint places it, and false when the hint is missing or stale
// (the caller then reads it through its path key).
func (r *listedReads) node(tx kv.ReadTxn, i int) (Node, bool, error) {
	if !usableHint(r.q, r.comps[i].Listed) {
		return Node{}, false, nil
	}
	if i >= r.next {
		if err := r.fetch(tx, i); err != nil {
			return Node{}, false, err
		}
	}
	n, ok := r.got[i]
	return n, ok, nil
}

// fetch reads the hinted parents of the group of completions from i.
func (r *listedReads) fetch(tx kv.ReadTxn, i int) error {
	r.keys, r.at, r.buf = r.keys[:0], r.at[:0], r.buf[:0]
	end := min(len(r.comps), i+r.group)
	for j := i; j < end; j++ {
		l := r.comps[j].Listed
		if !r.valid[j] || !usableHint(r.q, l) {
			continue
		}
		start := len(r.buf)
		r.buf = appendNodeKey(r.buf, r.q, l.Level, l.Traversal, l.Copy, r.hashes[j])
		r.keys = append(r.keys, r.buf[start:len(r.buf):len(r.buf)])
		r.at = append(r.at, j)
	}
	r.next, r.group = end, min(r.group*2, r.max)
	clear(r.got)
	keys := r.keys
	if r.scan && scannable(keys) {
		rest, err := r.scanGroup(tx)
		if err != nil {
			return err
		}
		keys = keys[len(keys)-rest:]
	}
	off := len(r.keys) - len(keys)
	return kv.GetMany(tx, keys, func(k int, v []byte) error { return r.take(off+k, v) })
}

// take decodes the value of r.keys[k] as its completion's parent.
func (r *listedReads) take(k int, v []byte) error {
	j := r.at[k]
	l := r.comps[j].Listed
	n := Node{Queue: r.q, Level: l.Level, Traversal: l.Traversal, Copy: l.Copy}
	if err := decodeState(v, &n.State); err != nil {
		return fmt.Errorf("%s: %w", r.keys[k], err)
	}
	r.got[j] = n
	return nil
}

// scannable reports whether keys (node keys) are worth one iteration: at
// least two, strictly ascending, all at one position (so that nothing but
// nodes of that position lies between them).
func scannable(keys [][]byte) bool {
	if len(keys) < 2 {
		return false
	}
	suffix := len(keys[0]) - hashHexLen
	for i := 1; i < len(keys); i++ {
		k := keys[i]
		if len(k) != len(keys[0]) || !bytes.Equal(k[:suffix], keys[0][:suffix]) || bytes.Compare(keys[i-1], k) >= 0 {
			return false
		}
	}
	return true
}

// scanGroup reads the group's node keys (scannable) with one iteration
// from the first to the last, taking those it meets. The iteration stops
// after twice as many keys as the group plus a few, so that a group
// spread over a crowded range costs no more than its point reads would;
// it returns how many keys, at the end of r.keys, it did not reach (read
// them with point reads). A key it passed without meeting is not stored:
// its hint is stale.
func (r *listedReads) scanGroup(tx kv.ReadTxn) (rest int, err error) {
	keys := r.keys
	limit := 2*len(keys) + 16
	next, seen := 0, 0
	var last []byte
	err = tx.Iterate(kv.IterOptions{Start: keys[0], End: kv.KeySuccessor(keys[len(keys)-1]), Limit: limit}, func(k, v []byte) error {
		seen++
		last = append(last[:0], k...)
		for next < len(keys) && bytes.Compare(keys[next], k) < 0 {
			next++
		}
		if next < len(keys) && bytes.Equal(keys[next], k) {
			if err := r.take(next, v); err != nil {
				return err
			}
			next++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if seen < limit {
		return 0, nil
	}
	// Cut short: the keys after the last one met are still to read.
	reached := 0
	for reached < len(keys) && bytes.Compare(keys[reached], last) <= 0 {
		reached++
	}
	return len(keys) - reached, nil
}

// usableHint reports whether listed names a position of queue q.
func usableHint(q QueueType, listed *Node) bool {
	return listed != nil && listed.Queue == q && checkPosition(q, listed.Level, listed.Traversal, listed.Copy) == nil
}
