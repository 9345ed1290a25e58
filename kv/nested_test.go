package kv_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/bbolt"
	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// nestedConfigs are a store of each writer path of DB: the writer lock
// (memory), optimistic transactions (memory's optimistic mode) and group
// commit (bbolt).
func nestedConfigs(t *testing.T) map[string]kv.Config {
	return map[string]kv.Config{
		"lock":       {Backend: "memory"},
		"optimistic": {Backend: "memory", Options: map[string]string{"txn": "optimistic"}},
		"group":      {Backend: "bbolt", Path: filepath.Join(t.TempDir(), "s")},
	}
}

// openNested opens a store closed at the end of the test, unless a call
// still waits in it (Close would wait for that call: the failure reported
// by noHang must not hang the test).
func openNested(t *testing.T, cfg kv.Config) *kv.DB {
	t.Helper()
	db, err := kv.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closed := make(chan error, 1)
		go func() { closed <- db.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(time.Second):
			t.Log("store left open: a call in it still waits")
		}
	})
	return db
}

// noHang fails the test if fn has not returned within a few seconds: the
// defect these tests guard against is a call that waits for itself.
func noHang(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10s: it waits for itself", what)
	}
}

// TestNestedUpdateReadModifyWrite: an Update that reads a key and writes it
// through the store with its Txn's context fails at once. Before
// ErrNestedUpdate, the write waited forever for the writer lock on a local
// engine; on an optimistic one it committed apart from the transaction,
// which then conflicted on every run until, holding the process's commits
// to itself from its fourth run on, it waited forever for that write.
func TestNestedUpdateReadModifyWrite(t *testing.T) {
	for name, cfg := range nestedConfigs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := openNested(t, cfg)
			if err := db.Set(ctx, []byte("n"), []byte("0")); err != nil {
				t.Fatal(err)
			}
			runs := 0
			noHang(t, "Update writing through the store", func() error {
				err := db.Update(ctx, func(tx kv.Txn) error {
					runs++
					v, err := tx.Get([]byte("n"))
					if err != nil {
						return err
					}
					if err := tx.Set([]byte("runs"), fmt.Append(nil, runs)); err != nil {
						return err // a write of its own: the commit checks what it read
					}
					return db.Set(tx.Context(), []byte("n"), fmt.Appendf(v, "+%d", runs))
				})
				if !errors.Is(err, kv.ErrNestedUpdate) {
					return fmt.Errorf("Update = %v, want ErrNestedUpdate", err)
				}
				return nil
			})
			if kv.InUpdate(ctx) {
				t.Error("InUpdate of the context given to Update = true, want false")
			}
			if runs != 1 {
				t.Errorf("the function ran %d times, want 1", runs)
			}
			if v, err := db.Get(ctx, []byte("n")); err != nil || string(v) != "0" {
				t.Errorf("n = %q, %v after the refused write; want 0", v, err)
			}
		})
	}
}

// TestNestedUpdateTwoStores: the mark of an Update follows the context
// through an Update of another store: a write to the first store with the
// second Update's context is refused, and writes to the second store from
// the first Update's function are not (it holds nothing of the second).
func TestNestedUpdateTwoStores(t *testing.T) {
	for name, cfg := range nestedConfigs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := openNested(t, cfg)
			b := openNested(t, kv.Config{Backend: "memory"})
			noHang(t, "Updates of two stores, one inside the other", func() error {
				return a.Update(ctx, func(ta kv.Txn) error {
					if !kv.InUpdate(ta.Context()) || kv.InUpdate(ctx) {
						return errors.New("InUpdate: want true for the Txn's context only")
					}
					if err := b.Set(ta.Context(), []byte("k"), []byte("b")); err != nil {
						return fmt.Errorf("Set of the other store = %v, want nil", err)
					}
					return b.Update(ta.Context(), func(tb kv.Txn) error {
						if err := a.Set(tb.Context(), []byte("k"), []byte("a")); !errors.Is(err, kv.ErrNestedUpdate) {
							return fmt.Errorf("Set of the outer store from the inner Update = %v, want ErrNestedUpdate", err)
						}
						if err := a.Compact(tb.Context()); !errors.Is(err, kv.ErrNestedUpdate) {
							return fmt.Errorf("Compact of the outer store from the inner Update = %v, want ErrNestedUpdate", err)
						}
						return tb.Set([]byte("k2"), []byte("b"))
					})
				})
			})
			if _, err := a.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("the refused write reached the store: Get = %v", err)
			}
			for _, k := range []string{"k", "k2"} {
				if v, err := b.Get(ctx, []byte(k)); err != nil || string(v) != "b" {
					t.Errorf("other store: %s = %q, %v; want b", k, v, err)
				}
			}
		})
	}
}

// TestViewContext: a View's ReadTxn.Context is the context given to View
// (its values, its end) marked as the View's, not as an Update's: writes
// made with it are not refused (only an Update holds the writer lock).
func TestViewContext(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()
	db := openNested(t, kv.Config{Backend: "memory"})
	noHang(t, "Set inside View", func() error {
		return db.View(ctx, func(tx kv.ReadTxn) error {
			tctx := tx.Context()
			if tctx.Value(key{}) != "v" || tctx.Done() != ctx.Done() {
				return errors.New("ReadTxn.Context does not carry the context given to View")
			}
			if kv.InUpdate(tctx) {
				return errors.New("InUpdate of a View's context = true, want false")
			}
			return db.Set(tctx, []byte("k"), nil)
		})
	})
}
