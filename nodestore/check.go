package nodestore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/polykv/polykv/kv"
)

// CheckReport is the result of Check.
type CheckReport struct {
	// Nodes is the number of node keys per queue.
	Nodes map[QueueType]int
	// Problems lists every inconsistency found, in a stable order; empty
	// means the store is consistent. At most MaxProblems are listed.
	Problems []string
	// Truncated is true when more than MaxProblems were found.
	Truncated bool
}

// MaxProblems bounds CheckReport.Problems.
const MaxProblems = 1000

// OK reports whether no problem was found.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

func (r *CheckReport) addf(format string, args ...any) {
	if len(r.Problems) >= MaxProblems {
		r.Truncated = true
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

type checkedNode struct {
	pos    position
	parent PathHash
	root   bool
	folder bool
}

// Check verifies every invariant of the stored state, on one snapshot:
//
//   - every node value decodes, its Path hashes to its key's hash, its
//     Status and Depth agree with the key, and its fields are valid;
//   - every path is in exactly one node key (one status key per node), and
//     its path key points to that node key; no path key points elsewhere;
//   - every non-root node has its children index entry, and every index
//     entry links a stored parent to a stored child whose ParentPath is
//     that parent;
//   - the counters and pending-level keys equal a scan (CheckCounts).
//
// It scans every key of the nodestore families and keeps a small record
// per node in memory (about 64 bytes). A non-nil error means Check could
// not run; problems found are in the report.
func (s *Store) Check(ctx context.Context) (CheckReport, error) {
	rep := CheckReport{Nodes: map[QueueType]int{}}
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		for _, q := range Queues {
			if err := checkQueue(tx, q, &rep); err != nil {
				return err
			}
		}
		mm, err := checkCounts(tx)
		if err != nil {
			return err
		}
		for _, m := range mm {
			rep.addf("counter: %s", m)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("nodestore: check: %w", err)
	}
	return rep, nil
}

func checkQueue(tx kv.ReadTxn, q QueueType, rep *CheckReport) error {
	nodes := map[PathHash]checkedNode{}
	opts, _ := PrefixForAllLevels(q)
	err := tx.Iterate(opts, func(k, v []byte) error {
		ki, err := ParseNodeKey(k)
		if err != nil {
			rep.addf("%s: %v", q, err)
			return nil
		}
		rep.Nodes[q]++
		pos := position{ki.Level, ki.Traversal, ki.Copy}
		if prev, dup := nodes[ki.Hash]; dup {
			rep.addf("%s: path hash %s is in two node keys: %s and %s", q, ki.Hash, prev.pos, pos)
			return nil
		}
		n := Node{Queue: q, Level: ki.Level, Traversal: ki.Traversal, Copy: ki.Copy}
		if err := decodeState(v, &n.State); err != nil {
			rep.addf("%s: %v", k, err)
			return nil
		}
		st := n.State.Status
		n.State.Status = ""
		h, parent, root, err := validate(&n)
		switch {
		case err != nil:
			rep.addf("%s: stored node is invalid: %v", k, err)
		case st != ki.Traversal:
			rep.addf("%s: value says status %q", k, st)
		case h != ki.Hash:
			rep.addf("%s: value's Path %q hashes to %s", k, n.State.Path, h)
		}
		nodes[ki.Hash] = checkedNode{pos: pos, parent: parent, root: root, folder: n.State.Type == NodeTypeFolder}
		return nil
	})
	if err != nil {
		return err
	}

	// Path keys: one per node, pointing to it.
	pathPrefix := append(appendQueue(nil, q), familyPath...)
	havePath := map[PathHash]bool{}
	err = tx.Iterate(kv.IterOptions{Prefix: pathPrefix}, func(k, v []byte) error {
		h, err := ParsePathHash(string(k[len(pathPrefix):]))
		if err != nil {
			rep.addf("%s: bad path key", k)
			return nil
		}
		havePath[h] = true
		level, ts, cs, err := parseStatusSuffix(q, v)
		if err != nil {
			rep.addf("%s: %v", k, err)
			return nil
		}
		n, ok := nodes[h]
		switch {
		case !ok:
			rep.addf("%s: path key points to %s, but no node key holds this path", k, position{level, ts, cs})
		case n.pos != (position{level, ts, cs}):
			rep.addf("%s: path key says %s, node key is at %s", k, position{level, ts, cs}, n.pos)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Children index: each entry links stored nodes; each non-root has one.
	idxPrefix := append(appendQueue(nil, q), "children:"...)
	haveIndex := map[PathHash]bool{}
	err = tx.Iterate(kv.IterOptions{Prefix: idxPrefix}, func(k, v []byte) error {
		rest := k[len(idxPrefix):]
		if len(rest) != 2*hashHexLen+1 || rest[hashHexLen] != ':' {
			rep.addf("%s: bad index key", k)
			return nil
		}
		ph, err1 := ParsePathHash(string(rest[:hashHexLen]))
		ch, err2 := ParsePathHash(string(rest[hashHexLen+1:]))
		if err1 != nil || err2 != nil {
			rep.addf("%s: bad index key", k)
			return nil
		}
		if len(v) != 0 {
			rep.addf("%s: index value is not empty", k)
		}
		c, childOK := nodes[ch]
		switch {
		case !childOK:
			rep.addf("%s: index entry of a missing child", k)
		case c.root || c.parent != ph:
			rep.addf("%s: the child's ParentPath is not this parent", k)
		default:
			haveIndex[ch] = true
		}
		p, ok := nodes[ph]
		switch {
		case !ok:
			rep.addf("%s: index entry under a missing parent", k)
		case !p.folder:
			rep.addf("%s: index entry under a file", k)
		case childOK && c.pos.level != p.pos.level+1:
			rep.addf("%s: child at level %d under a parent at level %d", k, c.pos.level, p.pos.level)
		}
		return nil
	})
	if err != nil {
		return err
	}
	hashes := make([]PathHash, 0, len(nodes))
	for h := range nodes {
		hashes = append(hashes, h)
	}
	slices.SortFunc(hashes, func(a, b PathHash) int { return bytes.Compare(a[:], b[:]) })
	for _, h := range hashes {
		n := nodes[h]
		if !havePath[h] {
			rep.addf("%s: node %s at %s has no path key", q, h, n.pos)
		}
		if !n.root && !haveIndex[h] {
			rep.addf("%s: node %s at %s has no children index entry", q, h, n.pos)
		}
	}
	return nil
}
