package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

func TestCheck(t *testing.T) {
	dsn := "bbolt://" + t.TempDir() + "/s"
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := nodestore.New(db)
	root := nodestore.Node{Queue: nodestore.QueueSrc, Traversal: nodestore.TraversalStatusPending, Copy: nodestore.CopyStatusPending,
		State: nodestore.NodeState{ID: "0", Name: "root", Path: "/", Type: nodestore.NodeTypeFolder}}
	if err := ns.Insert(t.Context(), root); err != nil {
		t.Fatal(err)
	}
	var kids []nodestore.Node
	for _, name := range []string{"a", "b", "c"} {
		kids = append(kids, nodestore.Node{Traversal: nodestore.TraversalStatusPending, Copy: nodestore.CopyStatusPending,
			State: nodestore.NodeState{ID: name, Name: name, Path: "/" + name, ParentPath: "/", Type: nodestore.NodeTypeFile, Depth: 1}})
	}
	if _, err := ns.CompleteWithChildren(t.Context(), nodestore.QueueSrc, "/", nodestore.TraversalStatusSuccessful, kids); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := polykv(t, nil, "check", "--counts", dsn)
	if code != 0 || !strings.Contains(out, "src: 4 nodes") || !strings.Contains(out, "ok:") ||
		!strings.Contains(out, "count src level 1 pending/pending: 3") {
		t.Fatalf("check of a consistent store: exit %d\n%s%s", code, out, stderr)
	}

	// Delete one node key behind nodestore's back: its index entry and the
	// counter now disagree with the nodes.
	db, err = kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, err := nodestore.KeySrc(1, nodestore.TraversalStatusPending, nodestore.CopyStatusPending, "/b")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, stderr = polykv(t, nil, "check", dsn)
	if code != 1 || !strings.Contains(out, "PROBLEM:") || !strings.Contains(stderr, "problem(s) found") {
		t.Fatalf("check of a damaged store: exit %d\n%s%s", code, out, stderr)
	}
}

// TestCheckTruncatedCount: with more problems than the report lists, the
// error must not claim the listed number is all there is.
func TestCheckTruncatedCount(t *testing.T) {
	dsn := "bbolt://" + t.TempDir() + "/s"
	cfg, _ := kv.ParseDSN(dsn)
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := kv.NewBulkWriter(t.Context(), db)
	for i := range nodestore.MaxProblems + 100 {
		key, err := nodestore.KeySrc(1, nodestore.TraversalStatusPending, nodestore.CopyStatusPending, fmt.Sprintf("/f%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Set(key, []byte("not a node")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ns := nodestore.New(db)
	rep, err := ns.Check(t.Context())
	if err != nil || !rep.Truncated {
		t.Fatalf("the store must have more than %d problems: truncated=%v, %v", nodestore.MaxProblems, rep.Truncated, err)
	}
	db.Close()
	code, _, stderr := polykv(t, nil, "check", dsn)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("more than %d problems", nodestore.MaxProblems)) {
		t.Errorf("exit %d; stderr does not say there are more than %d problems: %s", code, nodestore.MaxProblems, stderr)
	}
}
