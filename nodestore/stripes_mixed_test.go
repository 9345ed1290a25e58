package nodestore_test

// Counter stripes met by Stores that do not write them, stripes racing
// FoldCounts, and damaged stripes.

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// A store copied from a shared one (Dump/Load, or `polykv copy`) into a
// local backend keeps its stripes. A Store there writes stripe 0 only:
// a change that takes that key below zero folds the counter's stripes
// into it (it failed as damage before), and Count sums the stripes.
func TestCounterStripesLoadedIntoLocalStore(t *testing.T) {
	ctx := t.Context()
	_, dump := stripedDump(t)
	dst, local := newMemory(t) // a local store: no stripes written
	if _, err := local.Load(ctx, bytes.NewReader(dump.Bytes())); err != nil {
		t.Fatal(err)
	}
	wantOK(t, local)
	if _, err := local.SetStatus(ctx, nodestore.QueueSrc, "/d00/f0", nodestore.TraversalStatusFailed); err != nil {
		t.Fatalf("SetStatus on a local store loaded from a striped dump: %v", err)
	}
	// A new Store over it (not the one that loaded) sums the stripes too.
	for _, ns := range []*nodestore.Store{local, nodestore.New(dst)} {
		n, err := ns.Count(ctx, nodestore.QueueSrc, 2, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusPending)
		if err != nil || n != 119 {
			t.Errorf("Count(src, 2, successful, pending) = %d, %v; want 119", n, err)
		}
	}
	wantOK(t, local)
}

// The same on the shared store itself with Options.CounterStripes =
// StripesOff: a Store without stripes writes after one with stripes.
func TestCounterStripesOffAfterOn(t *testing.T) {
	ctx := t.Context()
	s := openOptimistic(t)
	stripeTree(t, s, &nodestore.Options{CounterStripes: nodestore.StripesOn}, 3)
	off := nodestore.NewWithOptions(s, &nodestore.Options{CounterStripes: nodestore.StripesOff})
	if _, err := off.SetStatus(ctx, nodestore.QueueSrc, "/d01/f1", nodestore.TraversalStatusFailed); err != nil {
		t.Fatalf("SetStatus with StripesOff after a striped traversal: %v", err)
	}
	n, err := off.Count(ctx, nodestore.QueueSrc, 2, nodestore.TraversalStatusFailed, nodestore.CopyStatusPending)
	if err != nil || n != 1 {
		t.Errorf("Count(src, 2, failed, pending) = %d, %v; want 1", n, err)
	}
	wantOK(t, off)
}

// Striped writers (status flips of many nodes, each Store a process of its
// own) race with FoldCounts in a loop, on an optimistic store and on a
// lock-mode (serialized Update) store: at the end every counter is exact.
func TestFoldCountsRacesWriters(t *testing.T) {
	for _, mode := range []string{"optimistic", "lock"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			s := openMemoryTxn(t, mode)
			opts := &nodestore.Options{CounterStripes: nodestore.StripesOn}
			stripeTree(t, s, opts, 4)
			var paths []string
			for i := range 24 {
				for j := range 5 {
					paths = append(paths, fmt.Sprintf("/d%02d/f%d", i, j))
				}
			}
			sts := []nodestore.TraversalStatus{nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusFailed, nodestore.TraversalStatusPending}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			folds := 0
			wg.Go(func() {
				ns := nodestore.NewWithOptions(s, opts)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := ns.FoldCounts(ctx); err != nil && !errors.Is(err, kv.ErrConflict) {
						t.Errorf("FoldCounts: %v", err)
					}
					folds++
				}
			})
			var writers sync.WaitGroup
			for w := range 6 {
				ns := nodestore.NewWithOptions(s, opts)
				writers.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for range 300 {
						p := paths[rng.IntN(len(paths))]
						if _, err := ns.SetStatus(ctx, nodestore.QueueSrc, p, sts[rng.IntN(len(sts))]); err != nil {
							t.Errorf("SetStatus: %v", err)
							return
						}
						if rng.IntN(4) == 0 {
							if _, _, err := ns.LowestPendingLevel(ctx, nodestore.QueueSrc); err != nil {
								t.Errorf("LowestPendingLevel: %v", err)
							}
						}
					}
				})
			}
			writers.Wait()
			close(stop)
			wg.Wait()
			if folds == 0 {
				t.Error("no FoldCounts ran")
			}
			ns := nodestore.New(s)
			mm, err := ns.CheckCounts(ctx)
			if err != nil || len(mm) != 0 {
				t.Fatalf("CheckCounts = %v, %v", mm, err)
			}
			wantOK(t, ns)
		})
	}
}

