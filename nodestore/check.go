package nodestore

import (
	"context"
	"fmt"

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

// OK reports whether no problem was found (false for a nil report: no
// check ran).
func (r *CheckReport) OK() bool { return r != nil && len(r.Problems) == 0 }

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

// checkPage is the number of keys a Check cursor reads per page (the node
// key groups share checkBuffered between them). Variables for the tests,
// which make them small to cross many page boundaries.
var (
	checkPage     = 1024
	checkBuffered = 1 << 15
)

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
// Its memory does not grow with the store (see checkQueue): a few pages of
// keys per (level, status) position. On a consistent store it reads every
// key of the nodestore families once, in order, with no point reads; when
// the children index and the nodes disagree, it reads them once more with
// point reads to name each problem. A non-nil error means Check could not
// run; problems found are in the report.
func (s *Store) Check(ctx context.Context) (CheckReport, error) {
	if err := s.ready(ctx, "Check"); err != nil {
		return CheckReport{}, err
	}
	rep := CheckReport{Nodes: map[QueueType]int{}}
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		scanned := map[countID]int64{}
		for _, q := range Queues {
			if err := checkQueue(tx, q, scanned, &rep); err != nil {
				return err
			}
		}
		mm, err := compareCounts(tx, scanned, func(err error) error {
			rep.addf("counter: %v", err)
			return nil
		})
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

// checkQueue checks q's node keys, path keys and children index in one
// pass over the path hashes in ascending order. The path keys and the
// index (by parent) are stored in that order; the node keys are in that
// order within each (level, status) position, so a merge of one cursor per
// position yields them in it too. At each hash, the node key (or keys),
// its path key and the index entries under it as a parent are met
// together.
//
// The index entries under a node as a child are met elsewhere (under its
// parent), so the pass compares them as two sums: one over the non-root
// nodes of (parent, node, level), one over the index entries of (parent,
// child, the parent's level + 1), each term a 128-bit keyed hash. Equal
// sums mean the two sets are equal (but for a chance of 2^-128 per
// check); when they differ, checkChildren names each difference with
// point reads.
//
// It adds the number of node keys per position to scanned.
func checkQueue(tx kv.ReadTxn, q QueueType, scanned map[countID]int64, rep *CheckReport) error {
	groups, err := nodeGroups(tx, q, rep)
	if err != nil {
		return err
	}
	nodes, err := newNodeMerge(tx, q, groups, scanned, rep)
	if err != nil {
		return err
	}
	paths, err := newHashCursor(tx, append(appendQueue(nil, q), familyPath...), parsePathKeyHash, "bad path key", rep)
	if err != nil {
		return err
	}
	index, err := newHashCursor(tx, append(appendQueue(nil, q), "children:"...), parseIndexKeyHashes, "bad index key", rep)
	if err != nil {
		return err
	}
	sums := newPairSums()
	suspect := false // an index entry under a missing parent or a file
	for {
		h, ok := lowestHash(nodes, paths, index)
		if !ok {
			break
		}
		rec, have, err := nodes.take(h)
		if err != nil {
			return err
		}
		if paths.at(h) {
			checkPathKey(q, paths.cur.key(), paths.cur.value(), rec, have, rep)
			if err := paths.step(); err != nil {
				return err
			}
		} else if have {
			rep.addf("%s: node %s at %s has no path key", q, h, rec.pos)
		}
		for index.at(h) {
			k := index.cur.key()
			if len(index.cur.value()) != 0 {
				rep.addf("%s: index value is not empty", k)
			}
			switch {
			case !have:
				rep.addf("%s: index entry under a missing parent", k)
				suspect = true
			case !rec.folder:
				rep.addf("%s: index entry under a file", k)
				suspect = true
			default:
				sums.addIndex(h, index.second, rec.pos.level+1)
			}
			if err := index.step(); err != nil {
				return err
			}
		}
		if have && !rec.root {
			sums.addNode(rec.parent, h, rec.pos.level)
		}
	}
	if suspect || !sums.equal() {
		return checkChildren(tx, q, groups, rep)
	}
	return nil
}

// checkNode checks the node key k with value v and returns its record;
// ok is false when the value does not decode (problems go to rep).
func checkNode(ki KeyInfo, k, v []byte, rep *CheckReport) (rec checkedNode, ok bool) {
	rec, ok, problem := decodeChecked(ki, k, v)
	if problem != "" {
		rep.addf("%s", problem)
	}
	return rec, ok
}

// decodeChecked decodes the node key k with value v into its record. ok
// is false when the value does not decode; problem, when not empty, says
// what is wrong with it.
func decodeChecked(ki KeyInfo, k, v []byte) (rec checkedNode, ok bool, problem string) {
	n := Node{Queue: ki.Queue, Level: ki.Level, Traversal: ki.Traversal, Copy: ki.Copy}
	if err := decodeState(v, &n.State); err != nil {
		return rec, false, fmt.Sprintf("%s: %v", k, err)
	}
	st := n.State.Status
	n.State.Status = ""
	h, parent, root, err := validate(&n)
	switch {
	case err != nil:
		problem = fmt.Sprintf("%s: stored node is invalid: %v", k, err)
	case st != ki.Traversal:
		problem = fmt.Sprintf("%s: value says status %q", k, st)
	case h != ki.Hash:
		problem = fmt.Sprintf("%s: value's Path %q hashes to %s", k, n.State.Path, h)
	}
	pos := position{ki.Level, ki.Traversal, ki.Copy}
	return checkedNode{pos: pos, parent: parent, root: root, folder: n.State.Type == NodeTypeFolder}, true, problem
}

// checkPathKey checks the path key k with value v against the node of its
// hash (have: there is one).
func checkPathKey(q QueueType, k, v []byte, n checkedNode, have bool, rep *CheckReport) {
	level, ts, cs, err := parseStatusSuffix(q, v)
	switch {
	case err != nil:
		rep.addf("%s: %v", k, err)
	case !have:
		rep.addf("%s: path key points to %s, but no node key holds this path", k, position{level, ts, cs})
	case n.pos != (position{level, ts, cs}):
		rep.addf("%s: path key says %s, node key is at %s", k, position{level, ts, cs}, n.pos)
	}
}
