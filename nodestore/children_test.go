package nodestore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// Children reads each child at the position of one sibling first (see
// getNodes): whatever the mix of positions among the children, it must
// return every child with its own position and state.
func TestChildrenMixedPositions(t *testing.T) {
	const n = 150
	q := nodestore.QueueSrc
	// moved(i, first) says whether child i (in insertion order) is moved
	// from the insert position; first is the index of the child that comes
	// first in hash order, whose position the reads guess.
	for _, c := range []struct {
		name  string
		moved func(i, first int) bool
	}{
		{"all at one position", func(int, int) bool { return false }},
		{"a tenth moved", func(i, _ int) bool { return i%10 == 3 }},
		{"half moved", func(i, _ int) bool { return i%2 == 0 }},
		{"all but the first in hash order moved", func(i, first int) bool { return i != first }},
		{"only the first in hash order moved", func(i, first int) bool { return i == first }},
		{"three positions", func(i, _ int) bool { return i%3 != 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			_, ns := newMemory(t)
			if err := ns.Insert(ctx, root(q)); err != nil {
				t.Fatal(err)
			}
			kids := make([]nodestore.Node, n)
			first, firstHash := -1, ""
			for i := range kids {
				kids[i] = file(q, "/", fmt.Sprintf("f%03d", i), 1)
				h, err := nodestore.HashPath(kids[i].State.Path)
				if err != nil {
					t.Fatal(err)
				}
				if first < 0 || h.String() < firstHash {
					first, firstHash = i, h.String()
				}
			}
			if _, err := ns.CompleteWithChildren(ctx, q, "/", nodestore.TraversalStatusSuccessful, kids); err != nil {
				t.Fatal(err)
			}
			want := map[string]nodestore.CopyStatus{}
			for i, k := range kids {
				cs := nodestore.CopyStatusPending
				if c.moved(i, first) {
					cs = nodestore.CopyStatusSuccessful
					if c.name == "three positions" && i%3 == 2 {
						cs = nodestore.CopyStatusFailed
					}
					if _, err := ns.SetCopyStatus(ctx, q, k.State.Path, cs); err != nil {
						t.Fatal(err)
					}
				}
				want[k.State.Path] = cs
			}
			got, err := ns.Children(ctx, q, "/")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("Children gave %d nodes, want %d", len(got), n)
			}
			for _, g := range got {
				cs, ok := want[g.State.Path]
				if !ok {
					t.Fatalf("Children gave %q, not a child", g.State.Path)
				}
				delete(want, g.State.Path)
				if g.Copy != cs || g.Level != 1 || g.Traversal != nodestore.TraversalStatusSuccessful || g.State.ID != g.State.Path {
					t.Errorf("%s: level %d, %s/%s, id %q; want level 1, successful/%s", g.State.Path, g.Level, g.Traversal, g.Copy, g.State.ID, cs)
				}
			}
			if len(want) != 0 {
				t.Errorf("Children missed %d children", len(want))
			}
		})
	}
}

// A child whose path key names a position where its node key is missing
// is corruption, whether it is the sibling whose position the reads guess
// or another one.
func TestChildrenMissingNodeKey(t *testing.T) {
	q := nodestore.QueueSrc
	for _, which := range []string{"first in hash order", "another"} {
		t.Run(which, func(t *testing.T) {
			ctx := context.Background()
			db, ns := newMemory(t)
			if err := ns.Insert(ctx, root(q)); err != nil {
				t.Fatal(err)
			}
			var kids []nodestore.Node
			var hashes []nodestore.PathHash
			for i := range 5 {
				k := file(q, "/", fmt.Sprintf("f%d", i), 1)
				h, err := nodestore.HashPath(k.State.Path)
				if err != nil {
					t.Fatal(err)
				}
				kids, hashes = append(kids, k), append(hashes, h)
			}
			if _, err := ns.CompleteWithChildren(ctx, q, "/", nodestore.TraversalStatusSuccessful, kids); err != nil {
				t.Fatal(err)
			}
			lo, hi := 0, 0
			for i, h := range hashes {
				if h.String() < hashes[lo].String() {
					lo = i
				}
				if h.String() > hashes[hi].String() {
					hi = i
				}
			}
			victim := hashes[lo]
			if which == "another" {
				victim = hashes[hi]
			}
			key, err := nodestore.AppendNodeKey(nil, q, 1, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusPending, victim)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(ctx, func(tx kv.Txn) error { return tx.Delete(key) }); err != nil {
				t.Fatal(err)
			}
			got, err := ns.Children(ctx, q, "/")
			if !errors.Is(err, nodestore.ErrCorrupt) {
				t.Errorf("Children with the node key of %s deleted = %d nodes, %v; want ErrCorrupt", victim, len(got), err)
			}
		})
	}
}
