package kv_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// deferringDriver opens memory engines that implement kv.SyncDeferrer:
// ApplyDeferred applies the batch and returns a wait that first calls
// block (the test's hook).
type deferringDriver struct {
	memory.Driver
	deferred, plain atomic.Int64
	block           func(n int64) // n: the apply's number, from 1
	waitErr         error
}

type deferringEngine struct {
	kv.Engine
	d *deferringDriver
}

func (d *deferringDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	e, err := d.Driver.Open(ctx, dir, cfg)
	return &deferringEngine{Engine: e, d: d}, err
}

func (e *deferringEngine) Apply(ctx context.Context, b *kv.Batch) error {
	e.d.plain.Add(1)
	return e.Engine.Apply(ctx, b)
}

func (e *deferringEngine) ApplyDeferred(ctx context.Context, b *kv.Batch) (func() error, error) {
	n := e.d.deferred.Add(1)
	if err := e.Engine.Apply(ctx, b); err != nil {
		return nil, err
	}
	return func() error {
		if e.d.block != nil {
			e.d.block(n)
		}
		return e.d.waitErr
	}, nil
}

// TestSyncDeferrer checks how *DB uses an engine's group commit: only under
// Sync, for Update and Write, waiting for durability after releasing the
// writer lock (the next writer runs meanwhile), and reporting the wait's
// error.
func TestSyncDeferrer(t *testing.T) {
	ctx := context.Background()
	open := func(d *deferringDriver, dur kv.Durability) *kv.DB {
		t.Helper()
		db, err := kv.OpenDriver(ctx, kv.Config{Backend: "memory", Durability: dur}, d)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	t.Run("nosync applies plainly", func(t *testing.T) {
		d := &deferringDriver{}
		db := open(d, kv.NoSync)
		if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if d.deferred.Load() != 0 || d.plain.Load() != 1 {
			t.Fatalf("NoSync: %d deferred, %d plain applies; want 0 and 1", d.deferred.Load(), d.plain.Load())
		}
	})

	for _, firstOp := range []string{"Write", "Update"} {
		t.Run("sync waits outside the writer lock/"+firstOp, func(t *testing.T) {
			// The first commit's wait blocks until a second Update has
			// run its function and committed: that can only happen if
			// the first released the writer lock before waiting. The
			// block keys on the apply's number, not on which wait runs
			// first: the second writer's wait may well start before
			// the first's.
			second := make(chan struct{})
			d := &deferringDriver{}
			var timedOut atomic.Bool
			d.block = func(n int64) {
				if n == 1 {
					select {
					case <-second:
					case <-time.After(5 * time.Second):
						timedOut.Store(true) // the second writer could not run
					}
				}
			}
			db := open(d, kv.Sync)
			done := make(chan error, 1)
			go func() {
				if firstOp == "Write" {
					var b kv.Batch
					_ = b.Set([]byte("a"), []byte("1"))
					done <- db.Write(ctx, &b)
					return
				}
				done <- db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("a"), []byte("1")) })
			}()
			for d.deferred.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			err := db.Update(ctx, func(tx kv.Txn) error {
				v, err := tx.Get([]byte("a")) // the first commit is visible
				if err != nil || string(v) != "1" {
					return errors.New("the first commit is not visible to the next writer")
				}
				return tx.Set([]byte("b"), []byte("2"))
			})
			close(second)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if timedOut.Load() {
				t.Fatal("the next writer waited for the first commit's sync: the writer lock was held during the wait")
			}
			if d.deferred.Load() != 2 || d.plain.Load() != 0 {
				t.Fatalf("Sync: %d deferred, %d plain applies; want 2 and 0", d.deferred.Load(), d.plain.Load())
			}
		})
	}

	t.Run("the wait's error is the commit's", func(t *testing.T) {
		boom := errors.New("sync failed")
		d := &deferringDriver{waitErr: boom}
		db := open(d, kv.Sync)
		var b kv.Batch
		_ = b.Set([]byte("k"), []byte("v"))
		if err := db.Write(ctx, &b); !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want the wait's error", err)
		}
		if err := db.Set(ctx, []byte("k"), []byte("v")); !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want the wait's error", err)
		}
	})
}
