package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// nsCrashStore runs NodestoreCrashWorkload's child for n transactions on a
// memory store.
func nsCrashStore(t *testing.T, n int) kv.Store {
	t.Helper()
	db, err := memory.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := contextAfter(t, n)
	defer cancel()
	if err := (conformance.NodestoreCrashWorkload{}).Child(ctx, db, func(int) { ctx.ack() }); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestNodestoreCrashWorkloadCheck(t *testing.T) {
	w := conformance.NodestoreCrashWorkload{}
	db := nsCrashStore(t, 30)
	if res := w.Check(t, db, 29); res.Committed != 30 || len(res.Problems) != 0 {
		t.Fatalf("intact store: %+v, want 30 committed and no problem", res)
	}
	// Resume: a second child continues where the first stopped.
	ctx, cancel := contextAfter(t, 5)
	defer cancel()
	first := -1
	if err := w.Child(ctx, db, func(i int) {
		if first < 0 {
			first = i
		}
		ctx.ack()
	}); err != nil {
		t.Fatal(err)
	}
	if first != 30 {
		t.Errorf("the second child started at %d, want 30", first)
	}
	// Damage: remove one child node key of a completed folder behind
	// nodestore's back (a half-applied completion).
	var victim []byte
	_ = db.Iterate(context.Background(), kv.IterOptions{Prefix: []byte("src:00000002:successful:")}, func(k, _ []byte) error {
		victim = bytes.Clone(k)
		return kv.SkipAll
	})
	if victim == nil {
		t.Fatal("no level-2 file found")
	}
	if err := db.Delete(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	res := w.Check(t, db, 34)
	if len(res.Problems) == 0 {
		t.Fatal("Check found nothing wrong after a node key was deleted")
	}
	hash := string(victim[len(victim)-32:])
	if !strings.Contains(strings.Join(res.Problems, "\n"), hash) {
		t.Errorf("problems do not name the damaged node %s: %v", hash, res.Problems)
	}
}

// A smaller tree (for networked stores) is walked to its end: 7 folders
// for fanout 2 and depth 2, then ErrWorkloadExhausted; Check agrees.
func TestNodestoreCrashWorkloadSmallTree(t *testing.T) {
	w := conformance.NodestoreCrashWorkload{Fanout: 2, Depth: 2}
	db, err := memory.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var acks []int
	if err := w.Child(t.Context(), db, func(i int) { acks = append(acks, i) }); !errors.Is(err, conformance.ErrWorkloadExhausted) {
		t.Fatalf("Child = %v, want ErrWorkloadExhausted", err)
	}
	if len(acks) != 7 {
		t.Errorf("acknowledged %v, want 7 folders", acks)
	}
	if res := w.Check(t, db, 6); res.Committed != 7 || len(res.Problems) != 0 {
		t.Errorf("Check = %+v, want 7 committed and no problem", res)
	}
}
