package all_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestCrash kills a child process committing transactions, again and
// again, on every persistent backend and in both durability modes, and
// checks what each backend promises (see conformance.RunCrash). Short by
// default; POLYKV_STRESS=1 runs 200 cycles per backend and mode.
func TestCrash(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.CrashOptions{})
		})
	}
}

// TestCrashConcurrent is TestCrash with four goroutines committing at once
// (conformance.ConcurrentTxnWorkload): what survives a kill must still be a
// gapless prefix holding every acknowledged transaction, with commits
// overlapping (on pebble under Sync, sharing fsyncs).
func TestCrashConcurrent(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.CrashOptions{
				Workload: conformance.ConcurrentTxnWorkload{Writers: 4},
			})
		})
	}
}

// finiteTxns is TxnWorkload stopped after total transactions: its child
// then reports conformance.ErrWorkloadExhausted. checks counts the
// parent's Check calls (one per cycle).
type finiteTxns struct {
	conformance.TxnWorkload
	total  int
	checks *atomic.Int64
}

func (w finiteTxns) Child(ctx context.Context, s kv.Store, ack func(i int)) error {
	if v, err := s.Get(ctx, []byte("crash/last")); err == nil {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= w.total-1 {
			return conformance.ErrWorkloadExhausted
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	last := -1
	err := w.TxnWorkload.Child(ctx, s, func(i int) {
		ack(i)
		if last = i; i >= w.total-1 {
			cancel()
		}
	})
	if err == nil && last >= w.total-1 {
		return conformance.ErrWorkloadExhausted
	}
	return err
}

func (w finiteTxns) Check(t testing.TB, s kv.Store, lastAck int) conformance.CrashResult {
	w.checks.Add(1)
	return w.TxnWorkload.Check(t, s, lastAck)
}

// TestCrashExhaustedWorkload checks that RunCrash ends a mode early,
// passing, when its workload has nothing left (ErrWorkloadExhausted),
// instead of waiting for a child that cannot make progress.
func TestCrashExhaustedWorkload(t *testing.T) {
	checks := new(atomic.Int64)
	start := time.Now()
	conformance.RunCrash(t, kv.Config{Backend: "bbolt"}, conformance.CrashOptions{
		Workload: finiteTxns{total: 30, checks: checks},
		Modes:    []kv.Durability{kv.Sync},
		Cycles:   100,
		MaxAcks:  10,
	})
	if os.Getenv("POLYKV_CRASH_CHILD") != "" {
		return
	}
	if n := checks.Load(); n >= 100 || n < 3 {
		t.Errorf("%d cycles for a workload of 30 transactions acknowledged at most 10 at a time: want it to end early, after at least 3", n)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("took %v", d)
	}
}
