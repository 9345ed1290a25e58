package nodestore

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

// TestManyReadsSameResult: a Store that reads a transaction's counters and
// existence checks with one kv.GetMany (manyReads, as on a shared store)
// leaves the same keys, skips the same items and counts the same as one
// that reads them one by one.
func TestManyReadsSameResult(t *testing.T) {
	ctx := context.Background()
	var dumps [2]bytes.Buffer
	var skips [2][]int
	for mode, many := range []bool{false, true} {
		s := combineStore(t, 3)
		s.manyReads = many
		kids := func(parent string, names ...string) []Node {
			var out []Node
			for _, name := range names {
				p := parent + "/" + name
				out = append(out, Node{Traversal: TraversalStatusPending, Copy: CopyStatusPending, State: NodeState{
					ID: p, Path: p, Name: name, Type: NodeTypeFile, Depth: 2, ParentPath: parent, ParentID: parent}})
			}
			return out
		}
		res, err := s.CompleteWithChildren(ctx, QueueSrc, "/a0", TraversalStatusSuccessful, kids("/a0", "x", "y", "x"))
		if err != nil {
			t.Fatal(err)
		}
		skips[mode] = append(skips[mode], res.Applied, len(res.Skipped))
		cr, err := s.CompleteBatch(ctx, QueueSrc, []Completion{
			{Path: "/a1", Status: TraversalStatusSuccessful, Children: kids("/a1", "p", "q")},
			{Path: "/a2", Status: TraversalStatusFailed, Children: kids("/a2", "r")},
		})
		if err != nil {
			t.Fatal(err)
		}
		// A batch insert of children partly stored already (/a1/p) or
		// repeated (/a1/s).
		ops := []InsertOperation{}
		for _, n := range kids("/a1", "p", "s", "s") {
			st := n.State
			ops = append(ops, InsertOperation{QueueType: QueueSrc, Level: 2, TraversalStatus: TraversalStatusPending, CopyStatus: CopyStatusPending, State: &st})
		}
		br, err := s.BatchInsertNodes(ctx, ops)
		if err != nil {
			t.Fatal(err)
		}
		skips[mode] = append(skips[mode], br.Applied, len(br.Skipped))
		for _, r := range cr {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			skips[mode] = append(skips[mode], r.Applied, len(r.Skipped))
		}
		if _, err := s.BatchSetStatus(ctx, QueueSrc, []string{"/a0/x", "/a1/s", "/nope"}, TraversalStatusSuccessful); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetStatus(ctx, QueueSrc, "/a2/r", TraversalStatusFailed); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Check(ctx)
		if err != nil || len(rep.Problems) > 0 {
			t.Fatalf("manyReads=%v: Check: %v %v", many, rep.Problems, err)
		}
		if n, err := s.PendingAt(ctx, QueueSrc, 2); err != nil || n != 3 {
			t.Fatalf("manyReads=%v: pending at level 2: %d, %v; want 3 (/a0/y, /a1/p, /a1/q)", many, n, err)
		}
		if err := s.Dump(ctx, &dumps[mode]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(dumps[0].Bytes(), dumps[1].Bytes()) {
		t.Fatalf("the stores differ:\none by one:\n%s\nwith GetMany:\n%s", dumps[0].String(), dumps[1].String())
	}
	if want := []int{2, 1, 1, 2, 2, 0, 1, 0}; !slices.Equal(skips[0], want) || !slices.Equal(skips[1], want) {
		t.Fatalf("applied and skipped: one by one %v, with GetMany %v, want %v", skips[0], skips[1], want)
	}
}
