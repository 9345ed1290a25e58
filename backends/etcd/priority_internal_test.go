package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

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
