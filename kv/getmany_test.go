package kv_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// GetMany inside an Update that wrote some of its keys merges the batch's
// values with the engine's as they come: one large stored value asked for
// a hundred times costs about one value of memory, not a hundred (the
// merge once copied every engine value before handing any over: 400 MiB
// allocated for this call).
func TestGetManyInUpdateHoldsLittle(t *testing.T) {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	big := bytes.Repeat([]byte{'v'}, kv.MaxValueSize)
	if err := db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("a"), big) }); err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{[]byte("own")}
	for range 100 {
		keys = append(keys, []byte("a"))
	}
	var before, after runtime.MemStats
	err = db.Update(ctx, func(tx kv.Txn) error {
		if err := tx.Set([]byte("own"), []byte("mine")); err != nil {
			return err
		}
		runtime.GC()
		runtime.ReadMemStats(&before)
		calls := 0
		err := kv.GetMany(tx, keys, func(i int, v []byte) error {
			if i != calls {
				t.Errorf("call %d for key %d", calls, i)
			}
			calls++
			return nil
		})
		runtime.ReadMemStats(&after)
		if calls != len(keys) {
			t.Errorf("%d calls of fn, want %d", calls, len(keys))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := (after.TotalAlloc - before.TotalAlloc) >> 20; got > 64 {
		t.Errorf("GetMany of %d keys in Update (100 times one %d MiB value) allocated %d MiB, want at most 64", len(keys), len(big)>>20, got)
	}
}

// kv.GetMany of a ReadTxn that wraps a transaction (and has no GetMany
// of its own) reads with the wrapper's Get, one key at a time: an invalid
// key must still fail the call before fn is called, as the doc says (it
// once failed it at that key, after fn had seen the values before it).
func TestGetManyWrapperInvalidKeyFirst(t *testing.T) {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	type wrapper struct{ kv.ReadTxn }
	err = db.View(ctx, func(tx kv.ReadTxn) error {
		for _, bad := range [][]byte{nil, make([]byte, kv.MaxKeySize+1)} {
			calls := 0
			err := kv.GetMany(wrapper{tx}, [][]byte{[]byte("a"), bad}, func(int, []byte) error { calls++; return nil })
			if err == nil || calls != 0 {
				t.Errorf("GetMany through a wrapper with a key of %d bytes = %v after %d calls, want an error before any", len(bad), err, calls)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An over-long key in a GetMany is named by its position and its first
// bytes: the message once quoted the whole key, about 130 KB for a key one
// byte past the limit.
func TestGetManyInvalidKeyErrorIsShort(t *testing.T) {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	long := bytes.Repeat([]byte{0xFF}, kv.MaxKeySize+1)
	err = db.View(ctx, func(tx kv.ReadTxn) error {
		return kv.GetMany(tx, [][]byte{[]byte("a"), long}, func(int, []byte) error { return nil })
	})
	if !errors.Is(err, kv.ErrKeyTooLarge) {
		t.Fatalf("GetMany with an over-long key: %v, want ErrKeyTooLarge", err)
	}
	if msg := err.Error(); len(msg) > 500 || !strings.Contains(msg, "keys[1]") {
		t.Errorf("error of %d bytes, want under 500 naming keys[1]: %.300s", len(msg), msg)
	}
}
