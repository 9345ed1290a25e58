package kv_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	_ "github.com/polykv/polykv/backends/bbolt"
	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// TestEveryMethodAfterClose: every public method of a closed DB returns
// ErrClosed, including the calls that have nothing to do (an empty batch,
// an empty range, an Update that writes nothing) and the writes of a
// read-only store: the closed state is checked before any shortcut.
func TestEveryMethodAfterClose(t *testing.T) {
	ctx := context.Background()
	noop := func(k, v []byte) error { return nil }
	calls := map[string]func(db *kv.DB) error{
		"Get":               func(db *kv.DB) error { _, err := db.Get(ctx, []byte("k")); return err },
		"GetAppend":         func(db *kv.DB) error { _, err := db.GetAppend(ctx, nil, []byte("k")); return err },
		"Set":               func(db *kv.DB) error { return db.Set(ctx, []byte("k"), nil) },
		"Delete":            func(db *kv.DB) error { return db.Delete(ctx, []byte("k")) },
		"Write":             func(db *kv.DB) error { var b kv.Batch; b.Set([]byte("k"), nil); return db.Write(ctx, &b) },
		"Write empty batch": func(db *kv.DB) error { return db.Write(ctx, new(kv.Batch)) },
		"Write nil batch":   func(db *kv.DB) error { return db.Write(ctx, nil) },
		"Iterate":           func(db *kv.DB) error { return db.Iterate(ctx, kv.IterOptions{}, noop) },
		"Iterate empty range": func(db *kv.DB) error {
			return db.Iterate(ctx, kv.IterOptions{Start: []byte("b"), End: []byte("a")}, noop)
		},
		"View":        func(db *kv.DB) error { return db.View(ctx, func(kv.ReadTxn) error { return nil }) },
		"Update":      func(db *kv.DB) error { return db.Update(ctx, func(kv.Txn) error { return nil }) },
		"DeleteRange": func(db *kv.DB) error { return db.DeleteRange(ctx, []byte("a"), []byte("b")) },
		"DeleteRange empty range": func(db *kv.DB) error {
			return db.DeleteRange(ctx, []byte("b"), []byte("a"))
		},
		"DeletePrefix": func(db *kv.DB) error { return db.DeletePrefix(ctx, []byte("p")) },
		"Sync":         func(db *kv.DB) error { return db.Sync() },
		"Stats":        func(db *kv.DB) error { _, err := db.Stats(); return err },
		"Compact":      func(db *kv.DB) error { return db.Compact(ctx) },
		"Backup":       func(db *kv.DB) error { return db.Backup(ctx, io.Discard) },
		"Verify":       func(db *kv.DB) error { _, err := db.Verify(ctx); return err },
		"BulkWriter": func(db *kv.DB) error {
			w := kv.NewBulkWriter(ctx, db)
			if err := w.Set([]byte("k"), nil); err != nil {
				return err
			}
			return w.Close()
		},
	}
	stores := map[string]func(t *testing.T) *kv.DB{
		"memory": func(t *testing.T) *kv.DB {
			db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		"read-only": func(t *testing.T) *kv.DB {
			dir := filepath.Join(t.TempDir(), "s")
			db, err := kv.Open(ctx, kv.Config{Backend: "bbolt", Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = kv.Open(ctx, kv.Config{Backend: "bbolt", Path: dir, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
	for sname, open := range stores {
		for name, call := range calls {
			t.Run(sname+"/"+name, func(t *testing.T) {
				db := open(t)
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if err := call(db); !errors.Is(err, kv.ErrClosed) {
					t.Errorf("%s after Close = %v, want ErrClosed", name, err)
				}
			})
		}
	}
}
