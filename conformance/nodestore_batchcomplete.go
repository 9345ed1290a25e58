package conformance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// nsCompleteBatch: CompleteBatch applies each completion exactly as one
// CompleteWithChildren call would (the store ends byte for byte the same
// as after the calls one by one), and a completion that fails (missing
// parent, invalid child, too large) applies nothing of itself and nothing
// less of the others, whatever the chunk size.
func nsCompleteBatch(t *testing.T, e *nsEnv) {
	S, P := nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusPending
	CP := nodestore.CopyStatusPending
	kid := func(ts nodestore.TraversalStatus, st nodestore.NodeState) nodestore.Node {
		return nodestore.Node{Traversal: ts, Copy: CP, State: st}
	}
	bad := nsFile("/b/x", 2)
	bad.ParentPath = "/a" // a child of /b that claims /a as parent
	// Listed hints: right for /a, stale for /c.txt (it is successful) and
	// /nope (missing): a hint never changes the outcome.
	listedA := nsSrc(1, P, CP, nsFolder("/a", 1))
	staleC := nsSrc(1, P, CP, nsFile("/c.txt", 1))
	staleNope := nsSrc(1, P, CP, nsFolder("/nope", 1))
	comps := []nodestore.Completion{
		{Path: "/a", Status: S, Listed: &listedA, Children: []nodestore.Node{kid(P, nsFolder("/a/d", 2)), kid(S, nsFile("/a/f", 2))}},
		{Path: "/nope", Status: S, Listed: &staleNope},                                               // missing parent
		{Path: "/c.txt", Status: S, Listed: &staleC},                                                 // a file: no children, status only
		{Path: "/b", Status: S, Children: []nodestore.Node{kid(S, nsFile("/b/ok", 2)), kid(S, bad)}}, // invalid child
		{Path: "/a/d", Status: S, Children: []nodestore.Node{kid(S, nsFile("/a/d/g", 3))}},           // inserted by the first
		{Path: "/a", Status: S, Children: []nodestore.Node{kid(P, nsFolder("/a/d", 2))}},             // a replay
		{Path: "/c.txt", Status: S, Children: []nodestore.Node{kid(S, nsFile("/c.txt/z", 2))}},       // children of a file
	}
	wantErr := []error{nil, nodestore.ErrNotFound, nil, nodestore.ErrInvalidNode, nil, nil, nodestore.ErrInvalidNode}
	wantApplied := []int{2, 0, 0, 0, 1, 0, 0}
	wantSkipped := []int{0, 0, 0, 0, 0, 1, 0}

	// The reference: one CompleteWithChildren per completion, in order.
	ref := e.sibling(t)
	ref.seedSmallTree()
	for i, c := range comps {
		res, err := ref.ns.CompleteWithChildren(ref.ctx, nodestore.QueueSrc, c.Path, c.Status, c.Children)
		if (err == nil) != (wantErr[i] == nil) {
			t.Fatalf("reference CompleteWithChildren %d (%s) = %+v, %v; want error %v", i, c.Path, res, err, wantErr[i])
		}
	}
	want := ref.dump()

	for _, chunk := range []int{0, 1} { // 0: the default; 1: one completion per transaction
		e := e.sibling(t)
		ns := e.newStore(chunk)
		e.seedSmallTree()
		res, err := ns.CompleteBatch(e.ctx, nodestore.QueueSrc, comps)
		if err != nil {
			t.Fatalf("chunk %d: CompleteBatch: %v", chunk, err)
		}
		if len(res) != len(comps) {
			t.Fatalf("chunk %d: %d results for %d completions", chunk, len(res), len(comps))
		}
		for i, r := range res {
			if wantErr[i] == nil && r.Err != nil || wantErr[i] != nil {
				wantErrIs(t, "completion "+comps[i].Path, r.Err, wantErr[i])
			}
			if r.Applied != wantApplied[i] || len(r.Skipped) != wantSkipped[i] {
				t.Errorf("chunk %d: completion %d (%s): %d applied, %d skipped (%v); want %d, %d",
					chunk, i, comps[i].Path, r.Applied, len(r.Skipped), r.Skipped, wantApplied[i], wantSkipped[i])
			}
			for _, s := range r.Skipped {
				wantErrIs(t, "skip reason", s.Err, nodestore.ErrExists)
			}
		}
		if got := e.dump(); got != want {
			t.Errorf("chunk %d: the store after CompleteBatch differs from the one after the same CompleteWithChildren calls:\n%s\nwant\n%s", chunk, got, want)
		}
		e.wantConsistent("after CompleteBatch")
	}

	// A completion too large for one transaction fails alone.
	e2 := e.sibling(t)
	e2.seedSmallTree()
	before := e2.dump()
	var many []nodestore.Node
	for i := range kv.MaxTxnBytes / 2000 {
		st := nsFile(fmt.Sprintf("/b/f%06d", i), 2)
		st.ID = strings.Repeat("i", 2000) // reach the byte limit with few keys
		many = append(many, kid(S, st))
	}
	res, err := e2.ns.CompleteBatch(e2.ctx, nodestore.QueueSrc, []nodestore.Completion{
		{Path: "/b", Status: S, Children: many},
		{Path: "/a", Status: S},
	})
	if err != nil {
		t.Fatalf("CompleteBatch with a too large completion: %v", err)
	}
	wantErrIs(t, "the too large completion", res[0].Err, kv.ErrTxnTooLarge)
	if res[1].Err != nil {
		t.Errorf("the completion after a too large one: %v", res[1].Err)
	}
	if n, _ := e2.ns.Get(e2.ctx, nodestore.QueueSrc, "/b"); n.Traversal != P {
		t.Errorf("/b is %s after its completion failed, want pending", n.Traversal)
	}
	if e2.dump() == before {
		t.Error("the completion of /a after a too large one was not applied")
	}
	e2.wantConsistent("after a too large completion")

	// Nothing to do, or an invalid queue or status.
	if res, err := e2.ns.CompleteBatch(e2.ctx, nodestore.QueueSrc, nil); err != nil || len(res) != 0 {
		t.Errorf("CompleteBatch(nil) = %v, %v", res, err)
	}
	_, err = e2.ns.CompleteBatch(e2.ctx, "nope", comps[:1])
	wantErrIs(t, "CompleteBatch on an invalid queue", err, nodestore.ErrInvalidQueue)
	res, err = e2.ns.CompleteBatch(e2.ctx, nodestore.QueueSrc, []nodestore.Completion{{Path: "/a", Status: nodestore.TraversalStatusNotOnSrc}})
	if err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "a dst-only status on src", res[0].Err, nodestore.ErrInvalidStatus)
}
