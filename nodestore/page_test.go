package nodestore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// TestListRejectsCursorNotANodeKey: a cursor with the pass's prefix that is
// not a node key (truncated or edited while saved for a restart) is an
// error, not a seek to an arbitrary place that silently skips the pending
// nodes before it — or all of them, so that the pass looks finished.
func TestListRejectsCursorNotANodeKey(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	r := root(nodestore.QueueSrc)
	r.Traversal = nodestore.TraversalStatusSuccessful
	if err := ns.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := ns.Insert(ctx, folder(nodestore.QueueSrc, "/", fmt.Sprintf("d%d", i), 1, nodestore.TraversalStatusPending)); err != nil {
			t.Fatal(err)
		}
	}
	pg, cur, err := ns.PendingPage(ctx, nodestore.QueueSrc, 1, "", 2)
	if err != nil || len(pg) != 2 {
		t.Fatalf("first page: %d nodes, %v", len(pg), err)
	}
	// The cursor returned goes on.
	if pg, _, err = ns.PendingPage(ctx, nodestore.QueueSrc, 1, cur, 10); err != nil || len(pg) != 3 {
		t.Fatalf("from the cursor: %d nodes, %v", len(pg), err)
	}
	for _, bad := range []nodestore.Cursor{
		"src:00000001:pending:zzzz",           // would list nothing
		"src:00000001:pending:pending:xyz",    // would skip the nodes before it
		cur[:len(cur)-1],                      // truncated
		"src:00000001:pending:",               // the bare prefix
		"src:00000001:pending:pending:" + "0", // a hash of one digit
	} {
		pg, _, err := ns.PendingPage(ctx, nodestore.QueueSrc, 1, bad, 10)
		if !errors.Is(err, nodestore.ErrInvalidKey) {
			t.Errorf("cursor %q: %d nodes, error %v, want ErrInvalidKey", bad, len(pg), err)
		}
		if _, _, err := ns.ListByCopyStatus(ctx, nodestore.QueueSrc, 1, nodestore.TraversalStatusPending, nodestore.CopyStatusPending, bad, 10); !errors.Is(err, nodestore.ErrInvalidKey) {
			t.Errorf("ListByCopyStatus, cursor %q: error %v, want ErrInvalidKey", bad, err)
		}
	}
}
