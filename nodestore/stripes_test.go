package nodestore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// openOptimistic opens a memory store whose Update runs optimistically,
// as on a shared store: concurrent writers conflict on what they read.
func openOptimistic(t *testing.T) kv.Store { return openMemoryTxn(t, "optimistic") }

// openMemoryTxn opens a memory store whose Update runs in txn mode
// (memory's opt.txn: "lock" or "optimistic").
func openMemoryTxn(t *testing.T, txn string) kv.Store {
	t.Helper()
	cfg, err := kv.ParseDSN("memory:?opt.txn=" + txn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.OpenDriver(t.Context(), cfg, memory.Driver{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// stripeTree inserts a root and completes it, then has workers Stores
// (each as a process of its own would) complete a share of the folders
// under it with their files, concurrently.
func stripeTree(t *testing.T, s kv.Store, opts *nodestore.Options, workers int) {
	t.Helper()
	ctx := t.Context()
	ns := nodestore.NewWithOptions(s, opts)
	const folders, files = 24, 5
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
		t.Fatal(err)
	}
	var kids []nodestore.Node
	for i := range folders {
		n := file(nodestore.QueueSrc, "/", fmt.Sprintf("d%02d", i), 1)
		n.Traversal, n.State.Type = nodestore.TraversalStatusPending, nodestore.NodeTypeFolder
		kids = append(kids, n)
	}
	if _, err := ns.CompleteWithChildren(ctx, nodestore.QueueSrc, "/", nodestore.TraversalStatusSuccessful, kids); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range workers {
		ns := nodestore.NewWithOptions(s, opts)
		wg.Go(func() {
			for i := w; i < folders; i += workers {
				dir := fmt.Sprintf("/d%02d", i)
				var fs []nodestore.Node
				for j := range files {
					fs = append(fs, file(nodestore.QueueSrc, dir, fmt.Sprintf("f%d", j), 2))
				}
				if _, err := ns.CompleteWithChildren(ctx, nodestore.QueueSrc, dir, nodestore.TraversalStatusSuccessful, fs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// dumpKV returns every key and value of s as text, in order.
func dumpKV(t *testing.T, s kv.Store) string {
	t.Helper()
	var b strings.Builder
	if err := s.Iterate(t.Context(), kv.IterOptions{}, func(k, v []byte) error {
		fmt.Fprintf(&b, "%s %x\n", k, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// stripeKeys returns the counter keys of s that are stripes (":NN" after
// a count or pending-level key).
func stripeKeys(t *testing.T, s kv.Store) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"src:count:", "src:pendinglevel:", "dst:count:", "dst:pendinglevel:"} {
		if err := s.Iterate(t.Context(), kv.IterOptions{Prefix: []byte(fam)}, func(k, _ []byte) error {
			if n := len(k); n > 3 && k[n-3] == ':' && k[n-2] >= '0' && k[n-2] <= '9' {
				out = append(out, string(k))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Four Stores with stripes write the same tree as one without: the counts
// are exact (Check, Counts against ScanCounts) while the counters are
// spread over stripes, and once folded the store holds the same bytes as
// the one without stripes.
func TestCounterStripesFoldToLayout(t *testing.T) {
	ctx := t.Context()
	plain := openOptimistic(t)
	stripeTree(t, plain, nil, 1)
	striped := openOptimistic(t)
	stripeTree(t, striped, &nodestore.Options{CounterStripes: nodestore.StripesOn}, 4)

	ns := nodestore.New(striped)
	keys := stripeKeys(t, striped)
	if len(keys) == 0 {
		t.Fatal("no stripe keys after a striped traversal")
	}
	if got := stripeKeys(t, plain); len(got) != 0 {
		t.Fatalf("stripe keys on a store without stripes: %q", got)
	}
	wantOK(t, ns)
	counts, err := ns.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := nodestore.New(plain).Counts(ctx)
	if err != nil || fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("Counts with stripes = %v, want %v (%v)", counts, want, err)
	}
	for _, c := range []struct {
		level int
		ts    nodestore.TraversalStatus
		want  int64
	}{{0, nodestore.TraversalStatusSuccessful, 1}, {1, nodestore.TraversalStatusSuccessful, 24}, {1, nodestore.TraversalStatusPending, 0}, {2, nodestore.TraversalStatusSuccessful, 120}} {
		n, err := ns.Count(ctx, nodestore.QueueSrc, c.level, c.ts, nodestore.CopyStatusPending)
		if err != nil || n != c.want {
			t.Errorf("Count(level %d, %s) = %d, %v; want %d", c.level, c.ts, n, err, c.want)
		}
	}
	if l, ok, err := ns.LowestPendingLevel(ctx, nodestore.QueueSrc); err != nil || ok {
		t.Errorf("LowestPendingLevel = %d, %v, %v; want none", l, ok, err)
	}
	folded, err := ns.FoldCounts(ctx)
	if err != nil || folded == 0 {
		t.Fatalf("FoldCounts = %d, %v", folded, err)
	}
	if got := stripeKeys(t, striped); len(got) != 0 {
		t.Errorf("stripe keys left after FoldCounts: %q", got)
	}
	if got, want := dumpKV(t, striped), dumpKV(t, plain); got != want {
		t.Errorf("folded store differs from the one written without stripes:\n%s\nwant:\n%s", got, want)
	}
	if n, err := ns.FoldCounts(ctx); err != nil || n != 0 {
		t.Errorf("second FoldCounts = %d, %v; want 0", n, err)
	}
}

func counterValue(n int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n))
}

// A counter is the sum of its stripes, whatever their signs: a level whose
// stripes sum to zero has no pending node, a negative stripe is no damage,
// but a sum below zero, a stripe at zero or a stripe ":00" is.
func TestCounterStripeSums(t *testing.T) {
	ctx := t.Context()
	s, ns := newMemory(t)
	set := func(k string, v []byte) {
		t.Helper()
		if err := s.Set(ctx, []byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	set("src:pendinglevel:00000001:03", counterValue(4))
	set("src:pendinglevel:00000001:07", counterValue(-4))
	set("src:pendinglevel:00000002", counterValue(2))
	set("src:pendinglevel:00000002:11", counterValue(-1))
	l, ok, err := ns.LowestPendingLevel(ctx, nodestore.QueueSrc)
	if err != nil || !ok || l != 2 {
		t.Errorf("LowestPendingLevel = %d, %v, %v; want 2 (level 1 sums to zero)", l, ok, err)
	}
	if n, err := ns.PendingAt(ctx, nodestore.QueueSrc, 2); err != nil || n != 1 {
		t.Errorf("PendingAt(2) = %d, %v; want 1", n, err)
	}
	if n, err := ns.PendingAt(ctx, nodestore.QueueSrc, 1); err != nil || n != 0 {
		t.Errorf("PendingAt(1) = %d, %v; want 0", n, err)
	}
	for _, bad := range []struct{ key, why string }{
		{"src:pendinglevel:00000003:05", "sums below zero"},
		{"src:pendinglevel:00000004:00", "stripe 00"},
	} {
		set(bad.key, counterValue(-1))
		if _, err := ns.PendingAt(ctx, nodestore.QueueSrc, int(bad.key[len("src:pendinglevel:0000000")]-'0')); err == nil {
			t.Errorf("PendingAt over %s (%s): no error", bad.key, bad.why)
		}
		if _, err := ns.Counts(ctx); err != nil {
			t.Errorf("Counts reads no pending-level key, got %v", err)
		}
		rep, err := ns.Check(ctx)
		if err != nil || rep.OK() {
			t.Errorf("Check with %s (%s) = %v, %v; want a problem", bad.key, bad.why, rep.Problems, err)
		}
		if err := s.Delete(ctx, []byte(bad.key)); err != nil {
			t.Fatal(err)
		}
	}
	set("src:count:00000001:pending:pending:02", counterValue(0))
	if _, err := ns.Count(ctx, nodestore.QueueSrc, 1, nodestore.TraversalStatusPending, nodestore.CopyStatusPending); err == nil {
		t.Error("Count over a stripe holding 0: no error")
	}
}

// stripedDump writes a tree with three striped Stores and returns the
// store and its Dump.
func stripedDump(t *testing.T) (kv.Store, *bytes.Buffer) {
	t.Helper()
	src := openOptimistic(t)
	stripeTree(t, src, &nodestore.Options{CounterStripes: nodestore.StripesOn}, 3)
	var dump bytes.Buffer
	if err := nodestore.New(src).Dump(t.Context(), &dump); err != nil {
		t.Fatal(err)
	}
	return src, &dump
}

// A dump of a store with stripes loads (its stripes as they are, negative
// ones too); a dump with a stripe at zero is refused.
func TestLoadStripes(t *testing.T) {
	ctx := t.Context()
	src, dump := stripedDump(t)
	dst, ns := newMemory(t)
	if _, err := ns.Load(ctx, bytes.NewReader(dump.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpKV(t, dst), dumpKV(t, src); got != want {
		t.Errorf("loaded store differs:\n%s\nwant:\n%s", got, want)
	}
	wantOK(t, ns)

	var bad bytes.Buffer
	_, other := newMemory(t)
	w := nodestore.New(dst)
	if err := w.KV().Set(ctx, []byte("dst:count:00000001:successful::04"), counterValue(0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Dump(ctx, &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Load(ctx, &bad); err == nil || !strings.Contains(err.Error(), "dst:count:00000001:successful::04") {
		t.Errorf("Load of a stripe at zero = %v, want an error naming it", err)
	}
}

// Concurrent striped writers on one optimistic store: every count exact,
// also those that several writers' stripes hold together.
func TestCounterStripesConcurrent(t *testing.T) {
	s := openOptimistic(t)
	stripeTree(t, s, &nodestore.Options{CounterStripes: nodestore.StripesOn}, 8)
	ns := nodestore.New(s)
	wantOK(t, ns)
	mm, err := ns.CheckCounts(context.Background())
	if err != nil || len(mm) != 0 {
		t.Fatalf("CheckCounts = %v, %v", mm, err)
	}
}
