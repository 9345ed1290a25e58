package nodestore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

func newMemory(tb testing.TB) (kv.Store, *nodestore.Store) {
	tb.Helper()
	db, err := memory.Open(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db, nodestore.New(db)
}

func root(q nodestore.QueueType) nodestore.Node {
	n := nodestore.Node{Queue: q, Traversal: nodestore.TraversalStatusPending,
		State: nodestore.NodeState{ID: "r", Name: "root", Path: "/", Type: nodestore.NodeTypeFolder}}
	if q == nodestore.QueueSrc {
		n.Copy = nodestore.CopyStatusPending
	}
	return n
}

func file(q nodestore.QueueType, parent, name string, level int) nodestore.Node {
	p := strings.TrimSuffix(parent, "/") + "/" + name
	n := nodestore.Node{Queue: q, Level: level, Traversal: nodestore.TraversalStatusSuccessful,
		State: nodestore.NodeState{ID: p, ParentPath: parent, Name: name, Path: p, Type: nodestore.NodeTypeFile, Depth: level}}
	if q == nodestore.QueueSrc {
		n.Copy = nodestore.CopyStatusPending
	}
	return n
}

func TestNodeStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
		t.Fatal(err)
	}
	for i, st := range []nodestore.NodeState{
		{},
		{ID: "x", ParentID: "y", Size: math.MaxInt64, CopyNeeded: true, MTime: time.Unix(1700000000, 123456789).UTC()},
		{ID: strings.Repeat("é", 1000), Size: 0, MTime: time.Unix(-1, 1).UTC()}, // before 1970
		{ID: "\x00\xff", ParentID: "", MTime: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{MTime: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, // one ns after the zero Time
	} {
		n := file(nodestore.QueueSrc, "/", fmt.Sprintf("f%d", i), 1)
		st.ParentPath, st.Name, st.Path, st.Type, st.Depth = n.State.ParentPath, n.State.Name, n.State.Path, n.State.Type, 1
		n.State = st
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, err := ns.Get(ctx, nodestore.QueueSrc, st.Path)
		if err != nil {
			t.Fatal(err)
		}
		st.Status = nodestore.TraversalStatusSuccessful
		if got.State != st {
			t.Errorf("case %d: read back\n%+v\nwant\n%+v", i, got.State, st)
		}
	}
	// A local time reads back as the same instant, in UTC.
	n := file(nodestore.QueueSrc, "/", "local", 1)
	n.State.MTime = time.Date(2024, 5, 6, 7, 8, 9, 10, time.FixedZone("X", 3600))
	if err := ns.Insert(ctx, n); err != nil {
		t.Fatal(err)
	}
	got, _ := ns.Get(ctx, nodestore.QueueSrc, "/local")
	if !got.State.MTime.Equal(n.State.MTime) || got.State.MTime.Location() != time.UTC {
		t.Errorf("MTime %v, want %v in UTC", got.State.MTime, n.State.MTime)
	}
}

func TestCorruptValue(t *testing.T) {
	ctx := context.Background()
	db, ns := newMemory(t)
	if err := ns.Insert(ctx, root(nodestore.QueueDst)); err != nil {
		t.Fatal(err)
	}
	key, _ := nodestore.KeyDst(0, nodestore.TraversalStatusPending, "", "/")
	for _, v := range [][]byte{nil, {2, 1, 0}, {1, 9, 0, 0, 0}, {1, 1, 0x80}, append([]byte{1, 1, 0, 0, 0}, 0xff)} {
		if err := db.Set(ctx, key, v); err != nil {
			t.Fatal(err)
		}
		_, err := ns.Get(ctx, nodestore.QueueDst, "/")
		if !errors.Is(err, nodestore.ErrCorrupt) || !errors.Is(err, kv.ErrCorrupt) {
			t.Errorf("value %x: Get error %v, want nodestore.ErrCorrupt, matching kv.ErrCorrupt", v, err)
		}
		if rep, err := ns.Check(ctx); err != nil || rep.OK() {
			t.Errorf("value %x: Check found nothing (%v)", v, err)
		}
	}
}

// A batch bounded by kv.MaxTxnOps (small nodes) is split as well.
func TestBatchInsertOpsLimit(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	n := kv.MaxTxnOps/3 + 1000
	if testing.Short() {
		t.Skip("large batch")
	}
	ops := make([]nodestore.InsertOperation, n)
	for i := range ops {
		nd := file(nodestore.QueueDst, "/", fmt.Sprintf("%x", i), 1)
		ops[i] = nodestore.InsertOperation{QueueType: nd.Queue, Level: 1, TraversalStatus: nd.Traversal, State: &nd.State}
	}
	res, err := ns.BatchInsertNodes(ctx, ops)
	if err != nil || res.Applied != n || res.Chunks < 2 {
		t.Fatalf("BatchInsertNodes = applied %d, chunks %d, %v; want %d in >= 2 chunks", res.Applied, res.Chunks, err, n)
	}
	if c, _ := ns.Count(ctx, nodestore.QueueDst, 1, nodestore.TraversalStatusSuccessful, ""); c != int64(n) {
		t.Errorf("Count = %d, want %d", c, n)
	}
}

func TestChunkBytesOption(t *testing.T) {
	ctx := context.Background()
	db, _ := newMemory(t)
	ns := nodestore.NewWithOptions(db, &nodestore.Options{ChunkBytes: 16 << 10})
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
		t.Fatal(err)
	}
	var ops []nodestore.InsertOperation
	for i := range 500 {
		nd := file(nodestore.QueueSrc, "/", fmt.Sprintf("f%d", i), 1)
		ops = append(ops, nodestore.InsertOperation{QueueType: nd.Queue, Level: 1, TraversalStatus: nd.Traversal, CopyStatus: nd.Copy, State: &nd.State})
	}
	res, err := ns.BatchInsertNodes(ctx, ops)
	if err != nil || res.Applied != 500 || res.Chunks < 5 {
		t.Fatalf("BatchInsertNodes with 16 KiB chunks = %+v, %v; want 500 applied in many chunks", res, err)
	}
	paths := make([]string, 500)
	for i := range paths {
		paths[i] = fmt.Sprintf("/f%d", i)
	}
	res, err = ns.BatchSetCopyStatus(ctx, nodestore.QueueSrc, paths, nodestore.CopyStatusSuccessful)
	if err != nil || res.Applied != 500 || res.Chunks < 5 {
		t.Fatalf("BatchSetCopyStatus with 16 KiB chunks = applied %d, chunks %d, %v", res.Applied, res.Chunks, err)
	}
	wantOK(t, ns)
}

