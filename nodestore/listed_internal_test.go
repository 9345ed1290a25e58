package nodestore

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/kv"
)

// TestListedHints: a page listed by PendingPage gives the completions of
// its folders a Listed hint at the position they were listed at, on a
// copy of the caller's completions; a hint is taken once.
func TestListedHints(t *testing.T) {
	ctx := context.Background()
	s := combineStore(t, 3)
	page, _, err := s.PendingPage(ctx, QueueSrc, 1, "", 10)
	if err != nil || len(page) != 3 {
		t.Fatalf("page: %d nodes, %v", len(page), err)
	}
	comps := []Completion{{Path: "/a0"}, {Path: "/zz"}, {Path: "/a2"}}
	hashes := []PathHash{hashNormal("/a0"), hashNormal("/zz"), hashNormal("/a2")}
	valid := []bool{true, true, true}
	got := s.listed.hints(QueueSrc, comps, hashes, valid)
	for i, c := range comps {
		if c.Listed != nil {
			t.Fatalf("the caller's completion %d was given a hint", i)
		}
	}
	for i, want := range []bool{true, false, true} {
		l := got[i].Listed
		if (l != nil) != want {
			t.Fatalf("completion %s: hint %v, want one: %v", comps[i].Path, l, want)
		}
		if l != nil && (l.Queue != QueueSrc || l.Level != 1 || l.Traversal != TraversalStatusPending || l.Copy != CopyStatusPending) {
			t.Fatalf("completion %s: hint at %+v", comps[i].Path, *l)
		}
	}
	if again := s.listed.hints(QueueSrc, comps, hashes, valid); again[0].Listed != nil || again[2].Listed != nil {
		t.Fatal("a hint was given twice")
	}
	// The other queue has no hints for these paths.
	s.listed.remember(hashes[:1], []Node{{Queue: QueueSrc, Level: 1, Traversal: TraversalStatusPending, Copy: CopyStatusPending}})
	if dst := s.listed.hints(QueueDst, comps, hashes, valid); dst[0].Listed != nil {
		t.Fatal("a src listing gave a dst completion a hint")
	}
}

// TestListedBounded: the remembered positions stay within two
// generations, the newest kept.
func TestListedBounded(t *testing.T) {
	var lp listedPositions
	const pages, pageLen = 100, listedMax / 20
	var last []PathHash
	for p := range pages {
		hashes := make([]PathHash, pageLen)
		nodes := make([]Node, pageLen)
		for i := range hashes {
			hashes[i] = hashNormal(fmt.Sprintf("/p%d/n%d", p, i))
			nodes[i].Queue = QueueDst
		}
		lp.remember(hashes, nodes)
		last = hashes
	}
	if n := len(lp.cur) + len(lp.old); n > 2*listedMax {
		t.Fatalf("%d positions remembered, want at most %d", n, 2*listedMax)
	}
	for _, h := range last {
		if _, ok := lp.cur[queueHash{QueueDst, h}]; !ok {
			t.Fatal("a position of the last page listed is gone")
		}
	}
}

// TestListedStaleHint: a position remembered before another Store (another
// process) moved the node is only a wrong guess: the completion finds the
// parent through its path key and does what a Store without the hint does.
func TestListedStaleHint(t *testing.T) {
	ctx := context.Background()
	run := func(listFirst bool) (BatchResult, Node) {
		a := combineStore(t, 2)
		b := New(a.KV()) // the other process
		if listFirst {
			if _, _, err := a.PendingPage(ctx, QueueSrc, 1, "", 10); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.CompleteWithChildren(ctx, QueueSrc, "/a0", TraversalStatusFailed, nil); err != nil {
			t.Fatal(err)
		}
		res, err := a.CompleteWithChildren(ctx, QueueSrc, "/a0", TraversalStatusSuccessful, combineKids("/a0"))
		if err != nil {
			t.Fatalf("listed first %v: %v", listFirst, err)
		}
		n, err := a.Get(ctx, QueueSrc, "/a0")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := a.Check(ctx)
		if err != nil || len(rep.Problems) > 0 {
			t.Fatalf("check: %v %v", rep.Problems, err)
		}
		return res, n
	}
	hintedRes, hinted := run(true)
	plainRes, plain := run(false)
	if hintedRes.Applied != plainRes.Applied || len(hintedRes.Skipped) != len(plainRes.Skipped) ||
		hinted.Level != plain.Level || hinted.Traversal != plain.Traversal || hinted.Copy != plain.Copy {
		t.Fatalf("with a stale hint: %+v at %d/%s/%s; without: %+v at %d/%s/%s",
			hintedRes, hinted.Level, hinted.Traversal, hinted.Copy, plainRes, plain.Level, plain.Traversal, plain.Copy)
	}
	if hinted.Traversal != TraversalStatusSuccessful {
		t.Fatalf("parent left %s", hinted.Traversal)
	}
}

// pathReads counts the point reads of path keys in Update transactions.
type pathReads struct {
	kv.Store
	n atomic.Int64
}

func (p *pathReads) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	return p.Store.Update(ctx, func(tx kv.Txn) error { return fn(pathReadsTxn{tx, p}) })
}

type pathReadsTxn struct {
	kv.Txn
	p *pathReads
}

func (t pathReadsTxn) Get(key []byte) ([]byte, error) {
	if bytes.Contains(key, []byte(familyPath)) {
		t.p.n.Add(1)
	}
	return t.Txn.Get(key)
}

// TestListedBatchMove: BatchSetStatus of nodes a PendingPage has just
// listed reads them at the position they were listed at, never through
// their path keys; a node moved by another Store since is found through
// its path key all the same.
func TestListedBatchMove(t *testing.T) {
	ctx := context.Background()
	base := combineStore(t, 6)
	counted := &pathReads{Store: base.KV()}
	s := New(counted)
	other := New(base.KV()) // another process
	page, _, err := s.PendingPage(ctx, QueueSrc, 1, "", 10)
	if err != nil || len(page) != 6 {
		t.Fatalf("page: %d nodes, %v", len(page), err)
	}
	if _, err := other.SetStatus(ctx, QueueSrc, "/a3", TraversalStatusFailed); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/a0", "/a1", "/a2", "/a3", "/a4", "/a5"}
	res, err := s.BatchSetStatus(ctx, QueueSrc, paths, TraversalStatusSuccessful)
	if err != nil || res.Applied != len(paths) {
		t.Fatalf("BatchSetStatus: %+v, %v", res, err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("%d path keys read, want 1 (the node moved since its listing)", n)
	}
	for _, p := range paths {
		n, err := s.Get(ctx, QueueSrc, p)
		if err != nil || n.Traversal != TraversalStatusSuccessful {
			t.Fatalf("%s: %+v, %v", p, n, err)
		}
	}
	rep, err := s.Check(ctx)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	// Nothing listed: every node through its path key.
	counted.n.Store(0)
	if _, err := s.BatchSetStatus(ctx, QueueSrc, paths, TraversalStatusFailed); err != nil {
		t.Fatal(err)
	}
	if n := counted.n.Load(); n != int64(len(paths)) {
		t.Errorf("%d path keys read without a listing, want %d", n, len(paths))
	}
}
