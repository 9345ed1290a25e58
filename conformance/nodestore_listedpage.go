package conformance

import (
	"fmt"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// nsCompleteListedPage: CompleteBatch given a page as PendingPage listed
// it (the Listed hints in key order, the engine's loop) gives exactly what
// the same CompleteWithChildren calls give, when the store has moved on
// since the listing: some listed nodes completed since (stale hints), new
// pending nodes of the level inserted between the listed ones, and hints
// for a sparse part of the page only (a crowded key range between them).
// nodestore may read such a page's parents with one iteration over their
// node keys; what it finds there must be exactly what point reads find.
func nsCompleteListedPage(t *testing.T, e *nsEnv) {
	const kids, others = 300, 200
	S, P := nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusPending
	CP := nodestore.CopyStatusPending
	src := nodestore.QueueSrc
	// setup stores /p's children, lists them, then moves the store on; it
	// returns the page as listed.
	setup := func(e *nsEnv) []nodestore.Node {
		e.t.Helper()
		e.insert(nsSrc(0, S, CP, nsFolder("/", 0)))
		e.insert(nsSrc(1, P, CP, nsFolder("/p", 1)))
		e.insert(nsSrc(1, P, CP, nsFolder("/r", 1)))
		complete := func(parent, prefix string, n int) {
			var ch []nodestore.Node
			for i := range n {
				ch = append(ch, nsSrc(2, P, CP, nsFolder(fmt.Sprintf("%s/%s%03d", parent, prefix, i), 2)))
			}
			if _, err := e.ns.CompleteWithChildren(e.ctx, src, parent, S, ch); err != nil {
				e.t.Fatalf("CompleteWithChildren(%s): %v", parent, err)
			}
		}
		complete("/p", "d", kids)
		page, _, err := e.ns.PendingPage(e.ctx, src, 2, "", 2*kids)
		if err != nil || len(page) != kids {
			e.t.Fatalf("PendingPage(level 2) = %d nodes, %v; want %d", len(page), err, kids)
		}
		for i := 0; i < len(page); i += 9 {
			if _, err := e.ns.CompleteWithChildren(e.ctx, src, page[i].State.Path, S, nil); err != nil {
				e.t.Fatalf("CompleteWithChildren(%s): %v", page[i].State.Path, err)
			}
		}
		complete("/r", "e", others)
		return page
	}
	for _, c := range []struct {
		name  string
		every int
	}{{"whole page", 1}, {"every 13th", 13}} {
		t.Run(c.name, func(t *testing.T) {
			ref := e.sibling(t)
			refPage := setup(ref)
			got := e.sibling(t)
			page := setup(got)
			var comps []nodestore.Completion
			for i := 0; i < len(page); i += c.every {
				p := page[i].State.Path
				if refPage[i].State.Path != p {
					t.Fatalf("two stores set up alike list %s and %s at %d", refPage[i].State.Path, p, i)
				}
				comps = append(comps, nodestore.Completion{Path: p, Status: S, Listed: &page[i],
					Children: []nodestore.Node{{Traversal: S, Copy: CP, State: nsFile(p+"/f", 3)}}})
			}
			res, err := got.ns.CompleteBatch(got.ctx, src, comps)
			if err != nil {
				t.Fatalf("CompleteBatch: %v", err)
			}
			for i, comp := range comps {
				r, err := ref.ns.CompleteWithChildren(ref.ctx, src, comp.Path, comp.Status, comp.Children)
				if err != nil || res[i].Err != nil {
					t.Fatalf("completion %d (%s): CompleteBatch %v, CompleteWithChildren %v; want both nil", i, comp.Path, res[i].Err, err)
				}
				if res[i].Applied != r.Applied || len(res[i].Skipped) != len(r.Skipped) {
					t.Errorf("completion %d (%s): CompleteBatch applied %d, skipped %d; CompleteWithChildren %d, %d",
						i, comp.Path, res[i].Applied, len(res[i].Skipped), r.Applied, len(r.Skipped))
				}
			}
			if g, w := got.dump(), ref.dump(); g != w {
				t.Errorf("the store after CompleteBatch of the listed page differs from the one after the same CompleteWithChildren calls (%d and %d bytes of dump)", len(g), len(w))
			}
			got.wantConsistent("after CompleteBatch of a listed page")
		})
	}
}