// The existence check reads a parent's children index; when the parent
// already has many children, or the store many roots, it falls back to
// point reads. Both paths must find every existing node.
func TestExistingNodesFound(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	q := nodestore.QueueDst
	if err := ns.Insert(ctx, root(q)); err != nil {
		t.Fatal(err)
	}
	// Many roots at level 0 (more than the scan reads).
	for i := range 1100 {
		n := root(q)
		n.State.Path = fmt.Sprintf("/r%04d", i)
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// A parent with many children.
	var ops []nodestore.InsertOperation
	for i := range 500 {
		nd := file(q, "/", fmt.Sprintf("c%03d", i), 1)
		ops = append(ops, nodestore.InsertOperation{QueueType: q, Level: 1, TraversalStatus: nd.Traversal, State: &nd.State})
	}
	if _, err := ns.BatchInsertNodes(ctx, ops); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		nodes  []nodestore.Node
		exists []bool
	}{
		{"child of a big parent", []nodestore.Node{file(q, "/", "c007", 1), file(q, "/", "new1", 1)}, []bool{true, false}},
		{"child whose path is a root", []nodestore.Node{file(q, "/", "r0042", 1), file(q, "/", "new2", 1)}, []bool{true, false}},
		{"repeated in the batch", []nodestore.Node{file(q, "/", "new3", 1), file(q, "/", "new3", 1)}, []bool{false, true}},
		{"root that is a child", []nodestore.Node{func() nodestore.Node { n := root(q); n.State.Path = "/c001"; return n }()}, []bool{true}},
	} {
		var ops []nodestore.InsertOperation
		for i := range c.nodes {
			n := &c.nodes[i]
			ops = append(ops, nodestore.InsertOperation{QueueType: q, Level: n.Level, TraversalStatus: n.Traversal, State: &n.State})
		}
		res, err := ns.BatchInsertNodes(ctx, ops)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		skipped := make([]bool, len(c.nodes))
		for _, s := range res.Skipped {
			skipped[s.Index] = true
			if !errors.Is(s.Err, nodestore.ErrExists) {
				t.Errorf("%s: skip reason %v", c.name, s.Err)
			}
		}
		if fmt.Sprint(skipped) != fmt.Sprint(c.exists) {
			t.Errorf("%s: skipped %v, want %v", c.name, skipped, c.exists)
		}
	}
	wantOK(t, ns)
}

