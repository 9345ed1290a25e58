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
	db := openTestStore(t, dsn)
	ns := nodestore.New(db)
	seedCheckTree(t, ns)
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
	db = openTestStore(t, dsn)
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

// seedCheckTree stores, through ns, a src root (successful) with three
// pending files.
func seedCheckTree(t *testing.T, ns *nodestore.Store) {
	t.Helper()
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
}

// checkStore makes a bbolt store holding seedCheckTree, through a Store
// with opts, and returns its DSN.
func checkStore(t *testing.T, opts *nodestore.Options) string {
	t.Helper()
	dsn := "bbolt://" + t.TempDir() + "/s"
	db := openTestStore(t, dsn)
	defer db.Close()
	ns := nodestore.NewWithOptions(db, opts)
	seedCheckTree(t, ns)
	return dsn
}

// keysOf lists the keys of the store dsn names that contain part.
func keysOf(t *testing.T, dsn, part string) []string {
	t.Helper()
	db := openTestStore(t, dsn)
	defer db.Close()
	var out []string
	if err := db.Iterate(t.Context(), kv.IterOptions{KeysOnly: true}, func(k, _ []byte) error {
		if strings.Contains(string(k), part) {
			out = append(out, string(k))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// check --repair-counts corrects damaged counters (what a "run
// RebuildCounts" error asks an operator to do), and says so.
func TestCheckRepairCounts(t *testing.T) {
	dsn := checkStore(t, nil)
	put(t, dsn, "src:count:00000001:pending:pending", "\x00\x00\x00\x00\x00\x00\x00\x09",
		"src:pendinglevel:00000004", "\x00\x00\x00\x00\x00\x00\x00\x01")
	if code, out, stderr := polykv(t, nil, "check", dsn); code != 1 || !strings.Contains(out, "PROBLEM:") {
		t.Fatalf("check of damaged counters: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr := polykv(t, nil, "check", "--repair-counts", dsn)
	if code != 0 || !strings.Contains(out, "repaired: 2 problem(s) found") || !strings.Contains(out, "ok:") {
		t.Fatalf("check --repair-counts: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := polykv(t, nil, "check", "--counts", dsn); code != 0 || !strings.Contains(out, "count src level 1 pending/pending: 3") {
		t.Fatalf("check after the repair: exit %d\n%s%s", code, out, stderr)
	}
	// A consistent store is left alone: no repair to report.
	if code, out, stderr := polykv(t, nil, "check", "--repair-counts", "--json", dsn); code != 0 || strings.Contains(out, `"counts_rebuilt": true`) {
		t.Fatalf("check --repair-counts of a consistent store: exit %d\n%s%s", code, out, stderr)
	}
}

// check --fold folds the counter stripes a striped Store wrote, leaving
// the counts as they were.
func TestCheckFold(t *testing.T) {
	dsn := checkStore(t, &nodestore.Options{CounterStripes: nodestore.StripesOn})
	isStripe := func(k string) bool { n := len(k); return n > 3 && k[n-3] == ':' && k[n-2] >= '0' && k[n-2] <= '9' }
	stripes := func() (n int) {
		for _, k := range append(keysOf(t, dsn, ":count:"), keysOf(t, dsn, ":pendinglevel:")...) {
			if isStripe(k) {
				n++
			}
		}
		return n
	}
	if stripes() == 0 {
		t.Fatal("the striped Store wrote no stripe key")
	}
	code, out, stderr := polykv(t, nil, "check", "--fold", "--counts", dsn)
	if code != 0 || !strings.Contains(out, "folded: the stripes of") || !strings.Contains(out, "count src level 1 pending/pending: 3") {
		t.Fatalf("check --fold: exit %d\n%s%s", code, out, stderr)
	}
	if n := stripes(); n != 0 {
		t.Errorf("%d stripe keys left after check --fold", n)
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, msg, line string }{
		{"plain text, é ü", "plain text, é ü", "plain text, é ü"},
		{"a\x1b[2Jb", `a\x1b[2Jb`, `a\x1b[2Jb`},
		{"two\nlines\tand tab", "two\nlines\tand tab", `two\x0alines\x09and tab`},
		{"bad \xff utf-8, del \x7f, c1 \u009b", `bad \xff utf-8, del \x7f, c1 \xc2\x9b`, `bad \xff utf-8, del \x7f, c1 \xc2\x9b`},
	} {
		if got := printable(tc.in); got != tc.msg {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.msg)
		}
		if got := printableLine(tc.in); got != tc.line {
			t.Errorf("printableLine(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

// check prints a problem naming a key of any bytes on one line, with no
// control character: a child index key holding a terminal escape went to
// the terminal raw.
func TestCheckHostileKey(t *testing.T) {
	dsn := checkStore(t, nil)
	put(t, dsn, "src:children:\x1b[2J\x1b[31mEVIL\nline:"+strings.Repeat("0", 32), "x")
	code, out, stderr := polykv(t, nil, "check", dsn)
	if code != 1 || !strings.Contains(out, "PROBLEM:") {
		t.Fatalf("check of a store with a hostile key: exit %d\n%s%s", code, out, stderr)
	}
	for _, line := range strings.Split(out+stderr, "\n") {
		if strings.ContainsAny(line, "\x1b\r") {
			t.Errorf("a control character reached the output: %q", line)
		}
		if strings.HasPrefix(line, "line:") {
			t.Errorf("a newline in a key split a problem line: %q", line)
		}
	}
}

// check --counts on a store whose counter does not decode still lists the
// problems (it stopped at the counters' error before).
func TestCheckCountsOfDamagedCounter(t *testing.T) {
	dsn := checkStore(t, nil)
	put(t, dsn, "src:count:00000001:pending:pending", "bad")
	code, out, stderr := polykv(t, nil, "check", "--counts", dsn)
	if code != 1 || !strings.Contains(out, "PROBLEM:") || !strings.Contains(stderr, "--counts:") {
		t.Fatalf("check --counts of a damaged counter: exit %d\n%s%s", code, out, stderr)
	}
}
