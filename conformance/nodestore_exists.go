package conformance

import (
	"errors"
	"fmt"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// nsExistingFound: a batch insert finds every path already stored, by
// whichever means the backend's Store uses (on most backends a scan of
// each parent's children index plus the level-0 roots, with point reads
// past a parent of many children or a store of many roots; on memory
// point reads only). A path found nowhere but in the roots, a child past
// the part of a big children index that a scan reads, and a root among
// more roots than a scan reads are all skipped, never stored twice.
func nsExistingFound(t *testing.T, e *nsEnv) {
	e.seedSmallTree() // src: "/", "/a", "/b" (folders) and "/c.txt"
	src := nodestore.QueueSrc
	batch := func(what string, nodes []nodestore.Node, wantSkipped []int) {
		t.Helper()
		ops := make([]nodestore.InsertOperation, len(nodes))
		for i := range nodes {
			n := &nodes[i]
			ops[i] = nodestore.InsertOperation{QueueType: src, Level: n.Level, TraversalStatus: n.Traversal, CopyStatus: n.Copy, State: &n.State}
		}
		res, err := e.ns.BatchInsertNodes(e.ctx, ops)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got []int
		for _, s := range res.Skipped {
			got = append(got, s.Index)
			if !errors.Is(s.Err, nodestore.ErrExists) {
				t.Errorf("%s: skip of item %d: %v, want ErrExists", what, s.Index, s.Err)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(wantSkipped) || res.Applied != len(nodes)-len(wantSkipped) {
			t.Errorf("%s: applied %d, skipped %v; want skipped %v", what, res.Applied, got, wantSkipped)
		}
	}
	file := func(path string, depth int) nodestore.Node { return nsSrc(depth, nsS, nsCP, nsFile(path, depth)) }
	root := func(path string) nodestore.Node { return nsSrc(0, nsP, nsCP, nsFolder(path, 0)) }

	// A few roots: "/r1" is stored as a root, so a child "/r1" of "/" exists
	// although no children index entry says so; "/a" is stored as a child
	// of "/", so a root "/a" exists.
	batch("roots", []nodestore.Node{root("/r1"), root("/r2")}, nil)
	batch("a child whose path is a root", []nodestore.Node{file("/new1", 1), file("/r1", 1)}, []int{1})
	batch("a root whose path is a child", []nodestore.Node{root("/a"), root("/new2")}, []int{0})

	// A parent with many more children than a batch inserts under it.
	var many []nodestore.Node
	for i := range 300 {
		many = append(many, file(fmt.Sprintf("/b/f%03d", i), 2))
	}
	batch("300 children of /b", many, nil)
	var again []nodestore.Node
	var want []int
	for i := 0; i < 300; i += 30 {
		want = append(want, len(again))
		again = append(again, many[i])
	}
	again = append(again, file("/b/new3", 2))
	batch("10 stored children of /b and a new one", again, want)

	// More roots than the existence check reads.
	var roots []nodestore.Node
	for i := range 1100 {
		roots = append(roots, root(fmt.Sprintf("/r%04d", i)))
	}
	batch("1100 roots", roots, nil)
	batch("a child whose path is one of 1100 roots", []nodestore.Node{file("/r0555", 1), file("/new4", 1)}, []int{0})
	e.wantConsistent("after batches of stored paths")
}