func TestNormalizePathTable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/", "/"}, {"a", "/a"}, {"/a/", "/a"}, {"//a//b//", "/a/b"}, {"./a/./b/.", "/a/b"}, {"...", "/..."},
	} {
		if got, err := nodestore.NormalizePath(c.in); err != nil || got != c.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "/a/..", "../a", "a\x00"} {
		if _, err := nodestore.NormalizePath(bad); !errors.Is(err, nodestore.ErrInvalidPath) {
			t.Errorf("NormalizePath(%q) error %v, want ErrInvalidPath", bad, err)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "a//b/", "/./..", "/a b/c", "\x00", "//.//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, err := nodestore.NormalizePath(p)
		if err != nil {
			if !errors.Is(err, nodestore.ErrInvalidPath) {
				t.Fatalf("NormalizePath(%q): error %v does not wrap ErrInvalidPath", p, err)
			}
			return
		}
		if n2, err := nodestore.NormalizePath(n); err != nil || n2 != n {
			t.Fatalf("NormalizePath is not idempotent on %q: %q, %v", n, n2, err)
		}
		if !strings.HasPrefix(n, "/") || strings.Contains(n, "//") || (n != "/" && strings.HasSuffix(n, "/")) {
			t.Fatalf("NormalizePath(%q) = %q is not in normal form", p, n)
		}
		h1, _ := nodestore.HashPath(p)
		h2, _ := nodestore.HashPath(n)
		if h1 != h2 {
			t.Fatalf("HashPath(%q) != HashPath(%q)", p, n)
		}
	})
}

// FuzzNodeValue stores arbitrary bytes as the value of a node key: reading
// it must give the node or ErrCorrupt, never a panic.
func FuzzNodeValue(f *testing.F) {
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 3, 5, 200, 1})
	db, err := memory.Open(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ns := nodestore.New(db)
	ctx := context.Background()
	if err := ns.Insert(ctx, root(nodestore.QueueDst)); err != nil {
		f.Fatal(err)
	}
	key, _ := nodestore.KeyDst(0, nodestore.TraversalStatusPending, "", "/")
	f.Fuzz(func(t *testing.T, v []byte) {
		if err := db.Set(ctx, key, v); err != nil {
			t.Fatal(err)
		}
		if _, err := ns.Get(ctx, nodestore.QueueDst, "/"); err != nil && !errors.Is(err, nodestore.ErrCorrupt) {
			t.Fatalf("Get with value %x: %v", v, err)
		}
	})
}

func wantOK(t testing.TB, ns *nodestore.Store) {
	t.Helper()
	rep, err := ns.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("Check: %d problems, first: %s", len(rep.Problems), rep.Problems[0])
	}
}

