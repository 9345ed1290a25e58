package nodestore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// failUpdate is a kv.Store whose k-th Update fails before running its
// function, as Update does when the store was closed or the context ended
// between two of CompleteBatch's chunks.
type failUpdate struct {
	kv.Store
	k, n atomic.Int32
}

var errFailUpdate = errors.New("failUpdate: Update refused")

func (s *failUpdate) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if s.n.Add(1) == s.k.Load() {
		return errFailUpdate
	}
	return s.Store.Update(ctx, fn)
}

// A CompleteBatch whose second chunk fails before its function runs
// reports the first chunk's completion as applied, which it is, and only
// the second's as failed. (The first's was reported failed: the chunk's
// owners were reset only inside the function.)
func TestCompleteBatchLaterChunkRefused(t *testing.T) {
	ctx := context.Background()
	db, base := newMemory(t)
	q := nodestore.QueueSrc
	r := root(q)
	if err := base.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}
	sub := file(q, "/", "sub", 1)
	sub.State.Type, sub.Traversal = nodestore.NodeTypeFolder, nodestore.TraversalStatusPending
	kid := file(q, "/", "f", 1)
	kid.Traversal = nodestore.TraversalStatusPending
	w := &failUpdate{Store: db}
	w.k.Store(2)
	ns := nodestore.New(w)
	// The second completion's folder is a child the first one inserts: it
	// goes in a chunk of its own.
	res, err := ns.CompleteBatch(ctx, q, []nodestore.Completion{
		{Path: "/", Status: nodestore.TraversalStatusSuccessful, Children: []nodestore.Node{sub, kid}},
		{Path: "/sub", Status: nodestore.TraversalStatusSuccessful},
	})
	if !errors.Is(err, errFailUpdate) || len(res) != 2 {
		t.Fatalf("CompleteBatch = %+v, %v; want the second chunk's error", res, err)
	}
	if res[0].Err != nil || res[0].Applied != 2 {
		t.Errorf("completion 0, committed in the first chunk: %+v, want applied with 2 children", res[0])
	}
	if res[1].Err == nil {
		t.Errorf("completion 1, in the refused chunk: %+v, want an error", res[1])
	}
	if n, err := base.Get(ctx, q, "/"); err != nil || n.Traversal != nodestore.TraversalStatusSuccessful {
		t.Errorf("root after the call: %s, %v; want successful", n.Traversal, err)
	}
	if n, err := base.Get(ctx, q, "/sub"); err != nil || n.Traversal != nodestore.TraversalStatusPending {
		t.Errorf("/sub after the call: %s, %v; want pending", n.Traversal, err)
	}
	wantOK(t, base)
}
