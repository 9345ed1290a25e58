package nodestore_test

// RebuildCounts on a store larger than one transaction can read (etcd's
// default limits), and while other writers run.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// bigTree inserts a root and 30 folders of 10 files each (331 nodes, far
// more than etcd's 128 compares) with Stores of their own, so that a
// shared store holds stripes.
func bigTree(t *testing.T, s kv.Store) *nodestore.Store {
	t.Helper()
	ctx := t.Context()
	ns := nodestore.New(s)
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
		t.Fatal(err)
	}
	var folders []nodestore.Node
	for i := range 30 {
		n := file(nodestore.QueueSrc, "/", fmt.Sprintf("d%02d", i), 1)
		n.Traversal, n.State.Type = nodestore.TraversalStatusPending, nodestore.NodeTypeFolder
		folders = append(folders, n)
	}
	if _, err := ns.CompleteWithChildren(ctx, nodestore.QueueSrc, "/", nodestore.TraversalStatusSuccessful, folders); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		dir := fmt.Sprintf("/d%02d", i)
		var fs []nodestore.Node
		for j := range 10 {
			fs = append(fs, file(nodestore.QueueSrc, dir, fmt.Sprintf("f%d", j), 2))
		}
		if _, err := nodestore.New(s).CompleteWithChildren(ctx, nodestore.QueueSrc, dir, nodestore.TraversalStatusSuccessful, fs); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// damageCounters sets one counter wrong, adds a stale one and a key in a
// counter family that does not parse.
func damageCounters(t *testing.T, s kv.Store) {
	t.Helper()
	ctx := t.Context()
	for k, v := range map[string][]byte{
		"src:count:00000002:successful:pending": counterValue(7),
		"src:count:00000042:failed:failed":      counterValue(1),
		"src:pendinglevel:00000009":             counterValue(3),
		"src:count:garbage":                     []byte("x"),
	} {
		if err := s.Set(ctx, []byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
}

// RebuildCounts on a store whose transactions may read 126 keys (etcd's
// defaults): it reads the nodes on a snapshot and writes the counters in
// transactions within the limits; before, its one transaction read every
// node and failed with ErrTxnTooLarge past about a hundred nodes.
func TestRebuildCountsBeyondTxnLimits(t *testing.T) {
	ctx := t.Context()
	s := openEtcdLike(t)
	ns := bigTree(t, s)
	want, err := ns.ScanCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	damageCounters(t, s)
	if mm, err := ns.CheckCounts(ctx); err == nil && len(mm) == 0 {
		t.Fatal("CheckCounts found nothing wrong with damaged counters")
	}
	if err := ns.RebuildCounts(ctx); err != nil {
		t.Fatalf("RebuildCounts on %d nodes under etcd's limits: %v", 331, err)
	}
	wantOK(t, ns)
	got, err := ns.Counts(ctx)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Counts after RebuildCounts = %v, %v; want %v", got, err, want)
	}
	if st := stripeKeys(t, s); len(st) != 0 {
		t.Errorf("stripe keys left after RebuildCounts: %q", st)
	}
}

// openMode opens a memory store whose Update runs as mode says
// ("optimistic", "lock"), or, for "etcd-like", one with etcd's default
// limits, declared shared.
func openMode(t *testing.T, mode string) kv.Store {
	if mode == "etcd-like" {
		return openEtcdLike(t)
	}
	return openMemoryTxn(t, mode)
}

// RebuildCounts while other Stores change node statuses, on a shared
// (optimistic, striped) store and on a local one: the counters are exact
// afterwards. A rebuild that wrote the counts of its snapshot, instead of
// the snapshot's error, would lose the changes made meanwhile.
func TestRebuildCountsRacesWriters(t *testing.T) {
	for _, mode := range []string{"etcd-like", "optimistic", "lock"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			s := openMode(t, mode)
			ns := bigTree(t, s)
			damageCounters(t, s)
			sts := []nodestore.TraversalStatus{nodestore.TraversalStatusSuccessful, nodestore.TraversalStatusFailed, nodestore.TraversalStatusPending}
			stop := make(chan struct{})
			var writers sync.WaitGroup
			for w := range 4 {
				ws := nodestore.New(s)
				writers.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 2))
					for {
						select {
						case <-stop:
							return
						default:
						}
						p := fmt.Sprintf("/d%02d/f%d", rng.IntN(30), rng.IntN(10))
						if _, err := ws.SetStatus(ctx, nodestore.QueueSrc, p, sts[rng.IntN(len(sts))]); err != nil {
							// A writer may meet the damage before the rebuild
							// repairs it (a counter going below zero).
							if !bytes.Contains([]byte(err.Error()), []byte("RebuildCounts")) {
								t.Errorf("SetStatus: %v", err)
								return
							}
						}
					}
				})
			}
			for range 3 {
				if err := ns.RebuildCounts(ctx); err != nil {
					t.Errorf("RebuildCounts with writers running: %v", err)
				}
			}
			close(stop)
			writers.Wait()
			mm, err := ns.CheckCounts(ctx)
			if err != nil || len(mm) != 0 {
				t.Fatalf("CheckCounts after RebuildCounts raced writers = %v, %v", mm, err)
			}
			wantOK(t, ns)
		})
	}
}