// A path repeated in one batch status change is applied once and counted
// once: the repeat sees the node as already moved (a no-op for
// BatchSetStatus, a mismatch for BatchUpdateNodeStatus), whatever the
// chunk boundaries.
func TestBatchMoveRepeatedPath(t *testing.T) {
	ctx := context.Background()
	q := nodestore.QueueSrc
	for _, chunk := range []int{0, 1000} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			db, err := memory.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ns := nodestore.NewWithOptions(db, &nodestore.Options{ChunkBytes: chunk})
			if err := ns.Insert(ctx, root(q)); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for i := range 5 {
				n := file(q, "/", fmt.Sprintf("f%d", i), 1)
				n.Traversal = nodestore.TraversalStatusPending
				if err := ns.Insert(ctx, n); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, n.State.Path, n.State.Path+"/") // the repeat in another spelling
			}
			res, err := ns.BatchUpdateNodeStatus(ctx, q, 1, nodestore.TraversalStatusPending, nodestore.TraversalStatusFailed, nodestore.CopyStatusPending, paths)
			if err != nil {
				t.Fatal(err)
			}
			if chunk > 0 && res.Chunks < 3 {
				t.Fatalf("ChunkBytes %d: %d chunks, want several", chunk, res.Chunks)
			}
			if res.Applied != 5 || len(res.Skipped) != 5 {
				t.Fatalf("update: applied %d, skipped %d, want 5 and 5: %v", res.Applied, len(res.Skipped), res.Skipped)
			}
			for _, s := range res.Skipped {
				if s.Index%2 != 1 || !errors.Is(s.Err, nodestore.ErrStatusMismatch) {
					t.Fatalf("skipped %v, want the repeats, ErrStatusMismatch", s)
				}
			}
			res, err = ns.BatchSetStatus(ctx, q, paths, nodestore.TraversalStatusSuccessful)
			if err != nil || res.Applied != 10 || len(res.Skipped) != 0 {
				t.Fatalf("set: applied %d, skipped %v, %v; want 10 applied", res.Applied, res.Skipped, err)
			}
			if n, err := ns.Count(ctx, q, 1, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusPending); err != nil || n != 5 {
				t.Fatalf("count = %d, %v; want 5", n, err)
			}
			wantOK(t, ns)
		})
	}
}

// A node that fits one kv transaction but is larger than the batch chunk
// size (SmallChunkBytes on memory, or Options.ChunkBytes) is stored by the
// batch operations in a chunk of its own, as Insert and SetStatus store it,
// not refused as too large for a transaction.
func TestBatchNodeLargerThanChunk(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	q := nodestore.QueueDst
	if err := ns.Insert(ctx, root(q)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", nodestore.SmallChunkBytes+1000) // below kv.MaxValueSize
	a, b := file(q, "/", "a", 1), file(q, "/", "b", 1)
	a.State.ID, b.State.ID = big, big
	ops := []nodestore.InsertOperation{
		{QueueType: q, Level: 1, TraversalStatus: a.Traversal, State: &a.State},
		{QueueType: q, Level: 1, TraversalStatus: b.Traversal, State: &b.State},
	}
	res, err := ns.BatchInsertNodes(ctx, ops)
	if err != nil || res.Applied != 2 {
		t.Fatalf("BatchInsertNodes of two nodes of %d bytes = %+v, %v; want both applied", len(big), res, err)
	}
	res, err = ns.BatchSetStatus(ctx, q, []string{"/a", "/b"}, nodestore.TraversalStatusFailed)
	if err != nil || res.Applied != 2 {
		t.Fatalf("BatchSetStatus = %+v, %v; want both applied", res, err)
	}
	if n, err := ns.Count(ctx, q, 1, nodestore.TraversalStatusFailed, ""); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	wantOK(t, ns)
}

// A node whose value exceeds the store's value limit is invalid input,
// refused before anything is written: BatchInsertNodes once wrote the
// chunks before it and then failed at its own.
func TestNodeOverValueLimitRefusedFirst(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	q := nodestore.QueueDst
	if err := ns.Insert(ctx, root(q)); err != nil {
		t.Fatal(err)
	}
	a, big := file(q, "/", "a", 1), file(q, "/", "big", 1)
	big.State.ID = strings.Repeat("i", kv.MaxValueSize) // below MaxTxnBytes
	_, err := ns.BatchInsertNodes(ctx, []nodestore.InsertOperation{
		{QueueType: q, Level: 1, TraversalStatus: a.Traversal, State: &a.State},
		{QueueType: q, Level: 1, TraversalStatus: big.Traversal, State: &big.State},
	})
	if !errors.Is(err, kv.ErrValueTooLarge) || !strings.Contains(err.Error(), "operation 1") {
		t.Errorf("BatchInsertNodes with an oversized node = %v, want ErrValueTooLarge naming operation 1", err)
	}
	if err := ns.Insert(ctx, big); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Errorf("Insert of an oversized node = %v, want ErrValueTooLarge", err)
	}
	big.Traversal = nodestore.TraversalStatusPending
	if _, err := ns.CompleteWithChildren(ctx, q, "/", nodestore.TraversalStatusSuccessful, []nodestore.Node{a, big}); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Errorf("CompleteWithChildren with an oversized child = %v, want ErrValueTooLarge", err)
	}
	if _, err := ns.Get(ctx, q, "/a"); !errors.Is(err, nodestore.ErrNotFound) {
		t.Errorf("/a after the refused calls: %v, want ErrNotFound (nothing written)", err)
	}
	wantOK(t, ns)
}

