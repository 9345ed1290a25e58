package nodestore

import (
	"fmt"

	"github.com/polykv/polykv/kv"
)

// listedReads reads, for CompleteBatch, the parents named by the
// completions' Listed hints ahead of the planning loop, a group of
// completions at a time with kv.GetMany: on a networked engine one round
// trip per group instead of one per completion (measured on traverse-gen,
// etcd, one member: these reads were a quarter of the run's wall time). A
// group starts small and doubles, so that a chunk that ends early has read
// few parents it does not use (each one read counts in the transaction's
// read set, which a networked engine bounds); local engines read them one
// by one all the same (GetMany's fallback).
//
// A node stored at the position a hint names is the node: a node has
// exactly one node key, and its path key points to it.
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
}

// newListedReads prepares the reads of comps' parents; the groups stay
// within an eighth of the store's transaction size (lim).
func newListedReads(q QueueType, comps []Completion, hashes []PathHash, valid []bool, lim kv.Limits) *listedReads {
	return &listedReads{q: q, comps: comps, hashes: hashes, valid: valid,
		group: 8, max: max(1, min(256, lim.MaxTxnOps/8)), got: map[int]Node{}}
}

// parent returns completion i's parent as its Listed hint places it, and
// false when the hint is missing or stale (the caller then reads the
// parent through its path key).
func (r *listedReads) parent(tx kv.ReadTxn, i int) (Node, bool, error) {
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
	return kv.GetMany(tx, r.keys, func(k int, v []byte) error {
		j := r.at[k]
		l := r.comps[j].Listed
		n := Node{Queue: r.q, Level: l.Level, Traversal: l.Traversal, Copy: l.Copy}
		if err := decodeState(v, &n.State); err != nil {
			return fmt.Errorf("%s: %w", r.keys[k], err)
		}
		r.got[j] = n
		return nil
	})
}

// usableHint reports whether listed names a position of queue q.
func usableHint(q QueueType, listed *Node) bool {
	return listed != nil && listed.Queue == q && checkPosition(q, listed.Level, listed.Traversal, listed.Copy) == nil
}