// Two RebuildCounts at once, through Stores of their own (processes of
// their own on a shared store), with writers running: the counters are
// exact afterwards. Each run corrects what its snapshot found wrong: two
// runs that read the same snapshot applied the same correction twice.
func TestRebuildCountsConcurrentRebuilds(t *testing.T) {
	for _, mode := range []string{"etcd-like", "optimistic", "lock"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			s := openMode(t, mode)
			ns := bigTree(t, s)
			for round := range 5 {
				damageCounters(t, s)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range 3 {
					rs := nodestore.New(s)
					wg.Go(func() {
						<-start
						if err := rs.RebuildCounts(ctx); err != nil {
							t.Errorf("round %d: RebuildCounts beside another: %v", round, err)
						}
					})
				}
				close(start)
				wg.Wait()
				if mm, err := ns.CheckCounts(ctx); err != nil || len(mm) != 0 {
					t.Fatalf("round %d: CheckCounts after concurrent RebuildCounts = %v, %v", round, mm, err)
				}
			}
			wantOK(t, ns)
			if keys := dumpKV(t, s); strings.Contains(keys, "rebuild") {
				t.Errorf("a rebuild left its lock behind:\n%s", keys)
			}
		})
	}
}

// A rebuild lock left behind by a process that died: on a local store it
// is taken over at once (no other process can hold it); on a shared one
// only once expired, and a RebuildCounts waiting for a live one gives up
// when its context ends.
func TestRebuildCountsLeftoverLock(t *testing.T) {
	lock := func(expiry time.Time) []byte {
		v := make([]byte, 24)
		copy(v, "someone-else-tok")
		binary.BigEndian.PutUint64(v[16:], uint64(expiry.UnixNano()))
		return v
	}
	for _, mode := range []string{"lock", "etcd-like"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			s := openMode(t, mode)
			ns := bigTree(t, s)
			damageCounters(t, s)
			if err := s.Set(ctx, []byte("nodestore:rebuild"), lock(time.Now().Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			if mode == "etcd-like" {
				short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				err := ns.RebuildCounts(short)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "another RebuildCounts") {
					t.Fatalf("RebuildCounts beside a live lock of another process = %v, want it to wait until its deadline", err)
				}
				if err := s.Set(ctx, []byte("nodestore:rebuild"), lock(time.Now().Add(-time.Second))); err != nil {
					t.Fatal(err)
				}
			}
			if err := ns.RebuildCounts(ctx); err != nil {
				t.Fatalf("RebuildCounts over a leftover lock: %v", err)
			}
			wantOK(t, ns)
			if _, err := s.Get(ctx, []byte("nodestore:rebuild")); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("the lock after RebuildCounts: %v, want it deleted", err)
			}
		})
	}
}