// Stripes whose deltas overflow int64 when summed: each is valid alone
// (non-zero, 8 bytes), the sum is damage, not a count that wrapped.
func TestCounterStripesSumOverflow(t *testing.T) {
	ctx := t.Context()
	s, ns := newMemory(t)
	const mx = int64(^uint64(0) >> 1)
	for k, v := range map[string]int64{
		"src:pendinglevel:00000001:01": mx,
		"src:pendinglevel:00000001:02": mx,
		"src:pendinglevel:00000001:03": 3,
	} {
		if err := s.Set(ctx, []byte(k), counterValue(v)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := ns.PendingAt(ctx, nodestore.QueueSrc, 1); !errors.Is(err, nodestore.ErrCorrupt) {
		t.Errorf("PendingAt over stripes MaxInt64, MaxInt64, 3 = %d, %v; want ErrCorrupt", n, err)
	}
	if _, _, err := ns.LowestPendingLevel(ctx, nodestore.QueueSrc); !errors.Is(err, nodestore.ErrCorrupt) {
		t.Errorf("LowestPendingLevel = %v; want ErrCorrupt", err)
	}
	rep, err := ns.Check(ctx)
	if err != nil || !strings.Contains(fmt.Sprint(rep.Problems), "overflows") {
		t.Errorf("Check = %v, %v; want the overflow named", rep.Problems, err)
	}
}

// Odd keys and values under the counter families: no read path panics.
func TestCounterStripesOddKeysNoPanic(t *testing.T) {
	ctx := t.Context()
	tails := []string{"", ":", ":0", ":01", ":00", "x:01", "00000001:", "00000001:0", "00000001:01", "00000001:1a",
		"00000001::01", "00000001:pending:pending:01:01", "00000001:pending:pending:", "00000001:pending:pending;01",
		"00000001:pending:pending9", "00000001:pending:pending:99", "00000001:pending:pending:100", "0000000:01", "000000001"}
	vals := [][]byte{nil, {1}, counterValue(0), counterValue(-5), counterValue(7), bytes.Repeat([]byte{0xff}, 9)}
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		s, ns := newMemory(t)
		if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(4) {
			fam := []string{"src:count:", "src:pendinglevel:", "dst:count:", "dst:pendinglevel:"}[rng.IntN(4)]
			k := fam + tails[rng.IntN(len(tails))]
			if err := s.Set(ctx, []byte(k), vals[rng.IntN(len(vals))]); err != nil {
				t.Fatal(err)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("round %d: panic %v\n%s", round, r, dumpKV(t, s))
				}
			}()
			_, _ = ns.Counts(ctx)
			_, _ = ns.CheckCounts(ctx)
			_, _ = ns.Check(ctx)
			_, _, _ = ns.LowestPendingLevel(ctx, nodestore.QueueSrc)
			_, _ = ns.PendingAt(ctx, nodestore.QueueSrc, 1)
			_, _ = ns.Count(ctx, nodestore.QueueSrc, 1, nodestore.TraversalStatusPending, nodestore.CopyStatusPending)
			var d bytes.Buffer
			if ns.Dump(ctx, &d) == nil {
				_, other := newMemory(t)
				_, _ = other.Load(ctx, &d)
			}
			_, _ = ns.FoldCounts(ctx)
			_ = ns.RebuildCounts(ctx)
		}()
	}
}

// One Store, many goroutines (slots of its picker, conflicts moving its
// base), on an optimistic store with stripes: exact counts, no race.
func TestCounterStripesOneStoreManyGoroutines(t *testing.T) {
	ctx := t.Context()
	s := openOptimistic(t)
	opts := &nodestore.Options{CounterStripes: nodestore.StripesOn}
	stripeTree(t, s, opts, 1)
	ns := nodestore.NewWithOptions(s, opts)
	sts := []nodestore.TraversalStatus{nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusFailed, nodestore.TraversalStatusPending}
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 200 {
				p := fmt.Sprintf("/d%02d/f%d", rng.IntN(24), rng.IntN(5))
				if _, err := ns.SetStatus(ctx, nodestore.QueueSrc, p, sts[rng.IntN(3)]); err != nil {
					t.Errorf("SetStatus: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	mm, err := ns.CheckCounts(ctx)
	if err != nil || len(mm) != 0 {
		t.Fatalf("CheckCounts = %v, %v", mm, err)
	}
	if len(stripeKeys(t, s)) == 0 {
		t.Error("no stripe keys: the Store wrote none")
	}
}
