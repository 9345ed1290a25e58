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
	if err := s.ready(ctx, "Children"); err != nil {
		return nil, err
	}
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
	out, err := getNodes(tx, q, hashes)
	if err != nil {
		return nil, fmt.Errorf("child in the index: %w", err)
	}
	if out == nil {
		out = []Node{}
	}
	return out, nil
}

// ChildrenMany returns the children of each node (q, parentPaths[i]), as
// Children would for each: out[i] holds those of parentPaths[i] (empty
// when it has none), in the order of their path hashes. It reads them all
// on one snapshot, with as few engine requests as the engine allows: the
// children index of every parent with one kv.IterateMany, then every
// child with kv.GetMany. On a networked store that is a few round trips
// for a whole page of folders instead of two per folder; on a local
// engine it saves a snapshot per folder. An invalid path fails the call,
// naming its index, before anything is read.
func (s *Store) ChildrenMany(ctx context.Context, q QueueType, parentPaths []string) ([][]Node, error) {
	if err := s.ready(ctx, "ChildrenMany"); err != nil {
		return nil, err
	}
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("nodestore: children many: %w", err)
	}
	if len(parentPaths) > kv.MaxIterateMany {
		return nil, fmt.Errorf("nodestore: children many: %w: %d parents, more than %d", ErrInvalidArgument, len(parentPaths), kv.MaxIterateMany)
	}
	opts := make([]kv.IterOptions, len(parentPaths))
	for i, p := range parentPaths {
		ph, err := HashPath(p)
		if err != nil {
			return nil, fmt.Errorf("nodestore: children many: parent %d: %w", i, opErr("children", q, p, err))
		}
		opts[i] = kv.IterOptions{Prefix: appendChildrenPrefix(nil, q, ph), KeysOnly: true}
	}
	var out [][]Node
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		out = make([][]Node, len(parentPaths))
		var hashes []PathHash
		ends := make([]int, len(parentPaths)) // hashes[ends[i-1]:ends[i]] are parent i's
		err := kv.IterateMany(tx, opts, func(i int, k, _ []byte) error {
			h, ok := parseHashHex(k[len(opts[i].Prefix):])
			if !ok {
				return fmt.Errorf("%w: index key %q", ErrCorrupt, k)
			}
			hashes = append(hashes, h)
			ends[i] = len(hashes)
			return nil
		})
		if err != nil {
			return err
		}
		nodes, err := getNodes(tx, q, hashes)
		if err != nil {
			return fmt.Errorf("child in the index: %w", err)
		}
		start := 0
		for i := range out {
			end := max(ends[i], start)
			out[i] = nodes[start:end:end]
			if out[i] == nil {
				out[i] = []Node{}
			}
			start = end
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nodestore: children of %d parents in %s: %w", len(parentPaths), q, err)
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
	if err := s.ready(ctx, "FetchChildrenByParentPath"); err != nil {
		return nil, err
	}
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
// The whole step must fit one transaction of the store (kv.LimitsOf: on
// the local engines kv.MaxTxnOps writes, about 20,000 children of three
// writes each, and kv.MaxTxnBytes; on etcd what the cluster allows: at
// etcd's default max-txn-ops of 128, about 40 children); past that it
// fails with kv.ErrTxnTooLarge and nothing is applied. For larger
// folders, insert the children with BatchInsertNodes (chunked within the
// store's limits, resumable: a child already stored is skipped) and then
// call SetStatus on the parent.
//
// Concurrent calls (one per worker goroutine) share commits: the calls of
// a queue type that arrive while another is committing are applied
// together with one CompleteBatch, each still atomic and told its own
// outcome, so that workers calling it per folder pay about one commit per
// group instead of one each (on a store whose kv already commits
// concurrent writers together, kv.Info.GroupCommit, each call is its own
// transaction and kv groups them). A call whose context ends while it
// waits for its group returns the context's error with nothing applied;
// once its group commits, it waits for the outcome (see combine.go). A
// call made from inside a kv Update (with its Txn's context, see
// kv.InUpdate) commits alone, with that context, so that a call from
// inside an Update of the same store fails with kv.ErrNestedUpdate
// instead of waiting for a group that waits for the Update.
func (s *Store) CompleteWithChildren(ctx context.Context, q QueueType, parentPath string, ts TraversalStatus, children []Node) (BatchResult, error) {
	if err := s.ready(ctx, "CompleteWithChildren"); err != nil {
		return BatchResult{}, err
	}
	const op = "complete with children"
	if err := q.check(); err != nil {
		return BatchResult{}, opErr(op, q, parentPath, err)
	}
	var res CompletionResult
	var err error
	if c := (Completion{Path: parentPath, Status: ts, Children: children}); s.combine && !kv.InUpdate(ctx) {
		res, err = s.complete(ctx, q, s.combinerFor(q), c)
	} else {
		var rs []CompletionResult
		if rs, _, err = s.completeBatch(ctx, q, []Completion{c}); err == nil {
			res, err = rs[0], rs[0].Err
		}
	}
	if err != nil {
		if pp, nerr := NormalizePath(parentPath); nerr == nil {
			parentPath = pp
		}
		return BatchResult{}, opErr(op, q, parentPath, err)
	}
	return BatchResult{Applied: res.Applied, Skipped: res.Skipped, Chunks: 1}, nil
}
