package nodestore_test

import (
	"errors"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// misfitCases runs body on a memory store with a src root and a folder
// /a at level 1 (status folderStatus), once with kv's writer lock and once
// optimistic with counter stripes (a shared store's path).
func misfitCases(t *testing.T, folderStatus nodestore.TraversalStatus, body func(t *testing.T, ns *nodestore.Store, q nodestore.QueueType)) {
	for _, mode := range []string{"lock", "optimistic"} {
		t.Run(mode, func(t *testing.T) {
			var opts *nodestore.Options
			if mode == "optimistic" {
				opts = &nodestore.Options{CounterStripes: nodestore.StripesOn}
			}
			ns := nodestore.NewWithOptions(openMemoryTxn(t, mode), opts)
			q := nodestore.QueueSrc
			for _, n := range []nodestore.Node{root(q), folder(q, "/", "a", 1, folderStatus)} {
				if err := ns.Insert(t.Context(), n); err != nil {
					t.Fatal(err)
				}
			}
			body(t, ns, q)
			wantOK(t, ns)
		})
	}
}

// insertOps inserts nodes with one BatchInsertNodes.
func insertOps(t *testing.T, ns *nodestore.Store, q nodestore.QueueType, nodes ...nodestore.Node) nodestore.BatchResult {
	t.Helper()
	ops := make([]nodestore.InsertOperation, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		ops[i] = nodestore.InsertOperation{QueueType: q, Level: n.Level, TraversalStatus: n.Traversal, CopyStatus: n.Copy, State: &n.State}
	}
	res, err := ns.BatchInsertNodes(t.Context(), ops)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A path twice in one BatchInsertNodes chunk, first at a level that does
// not fit its stored parent (skipped with ErrInvalidLevel), then at the
// right one: the second is inserted. It was skipped as "already exists
// (earlier in this batch)", wrapping ErrExists though nothing stored the
// path, so the node was lost to a caller that takes ErrExists as done;
// in separate chunks the same items inserted it.
func TestBatchInsertRepeatedPathAfterMisfit(t *testing.T) {
	misfitCases(t, nodestore.TraversalStatusPending, func(t *testing.T, ns *nodestore.Store, q nodestore.QueueType) {
		res := insertOps(t, ns, q, file(q, "/a", "b", 5), file(q, "/a", "b", 2))
		if res.Applied != 1 || len(res.Skipped) != 1 || res.Skipped[0].Index != 0 || !errors.Is(res.Skipped[0].Err, nodestore.ErrInvalidLevel) {
			t.Errorf("BatchInsertNodes(misfit, fit) = %+v; want the fitting item applied, the misfit skipped (ErrInvalidLevel)", res)
		}
		if n, err := ns.Get(t.Context(), q, "/a/b"); err != nil || n.Level != 2 {
			t.Errorf("Get(/a/b) = %+v, %v; want it at level 2", n, err)
		}
	})
}

// The same, with a child of that path in the batch: the child is judged
// against the item of its parent's path that is written (the second), not
// the misfit before it. It was skipped with ErrInvalidLevel, judged
// against the first item of the path, which is never written.
func TestBatchInsertChildOfPathAfterMisfit(t *testing.T) {
	misfitCases(t, nodestore.TraversalStatusSuccessful, func(t *testing.T, ns *nodestore.Store, q nodestore.QueueType) {
		res := insertOps(t, ns, q,
			folder(q, "/a", "b", 5, nodestore.TraversalStatusPending),
			folder(q, "/a", "b", 2, nodestore.TraversalStatusPending),
			file(q, "/a/b", "c", 3))
		if res.Applied != 2 || len(res.Skipped) != 1 || res.Skipped[0].Index != 0 || !errors.Is(res.Skipped[0].Err, nodestore.ErrInvalidLevel) {
			t.Errorf("BatchInsertNodes(misfit, fit, child of fit) = %+v; want the misfit skipped (ErrInvalidLevel), the other two applied", res)
		}
		if n, err := ns.Get(t.Context(), q, "/a/b/c"); err != nil || n.Level != 3 {
			t.Errorf("Get(/a/b/c) = %+v, %v; want it at level 3", n, err)
		}
	})
}
