package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// nsChildrenMany: ChildrenMany gives, for each parent, exactly what
// Children gives for it: folders of no, one, a few and many children
// (more than a networked engine reads per range in one request), children
// in different statuses (so not all at one guessed position), a parent
// asked twice, a file, a path not stored, in both queues; an invalid path
// fails the call, naming its index.
func nsChildrenMany(t *testing.T, e *nsEnv) {
	S, P := nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusPending
	CP := nodestore.CopyStatusPending
	var ops []nodestore.InsertOperation
	add := func(q nodestore.QueueType, level int, ts nodestore.TraversalStatus, st nodestore.NodeState) {
		cs := CP
		if q == nodestore.QueueDst {
			cs = ""
		}
		ops = append(ops, nodestore.InsertOperation{QueueType: q, Level: level, TraversalStatus: ts, CopyStatus: cs, State: &st})
	}
	sizes := []int{0, 1, 5, 150, 2, 0, 70, 3}
	var folders []string
	for _, q := range []nodestore.QueueType{nodestore.QueueSrc, nodestore.QueueDst} {
		add(q, 0, S, nsFolder("/", 0))
		for f, n := range sizes {
			dir := fmt.Sprintf("/d%d", f)
			if q == nodestore.QueueSrc {
				folders = append(folders, dir)
			}
			add(q, 1, S, nsFolder(dir, 1))
			for c := range n {
				ts := S
				if c%3 == 1 {
					ts = P
				}
				add(q, 2, ts, nsFile(fmt.Sprintf("%s/f%03d", dir, c), 2))
			}
		}
	}
	res, err := e.ns.BatchInsertNodes(e.ctx, ops)
	if err != nil || res.Applied != len(ops) {
		t.Fatalf("BatchInsertNodes = %d of %d applied, %v", res.Applied, len(ops), err)
	}
	parents := append([]string{"/"}, folders...)
	parents = append(parents, "/d3", "/d1/f000", "/not/stored", "/d6/")
	for _, q := range []nodestore.QueueType{nodestore.QueueSrc, nodestore.QueueDst} {
		got, err := e.ns.ChildrenMany(e.ctx, q, parents)
		if err != nil {
			t.Fatalf("ChildrenMany(%s) = %v", q, err)
		}
		if len(got) != len(parents) {
			t.Fatalf("ChildrenMany(%s) gave %d lists for %d parents", q, len(got), len(parents))
		}
		for i, p := range parents {
			want, err := e.ns.Children(e.ctx, q, p)
			if err != nil {
				t.Fatalf("Children(%s, %s) = %v", q, p, err)
			}
			if got[i] == nil || !slices.EqualFunc(got[i], want, nodesEqual) {
				t.Errorf("ChildrenMany(%s)[%d] (%s) = %d nodes, Children = %d", q, i, p, len(got[i]), len(want))
			}
		}
	}
	if got, err := e.ns.ChildrenMany(e.ctx, nodestore.QueueSrc, nil); err != nil || len(got) != 0 {
		t.Errorf("ChildrenMany of no parent = %v, %v", got, err)
	}
	_, err = e.ns.ChildrenMany(e.ctx, nodestore.QueueSrc, []string{"/d1", ""})
	if !errors.Is(err, nodestore.ErrInvalidPath) {
		t.Errorf("ChildrenMany with an empty path = %v, want ErrInvalidPath", err)
	}
	_, err = e.ns.ChildrenMany(e.ctx, "nope", []string{"/d1"})
	wantErrIs(t, "ChildrenMany of an invalid queue", err, nodestore.ErrInvalidQueue)
	e.wantConsistent("after ChildrenMany")
}

func nodesEqual(a, b nodestore.Node) bool {
	return a.Queue == b.Queue && a.Level == b.Level && a.Traversal == b.Traversal && a.Copy == b.Copy &&
		a.State.Path == b.State.Path && a.State.ID == b.State.ID && a.State.MTime.Equal(b.State.MTime) && a.State.Size == b.State.Size
}
