package bbolt_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

func count(t testing.TB, s kv.Store, opts kv.IterOptions) int {
	t.Helper()
	n := 0
	opts.KeysOnly = true
	if err := s.Iterate(context.Background(), opts, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeleteRangeLargeConsecutive deletes a large range of consecutive keys
// in one transaction. A bbolt cursor that deletes and then steps with Next
// skips every other key; the engine must leave none behind, and touch
// nothing outside the range.
func TestDeleteRangeLargeConsecutive(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	n := 20000
	if stress() {
		n = 300000
	}
	fill(t, db, "k%08d", 0, n, []byte("value"))
	fill(t, db, "a%03d", 0, 10, nil) // before the range
	fill(t, db, "z%03d", 0, 10, nil) // after the range

	start, end := []byte("k00000100"), fmt.Appendf(nil, "k%08d", n-100)
	if err := db.DeleteRange(ctx, start, end); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, kv.IterOptions{Start: start, End: end}); got != 0 {
		t.Fatalf("%d keys left in the deleted range", got)
	}
	if got, want := count(t, db, kv.IterOptions{Prefix: []byte("k")}), 200; got != want {
		t.Fatalf("%d k-keys left, want %d (the 100 below and 100 above the range)", got, want)
	}
	for _, k := range []string{"k00000099", fmt.Sprintf("k%08d", n-100), "a000", "z009"} {
		if _, err := db.Get(ctx, []byte(k)); err != nil {
			t.Errorf("Get(%s) after DeleteRange: %v", k, err)
		}
	}
	if _, err := db.Get(ctx, []byte("k00000100")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("first key of the range still there: %v", err)
	}

	// A prefix delete, then the empty prefix (every key: the bucket is
	// dropped and recreated).
	if err := db.DeletePrefix(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, kv.IterOptions{}); got != 20 {
		t.Fatalf("%d keys after DeletePrefix(k), want 20", got)
	}
	if err := db.DeletePrefix(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, kv.IterOptions{}); got != 0 {
		t.Fatalf("%d keys after DeletePrefix(\"\"), want 0", got)
	}
	// The store still works after the bucket was recreated.
	if err := db.Set(ctx, []byte("again"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, db, kv.IterOptions{}); got != "again" {
		t.Fatalf("after recreation: %q", got)
	}
}

// TestDeleteRangeUnboundedEnds covers a nil start with an end and a start
// with a nil end, which take the key-by-key path.
func TestDeleteRangeUnboundedEnds(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "k%04d", 0, 3000, nil)
	if err := db.DeleteRange(ctx, nil, []byte("k1000")); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRange(ctx, []byte("k2000"), nil); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, kv.IterOptions{}); got != 1000 {
		t.Fatalf("%d keys left, want 1000", got)
	}
	if got := keys(t, db, kv.IterOptions{Limit: 1}); got != "k1000" {
		t.Fatalf("first key %q", got)
	}
	if got := keys(t, db, kv.IterOptions{Limit: 1, Reverse: true}); got != "k1999" {
		t.Fatalf("last key %q", got)
	}
}

// cancelAfter is a context whose Err turns to Canceled after n calls: it
// cancels a DeleteRange midway, deterministically.
type cancelAfter struct {
	context.Context
	n atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestDeleteRangeAtomic: a range delete cancelled midway deletes nothing,
// as the driver's AtomicDeleteRange promises.
func TestDeleteRangeAtomic(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	if !db.Info().Guarantees.AtomicDeleteRange {
		t.Fatal("AtomicDeleteRange not declared")
	}
	fill(t, db, "k%06d", 0, 10000, []byte("v"))
	// kv.DB and the engine each check the context once before deleting;
	// the engine checks again every 1024 keys, and fails there.
	c := &cancelAfter{Context: ctx}
	c.n.Store(2)
	err := db.DeleteRange(c, []byte("k"), []byte("l"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("DeleteRange with a context cancelled midway: %v", err)
	}
	if got := count(t, db, kv.IterOptions{}); got != 10000 {
		t.Fatalf("%d keys left after a cancelled DeleteRange, want all 10000", got)
	}
}

// TestDeleteRangeOverModifiedNodes: the range delete must not skip keys
// when the cursor runs over nodes already modified in the same bbolt
// transaction (there, bbolt's Cursor.Delete followed by Next skips the key
// after each deleted one).
func TestDeleteRangeOverModifiedNodes(t *testing.T) {
	db := open(t, "", nil)
	fill(t, db, "k%06d", 0, 5000, []byte("value"))
	start, end := []byte("k000010"), []byte("k004990")
	if err := bbolt.RewriteThenDeleteRange(db.Engine(), start, end); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, kv.IterOptions{Start: start, End: end}); got != 0 {
		t.Fatalf("%d keys left in the deleted range", got)
	}
	if got := count(t, db, kv.IterOptions{}); got != 20 {
		t.Fatalf("%d keys left, want 20", got)
	}
}
