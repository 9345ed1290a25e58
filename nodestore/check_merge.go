package nodestore

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"hash/maphash"

	"github.com/polykv/polykv/kv"
)

// This file holds the cursors Check merges: one per (level, status)
// position of the node keys, one over the path keys, one over the
// children index; and the sums that compare the index with the nodes.

// nodeGroup is one (level, status) position holding node keys: every key
// from prefix on up to kv.PrefixEnd(prefix) ends in a path hash.
type nodeGroup struct {
	prefix []byte // "{q}:{level:08d}:{traversal}:{copy}:"
	pos    position
}

// nodeGroups finds the positions of q that hold node keys by skipping
// from one to the next: one short iteration per position, whatever the
// number of nodes. A key in the node range that is not a node key is
// reported.
func nodeGroups(tx kv.ReadTxn, q QueueType, rep *CheckReport) ([]nodeGroup, error) {
	all, err := PrefixForAllLevels(q)
	if err != nil {
		return nil, err
	}
	var groups []nodeGroup
	for start := all.Start; ; {
		var found []byte
		var ki KeyInfo
		err := tx.Iterate(kv.IterOptions{Start: start, End: all.End, KeysOnly: true}, func(k, _ []byte) error {
			var err error
			if ki, err = ParseNodeKey(k); err != nil {
				rep.addf("%s: %v", q, err)
				return nil
			}
			found = bytes.Clone(k)
			return kv.SkipAll
		})
		if err != nil || found == nil {
			return groups, err
		}
		prefix := found[:len(found)-hashHexLen]
		groups = append(groups, nodeGroup{prefix: prefix, pos: position{ki.Level, ki.Traversal, ki.Copy}})
		start = kv.PrefixEnd(prefix)
	}
}

// groupCursor is a cursor on one nodeGroup, at a key that parses (ki).
type groupCursor struct {
	cur *pageCursor
	ki  KeyInfo
	idx int // the group's rank in key order: it breaks ties between equal hashes
}

// nodeMerge yields the node keys of every group in ascending order of
// their path hash (then of their position), holding one page per group.
// It is a heap of the groups' cursors.
type nodeMerge struct {
	q       QueueType
	rep     *CheckReport
	scanned map[countID]int64 // node keys met per position
	curs    []*groupCursor
}

func newNodeMerge(tx kv.ReadTxn, q QueueType, groups []nodeGroup, scanned map[countID]int64, rep *CheckReport) (*nodeMerge, error) {
	m := &nodeMerge{q: q, rep: rep, scanned: scanned}
	limit := min(max(checkBuffered/max(len(groups), 1), 16), checkPage)
	for i, g := range groups {
		cur, err := newPageCursor(tx, g.prefix, kv.PrefixEnd(g.prefix), limit, false)
		if err != nil {
			return nil, err
		}
		gc := &groupCursor{cur: cur, idx: i}
		if err := m.settle(gc); err != nil {
			return nil, err
		}
		if gc.cur.valid() {
			m.curs = append(m.curs, gc)
		}
	}
	heap.Init(m)
	return m, nil
}

// settle moves g past keys that are not node keys, reporting each.
func (m *nodeMerge) settle(g *groupCursor) error {
	for g.cur.valid() {
		ki, err := ParseNodeKey(g.cur.key())
		if err == nil {
			g.ki = ki
			return nil
		}
		m.rep.addf("%s: %v", m.q, err)
		if err := g.cur.advance(); err != nil {
			return err
		}
	}
	return nil
}

func (m *nodeMerge) lowest() (PathHash, bool) {
	if len(m.curs) == 0 {
		return PathHash{}, false
	}
	return m.curs[0].ki.Hash, true
}

