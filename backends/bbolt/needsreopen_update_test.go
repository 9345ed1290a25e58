package bbolt_test

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// After a commit that stopped writes (kv.ErrNeedsReopen: "reads still
// work"), an Update whose function only reads runs, as a View does; one
// that writes is refused.
func TestReadOnlyUpdateAfterNeedsReopen(t *testing.T) {
	ctx := context.Background()
	db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.Sync})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set(ctx, []byte("k"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	bbolt.SetAfterCommit(db, func(err error) error {
		if err == nil {
			return &fs.PathError{Op: "fdatasync", Path: "data.bolt", Err: syscall.EIO}
		}
		return err
	})
	err = db.Set(ctx, []byte("k2"), []byte("2"))
	bbolt.SetAfterCommit(db, nil)
	if !errors.Is(err, kv.ErrNeedsReopen) {
		t.Fatalf("the failing commit: %v, want kv.ErrNeedsReopen", err)
	}
	if err := db.Update(ctx, func(tx kv.Txn) error { _, err := tx.Get([]byte("k")); return err }); err != nil {
		t.Errorf("a read-only Update after ErrNeedsReopen: %v", err)
	}
	err = db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k3"), []byte("3")) })
	if !errors.Is(err, kv.ErrNeedsReopen) {
		t.Errorf("a writing Update after ErrNeedsReopen: %v, want kv.ErrNeedsReopen", err)
	}
}
