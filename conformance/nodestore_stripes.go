package conformance

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// nsCounterStripes: where nodestore writes counter stripes (a shared
// store, or Options.CounterStripes; nodestore's doc, "Counts on a shared
// store"), the counts of concurrent workers are exact as the sums of their
// stripes, and FoldCounts leaves no stripe and the same counts; where it
// does not, no stripe key is ever written and FoldCounts finds nothing to
// fold.
func nsCounterStripes(t *testing.T, e *nsEnv) {
	P, S := nodestore.TraversalStatusPending, nodestore.TraversalStatusSuccessful
	CP, CS := nodestore.CopyStatusPending, nodestore.CopyStatusSuccessful
	const workers, perWorker = 4, 3
	e.insert(nsSrc(0, P, CP, nsFolder("/", 0)))
	var dirs []nodestore.Node
	for i := range workers * perWorker {
		dirs = append(dirs, nsSrc(1, P, CP, nsFolder(fmt.Sprintf("/d%02d", i), 1)))
	}
	if _, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/", S, dirs); err != nil {
		t.Fatal(err)
	}
	// Each worker is a Store of its own, as in a process of its own: it
	// completes its folders with two files each, then copies one file.
	var wg sync.WaitGroup
	for w := range workers {
		ns := e.newStore(0)
		wg.Go(func() {
			for i := w; i < len(dirs); i += workers {
				dir := dirs[i].State.Path
				files := []nodestore.Node{nsSrc(2, S, CP, nsFile(dir+"/f1", 2)), nsSrc(2, S, CP, nsFile(dir+"/f2", 2))}
				if _, err := ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, dir, S, files); err != nil {
					t.Errorf("worker %d: complete %s: %v", w, dir, err)
					return
				}
				if _, err := ns.SetCopyStatus(e.ctx, nodestore.QueueSrc, dir+"/f1", CS); err != nil {
					t.Errorf("worker %d: copy %s/f1: %v", w, dir, err)
					return
				}
			}
		})
	}
	wg.Wait()
	stripes := nsStripeKeys(t, e)
	switch {
	case e.striped && len(stripes) == 0:
		t.Fatal("a Store that writes counter stripes wrote none")
	case !e.striped && len(stripes) > 0:
		t.Fatalf("a Store without counter stripes wrote stripe keys: %q", stripes)
	}
	counts, err := e.ns.Counts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := e.ns.ScanCounts(e.ctx)
	if err != nil || fmt.Sprint(counts) != fmt.Sprint(scanned) {
		t.Fatalf("Counts = %v; ScanCounts = %v, %v", counts, scanned, err)
	}
	for _, c := range []struct {
		level  int
		ts     nodestore.TraversalStatus
		cs     nodestore.CopyStatus
		want   int64
		reason string
	}{
		{1, S, CP, workers * perWorker, "every folder completed"},
		{1, P, CP, 0, "no folder left pending"},
		{2, S, CP, workers * perWorker, "one file of each folder not copied"},
		{2, S, CS, workers * perWorker, "one file of each folder copied"},
	} {
		if n, err := e.ns.Count(e.ctx, nodestore.QueueSrc, c.level, c.ts, c.cs); err != nil || n != c.want {
			t.Errorf("Count(src, %d, %s, %s) = %d, %v; want %d (%s)", c.level, c.ts, c.cs, n, err, c.want, c.reason)
		}
	}
	if n, err := e.ns.PendingAt(e.ctx, nodestore.QueueSrc, 1); err != nil || n != 0 {
		t.Errorf("PendingAt(src, 1) = %d, %v; want 0", n, err)
	}
	if l, ok, err := e.ns.LowestPendingLevel(e.ctx, nodestore.QueueSrc); err != nil || ok {
		t.Errorf("LowestPendingLevel(src) = %d, %v, %v; want none", l, ok, err)
	}
	folded, err := e.ns.FoldCounts(e.ctx)
	switch {
	case err != nil:
		t.Fatalf("FoldCounts: %v", err)
	case e.striped && folded == 0:
		t.Error("FoldCounts folded nothing on a store with stripes")
	case !e.striped && folded != 0:
		t.Errorf("FoldCounts folded %d counters on a store without stripes", folded)
	}
	if left := nsStripeKeys(t, e); len(left) > 0 {
		t.Errorf("stripe keys left after FoldCounts: %q", left)
	}
	after, err := e.ns.Counts(e.ctx)
	if err != nil || !slices.Equal(after, counts) {
		t.Errorf("Counts after FoldCounts = %v, %v; want %v", after, err, counts)
	}
	if rep, err := e.ns.Check(e.ctx); err != nil || !rep.OK() {
		t.Errorf("Check after FoldCounts = %v, %v", rep.Problems, err)
	}
}

// nsStripeKeys returns the counter stripe keys of e's store: a count or
// pending-level key followed by ":" and two digits.
func nsStripeKeys(t *testing.T, e *nsEnv) []string {
	t.Helper()
	var out []string
	for _, q := range []string{"src:", "dst:"} {
		for _, fam := range []string{"count:", "pendinglevel:"} {
			err := e.kv.Iterate(e.ctx, kv.IterOptions{Prefix: []byte(q + fam), KeysOnly: true}, func(k, _ []byte) error {
				if n := len(k); n > 3 && k[n-3] == ':' && isDigit(k[n-2]) && isDigit(k[n-1]) {
					out = append(out, string(k))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
