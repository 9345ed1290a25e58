package conformance

import (
	"errors"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// nsChildFitsStoredParent: a node whose parent is stored (or is an item of
// the same batch) must sit one level below it, and the parent must be a
// folder. Insert refuses such a node and writes nothing; BatchInsertNodes
// skips it (ErrInvalidLevel or ErrInvalidNode in BatchResult.Skipped) and
// writes the rest. Either way nodestore.Check stays clean: a child at the
// wrong level, or under a file, is what Check reports as damage.
func nsChildFitsStoredParent(t *testing.T, e *nsEnv) {
	e.seedSmallTree() // src: / (0), /a and /b folders (1), /c.txt file (1); dst: / (0)
	before := e.dump()

	for _, c := range []struct {
		name string
		n    nodestore.Node
		want error
	}{
		{"two levels below its parent", nsSrc(3, nsP, nsCP, nsFolder("/a/x", 3)), nodestore.ErrInvalidLevel},
		{"at its parent's level", nsSrc(1, nsP, nsCP, nsFile("/a/x", 1)), nodestore.ErrInvalidLevel},
		{"under a file", nsSrc(2, nsP, nsCP, nsFile("/c.txt/x", 2)), nodestore.ErrInvalidNode},
		{"dst two levels below the root", nsDst(2, nsP, nsFolder("/a", 2)), nodestore.ErrInvalidLevel},
	} {
		err := e.ns.Insert(e.ctx, c.n)
		if !errors.Is(err, c.want) {
			t.Errorf("Insert %s: error %v, want %v", c.name, err, c.want)
		}
		key, kerr := nodestore.KeySrc(c.n.Level, c.n.Traversal, c.n.Copy, c.n.State.Path)
		if c.n.Queue == nodestore.QueueDst {
			key, kerr = nodestore.KeyDst(c.n.Level, c.n.Traversal, c.n.Copy, c.n.State.Path)
		}
		if kerr != nil {
			t.Fatal(kerr)
		}
		st := c.n.State
		if err := e.ns.InsertNodeWithIndex(e.ctx, key, &st, string(c.n.Queue)+":children:"); !errors.Is(err, c.want) {
			t.Errorf("InsertNodeWithIndex %s: error %v, want %v", c.name, err, c.want)
		}
	}
	if got := e.dump(); got != before {
		t.Fatalf("refused inserts wrote something:\nbefore:\n%s\nafter:\n%s", before, got)
	}

	// One batch: children of stored parents (good and bad), and a new
	// subtree whose parents are items of the same batch.
	ops := []nodestore.InsertOperation{
		{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFile("/a/ok", 2))},     // 0 fits /a
		{QueueType: nodestore.QueueSrc, Level: 5, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFolder("/a/deep", 5))}, // 1 /a is at 1
		{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFile("/c.txt/y", 2))},  // 2 /c.txt is a file
		{QueueType: nodestore.QueueSrc, Level: 1, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFolder("/n", 1))},      // 3 fits /
		{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFile("/n/m", 2))},      // 4 fits item 3
		{QueueType: nodestore.QueueSrc, Level: 4, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFile("/n/far", 4))},    // 5 item 3 is at 1
		{QueueType: nodestore.QueueSrc, Level: 1, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFile("/f", 1))},        // 6 fits /
		{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: ptr(nsFile("/f/z", 2))},      // 7 item 6 is a file
		{QueueType: nodestore.QueueDst, Level: 1, TraversalStatus: nsP, State: ptr(nsFolder("/a", 1))},                        // 8 fits dst /
		{QueueType: nodestore.QueueDst, Level: 3, TraversalStatus: nsP, State: ptr(nsFile("/a/q", 3))},                        // 9 item 8 is at 1
	}
	res, err := e.ns.BatchInsertNodes(e.ctx, ops)
	if err != nil {
		t.Fatalf("BatchInsertNodes: %v", err)
	}
	want := map[int]error{1: nodestore.ErrInvalidLevel, 2: nodestore.ErrInvalidNode, 5: nodestore.ErrInvalidLevel, 7: nodestore.ErrInvalidNode, 9: nodestore.ErrInvalidLevel}
	if res.Applied != len(ops)-len(want) || len(res.Skipped) != len(want) {
		t.Errorf("BatchInsertNodes: %d applied, %d skipped (%v); want %d and %d", res.Applied, len(res.Skipped), res.Skipped, len(ops)-len(want), len(want))
	}
	for _, s := range res.Skipped {
		if w, ok := want[s.Index]; !ok || !errors.Is(s.Err, w) {
			t.Errorf("BatchInsertNodes skipped item %d (%s): %v, want %v", s.Index, s.Path, s.Err, w)
		}
	}
	for i, op := range ops {
		_, err := e.ns.Get(e.ctx, op.QueueType, op.State.Path)
		if _, bad := want[i]; bad != errors.Is(err, nodestore.ErrNotFound) {
			t.Errorf("item %d (%s %s) after the batch: Get error %v (skipped: %v)", i, op.QueueType, op.State.Path, err, bad)
		}
	}
	e.wantConsistent("after the batch")
	// A node whose parent is not stored is not checked: nodes may come
	// before their parent (Check reports them if it never comes).
	if err := e.ns.Insert(e.ctx, nsSrc(4, nsP, nsCP, nsFile("/orphan/x", 4))); err != nil {
		t.Errorf("Insert of a node whose parent is not stored: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
