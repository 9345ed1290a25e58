package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

const (
	nsP  = nodestore.TraversalStatusPending
	nsS  = nodestore.TraversalStatusSuccessful
	nsF  = nodestore.TraversalStatusFailed
	nsN  = nodestore.TraversalStatusNotOnSrc
	nsCP = nodestore.CopyStatusPending
	nsCS = nodestore.CopyStatusSuccessful
	nsCF = nodestore.CopyStatusFailed
)

// The hashes of a few paths, fixed here so that the layout cannot drift:
// hex of the first 16 bytes of SHA-256 of the normalized path.
const (
	hashRoot = "8a5edab282632443219e051e4ade2d1d" // "/"
	hashA    = "6a50dc8584134c7de537c0052ff6d236" // "/a"
	hashAB   = "662b7b62a798bb2d53e67cad9778e12e" // "/a/b"
)

func nsKeyLayout(t *testing.T, e *nsEnv) {
	must := func(b []byte, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return string(b)
	}
	hA, err := nodestore.HashPath("/a")
	if err != nil {
		t.Fatal(err)
	}
	hAB, _ := nodestore.HashPath("a//b/")
	for _, c := range []struct{ got, want string }{
		{must(nodestore.KeySrc(2, nsS, nsCS, "/a/b")), "src:00000002:successful:successful:" + hashAB},
		{must(nodestore.KeySrc(0, nsP, nsCP, "/")), "src:00000000:pending:pending:" + hashRoot},
		{must(nodestore.KeySrc(2, nsS, nsCS, "a//b/")), "src:00000002:successful:successful:" + hashAB},
		{must(nodestore.KeyDst(1, nsS, nodestore.CopyStatusNone, "/a")), "dst:00000001:successful::" + hashA},
		{must(nodestore.KeyDst(99999999, nsN, "", "/a/./b")), "dst:99999999:not_on_src::" + hashAB},
		{must(nodestore.AppendChildKey(nil, nodestore.QueueSrc, hA, hAB)), "src:children:" + hashA + ":" + hashAB},
		{must(nodestore.AppendChildKey([]byte("x"), nodestore.QueueDst, hA, hAB)), "xdst:children:" + hashA + ":" + hashAB},
		{must(nodestore.PrefixForStatus(nodestore.QueueSrc, 0, nsP)), "src:00000000:pending:"},
		{must(nodestore.PrefixForCopyStatus(nodestore.QueueSrc, 3, nsS, nsCF)), "src:00000003:successful:failed:"},
		{must(nodestore.PrefixForLevel(nodestore.QueueDst, 12345678)), "dst:12345678:"},
		{nodestore.IndexPrefixSrcChildren, "src:children:"},
		{nodestore.IndexPrefixDstChildren, "dst:children:"},
		{hA.String(), hashA},
	} {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
	r, err := nodestore.PrefixForAllLevels(nodestore.QueueSrc)
	if err != nil || string(r.Start) != "src:0" || string(r.End) != "src::" || r.Prefix != nil {
		t.Errorf("PrefixForAllLevels(src) = %s, %v; want [src:0, src::)", fmtOpts(r), err)
	}
	ki, err := nodestore.ParseNodeKey([]byte("dst:00000007:not_on_src::" + hashAB))
	if err != nil || ki.Queue != nodestore.QueueDst || ki.Level != 7 || ki.Traversal != nsN || ki.Copy != "" || ki.Hash != hAB {
		t.Errorf("ParseNodeKey = %+v, %v", ki, err)
	}
	for _, bad := range []string{
		"src:children:" + hashA + ":" + hashAB, "src:path:" + hashA, "src:0000001:pending:pending:" + hashA,
		"src:00000001:pending::" + hashA, "dst:00000001:pending:pending:" + hashA, "src:00000001:not_on_src:pending:" + hashA,
		"src:00000001:pending:pending:" + strings.ToUpper(hashA), "log:info:x",
	} {
		if _, err := nodestore.ParseNodeKey([]byte(bad)); !errors.Is(err, nodestore.ErrInvalidKey) {
			t.Errorf("ParseNodeKey(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"level -1", errOf(nodestore.KeySrc(-1, nsP, nsCP, "/a")), nodestore.ErrInvalidLevel},
		{"level 100000000", errOf(nodestore.KeySrc(100000000, nsP, nsCP, "/a")), nodestore.ErrInvalidLevel},
		{"copy status on dst", errOf(nodestore.KeyDst(1, nsP, nsCP, "/a")), nodestore.ErrInvalidStatus},
		{"no copy status on src", errOf(nodestore.KeySrc(1, nsP, "", "/a")), nodestore.ErrInvalidStatus},
		{"not_on_src on src", errOf(nodestore.KeySrc(1, nsN, nsCP, "/a")), nodestore.ErrInvalidStatus},
		{"unknown status", errOf(nodestore.KeySrc(1, "done", nsCP, "/a")), nodestore.ErrInvalidStatus},
		{"empty path", errOf(nodestore.KeySrc(1, nsP, nsCP, "")), nodestore.ErrInvalidPath},
		{"unknown queue", errOf(nodestore.PrefixForLevel("tmp", 1)), nodestore.ErrInvalidQueue},
	} {
		wantErrIs(t, c.name, c.err, c.want)
	}
}

func errOf(_ []byte, err error) error { return err }

func nsPathNormalization(t *testing.T, e *nsEnv) {
	for _, c := range []struct {
		in, want string
		err      bool
	}{
		{"/", "/", false}, {"/a/b", "/a/b", false}, {"a/b", "/a/b", false}, {"/a//b/", "/a/b", false},
		{"//a///b//", "/a/b", false}, {".", "/", false}, {"/./a/.", "/a", false}, {"///", "/", false},
		{"/a b/c\\d", "/a b/c\\d", false}, {"/A/É", "/A/É", false}, {"/.a/..b", "/.a/..b", false},
		{"", "", true}, {"/a/../b", "", true}, {"..", "", true}, {"/a\x00b", "", true},
	} {
		got, err := nodestore.NormalizePath(c.in)
		if c.err {
			if !errors.Is(err, nodestore.ErrInvalidPath) {
				t.Errorf("NormalizePath(%q) = %q, %v; want ErrInvalidPath", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		h1, _ := nodestore.HashPath(c.in)
		h2, _ := nodestore.HashPath(c.want)
		if h1 != h2 {
			t.Errorf("HashPath(%q) != HashPath(%q): normalization must come before hashing", c.in, c.want)
		}
	}
}

func nsSmallDumpGolden(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	res, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/a", nsS, []nodestore.Node{
		{Traversal: nsP, Copy: nsCP, State: nsFolder("/a/b", 2)},
		{Traversal: nsS, Copy: nsCP, State: nsFile("/a/f", 2)},
	})
	if err != nil || res.Applied != 2 {
		t.Fatalf("CompleteWithChildren = %+v, %v", res, err)
	}
	if _, err := e.ns.SetCopyStatus(e.ctx, nodestore.QueueSrc, "/a/f", nsCS); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ns.SetStatus(e.ctx, nodestore.QueueSrc, "/b", nsF); err != nil {
		t.Fatal(err)
	}
	res, err = e.ns.CompleteWithChildren(e.ctx, nodestore.QueueDst, "/", nsS, []nodestore.Node{
		{Traversal: nsP, State: nsFolder("/a", 1)},
		{Traversal: nsN, State: nsFile("/z", 1)},
	})
	if err != nil || res.Applied != 2 {
		t.Fatalf("CompleteWithChildren(dst) = %+v, %v", res, err)
	}
	e.wantConsistent("small tree")
	checkGolden(t, "nodestore_small.golden", e.dump())
}

func nsInvalidInput(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	before := e.dump()
	ok := nsSrc(2, nsP, nsCP, nsFolder("/a/x", 2))
	mod := func(f func(n *nodestore.Node)) nodestore.Node {
		n := ok
		f(&n)
		return n
	}
	cases := []struct {
		name  string
		n     nodestore.Node
		want  error
		field string
	}{
		{"unknown traversal status", mod(func(n *nodestore.Node) { n.Traversal = "done" }), nodestore.ErrInvalidStatus, "traversal status"},
		{"unknown copy status", mod(func(n *nodestore.Node) { n.Copy = "copied" }), nodestore.ErrInvalidStatus, "copy status"},
		{"copy status on dst", mod(func(n *nodestore.Node) { n.Queue = nodestore.QueueDst }), nodestore.ErrInvalidStatus, "copy status"},
		{"no copy status on src", mod(func(n *nodestore.Node) { n.Copy = "" }), nodestore.ErrInvalidStatus, "copy status"},
		{"not_on_src on src", mod(func(n *nodestore.Node) { n.Traversal = nsN }), nodestore.ErrInvalidStatus, "not_on_src"},
		{"unknown queue", mod(func(n *nodestore.Node) { n.Queue = "tmp" }), nodestore.ErrInvalidQueue, "queue"},
		{"negative level", mod(func(n *nodestore.Node) { n.Level = -1 }), nodestore.ErrInvalidLevel, "level"},
		{"level of 9 digits", mod(func(n *nodestore.Node) { n.Level = 100000000 }), nodestore.ErrInvalidLevel, "level"},
		{"empty path", mod(func(n *nodestore.Node) { n.State.Path = "" }), nodestore.ErrInvalidPath, "Path"},
		{"NUL in path", mod(func(n *nodestore.Node) { n.State.Path = "/a/x\x00" }), nodestore.ErrInvalidPath, "Path"},
		{"unnormalized path", mod(func(n *nodestore.Node) { n.State.Path = "/a//x/" }), nodestore.ErrInvalidPath, "Path"},
		{"dotdot in path", mod(func(n *nodestore.Node) { n.State.Path = "/a/../x" }), nodestore.ErrInvalidPath, "Path"},
		{"parent path not the parent", mod(func(n *nodestore.Node) { n.State.ParentPath = "/b" }), nodestore.ErrInvalidNode, "ParentPath"},
		{"unnormalized parent path", mod(func(n *nodestore.Node) { n.State.ParentPath = "/a/" }), nodestore.ErrInvalidPath, "ParentPath"},
		{"root below level 0", mod(func(n *nodestore.Node) { n.State.ParentPath = "" }), nodestore.ErrInvalidNode, "ParentPath"},
		{"child at level 0", mod(func(n *nodestore.Node) { n.Level, n.State.Depth = 0, 0 }), nodestore.ErrInvalidNode, "ParentPath"},
		{"depth not the level", mod(func(n *nodestore.Node) { n.State.Depth = 3 }), nodestore.ErrInvalidNode, "Depth"},
		{"name not the last element", mod(func(n *nodestore.Node) { n.State.Name = "y" }), nodestore.ErrInvalidNode, "Name"},
		{"unknown type", mod(func(n *nodestore.Node) { n.State.Type = "symlink" }), nodestore.ErrInvalidNode, "Type"},
		{"negative size", mod(func(n *nodestore.Node) { n.State.Size = -1 }), nodestore.ErrInvalidNode, "Size"},
		{"status not the key's", mod(func(n *nodestore.Node) { n.State.Status = nsS }), nodestore.ErrInvalidStatus, "Status"},
	}
	for _, c := range cases {
		err := e.ns.Insert(e.ctx, c.n)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Insert error %v, want %v", c.name, err, c.want)
		} else if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name the field %q", c.name, err, c.field)
		}
		// The same node inside a batch of valid ones: nothing written.
		st1, st2 := nsFile("/a/ok1", 2), c.n.State
		_, err = e.ns.BatchInsertNodes(e.ctx, []nodestore.InsertOperation{
			{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsS, CopyStatus: nsCP, State: &st1},
			{QueueType: c.n.Queue, Level: c.n.Level, TraversalStatus: c.n.Traversal, CopyStatus: c.n.Copy, State: &st2},
		})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "operation 1") {
			t.Errorf("%s: BatchInsertNodes error %v, want %v naming operation 1", c.name, err, c.want)
		}
		// And as a child of a completed parent: the parent stays pending.
		if c.n.Queue == nodestore.QueueSrc && c.n.Level == 2 && c.n.State.ParentPath == "/a" {
			_, err = e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/a", nsS, []nodestore.Node{
				{Traversal: nsS, Copy: nsCP, State: st1}, c.n,
			})
			if !errors.Is(err, c.want) {
				t.Errorf("%s: CompleteWithChildren error %v, want %v", c.name, err, c.want)
			}
		}
		if after := e.dump(); after != before {
			t.Fatalf("%s: the store changed after a rejected write", c.name)
		}
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"SetCopyStatus on dst", errOf2(e.ns.SetCopyStatus(e.ctx, nodestore.QueueDst, "/", nsCS)), nodestore.ErrInvalidStatus},
		{"SetStatus not_on_src on src", errOf2(e.ns.SetStatus(e.ctx, nodestore.QueueSrc, "/a", nsN)), nodestore.ErrInvalidStatus},
		{"SetStatus unknown", errOf2(e.ns.SetStatus(e.ctx, nodestore.QueueSrc, "/a", "later")), nodestore.ErrInvalidStatus},
		{"SetStatus empty path", errOf2(e.ns.SetStatus(e.ctx, nodestore.QueueSrc, "", nsS)), nodestore.ErrInvalidPath},
		{"InsertNodeWithIndex wrong prefix", e.ns.InsertNodeWithIndex(e.ctx, keyOf(nodestore.KeySrc(2, nsP, nsCP, "/a/x")), &ok.State, nodestore.IndexPrefixDstChildren), nodestore.ErrInvalidQueue},
		{"InsertNodeWithIndex key of another path", e.ns.InsertNodeWithIndex(e.ctx, keyOf(nodestore.KeySrc(2, nsP, nsCP, "/a/y")), &ok.State, nodestore.IndexPrefixSrcChildren), nodestore.ErrInvalidKey},
		{"InsertNodeWithIndex index key", e.ns.InsertNodeWithIndex(e.ctx, []byte("src:children:"+hashA+":"+hashAB), &ok.State, nodestore.IndexPrefixSrcChildren), nodestore.ErrInvalidKey},
		{"CompleteWithChildren of a file", errOfR(e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/c.txt", nsS, []nodestore.Node{{Traversal: nsP, Copy: nsCP, State: nsFile("/c.txt/x", 2)}})), nodestore.ErrInvalidNode},
		{"CompleteWithChildren of a missing parent", errOfR(e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/nope", nsS, nil)), nodestore.ErrNotFound},
		{"ListByStatus limit 0", errOfL(e.ns.PendingPage(e.ctx, nodestore.QueueSrc, 1, "", 0)), nodestore.ErrInvalidArgument},
	} {
		wantErrIs(t, c.name, c.err, c.want)
	}
	if after := e.dump(); after != before {
		t.Fatalf("the store changed after rejected writes")
	}
}

func errOf2(_ nodestore.Node, err error) error                       { return err }
func errOfR(_ nodestore.BatchResult, err error) error                { return err }
func errOfL(_ []nodestore.Node, _ nodestore.Cursor, err error) error { return err }

// keyOf returns the key of a builder that cannot fail on these inputs (an
// error would leave the key nil, and the insert would fail with
// ErrInvalidKey instead of the expected error).
func keyOf(k []byte, _ error) []byte { return k }

func nsAllLevelsOnlyNodes(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	if _, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/a", nsS, []nodestore.Node{
		{Traversal: nsP, Copy: nsCP, State: nsFolder("/a/b", 2)},
	}); err != nil {
		t.Fatal(err)
	}
	// Keys of other layers right at the edges of the node ranges.
	for _, k := range []string{"src", "src:", "src:/", "src::", "src;", "dst:/x", "dst:;", "log:info:1", "sra"} {
		if err := e.kv.Set(e.ctx, []byte(k), []byte("other")); err != nil {
			t.Fatal(err)
		}
	}
	const nodes = 6 // 4 src before + /a/b, and the dst root
	for _, c := range []struct {
		opts kv.IterOptions
		want int
	}{
		{kv.IterOptions{}, nodes}, {kv.IterOptions{Prefix: []byte("src:")}, nodes - 1},
		{kv.IterOptions{Prefix: []byte("s")}, nodes - 1}, {kv.IterOptions{Reverse: true}, nodes},
		{kv.IterOptions{Prefix: []byte("dst:"), Reverse: true}, 1}, {kv.IterOptions{Start: []byte("a"), End: []byte("z")}, nodes},
		{kv.IterOptions{Start: []byte("src:00000001")}, 4},
	} {
		n := 0
		err := e.ns.IterateNodeKeys(e.ctx, c.opts, func(k []byte) error {
			if _, err := nodestore.ParseNodeKey(k); err != nil {
				t.Errorf("IterateNodeKeys(%s) yielded %q: %v", fmtOpts(c.opts), k, err)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("IterateNodeKeys(%s) visited %d keys, want %d", fmtOpts(c.opts), n, c.want)
		}
	}
	for _, q := range nodestore.Queues {
		r, _ := nodestore.PrefixForAllLevels(q)
		for _, k := range e.scanKeysKV(r) {
			if _, err := nodestore.ParseNodeKey([]byte(k)); err != nil {
				t.Errorf("PrefixForAllLevels(%s) selects %q", q, k)
			}
		}
	}
	var got []string
	if err := e.ns.IterateNodes(e.ctx, kv.IterOptions{Prefix: []byte("src:00000001:pending:")}, func(n nodestore.Node) error {
		got = append(got, n.State.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "/b" {
		t.Errorf("IterateNodes(src level 1 pending) = %v, want [/b]", got)
	}
}

func (e *nsEnv) scanKeysKV(opts kv.IterOptions) []string {
	e.t.Helper()
	var out []string
	if err := e.kv.Iterate(e.ctx, opts, func(k, _ []byte) error { out = append(out, string(k)); return nil }); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *nsEnv) count(q nodestore.QueueType, level int, ts nodestore.TraversalStatus, cs nodestore.CopyStatus) int64 {
	e.t.Helper()
	n, err := e.ns.Count(e.ctx, q, level, ts, cs)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func nsGetAndTransitions(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	src := nodestore.QueueSrc
	n, err := e.ns.Get(e.ctx, src, "b/")
	if err != nil || n.Level != 1 || n.Traversal != nsP || n.Copy != nsCP || n.State != nsFolderWithStatus("/b", 1, nsP) {
		t.Fatalf("Get(b/) = %+v, %v", n, err)
	}
	_, err = e.ns.Get(e.ctx, src, "/missing")
	wantErrIs(t, "Get missing", err, nodestore.ErrNotFound)
	wantErrIs(t, "Get missing", err, kv.ErrNotFound)
	if c := e.count(src, 1, nsP, nsCP); c != 2 {
		t.Errorf("Count(src 1 pending pending) = %d, want 2", c)
	}
	if lvl, ok, err := e.ns.LowestPendingLevel(e.ctx, src); err != nil || !ok || lvl != 1 {
		t.Errorf("LowestPendingLevel(src) = %d, %v, %v; want 1", lvl, ok, err)
	}
	if done, _ := e.ns.LevelDone(e.ctx, src, 0); !done {
		t.Error("LevelDone(src, 0) = false, want true")
	}
	if done, _ := e.ns.LevelDone(e.ctx, src, 1); done {
		t.Error("LevelDone(src, 1) = true, want false")
	}
	// The seed's form with a wrong old status fails and changes nothing.
	before := e.dump()
	_, err = e.ns.UpdateNodeStatus(e.ctx, src, 1, nsS, nsF, nsCP, "/b")
	wantErrIs(t, "UpdateNodeStatus from a wrong status", err, nodestore.ErrStatusMismatch)
	_, err = e.ns.UpdateNodeStatus(e.ctx, src, 2, nsP, nsF, nsCP, "/b")
	wantErrIs(t, "UpdateNodeStatus at a wrong level", err, nodestore.ErrStatusMismatch)
	_, err = e.ns.UpdateNodeCopyStatus(e.ctx, src, 1, nsP, nsCS, nsCF, "/b")
	wantErrIs(t, "UpdateNodeCopyStatus from a wrong copy status", err, nodestore.ErrStatusMismatch)
	_, err = e.ns.UpdateNodeStatus(e.ctx, src, 1, nsP, nsS, nsCP, "/nope")
	wantErrIs(t, "UpdateNodeStatus of a missing node", err, nodestore.ErrNotFound)
	if e.dump() != before {
		t.Fatal("failed transitions changed the store")
	}
	st, err := e.ns.UpdateNodeStatus(e.ctx, src, 1, nsP, nsS, nsCP, "/b")
	if err != nil || st.Status != nsS {
		t.Fatalf("UpdateNodeStatus = %+v, %v", st, err)
	}
	n, err = e.ns.SetStatus(e.ctx, src, "/a", nsF) // without the old status
	if err != nil || n.Traversal != nsF || n.State.Status != nsF {
		t.Fatalf("SetStatus = %+v, %v", n, err)
	}
	same := e.dump()
	if _, err := e.ns.SetStatus(e.ctx, src, "/a", nsF); err != nil || e.dump() != same {
		t.Errorf("SetStatus to the current status: %v, or the store changed", err)
	}
	if _, err := e.ns.SetCopyStatus(e.ctx, src, "/c.txt", nsCS); err != nil {
		t.Fatal(err)
	}
	st, err = e.ns.UpdateNodeCopyStatus(e.ctx, src, 1, nsS, nsCS, nsCF, "/c.txt")
	if err != nil || st.Path != "/c.txt" {
		t.Fatalf("UpdateNodeCopyStatus = %+v, %v", st, err)
	}
	n, _ = e.ns.Get(e.ctx, src, "/c.txt")
	if n.Copy != nsCF || n.Traversal != nsS {
		t.Errorf("after copy transitions: %+v", n)
	}
	for _, c := range []struct {
		ts   nodestore.TraversalStatus
		cs   nodestore.CopyStatus
		want int64
	}{{nsP, nsCP, 0}, {nsS, nsCP, 2}, {nsF, nsCP, 1}, {nsS, nsCF, 1}, {nsS, nsCS, 0}} {
		lvl := 1
		if c.ts == nsS && c.cs == nsCP {
			// "/" at level 0 and "/b" at level 1
			if got := e.count(src, 0, nsS, nsCP) + e.count(src, 1, nsS, nsCP); got != c.want {
				t.Errorf("Count(src successful pending) = %d, want %d", got, c.want)
			}
			continue
		}
		if got := e.count(src, lvl, c.ts, c.cs); got != c.want {
			t.Errorf("Count(src %d %s %s) = %d, want %d", lvl, c.ts, c.cs, got, c.want)
		}
	}
	if _, ok, _ := e.ns.LowestPendingLevel(e.ctx, src); ok {
		t.Error("LowestPendingLevel(src): found one, want none")
	}
	if lvl, ok, _ := e.ns.LowestPendingLevel(e.ctx, nodestore.QueueDst); !ok || lvl != 0 {
		t.Errorf("LowestPendingLevel(dst) = %d, %v; want 0", lvl, ok)
	}
	// Children, and the seed's form.
	if _, err := e.ns.SetStatus(e.ctx, src, "/a", nsP); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ns.CompleteWithChildren(e.ctx, src, "/a", nsS, []nodestore.Node{
		{Traversal: nsP, Copy: nsCP, State: nsFolder("/a/b", 2)},
		{Traversal: nsS, Copy: nsCP, State: nsFile("/a/c", 2)},
	}); err != nil {
		t.Fatal(err)
	}
	kids, err := e.ns.FetchChildrenByParentPath(e.ctx, nodestore.IndexPrefixSrcChildren, "/a", []nodestore.QueueType{src}, 1)
	if err != nil || len(kids) != 2 {
		t.Fatalf("FetchChildrenByParentPath = %v, %v", kids, err)
	}
	paths := []string{kids[0].Path, kids[1].Path}
	slices.Sort(paths)
	if paths[0] != "/a/b" || paths[1] != "/a/c" {
		t.Errorf("children of /a = %v", paths)
	}
	_, err = e.ns.FetchChildrenByParentPath(e.ctx, nodestore.IndexPrefixSrcChildren, "/a", []nodestore.QueueType{nodestore.QueueDst}, 1)
	wantErrIs(t, "FetchChildrenByParentPath with a queue not the prefix's", err, nodestore.ErrInvalidQueue)
	root, err := e.ns.Children(e.ctx, src, "/")
	if err != nil || len(root) != 3 {
		t.Errorf("Children(/) = %d nodes, %v; want 3", len(root), err)
	}
	if none, err := e.ns.Children(e.ctx, src, "/a/c"); err != nil || len(none) != 0 {
		t.Errorf("Children(file) = %v, %v", none, err)
	}
	e.wantConsistent("after transitions")
}

func nsFolderWithStatus(path string, depth int, ts nodestore.TraversalStatus) nodestore.NodeState {
	s := nsFolder(path, depth)
	s.Status = ts
	return s
}

func nsDuplicates(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	before := e.dump()
	for _, n := range []nodestore.Node{
		nsSrc(1, nsP, nsCP, nsFolder("/a", 1)),
		nsSrc(1, nsS, nsCS, nsFolder("/a", 1)),
		nsSrc(1, nsF, nsCF, nsFile("/a", 1)),
	} {
		err := e.ns.Insert(e.ctx, n)
		wantErrIs(t, "Insert of a stored path", err, nodestore.ErrExists)
	}
	if e.dump() != before {
		t.Fatal("a rejected duplicate insert changed the store")
	}
	// The same path in the other queue is another node.
	e.insert(nsDst(1, nsP, nsFolder("/a", 1)))
	st := nsFolder("/a", 1)
	st2 := nsFile("/d", 1)
	st3 := nsFile("/d", 1)
	res, err := e.ns.BatchInsertNodes(e.ctx, []nodestore.InsertOperation{
		{QueueType: nodestore.QueueSrc, Level: 1, TraversalStatus: nsS, CopyStatus: nsCP, State: &st, IndexPrefix: nodestore.IndexPrefixSrcChildren},
		{QueueType: nodestore.QueueSrc, Level: 1, TraversalStatus: nsS, CopyStatus: nsCP, State: &st2},
		{QueueType: nodestore.QueueSrc, Level: 1, TraversalStatus: nsF, CopyStatus: nsCP, State: &st3},
		{QueueType: nodestore.QueueDst, Level: 1, TraversalStatus: nsS, State: &st3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 || len(res.Skipped) != 2 || res.Skipped[0].Index != 0 || res.Skipped[1].Index != 2 {
		t.Fatalf("BatchInsertNodes result %+v: want 2 applied, items 0 and 2 skipped", res)
	}
	for _, s := range res.Skipped {
		wantErrIs(t, "skip reason", s.Err, nodestore.ErrExists)
	}
	n := 0
	_ = e.ns.IterateNodeKeys(e.ctx, kv.IterOptions{Prefix: []byte("src:")}, func(k []byte) error { n++; return nil })
	if n != 5 {
		t.Errorf("%d src node keys, want 5 (one per path)", n)
	}
	e.wantConsistent("after duplicates")
}

func nsCompleteAtomic(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	kids := []nodestore.Node{
		{Traversal: nsP, Copy: nsCP, State: nsFolder("/a/b", 2)},
		{Traversal: nsS, Copy: nsCP, State: nsFile("/a/c", 2)},
	}
	res, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/a", nsS, kids)
	if err != nil || res.Applied != 2 || res.Chunks != 1 {
		t.Fatalf("CompleteWithChildren = %+v, %v", res, err)
	}
	n, _ := e.ns.Get(e.ctx, nodestore.QueueSrc, "/a")
	if n.Traversal != nsS {
		t.Errorf("parent is %s, want successful", n.Traversal)
	}
	// Again, as after a crash between listing and recording: all children
	// are reported as skipped, nothing is duplicated.
	before := e.dump()
	res, err = e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/a", nsS, kids)
	if err != nil || res.Applied != 0 || len(res.Skipped) != 2 {
		t.Fatalf("second CompleteWithChildren = %+v, %v", res, err)
	}
	if e.dump() != before {
		t.Error("a repeated completion changed the store")
	}
	// Too large for one transaction: nothing is applied.
	var many []nodestore.Node
	for i := range kv.LimitsOf(e.kv).MaxTxnBytes / 2000 {
		st := nsFile(fmt.Sprintf("/b/f%06d", i), 2)
		st.ID = strings.Repeat("i", 2000) // reach the byte limit with few keys
		many = append(many, nodestore.Node{Traversal: nsS, Copy: nsCP, State: st})
	}
	_, err = e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/b", nsS, many)
	wantErrIs(t, "CompleteWithChildren past the transaction limit", err, kv.ErrTxnTooLarge)
	if e.dump() != before {
		t.Error("a completion too large for one transaction changed the store")
	}
	e.wantConsistent("after completion")
}

func nsBatchChunks(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	// More than one transaction holds: 2 KB IDs reach kv.MaxTxnBytes with
	// few keys (kv.MaxTxnOps is checked by the traversal's sizes and by
	// the chunk planner's unit tests).
	n := 2 * kv.LimitsOf(e.kv).MaxTxnBytes / 2000
	ops := make([]nodestore.InsertOperation, n)
	states := make([]nodestore.NodeState, n)
	for i := range ops {
		states[i] = nsFile(fmt.Sprintf("/a/f%06d", i), 2)
		states[i].ID = strings.Repeat("i", 2000)
		ops[i] = nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsS, CopyStatus: nsCP, State: &states[i]}
	}
	res, err := e.ns.BatchInsertNodes(e.ctx, ops)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != n || len(res.Skipped) != 0 || res.Chunks < 2 {
		t.Fatalf("BatchInsertNodes = applied %d, skipped %d, chunks %d; want %d, 0, >= 2", res.Applied, len(res.Skipped), res.Chunks, n)
	}
	if c := e.count(nodestore.QueueSrc, 2, nsS, nsCP); c != int64(n) {
		t.Errorf("Count = %d, want %d", c, n)
	}
	kids, err := e.ns.Children(e.ctx, nodestore.QueueSrc, "/a")
	if err != nil || len(kids) != n {
		t.Errorf("Children(/a) = %d, %v; want %d", len(kids), err, n)
	}
	digest, _ := e.digest()
	res, err = e.ns.BatchInsertNodes(e.ctx, ops)
	if err != nil || res.Applied != 0 || len(res.Skipped) != n {
		t.Fatalf("repeated BatchInsertNodes = applied %d, skipped %d, %v", res.Applied, len(res.Skipped), err)
	}
	if d, _ := e.digest(); d != digest {
		t.Error("a repeated batch changed the store")
	}
	e.wantConsistent("after chunked batch")
}

// nsBatchLargeNode: a node that fits one kv transaction is stored by the
// batch operations as Insert stores it, in a chunk of its own when it is
// larger than the backend's default chunk size (768 KiB on some backends).
func nsBatchLargeNode(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	big := strings.Repeat("i", 1<<20)
	states := []nodestore.NodeState{nsFile("/a/big1", 2), nsFile("/a/big2", 2)}
	var ops []nodestore.InsertOperation
	for i := range states {
		states[i].ID = big
		ops = append(ops, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: &states[i]})
	}
	res, err := e.ns.BatchInsertNodes(e.ctx, ops)
	if err != nil || res.Applied != 2 {
		t.Fatalf("BatchInsertNodes of two nodes with 1 MiB IDs = %+v, %v; want both applied", res, err)
	}
	res, err = e.ns.BatchSetStatus(e.ctx, nodestore.QueueSrc, []string{"/a/big1", "/a/big2"}, nsS)
	if err != nil || res.Applied != 2 {
		t.Fatalf("BatchSetStatus of the two nodes = %+v, %v; want both applied", res, err)
	}
	if c := e.count(nodestore.QueueSrc, 2, nsS, nsCP); c < 2 {
		t.Errorf("Count = %d, want at least the 2 large nodes", c)
	}
	e.wantConsistent("after batches of large nodes")
}

func nsBatchUpdateSkips(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	var paths []string
	var ops []nodestore.InsertOperation
	for i := range 10 {
		st := nsFolder(fmt.Sprintf("/a/d%d", i), 2)
		paths = append(paths, st.Path)
		ops = append(ops, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: &st})
	}
	if _, err := e.ns.BatchInsertNodes(e.ctx, ops); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 4, 7} {
		if _, err := e.ns.SetStatus(e.ctx, nodestore.QueueSrc, paths[i], nsF); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.ns.BatchUpdateNodeStatus(e.ctx, nodestore.QueueSrc, 2, nsP, nsS, nsCP, append(paths, "/a/none"))
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, s := range res.Skipped {
		idx = append(idx, s.Index)
	}
	if res.Applied != 7 || fmt.Sprint(idx) != "[1 4 7 10]" {
		t.Fatalf("BatchUpdateNodeStatus = %+v; want 7 applied, skipped [1 4 7 10]", res)
	}
	wantErrIs(t, "skip of a moved node", res.Skipped[0].Err, nodestore.ErrStatusMismatch)
	wantErrIs(t, "skip of a missing node", res.Skipped[3].Err, nodestore.ErrNotFound)
	if c := e.count(nodestore.QueueSrc, 2, nsS, nsCP); c != 7 {
		t.Errorf("Count(successful) = %d, want 7", c)
	}
	res, err = e.ns.BatchSetCopyStatus(e.ctx, nodestore.QueueSrc, paths[:3], nsCS)
	if err != nil || res.Applied != 3 {
		t.Fatalf("BatchSetCopyStatus = %+v, %v", res, err)
	}
	res, err = e.ns.BatchSetStatus(e.ctx, nodestore.QueueSrc, paths, nsP)
	if err != nil || res.Applied != 10 {
		t.Fatalf("BatchSetStatus = %+v, %v", res, err)
	}
	if c, _ := e.ns.PendingAt(e.ctx, nodestore.QueueSrc, 2); c != 10 {
		t.Errorf("PendingAt(2) = %d, want 10", c)
	}
	e.wantConsistent("after batch updates")
}

func nsPaging(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	const n = 1000
	var ops []nodestore.InsertOperation
	for i := range n {
		st := nsFolder(fmt.Sprintf("/a/d%04d", i), 2)
		ops = append(ops, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: &st})
	}
	if _, err := e.ns.BatchInsertNodes(e.ctx, ops); err != nil {
		t.Fatal(err)
	}
	// A read-only pass sees every node once, in key order.
	var cur nodestore.Cursor
	var keys []string
	for {
		page, next, err := e.ns.PendingPage(e.ctx, nodestore.QueueSrc, 2, cur, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range page {
			k, _ := nd.Key()
			keys = append(keys, string(k))
		}
		cur = next
		if len(page) < 64 {
			break
		}
	}
	if len(keys) != n || !sortedStrings(keys) {
		t.Fatalf("read-only pass: %d keys (sorted %v), want %d sorted", len(keys), sortedStrings(keys), n)
	}
	// The engine's pass: pull a page, complete it, continue from the cursor.
	seen := map[string]bool{}
	cur = ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("the pass does not end")
		}
		page, next, err := e.ns.PendingPage(e.ctx, nodestore.QueueSrc, 2, cur, 100)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, nd := range page {
			if seen[nd.State.Path] {
				t.Fatalf("%s returned twice", nd.State.Path)
			}
			seen[nd.State.Path] = true
			paths = append(paths, nd.State.Path)
		}
		if res, err := e.ns.BatchUpdateNodeStatus(e.ctx, nodestore.QueueSrc, 2, nsP, nsS, nsCP, paths); err != nil || res.Applied != len(paths) {
			t.Fatalf("BatchUpdateNodeStatus = %+v, %v", res, err)
		}
		cur = next
		if len(page) < 100 {
			break
		}
	}
	if len(seen) != n {
		t.Errorf("the pass saw %d nodes, want %d", len(seen), n)
	}
	if done, _ := e.ns.LevelDone(e.ctx, nodestore.QueueSrc, 2); !done {
		t.Error("LevelDone after the pass = false")
	}
	_, _, err := e.ns.PendingPage(e.ctx, nodestore.QueueSrc, 1, cur, 10)
	wantErrIs(t, "a cursor of another pass", err, nodestore.ErrInvalidKey)
	// Copy-phase pages.
	page, _, err := e.ns.ListByCopyStatus(e.ctx, nodestore.QueueSrc, 2, nsS, nsCP, "", 5)
	if err != nil || len(page) != 5 {
		t.Errorf("ListByCopyStatus = %d nodes, %v", len(page), err)
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func nsConcurrent(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	workers, per := 6, 60
	if testing.Short() {
		per = 20
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			dir := fmt.Sprintf("/a/w%d", w)
			if err := e.ns.Insert(e.ctx, nsSrc(2, nsP, nsCP, nsFolder(dir, 2))); err != nil {
				errs <- err
				return
			}
			var kids []nodestore.Node
			for i := range per {
				kids = append(kids, nodestore.Node{Traversal: nsP, Copy: nsCP, State: nsFile(fmt.Sprintf("%s/f%d", dir, i), 3)})
			}
			if _, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, dir, nsS, kids); err != nil {
				errs <- err
				return
			}
			for i := range per {
				p := fmt.Sprintf("%s/f%d", dir, i)
				ts := []nodestore.TraversalStatus{nsS, nsF}[i%2]
				if _, err := e.ns.SetStatus(e.ctx, nodestore.QueueSrc, p, ts); err != nil {
					errs <- err
					return
				}
				if i%3 == 0 {
					if _, err := e.ns.SetCopyStatus(e.ctx, nodestore.QueueSrc, p, nsCS); err != nil {
						errs <- err
						return
					}
				}
				// Everyone also flips the shared nodes.
				if _, err := e.ns.SetStatus(e.ctx, nodestore.QueueSrc, "/b", []nodestore.TraversalStatus{nsP, nsS, nsF}[(i+w)%3]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mm, err := e.ns.CheckCounts(e.ctx)
	if err != nil || len(mm) != 0 {
		t.Fatalf("CheckCounts after concurrent workers: %v %v", mm, err)
	}
	var succ, fail, copied int64
	for i := range per {
		if i%2 == 0 {
			succ++
		} else {
			fail++
		}
		if i%3 == 0 {
			copied++
		}
	}
	total := e.count(nodestore.QueueSrc, 3, nsS, nsCP) + e.count(nodestore.QueueSrc, 3, nsS, nsCS) +
		e.count(nodestore.QueueSrc, 3, nsF, nsCP) + e.count(nodestore.QueueSrc, 3, nsF, nsCS)
	if total != int64(workers*per) {
		t.Errorf("level 3 holds %d nodes by the counters, want %d", total, workers*per)
	}
	if c := e.count(nodestore.QueueSrc, 3, nsS, nsCP) + e.count(nodestore.QueueSrc, 3, nsS, nsCS); c != succ*int64(workers) {
		t.Errorf("successful at level 3 = %d, want %d", c, succ*int64(workers))
	}
	if c := e.count(nodestore.QueueSrc, 3, nsS, nsCS) + e.count(nodestore.QueueSrc, 3, nsF, nsCS); c != copied*int64(workers) {
		t.Errorf("copied at level 3 = %d, want %d", c, copied*int64(workers))
	}
	e.wantConsistent("after concurrent workers")
}

func nsRebuildCounts(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	want := e.dump()
	// Break the counters behind nodestore's back.
	var counter []byte
	_ = e.kv.Iterate(e.ctx, kv.IterOptions{Prefix: []byte("src:count:")}, func(k, _ []byte) error {
		counter = bytes.Clone(k)
		return kv.SkipAll
	})
	if counter == nil {
		t.Fatal("no src:count: key found")
	}
	if err := e.kv.Set(e.ctx, counter, []byte{0, 0, 0, 0, 0, 0, 0, 9}); err != nil {
		t.Fatal(err)
	}
	if err := e.kv.DeletePrefix(e.ctx, []byte("dst:pendinglevel:")); err != nil {
		t.Fatal(err)
	}
	if err := e.kv.Set(e.ctx, []byte("src:count:00000042:failed:failed"), []byte{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	mm, err := e.ns.CheckCounts(e.ctx)
	if err != nil || len(mm) != 3 {
		t.Fatalf("CheckCounts on broken counters = %v, %v; want 3 mismatches", mm, err)
	}
	if rep, _ := e.ns.Check(e.ctx); rep.OK() {
		t.Error("Check found nothing wrong with broken counters")
	}
	if err := e.ns.RebuildCounts(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.dump(); got != want {
		t.Errorf("after RebuildCounts the store differs from before the damage:\n%s\nwant:\n%s", got, want)
	}
	got, err := e.ns.Counts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := e.ns.ScanCounts(e.ctx)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(scanned) {
		t.Errorf("Counts = %v, ScanCounts = %v (%v)", got, scanned, err)
	}
}

func nsDumpLoad(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	if err := e.kv.Set(e.ctx, []byte("log:info:1"), []byte("not nodestore")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.ns.Dump(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	other := e.sibling(t)
	n, err := other.ns.Load(other.ctx, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	collectNS := func(s *nodestore.Store, out *[]string) {
		if err := s.Export(e.ctx, func(k, v []byte) error {
			*out = append(*out, fmt.Sprintf("%s=%x", k, v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	collectNS(e.ns, &want)
	collectNS(other.ns, &got)
	if n != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Load wrote %d keys; export after load differs from the source (%d keys)", n, len(want))
	}
	// Byte for byte, the loaded store holds the source's keys of both
	// queues, and nothing else: comparing two Exports alone would miss a
	// queue that Export leaves out.
	var wantRaw strings.Builder
	for _, line := range strings.SplitAfter(e.dump(), "\n") {
		if !strings.HasPrefix(line, "log:") {
			wantRaw.WriteString(line)
		}
	}
	if got := other.dump(); got != wantRaw.String() || !strings.Contains(got, "dst:") || !strings.Contains(got, "src:") {
		t.Errorf("the loaded store differs from the source's nodestore keys:\n%s\nwant:\n%s", got, wantRaw.String())
	}
	for _, k := range want {
		if strings.HasPrefix(k, "log:") {
			t.Errorf("Export included a key of another layer: %s", k)
		}
	}
	other.wantConsistent("after load")
	_, err = other.ns.Load(other.ctx, bytes.NewReader(buf.Bytes()))
	wantErrIs(t, "Load into a non-empty store", err, nodestore.ErrExists)
	_, err = other.ns.Load(other.ctx, strings.NewReader("garbage"))
	if err == nil {
		t.Error("Load of garbage succeeded")
	}
}

func nsAfterClose(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	if err := e.kv.Close(); err != nil {
		t.Fatal(err)
	}
	noPanic(t, "nodestore after Close", func() {
		_, err := e.ns.Get(e.ctx, nodestore.QueueSrc, "/a")
		wantErrIs(t, "Get after Close", err, kv.ErrClosed)
		err = e.ns.Insert(e.ctx, nsSrc(1, nsP, nsCP, nsFolder("/x", 1)))
		wantErrIs(t, "Insert after Close", err, kv.ErrClosed)
		_, err = e.ns.SetStatus(e.ctx, nodestore.QueueSrc, "/a", nsS)
		wantErrIs(t, "SetStatus after Close", err, kv.ErrClosed)
		_, err = e.ns.Count(e.ctx, nodestore.QueueSrc, 1, nsP, nsCP)
		wantErrIs(t, "Count after Close", err, kv.ErrClosed)
		_, _, err = e.ns.PendingPage(e.ctx, nodestore.QueueSrc, 1, "", 10)
		wantErrIs(t, "PendingPage after Close", err, kv.ErrClosed)
		_, err = e.ns.Check(e.ctx)
		wantErrIs(t, "Check after Close", err, kv.ErrClosed)
	})
}

// nsBatchReadsBounded: a batch whose nodes mostly need no write (already
// at their target, at another status, or missing) still splits its work
// into transactions the store takes: on a store that bounds what one
// transaction may read (a networked engine compares every key read at
// commit), a chunk must end on its reads too, not only on its writes, or
// the one write after many reads makes its commit fail with
// kv.ErrTxnTooLarge.
func nsBatchReadsBounded(t *testing.T, e *nsEnv) {
	e.seedSmallTree()
	n := min(kv.LimitsOf(e.kv).MaxTxnOps, 2048)
	ops := make([]nodestore.InsertOperation, n, n+1)
	states := make([]nodestore.NodeState, n+1)
	paths := make([]string, n)
	for i := range n {
		states[i] = nsFile(fmt.Sprintf("/a/f%06d", i), 2)
		paths[i] = states[i].Path
		ops[i] = nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsS, CopyStatus: nsCP, State: &states[i]}
	}
	// One pending folder, which each batch below moves after the n nodes
	// it only reads.
	states[n] = nsFolder("/a/last", 2)
	ops = append(ops, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: &states[n]})
	if res, err := e.ns.BatchInsertNodes(e.ctx, ops); err != nil || res.Applied != n+1 {
		t.Fatalf("BatchInsertNodes of %d nodes = %+v, %v", n+1, res, err)
	}
	last := "/a/last"
	res, err := e.ns.BatchUpdateNodeStatus(e.ctx, nodestore.QueueSrc, 2, nsP, nsF, nsCP, append(paths[:n:n], last))
	if err != nil || res.Applied != 1 || len(res.Skipped) != n {
		t.Errorf("BatchUpdateNodeStatus of %d nodes at another status, then one to move = applied %d, skipped %d, %v; want 1, %d, no error", n, res.Applied, len(res.Skipped), err, n)
	}
	if res, err := e.ns.BatchSetStatus(e.ctx, nodestore.QueueSrc, append(paths[:n:n], last), nsS); err != nil {
		t.Errorf("BatchSetStatus of %d nodes already at the status, then one to move = %+v, %v; want no error", n, res, err)
	}
	missing := make([]string, n, n+1)
	comps := make([]nodestore.Completion, n, n+1)
	for i := range missing {
		missing[i] = fmt.Sprintf("/a/none%06d", i)
		comps[i] = nodestore.Completion{Path: missing[i], Status: nsS}
	}
	res, err = e.ns.BatchSetStatus(e.ctx, nodestore.QueueSrc, append(missing, last), nsP)
	if err != nil || res.Applied != 1 || len(res.Skipped) != n {
		t.Errorf("BatchSetStatus of %d missing nodes, then one to move = applied %d, skipped %d, %v; want 1, %d, no error", n, res.Applied, len(res.Skipped), err, n)
	}
	cres, err := e.ns.CompleteBatch(e.ctx, nodestore.QueueSrc, append(comps, nodestore.Completion{Path: last, Status: nsS}))
	if err != nil {
		t.Fatalf("CompleteBatch of %d completions of missing folders, then one to apply = %v; want one error each, none for the call", n, err)
	}
	for i, r := range cres[:n] {
		if !errors.Is(r.Err, nodestore.ErrNotFound) {
			t.Errorf("completion %d of a missing folder: %v, want ErrNotFound", i, r.Err)
			break
		}
	}
	if r := cres[n]; r.Err != nil {
		t.Errorf("completion of %s after them: %v", last, r.Err)
	}
	if n, err := e.ns.Get(e.ctx, nodestore.QueueSrc, last); err != nil || n.Traversal != nsS {
		t.Errorf("%s after the batches: %+v, %v; want successful", last, n, err)
	}
	// A new node, then the n nodes again, all there, under the same
	// parent: findExisting reads the parent's children index.
	more := nsFile("/a/new", 2)
	again := append([]nodestore.InsertOperation{{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsS, CopyStatus: nsCP, State: &more}}, ops[:n]...)
	res, err = e.ns.BatchInsertNodes(e.ctx, again)
	if err != nil || res.Applied != 1 || len(res.Skipped) != n {
		t.Errorf("BatchInsertNodes of a new node and %d already there = applied %d, skipped %d, %v; want 1, %d, no error", n, res.Applied, len(res.Skipped), err, n)
	}
	// Folders whose children are all stored already (a completion that
	// comes again after its children were inserted): each completion
	// reads every child it would insert, about a transaction's worth.
	per := max(1, min((n-64)/3, 200)) // and well within etcd's request bytes
	var pre []nodestore.InsertOperation
	var redo []nodestore.Completion
	for f := range 2 {
		folder := nsFolder(fmt.Sprintf("/b/re%d", f), 2)
		pre = append(pre, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 2, TraversalStatus: nsP, CopyStatus: nsCP, State: &folder})
		c := nodestore.Completion{Path: folder.Path, Status: nsS}
		for i := range per {
			kid := nsFile(fmt.Sprintf("%s/k%05d", folder.Path, i), 3)
			pre = append(pre, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: 3, TraversalStatus: nsP, CopyStatus: nsCP, State: &kid})
			c.Children = append(c.Children, nodestore.Node{Traversal: nsP, Copy: nsCP, State: kid})
		}
		redo = append(redo, c)
	}
	if res, err := e.ns.BatchInsertNodes(e.ctx, pre); err != nil || res.Applied != len(pre) {
		t.Fatalf("BatchInsertNodes of 2 folders and their %d children each = applied %d, %v", per, res.Applied, err)
	}
	cres, err = e.ns.CompleteBatch(e.ctx, nodestore.QueueSrc, redo)
	if err != nil {
		t.Fatalf("CompleteBatch of 2 folders whose %d children each are stored = %v", per, err)
	}
	for i, r := range cres {
		if r.Err != nil || r.Applied != 0 || len(r.Skipped) != per {
			t.Errorf("completion of %s (children all stored) = applied %d, skipped %d, %v; want 0, %d, no error", redo[i].Path, r.Applied, len(r.Skipped), r.Err, per)
		}
	}
	e.wantConsistent("after batches that mostly read")
}

// nsLowestPendingLevel: with pending nodes at several levels of a queue,
// LowestPendingLevel names the lowest, and the next one once that level
// is done (the other rules only ever had one pending level: mutation
// testing found a read of the second-lowest unchecked).
func nsLowestPendingLevel(t *testing.T, e *nsEnv) {
	src, dst := nodestore.QueueSrc, nodestore.QueueDst
	P, S := nodestore.TraversalStatusPending, nodestore.TraversalStatusSuccessful
	CP := nodestore.CopyStatusPending
	e.insert(nsSrc(0, S, CP, nsFolder("/", 0)))
	e.insert(nsSrc(2, P, CP, nsFile("/a/b", 2)))
	e.insert(nsSrc(5, P, CP, nsFile("/a/b/c/d/e", 5)))
	e.insert(nsSrc(5, P, CP, nsFile("/a/b/c/d/f", 5)))
	e.insert(nsDst(1, P, nsFile("/x", 1)))
	want := func(q nodestore.QueueType, level int, any bool) {
		t.Helper()
		got, ok, err := e.ns.LowestPendingLevel(e.ctx, q)
		if err != nil || ok != any || ok && got != level {
			t.Errorf("LowestPendingLevel(%s) = %d, %v, %v; want %d, %v", q, got, ok, err, level, any)
		}
	}
	want(src, 2, true)
	want(dst, 1, true)
	if _, err := e.ns.SetStatus(e.ctx, src, "/a/b", S); err != nil {
		t.Fatal(err)
	}
	want(src, 5, true)
	for _, p := range []string{"/a/b/c/d/e", "/a/b/c/d/f"} {
		if _, err := e.ns.SetStatus(e.ctx, src, p, S); err != nil {
			t.Fatal(err)
		}
	}
	want(src, 0, false)
	want(dst, 1, true)
}
