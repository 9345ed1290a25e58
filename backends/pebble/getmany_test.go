package pebble_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
)

// GetMany holds what it must hand over in the caller's order within a
// bound: one large value asked for a hundred times, out of key order,
// costs a few values of memory, not a hundred (an audit measured 2,126
// MiB allocated for this call before the bound).
func TestGetManyUnsortedHoldsLittle(t *testing.T) {
	ctx := context.Background()
	db, err := pebble.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.NoSync})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	big := bytes.Repeat([]byte{'v'}, kv.MaxValueSize)
	err = db.Update(ctx, func(tx kv.Txn) error {
		if err := tx.Set([]byte("a"), big); err != nil {
			return err
		}
		return tx.Set([]byte("b"), []byte("small"))
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{[]byte("b")} // out of key order: the held path
	for range 100 {
		keys = append(keys, []byte("a"))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	calls := 0
	err = db.View(ctx, func(tx kv.ReadTxn) error {
		return kv.GetMany(tx, keys, func(i int, v []byte) error {
			if want := map[bool]int{true: len(big), false: len("small")}[i > 0]; len(v) != want {
				t.Errorf("value %d: %d bytes, want %d", i, len(v), want)
			}
			calls++
			return nil
		})
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(keys) {
		t.Errorf("%d calls of fn, want %d", calls, len(keys))
	}
	if got := (after.TotalAlloc - before.TotalAlloc) >> 20; got > 64 {
		t.Errorf("GetMany of %d keys (100 times one %d MiB value) allocated %d MiB, want at most 64", len(keys), len(big)>>20, got)
	}
}
