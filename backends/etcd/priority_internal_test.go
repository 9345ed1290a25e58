package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// TestPriorityTurn: while a priority transaction holds the store's turn,
// another engine's blind write waits and its transaction's commit fails
// with a conflict; the holder commits; a holder that stops renewing its
// lease (a dead process) releases the turn within turnTTL.
func TestPriorityTurn(t *testing.T) {
	engines := openTestEngines(t, etcdtest.Start(t, 1), "/priority", 2)
	a, b := engines[0], engines[1]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	set := func(k, v string) *kv.Batch {
		bt := new(kv.Batch)
		_ = bt.Set([]byte(k), []byte(v))
		return bt
	}

	pt, err := a.BeginPriorityTxn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pt.Get([]byte("x"), nil); !errors.Is(err, kv.ErrNotFound) {
		t.Fatal(err)
	}
	// b's transaction, begun while a holds the turn, commits once a has
	// released it (its reads unchanged); b's blind write waits for it.
	bt, err := b.BeginTxn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bt.Get([]byte("y"), nil); !errors.Is(err, kv.ErrNotFound) {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- b.Apply(ctx, set("blind", "1")) }()
	select {
	case err := <-written:
		t.Fatalf("a blind write committed while another engine held the turn: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := pt.Commit(ctx, set("x", "priority")); err != nil {
		t.Fatalf("the priority transaction's commit: %v", err)
	}
	pt.Discard()
	if err := <-written; err != nil {
		t.Fatalf("the blind write after the turn's release: %v", err)
	}
	if err := bt.Commit(ctx, set("y", "1")); err != nil {
		t.Fatalf("a transaction whose reads are unchanged, after the release: %v", err)
	}
	bt.Discard()

	// A dead holder: its lease is no longer renewed.
	pt, err = a.BeginPriorityTxn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pt.(*txn).stopKeepAlive()
	start := time.Now()
	if err := b.Apply(ctx, set("after", "1")); err != nil {
		t.Fatalf("a blind write after the holder died: %v", err)
	}
	if d := time.Since(start); d > 3*turnTTL*time.Second {
		t.Errorf("the blind write waited %v for a dead holder, want about turnTTL (%ds)", d, turnTTL)
	}
	t.Logf("a dead holder released the turn after %v", time.Since(start).Round(time.Millisecond))
	pt.(*txn).turn = "" // its lease is gone
	pt.Discard()
	for _, k := range []string{"x", "blind", "y", "after"} {
		if _, err := a.Get([]byte(k), nil); err != nil {
			t.Errorf("Get(%s): %v", k, err)
		}
	}
}

// TestPriorityReleaseWithinDeadline: releasing the turn never holds the
// caller past its context. With the cluster gone during a priority
// transaction, its commit fails at the caller's deadline (or
// cancellation), and Discard returned only after one more
// request_timeout spent revoking the turn's lease. Discard still
// releases the turn before it returns when the cluster answers, and
// Close ends a revoke left running.
func TestPriorityReleaseWithinDeadline(t *testing.T) {
	c := etcdtest.Start(t, 1)
	e := openEngineWith(t, c, "/release", map[string]string{OptRequestTimeout: "8s"})
	turnHeld := func() bool {
		t.Helper()
		resp, err := e.cli.Get(t.Context(), e.l.turn, clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count > 0
	}
	batch := new(kv.Batch)
	_ = batch.Set([]byte("k"), []byte("v"))
	if err := e.Apply(t.Context(), batch); err != nil {
		t.Fatal(err)
	}

	// The cluster answers: Discard (no commit) has released the turn.
	pt, err := e.BeginPriorityTxn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !turnHeld() {
		t.Fatal("a priority transaction does not hold the turn")
	}
	pt.Discard()
	if turnHeld() {
		t.Error("the turn is still held once Discard returned")
	}

	// The member stops during the transaction: the commit returns at the
	// end of the caller's context, and Discard right after.
	for _, end := range []string{"deadline", "cancel"} {
		t.Run(end, func(t *testing.T) {
			if err := c.Restart(0); err != nil {
				t.Fatal(err)
			}
			// The turn left by the run before (its revoke failed with the
			// member stopped) expires with its lease.
			wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer wcancel()
			if err := e.waitTurn(wctx); err != nil {
				t.Fatal(err)
			}
			const wait = 2 * time.Second
			var (
				ctx    context.Context
				cancel context.CancelFunc
			)
			if end == "deadline" {
				ctx, cancel = context.WithTimeout(t.Context(), wait)
			} else {
				ctx, cancel = context.WithCancel(t.Context())
			}
			defer cancel()
			pt, err := e.BeginPriorityTxn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pt.Get([]byte("k"), nil); err != nil {
				t.Fatal(err)
			}
			if err := c.StopNow(0); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			if end == "cancel" {
				time.AfterFunc(wait, cancel)
			}
			err = pt.Commit(ctx, batch)
			pt.Discard()
			took := time.Since(stopped)
			t.Logf("commit: %v; Discard returned %v after the stop", err, took.Round(time.Millisecond))
			if err == nil {
				t.Error("a commit with the only member stopped succeeded")
			}
			if took > wait+2*time.Second {
				t.Errorf("Discard returned %v after the member stopped, the context ending after %v (request_timeout 8s)", took.Round(time.Millisecond), wait)
			}
		})
	}
	// A revoke still running ends with Close.
	start := time.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v with the member stopped", took.Round(time.Millisecond))
	}
}

// TestPriorityWaitOutlivesLease: a priority transaction that waits for
// the turn longer than turnTTL (another's priority transaction is long)
// takes it once released. The lease it had been granted before waiting
// expired meanwhile, and taking the turn failed with "requested lease
// not found".
func TestPriorityWaitOutlivesLease(t *testing.T) {
	engines := openTestEngines(t, etcdtest.Start(t, 1), "/longwait", 2)
	a, b := engines[0], engines[1]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	held, err := a.BeginPriorityTxn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hold := (turnTTL + 2) * time.Second
	time.AfterFunc(hold, held.Discard)
	start := time.Now()
	pt, err := b.BeginPriorityTxn(ctx)
	if err != nil {
		t.Fatalf("taking the turn after waiting %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	defer pt.Discard()
	if took := time.Since(start); took < hold {
		t.Errorf("took the turn after %v, while another held it for %v", took.Round(time.Millisecond), hold)
	}
	bt := new(kv.Batch)
	_ = bt.Set([]byte("k"), []byte("v"))
	if err := pt.Commit(ctx, bt); err != nil {
		t.Fatalf("commit after the long wait: %v", err)
	}
}

// TestPriorityWaitPastDeadlineIsNotUnavailable: a blind write whose
// deadline passes while another engine holds the priority turn fails with
// the context's deadline, and not with kv.ErrUnavailable: the cluster
// answered every request, the store was busy. (It matched ErrUnavailable,
// which says the cluster could not be reached, and sends an operator
// looking at the members.)
func TestPriorityWaitPastDeadlineIsNotUnavailable(t *testing.T) {
	engines := openTestEngines(t, etcdtest.Start(t, 1), "/priority-deadline", 2)
	a, b := engines[0], engines[1]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pt, err := a.BeginPriorityTxn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Discard()
	bt := new(kv.Batch)
	_ = bt.Set([]byte("blind"), []byte("1"))
	short, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	err = b.Apply(short, bt)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("a blind write past its deadline behind another writer's turn: %v; want context.DeadlineExceeded, not kv.ErrUnavailable", err)
	}
	if _, err := a.Get([]byte("blind"), nil); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("the failed blind write was applied: Get = %v", err)
	}
}
