package conformance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// nsRebuildCountsWhileWriting: RebuildCounts on a store with more nodes
// than one of its transactions may hold (where its limits are small, as on
// etcd), while other Stores change the statuses of its nodes, and two
// RebuildCounts at once. Afterwards every counter is exact: the rebuild
// must neither fail on the store's limits, nor lose the changes committed
// while it ran, nor apply a correction twice.
func nsRebuildCountsWhileWriting(t *testing.T, e *nsEnv) {
	const files = 10 // per folder
	nodes := min(kv.LimitsOf(e.kv).MaxTxnOps+64, 2200)
	folders := max(20, nodes/(files+1))
	if err := e.ns.Insert(e.ctx, nsSrc(0, nsP, nsCP, nsFolder("/", 0))); err != nil {
		t.Fatal(err)
	}
	var dirs []nodestore.Node
	for i := range folders {
		dirs = append(dirs, nodestore.Node{Traversal: nsP, Copy: nsCP, State: nsFolder(fmt.Sprintf("/d%04d", i), 1)})
	}
	if _, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, "/", nsS, dirs); err != nil {
		t.Fatal(err)
	}
	for i := range folders {
		dir := fmt.Sprintf("/d%04d", i)
		var kids []nodestore.Node
		for j := range files {
			kids = append(kids, nodestore.Node{Traversal: nsP, Copy: nsCP, State: nsFile(fmt.Sprintf("%s/f%d", dir, j), 2)})
		}
		if _, err := e.ns.CompleteWithChildren(e.ctx, nodestore.QueueSrc, dir, nsS, kids); err != nil {
			t.Fatal(err)
		}
	}
	// Damage: a counter far too low (writers taking it below zero fail
	// until the rebuild repairs it), a stale one, a missing pending level.
	for k, v := range map[string][]byte{
		"src:count:00000002:pending:pending": {0, 0, 0, 0, 0, 0, 0, 5},
		"src:count:00000009:failed:failed":   {0, 0, 0, 0, 0, 0, 0, 1},
	} {
		if err := e.kv.Set(e.ctx, []byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.kv.DeletePrefix(e.ctx, []byte("src:pendinglevel:")); err != nil {
		t.Fatal(err)
	}

	var repaired atomic.Bool // set once a RebuildCounts has returned
	stop := make(chan struct{})
	var writers sync.WaitGroup
	var moves atomic.Int64
	sts := []nodestore.TraversalStatus{nsS, nsF, nsP}
	for w := range 3 {
		ns := e.newStore(0)
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := repaired.Load()
				p := fmt.Sprintf("/d%04d/f%d", rng.IntN(folders), rng.IntN(files))
				_, err := ns.SetStatus(e.ctx, nodestore.QueueSrc, p, sts[rng.IntN(len(sts))])
				switch {
				case err == nil:
					moves.Add(1)
				case errors.Is(err, nodestore.ErrCorrupt) && !after:
					// The damage, met before the repair.
				default:
					t.Errorf("SetStatus(%s) while RebuildCounts runs: %v", p, err)
					return
				}
			}
		})
	}
	// Two at once, through Stores of their own (two processes on a shared
	// store): they must not both apply the same correction.
	var rebuilds sync.WaitGroup
	for i, rs := range []*nodestore.Store{e.ns, e.newStore(0)} {
		rebuilds.Go(func() {
			if err := rs.RebuildCounts(e.ctx); err != nil {
				t.Errorf("RebuildCounts %d of 2 (at once) on %d nodes with writers running: %v", i+1, folders*(files+1)+1, err)
			}
		})
	}
	rebuilds.Wait()
	repaired.Store(true)
	// Let the writers commit after the repair too (a few changes, or 5 s).
	for start, deadline := moves.Load(), time.Now().Add(5*time.Second); moves.Load() < start+20 && time.Now().Before(deadline) && !t.Failed(); {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	writers.Wait()
	mm, err := e.ns.CheckCounts(e.ctx)
	if err != nil || len(mm) != 0 {
		t.Fatalf("CheckCounts after RebuildCounts ran beside writers (%d status changes): %v %v", moves.Load(), mm, err)
	}
	e.wantConsistent("after RebuildCounts beside writers")
}
