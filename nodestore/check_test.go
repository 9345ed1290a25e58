package nodestore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// hashOf returns the 32 hex digits of path's hash.
func hashOf(t testing.TB, path string) string {
	t.Helper()
	h, err := nodestore.HashPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func folder(q nodestore.QueueType, parent, name string, level int, ts nodestore.TraversalStatus) nodestore.Node {
	n := file(q, parent, name, level)
	n.Traversal = ts
	n.State.Type = nodestore.NodeTypeFolder
	return n
}

// checkTree stores, in src: the root "/" (successful), the folder /a
// (pending) at level 1, the file /b at level 1 and the file /a/x at level 2.
func checkTree(t testing.TB) (kv.Store, *nodestore.Store) {
	t.Helper()
	ctx := context.Background()
	db, ns := newMemory(t)
	q := nodestore.QueueSrc
	r := root(q)
	r.Traversal = nodestore.TraversalStatusSuccessful
	for _, n := range []nodestore.Node{r,
		folder(q, "/", "a", 1, nodestore.TraversalStatusPending),
		file(q, "/", "b", 1),
		file(q, "/a", "x", 2),
	} {
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	wantOK(t, ns)
	return db, ns
}

// TestCheckFindsDamage damages a consistent store in one way at a time,
// behind nodestore's back or through inserts that leave a hole, and wants
// Check to name each problem.
func TestCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	idx := func(t *testing.T, parent, child string) []byte {
		return []byte("src:children:" + hashOf(t, parent) + ":" + hashOf(t, child))
	}
	pathKey := func(t *testing.T, p string) []byte { return []byte("src:path:" + hashOf(t, p)) }
	xKey := func(t *testing.T) []byte {
		k, err := nodestore.KeySrc(2, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusPending, "/a/x")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	set := func(t *testing.T, db kv.Store, k, v []byte) {
		t.Helper()
		if err := db.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	del := func(t *testing.T, db kv.Store, k []byte) {
		t.Helper()
		if _, err := db.Get(ctx, k); err != nil {
			t.Fatalf("key %s to delete: %v", k, err)
		}
		if err := db.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	count := func(n byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, n} }
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, db kv.Store, ns *nodestore.Store)
		want   string
	}{
		{"index entry of a missing child", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, idx(t, "/a", "/a/nope"), nil)
		}, "index entry of a missing child"},
		{"index entry under a missing parent", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, idx(t, "/gone", "/a/x"), nil)
		}, "index entry under a missing parent"},
		{"index entry under the wrong parent", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, idx(t, "/a", "/b"), nil)
		}, "the child's ParentPath is not this parent"},
		{"node without path key", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			del(t, db, pathKey(t, "/a/x"))
		}, "has no path key"},
		{"node without index entry", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			del(t, db, idx(t, "/a", "/a/x"))
		}, "has no children index entry"},
		{"path key pointing to another status", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, pathKey(t, "/a/x"), []byte("00000002:failed:pending"))
		}, "path key says"},
		{"path key of no node", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, pathKey(t, "/nope"), []byte("00000001:pending:pending"))
		}, "no node key holds this path"},
		{"node in two status keys", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			v, err := db.Get(ctx, xKey(t))
			if err != nil {
				t.Fatal(err)
			}
			k, _ := nodestore.KeySrc(2, nodestore.TraversalStatusFailed, nodestore.CopyStatusPending, "/a/x")
			set(t, db, k, v)
		}, "is in two node keys"},
		{"value's status not the key's", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			v, err := db.Get(ctx, xKey(t))
			if err != nil {
				t.Fatal(err)
			}
			v = slices.Clone(v)
			v[1] = 3 // encoding v1: byte 1 is the traversal status, 3 failed
			set(t, db, xKey(t), v)
		}, `value says status "failed"`},
		// Insert refuses a child that does not fit its stored parent; a
		// child inserted before its parent is not checked against it.
		{"child two levels below its parent", func(t *testing.T, _ kv.Store, ns *nodestore.Store) {
			for _, n := range []nodestore.Node{file(nodestore.QueueSrc, "/p", "deep", 3), folder(nodestore.QueueSrc, "/", "p", 1, nodestore.TraversalStatusPending)} {
				if err := ns.Insert(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
		}, "child at level 3 under a parent at level 1"},
		{"child under a file", func(t *testing.T, _ kv.Store, ns *nodestore.Store) {
			for _, n := range []nodestore.Node{file(nodestore.QueueSrc, "/q", "z", 2), file(nodestore.QueueSrc, "/", "q", 1)} {
				if err := ns.Insert(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
		}, "index entry under a file"},
		{"pending-level key with a wrong count", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, []byte("src:pendinglevel:00000001"), count(5))
		}, "counter: src level 1 pending/*: stored 5, scanned 1"},
		{"pending-level key of a level without pending nodes", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			set(t, db, []byte("src:pendinglevel:00000007"), count(1))
		}, "counter: src level 7 pending/*: stored 1, scanned 0"},
		{"counter missing", func(t *testing.T, db kv.Store, _ *nodestore.Store) {
			del(t, db, []byte("src:count:00000002:successful:pending"))
		}, "counter: src level 2 successful/pending: stored 0, scanned 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, ns := checkTree(t)
			c.damage(t, db, ns)
			rep, err := ns.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || strings.Contains(p, c.want)
			}
			if !found {
				t.Errorf("Check problems %q: none says %q", rep.Problems, c.want)
			}
		})
	}
}