// take consumes every node key of hash h and returns the record of the
// first that decodes (have: one did). Every further key of h is reported
// as a second node key of the path.
func (m *nodeMerge) take(h PathHash) (rec checkedNode, have bool, err error) {
	for len(m.curs) > 0 && m.curs[0].ki.Hash == h {
		g := m.curs[0]
		m.rep.Nodes[m.q]++
		pos := position{g.ki.Level, g.ki.Traversal, g.ki.Copy}
		m.scanned[countID{m.q, pos}]++
		if have {
			m.rep.addf("%s: path hash %s is in two node keys: %s and %s", m.q, h, rec.pos, pos)
		} else {
			rec, have = checkNode(g.ki, g.cur.key(), g.cur.value(), m.rep)
		}
		if err := g.cur.advance(); err != nil {
			return rec, have, err
		}
		if err := m.settle(g); err != nil {
			return rec, have, err
		}
		if g.cur.valid() {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	return rec, have, nil
}

// heap.Interface, for the heap package only.

func (m *nodeMerge) Len() int { return len(m.curs) }

func (m *nodeMerge) Less(i, j int) bool {
	a, b := m.curs[i], m.curs[j]
	if c := bytes.Compare(a.ki.Hash[:], b.ki.Hash[:]); c != 0 {
		return c < 0
	}
	return a.idx < b.idx
}

func (m *nodeMerge) Swap(i, j int) { m.curs[i], m.curs[j] = m.curs[j], m.curs[i] }

func (m *nodeMerge) Push(x any) { m.curs = append(m.curs, x.(*groupCursor)) }

func (m *nodeMerge) Pop() any {
	g := m.curs[len(m.curs)-1]
	m.curs = m.curs[:len(m.curs)-1]
	return g
}

// hashCursor walks the keys under prefix whose rest parses to one or two
// path hashes (a path key: the path's; an index key: the parent's, then
// the child's), reporting and skipping the others (rep nil: skipping
// them silently).
type hashCursor struct {
	cur    *pageCursor
	prefix []byte
	parse  func(rest []byte) (first, second PathHash, ok bool)
	bad    string // what a key that does not parse is called
	rep    *CheckReport

	ok            bool // the cursor is at a key that parses
	first, second PathHash
}

func newHashCursor(tx kv.ReadTxn, prefix []byte, parse func([]byte) (PathHash, PathHash, bool), bad string, rep *CheckReport) (*hashCursor, error) {
	cur, err := newPageCursor(tx, prefix, kv.PrefixEnd(prefix), checkPage, false)
	if err != nil {
		return nil, err
	}
	c := &hashCursor{cur: cur, prefix: prefix, parse: parse, bad: bad, rep: rep}
	return c, c.settle()
}

func (c *hashCursor) settle() error {
	for c.cur.valid() {
		k := c.cur.key()
		if a, b, ok := c.parse(k[len(c.prefix):]); ok {
			c.ok, c.first, c.second = true, a, b
			return nil
		}
		if c.rep != nil {
			c.rep.addf("%s: %s", k, c.bad)
		}
		if err := c.cur.advance(); err != nil {
			return err
		}
	}
	c.ok = false
	return nil
}

// step moves to the next key that parses.
func (c *hashCursor) step() error {
	if err := c.cur.advance(); err != nil {
		return err
	}
	return c.settle()
}

// at reports whether the cursor is at a key whose first hash is h.
func (c *hashCursor) at(h PathHash) bool { return c.ok && c.first == h }

func parsePathKeyHash(rest []byte) (PathHash, PathHash, bool) {
	h, ok := parseHashHex(rest)
	return h, PathHash{}, ok
}

func parseIndexKeyHashes(rest []byte) (PathHash, PathHash, bool) {
	if len(rest) != 2*hashHexLen+1 || rest[hashHexLen] != ':' {
		return PathHash{}, PathHash{}, false
	}
	parent, ok1 := parseHashHex(rest[:hashHexLen])
	child, ok2 := parseHashHex(rest[hashHexLen+1:])
	return parent, child, ok1 && ok2
}

// lowestHash returns the lowest hash the three cursors are at; ok is
// false when all three are done.
func lowestHash(nodes *nodeMerge, paths, index *hashCursor) (h PathHash, ok bool) {
	consider := func(x PathHash, valid bool) {
		if valid && (!ok || bytes.Compare(x[:], h[:]) < 0) {
			h, ok = x, true
		}
	}
	consider(nodes.lowest())
	consider(paths.first, paths.ok)
	consider(index.first, index.ok)
	return h, ok
}

// pairSums sums a 128-bit keyed hash of (parent, child, child's level)
// over the non-root nodes on one side and over the index entries on the
// other. Addition is order-free, so the two sides may be met in any
// order; the keys are random per Check, so no stored data can be made to
// cancel out.
type pairSums struct {
	seedA, seedB maphash.Seed
	nodes, index [3]uint64 // count, then the two halves of the sum
}

func newPairSums() *pairSums {
	return &pairSums{seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed()}
}

func (s *pairSums) addNode(parent, child PathHash, level int) { s.add(&s.nodes, parent, child, level) }

func (s *pairSums) addIndex(parent, child PathHash, level int) {
	s.add(&s.index, parent, child, level)
}

func (s *pairSums) add(sum *[3]uint64, parent, child PathHash, level int) {
	var b [2*len(PathHash{}) + 8]byte
	copy(b[:], parent[:])
	copy(b[len(parent):], child[:])
	binary.BigEndian.PutUint64(b[2*len(parent):], uint64(level))
	sum[0]++
	sum[1] += maphash.Bytes(s.seedA, b[:])
	sum[2] += maphash.Bytes(s.seedB, b[:])
}

func (s *pairSums) equal() bool { return s.nodes == s.index }