// A nil callback, writer or reader is an invalid argument, reported as an
// error (as kv.Store.Iterate reports a nil function), not a panic.
func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	_, ns := newMemory(t)
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
		t.Fatal(err)
	}
	_, empty := newMemory(t)
	for name, call := range map[string]func() error{
		"IterateNodeKeys": func() error { return ns.IterateNodeKeys(ctx, kv.IterOptions{}, nil) },
		"IterateNodes":    func() error { return ns.IterateNodes(ctx, kv.IterOptions{}, nil) },
		"Export":          func() error { return ns.Export(ctx, nil) },
		"Dump":            func() error { return ns.Dump(ctx, nil) },
		"Load":            func() error { _, err := empty.Load(ctx, nil); return err },
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s with nil: panic %v", name, p)
				}
			}()
			if err := call(); !errors.Is(err, nodestore.ErrInvalidArgument) {
				t.Errorf("%s with nil: %v, want ErrInvalidArgument", name, err)
			}
		}()
	}
}

// An error reading one node of a batch status change names that input:
// its index and path, not only the chunk it fell in.
func TestBatchMoveErrorNamesPath(t *testing.T) {
	ctx := context.Background()
	db, ns := newMemory(t)
	q := nodestore.QueueDst
	for _, n := range []nodestore.Node{root(q), file(q, "/", "a", 1), file(q, "/", "b", 1)} {
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := nodestore.KeyDst(1, nodestore.TraversalStatusSuccessful, "", "/b")
	if err := db.Set(ctx, key, []byte{9}); err != nil {
		t.Fatal(err)
	}
	_, err := ns.BatchSetStatus(ctx, q, []string{"/a", "/b"}, nodestore.TraversalStatusFailed)
	if !errors.Is(err, nodestore.ErrCorrupt) || !strings.Contains(err.Error(), `path 1 ("/b")`) {
		t.Fatalf("BatchSetStatus over a corrupt node: %v; want ErrCorrupt naming path 1 (\"/b\")", err)
	}
	if n, _ := ns.Get(ctx, q, "/a"); n.Traversal != nodestore.TraversalStatusSuccessful {
		t.Fatalf("/a moved to %s although its chunk failed", n.Traversal)
	}
}

// A Store over a nil kv.Store reports ErrInvalidArgument from every call
// instead of panicking.
func TestNilKVStore(t *testing.T) {
	ctx := context.Background()
	ns := nodestore.New(nil)
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); !errors.Is(err, nodestore.ErrInvalidArgument) {
		t.Errorf("Insert = %v, want ErrInvalidArgument", err)
	}
	if _, err := ns.Count(ctx, nodestore.QueueDst, 0, nodestore.TraversalStatusPending, ""); !errors.Is(err, nodestore.ErrInvalidArgument) || !strings.Contains(err.Error(), "nil kv.Store") {
		t.Errorf("Count = %v, want ErrInvalidArgument", err)
	}
	if _, err := ns.Check(ctx); !errors.Is(err, nodestore.ErrInvalidArgument) {
		t.Errorf("Check = %v, want ErrInvalidArgument", err)
	}
}
