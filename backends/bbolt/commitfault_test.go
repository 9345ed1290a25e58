package bbolt_test

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// TestCommitFailedAfterMeta: a commit that bbolt reports failed once its
// meta page was written (its fdatasync failed) is visible to every later
// transaction, since bbolt reads its meta pages through the mapping. The
// writer must hear kv.ErrOutcomeUnknown (with the fault and
// kv.ErrNeedsReopen), never an error meaning nothing was applied, and no
// later write may reuse the pages bbolt's rollback freed: every write is
// refused until the store is reopened. The fault is injected after a
// commit that bbolt completed, the state the failed sync leaves in the
// process. Both commit paths: a single writer (Apply) and concurrent
// writers under Sync (a group commit).
func TestCommitFailedAfterMeta(t *testing.T) {
	ctx := context.Background()
	eio := &fs.PathError{Op: "fdatasync", Path: "bbolt.db", Err: syscall.EIO}
	for _, tc := range []struct {
		name    string
		d       kv.Durability
		writers int
	}{{"apply", kv.NoSync, 1}, {"group", kv.Sync, 8}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := bbolt.Open(ctx, kv.Config{Path: dir, Durability: tc.d})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set(ctx, []byte("before"), []byte("1")); err != nil {
				t.Fatal(err)
			}
			bbolt.SetAfterCommit(db, func(err error) error {
				if err == nil {
					return eio
				}
				return err
			})
			var wg sync.WaitGroup
			errs := make([]error, tc.writers)
			for i := range tc.writers {
				wg.Go(func() {
					errs[i] = db.Update(ctx, func(tx kv.Txn) error {
						return tx.Set([]byte{'w', byte('0' + i)}, []byte("2"))
					})
				})
			}
			wg.Wait()
			unknown := 0
			for i, err := range errs {
				if err == nil {
					t.Errorf("writer %d: no error from a failed commit", i)
					continue
				}
				if !errors.Is(err, kv.ErrNeedsReopen) || !errors.Is(err, kv.ErrIO) {
					t.Errorf("writer %d: %v; want ErrNeedsReopen and ErrIO", i, err)
				}
				_, gerr := db.Get(ctx, []byte{'w', byte('0' + i)})
				switch {
				case errors.Is(err, kv.ErrOutcomeUnknown):
					unknown++
				case !errors.Is(gerr, kv.ErrNotFound):
					t.Errorf("writer %d: a commit reported failed (%v) is visible: Get = %v", i, err, gerr)
				}
			}
			if unknown == 0 {
				t.Error("no writer heard ErrOutcomeUnknown for the commit bbolt wrote")
			}
			bbolt.SetAfterCommit(db, nil)
			err = db.Set(ctx, []byte("after"), []byte("3"))
			if !errors.Is(err, kv.ErrNeedsReopen) || errors.Is(err, kv.ErrOutcomeUnknown) {
				t.Errorf("write after the failed commit: %v; want ErrNeedsReopen, refused before it was applied", err)
			}
			if err := db.DeleteRange(ctx, nil, nil); !errors.Is(err, kv.ErrNeedsReopen) {
				t.Errorf("DeleteRange after the failed commit: %v; want ErrNeedsReopen", err)
			}
			if v, err := db.Get(ctx, []byte("before")); err != nil || string(v) != "1" {
				t.Errorf("read after the failed commit: %q, %v", v, err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = bbolt.Open(ctx, kv.Config{Path: dir, Durability: tc.d})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Get(ctx, []byte("after")); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("after reopen: the refused write is there: %v", err)
			}
			if err := db.Set(ctx, []byte("again"), nil); err != nil {
				t.Errorf("write after reopen: %v", err)
			}
			if rep, err := db.Verify(ctx); err != nil {
				t.Errorf("verify after reopen: %+v, %v", rep, err)
			}
		})
	}
}