// RebuildCounts replaces every counter and pending-level key, including
// those of positions that no longer hold any node.
func TestRebuildCountsDropsStaleKeys(t *testing.T) {
	ctx := context.Background()
	db, ns := checkTree(t)
	for _, k := range []string{"src:pendinglevel:00000007", "dst:pendinglevel:00000000", "src:count:00000042:failed:failed"} {
		if err := db.Set(ctx, []byte(k), []byte{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns.RebuildCounts(ctx); err != nil {
		t.Fatal(err)
	}
	wantOK(t, ns)
	var keys []string
	if err := ns.Export(ctx, func(k, _ []byte) error {
		if strings.Contains(string(k), ":count:") || strings.Contains(string(k), ":pendinglevel:") {
			keys = append(keys, string(k))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"src:count:00000000:successful:pending",
		"src:count:00000001:pending:pending",
		"src:count:00000001:successful:pending",
		"src:count:00000002:successful:pending",
		"src:pendinglevel:00000001",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("counter keys after RebuildCounts = %q, want %q", keys, want)
	}
}

// LowestPendingLevel is the lowest of several levels with pending nodes.
func TestLowestPendingLevel(t *testing.T) {
	ctx := context.Background()
	_, ns := checkTree(t)
	q := nodestore.QueueSrc
	for _, n := range []nodestore.Node{
		folder(q, "/a", "p2", 2, nodestore.TraversalStatusPending),
		folder(q, "/a/p2", "p3", 3, nodestore.TraversalStatusPending),
	} {
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		complete string
		want     int
	}{{"", 1}, {"/a", 2}, {"/a/p2", 3}} {
		if step.complete != "" {
			if _, err := ns.SetStatus(ctx, q, step.complete, nodestore.TraversalStatusSuccessful); err != nil {
				t.Fatal(err)
			}
		}
		if lvl, ok, err := ns.LowestPendingLevel(ctx, q); err != nil || !ok || lvl != step.want {
			t.Errorf("after completing %q: LowestPendingLevel = %d, %v, %v; want %d", step.complete, lvl, ok, err, step.want)
		}
	}
}

// The seed-style transitions check the whole position the caller gives:
// level, traversal status and copy status.
func TestUpdateChecksWholePosition(t *testing.T) {
	ctx := context.Background()
	db, ns := checkTree(t)
	q := nodestore.QueueSrc
	S, F, P := nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusFailed, nodestore.TraversalStatusPending
	CP, CS := nodestore.CopyStatusPending, nodestore.CopyStatusSuccessful
	before := dumpAll(t, db)
	// /a/x is at level 2, successful, copy pending.
	for _, c := range []struct {
		name string
		err  error
	}{
		{"copy status, wrong level", errOnly(ns.UpdateNodeCopyStatus(ctx, q, 1, S, CP, CS, "/a/x"))},
		{"copy status, wrong traversal", errOnly(ns.UpdateNodeCopyStatus(ctx, q, 2, F, CP, CS, "/a/x"))},
		{"copy status, wrong copy", errOnly(ns.UpdateNodeCopyStatus(ctx, q, 2, S, CS, CP, "/a/x"))},
		{"status, wrong level", errOnly(ns.UpdateNodeStatus(ctx, q, 1, S, P, CP, "/a/x"))},
		{"status, wrong copy", errOnly(ns.UpdateNodeStatus(ctx, q, 2, S, P, CS, "/a/x"))},
	} {
		if !errors.Is(c.err, nodestore.ErrStatusMismatch) {
			t.Errorf("%s: %v, want ErrStatusMismatch", c.name, c.err)
		}
	}
	if got := dumpAll(t, db); got != before {
		t.Error("rejected transitions changed the store")
	}
}

func errOnly(_ nodestore.NodeState, err error) error { return err }

func dumpAll(t testing.TB, db kv.Store) string {
	t.Helper()
	var b strings.Builder
	if err := db.Iterate(context.Background(), kv.IterOptions{}, func(k, v []byte) error {
		b.WriteString(string(k) + "=" + string(v) + "\n")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// ListByCopyStatus returns only the nodes in the copy status asked for.
func TestListByCopyStatusFilters(t *testing.T) {
	ctx := context.Background()
	_, ns := checkTree(t)
	q := nodestore.QueueSrc
	var paths []string
	for _, name := range []string{"c1", "c2", "c3", "c4", "c5"} {
		n := file(q, "/a", name, 2)
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, n.State.Path)
	}
	if _, err := ns.BatchSetCopyStatus(ctx, q, paths[:2], nodestore.CopyStatusSuccessful); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cs   nodestore.CopyStatus
		want []string
	}{
		{nodestore.CopyStatusSuccessful, paths[:2]},
		{nodestore.CopyStatusPending, append([]string{"/a/x"}, paths[2:]...)},
		{nodestore.CopyStatusFailed, nil},
	} {
		page, _, err := ns.ListByCopyStatus(ctx, q, 2, nodestore.TraversalStatusSuccessful, c.cs, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range page {
			if n.Copy != c.cs {
				t.Errorf("ListByCopyStatus(%s) returned %s in copy status %s", c.cs, n.State.Path, n.Copy)
			}
			got = append(got, n.State.Path)
		}
		slices.Sort(got)
		c.want = slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, c.want) {
			t.Errorf("ListByCopyStatus(%s) = %q, want %q", c.cs, got, c.want)
		}
	}
}

// FetchChildrenByParentPath is told the parent's level: a child found
// elsewhere than one level below is corruption, not a result.
func TestFetchChildrenWrongLevel(t *testing.T) {
	ctx := context.Background()
	_, ns := checkTree(t)
	kids, err := ns.FetchChildrenByParentPath(ctx, nodestore.IndexPrefixSrcChildren, "/a", nil, 1)
	if err != nil || len(kids) != 1 || kids[0].Path != "/a/x" {
		t.Fatalf("FetchChildrenByParentPath(/a, level 1) = %v, %v", kids, err)
	}
	for _, level := range []int{0, 2} {
		kids, err := ns.FetchChildrenByParentPath(ctx, nodestore.IndexPrefixSrcChildren, "/a", nil, level)
		if !errors.Is(err, nodestore.ErrCorrupt) {
			t.Errorf("FetchChildrenByParentPath(/a, level %d) = %v, %v; want ErrCorrupt", level, kids, err)
		}
	}
}

// CompleteWithChildren refuses a child of another parent, and writes
// nothing.
func TestCompleteRejectsForeignChild(t *testing.T) {
	ctx := context.Background()
	db, ns := checkTree(t)
	q := nodestore.QueueSrc
	if err := ns.Insert(ctx, folder(q, "/", "c", 1, nodestore.TraversalStatusPending)); err != nil {
		t.Fatal(err)
	}
	before := dumpAll(t, db)
	kids := []nodestore.Node{file(q, "/a", "ok", 2), file(q, "/c", "foreign", 2)}
	_, err := ns.CompleteWithChildren(ctx, q, "/a", nodestore.TraversalStatusSuccessful, kids)
	if !errors.Is(err, nodestore.ErrInvalidNode) {
		t.Errorf("CompleteWithChildren with a child of /c under /a: %v, want ErrInvalidNode", err)
	}
	if dumpAll(t, db) != before {
		t.Error("a rejected completion changed the store")
	}
}

// Load takes only nodestore keys: a dump holding a key of another layer
// is refused.
func TestLoadRefusesForeignKey(t *testing.T) {
	ctx := context.Background()
	_, ns := checkTree(t)
	var buf bytes.Buffer
	if err := ns.Dump(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	nodeKey, _ := nodestore.KeySrc(0, nodestore.TraversalStatusPending, nodestore.CopyStatusPending, "/")
	hash := strings.Repeat("ab", 16)
	// Each record is refused on its own, after a valid dump: Load checks
	// every key's family and form and its value's (it once checked only
	// the src:/dst: prefix, and loaded the rest for Check to find).
	for _, rec := range [][2]string{
		{"log:info:x", "v"},
		{"src:garbage:family", "whatever"},
		{string(nodeKey), "not a node value"},
		{"src:children:" + hash, ""},
		{"src:children:" + hash + ":" + hash, "x"},
		{"dst:path:" + hash, "00000001:bogus:"},
		{"dst:path:xyz", "00000001:pending:"},
		{"dst:count:00000000:pending:", "\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"dst:count:00000000:pending:", "7"},
		{"src:pendinglevel:1", "\x00\x00\x00\x00\x00\x00\x00\x01"},
	} {
		dump := bytes.Clone(buf.Bytes())
		for _, f := range rec {
			dump = binary.AppendUvarint(dump, uint64(len(f)))
			dump = append(dump, f...)
		}
		_, other := newMemory(t)
		if _, err := other.Load(ctx, bytes.NewReader(dump)); !errors.Is(err, nodestore.ErrCorrupt) || !strings.Contains(err.Error(), "record ") {
			t.Errorf("Load of a dump with %q = %q: %v, want ErrCorrupt naming the record", rec[0], rec[1], err)
		}
	}
	// A length that is not a varint is corrupt input too, with its record.
	dump := append(bytes.Clone(buf.Bytes()), bytes.Repeat([]byte{0xff}, 11)...)
	_, other := newMemory(t)
	if _, err := other.Load(ctx, bytes.NewReader(dump)); !errors.Is(err, nodestore.ErrCorrupt) {
		t.Errorf("Load of a dump with a bad length: %v, want ErrCorrupt", err)
	}
}
