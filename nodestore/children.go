package nodestore

import (
	"context"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Children returns the children of the node (q, parentPath) (normalized
// first), in the order of their path hashes. It reads the children index
// prefix of the parent and then each child through its path key: the cost
// is proportional to the number of children, not to the size of the level.
// A parent with no children (or no parent stored) gives an empty slice.
func (s *Store) Children(ctx context.Context, q QueueType, parentPath string) ([]Node, error) {
	if err := q.check(); err != nil {
		return nil, opErr("children", q, parentPath, err)
	}
	ph, err := HashPath(parentPath)
	if err != nil {
		return nil, opErr("children", q, parentPath, err)
	}
	var out []Node
	err = s.kv.View(ctx, func(tx kv.ReadTxn) error {
		out, err = children(tx, q, ph)
		return err
	})
	if err != nil {
		return nil, opErr("children", q, parentPath, err)
	}
	return out, nil
}

func children(tx kv.ReadTxn, q QueueType, ph PathHash) ([]Node, error) {
	prefix := appendChildrenPrefix(nil, q, ph)
	var hashes []PathHash
	err := tx.Iterate(kv.IterOptions{Prefix: prefix, KeysOnly: true}, func(k, _ []byte) error {
		h, ok := parseHashHex(k[len(prefix):])
		if !ok {
			return fmt.Errorf("%w: index key %q", ErrCorrupt, k)
		}
		hashes = append(hashes, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(hashes))
	for _, h := range hashes {
		n, err := getNode(tx, q, h)
		if err != nil {
			return nil, fmt.Errorf("child %s in the index: %w", h, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// FetchChildrenByParentPath is the seed's children lookup: the children of
// parentPath in the queue of indexPrefix, whose parent is at level (so the
// children are at level+1). queueTypes is kept for the seed's signature:
// if not empty, each entry must be the index prefix's queue. A child found
// at another level than level+1 is an error wrapping ErrCorrupt. The states
// are returned in the order of their path hashes.
func (s *Store) FetchChildrenByParentPath(ctx context.Context, indexPrefix, parentPath string, queueTypes []QueueType, level int) ([]NodeState, error) {
	q, err := queueOfIndexPrefix(indexPrefix)
	if err != nil {
		return nil, fmt.Errorf("nodestore: fetch children of %q: %w", parentPath, err)
	}
	for _, qt := range queueTypes {
		if qt != q {
			return nil, opErr("fetch children", q, parentPath, fmt.Errorf("%w: queue type %q does not match index prefix %q", ErrInvalidQueue, qt, indexPrefix))
		}
	}
	if err := checkLevel(level); err != nil {
		return nil, opErr("fetch children", q, parentPath, err)
	}
	nodes, err := s.Children(ctx, q, parentPath)
	if err != nil {
		return nil, err
	}
	out := make([]NodeState, len(nodes))
	for i, n := range nodes {
		if n.Level != level+1 {
			return nil, opErr("fetch children", q, parentPath, fmt.Errorf("%w: child %q is at level %d, want %d", ErrCorrupt, n.State.Path, n.Level, level+1))
		}
		out[i] = n.State
	}
	return out, nil
}

// CompleteWithChildren is the engine's main step, in one atomic
// transaction: it sets the traversal status of the parent (q, parentPath)
// to ts and inserts its children, each with index entry, path key and
// counts. Either all of it is applied or none.
//
// Each child's Queue may be empty (it is q) and its Level 0 (it is the
// parent's level + 1); its State.ParentPath must be the parent's path and
// State.Depth the child level; other fields are checked as by Insert. A
// child whose path is already stored (at any status: the parent was listed
// before a crash, say) is not written and is reported in the result's
// Skipped (ErrExists). The parent must exist (ErrNotFound) and be a folder.
//
// The whole step must fit one transaction (kv.MaxTxnOps writes — about
// 20,000 children — and kv.MaxTxnBytes); past that it fails with
// kv.ErrTxnTooLarge and nothing is applied. For larger folders, insert the
// children with BatchInsertNodes (chunked, resumable) and then call
// SetStatus on the parent.
func (s *Store) CompleteWithChildren(ctx context.Context, q QueueType, parentPath string, ts TraversalStatus, children []Node) (BatchResult, error) {
	const op = "complete with children"
	if err := checkTraversal(q, ts); err != nil {
		return BatchResult{}, opErr(op, q, parentPath, err)
	}
	pp, err := NormalizePath(parentPath)
	if err != nil {
		return BatchResult{}, opErr(op, q, parentPath, err)
	}
	ph := hashNormal(pp)
	var res BatchResult
	items := make([]prepared, len(children))
	err = s.kv.Update(ctx, func(tx kv.Txn) error {
		res = BatchResult{}
		parent, err := getNode(tx, q, ph)
		if err != nil {
			return fmt.Errorf("parent: %w", err)
		}
		if parent.State.Type != NodeTypeFolder && len(children) > 0 {
			return fmt.Errorf("parent: %w: a %s cannot have children", ErrInvalidNode, parent.State.Type)
		}
		level := parent.Level + 1
		for i := range children {
			it := &items[i]
			*it = prepared{index: i, n: children[i]}
			if it.n.Queue == "" {
				it.n.Queue = q
			}
			if it.n.Level == 0 {
				it.n.Level = level
			}
			if it.n.Queue != q {
				return fmt.Errorf("child %d (%q): field Queue: %w: %q, the parent is in %q", i, it.n.State.Path, ErrInvalidQueue, it.n.Queue, q)
			}
			if it.n.Level != level {
				return fmt.Errorf("child %d (%q): field Level: %w: %d, want the parent's level + 1 = %d", i, it.n.State.Path, ErrInvalidLevel, it.n.Level, level)
			}
			if it.n.State.ParentPath != pp {
				return fmt.Errorf("child %d (%q): field ParentPath: %w: %q is not the parent %q", i, it.n.State.Path, ErrInvalidNode, it.n.State.ParentPath, pp)
			}
			if it.h, it.parent, it.root, err = validate(&it.n); err != nil {
				return fmt.Errorf("child %d (%q): %w", i, it.n.State.Path, err)
			}
		}
		// Every read (existence, counters) before the first write: a read
		// after a write makes kv index the transaction's writes.
		if err := findExisting(tx, items, s.pointExists); err != nil {
			return err
		}
		var d deltas
		for i := range items {
			if it := &items[i]; it.skip == nil {
				d.add(it.n.Queue, position{it.n.Level, it.n.Traversal, it.n.Copy}, 1)
			}
		}
		from, to := position{parent.Level, parent.Traversal, parent.Copy}, position{parent.Level, ts, parent.Copy}
		if from != to {
			d.add(q, from, -1)
			d.add(q, to, 1)
		}
		if err := d.load(tx); err != nil {
			return err
		}
		buf := make([]byte, 0, 256)
		for i := range items {
			it := &items[i]
			if it.skip != nil {
				res.Skipped = append(res.Skipped, Skip{Index: i, Path: it.n.State.Path, Err: it.skip})
				continue
			}
			if buf, err = writeNew(tx, &it.n, it.h, it.parent, it.root, nil, buf); err != nil {
				return err
			}
			res.Applied++
		}
		if _, err := moveNode(tx, &parent, to, nil, buf); err != nil {
			return err
		}
		return d.write(tx)
	})
	if err != nil {
		return BatchResult{}, opErr(op, q, pp, err)
	}
	res.Chunks = 1
	return res, nil
}
