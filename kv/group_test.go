package kv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// groupFigures returns bbolt's count of group commits and of the batches
// they committed.
func groupFigures(t *testing.T, db *kv.DB) (commits, batches int64) {
	t.Helper()
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Engine.Extra["group_commits"], st.Engine.Extra["group_batches"]
}

// holdWriter starts an Update on db whose function blocks until the
// returned release is called; it returns once that function runs (the
// writer lock is held, a group open). done receives the Update's result.
func holdWriter(t *testing.T, db *kv.DB, key string) (release func(), done <-chan error) {
	t.Helper()
	running, gate := make(chan struct{}), make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- db.Update(context.Background(), func(tx kv.Txn) error {
			close(running)
			<-gate
			return tx.Set([]byte(key), []byte("held"))
		})
	}()
	<-running
	return func() { close(gate) }, res
}

func waitWriters(t *testing.T, db *kv.DB, n int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for kv.WritersWaiting(db) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writers wait for the lock, want %d", kv.WritersWaiting(db), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit checks how *DB groups writers on an engine with
// kv.GroupCommitter (bbolt): a lone writer commits by itself; writers that
// wait for the lock while a writer runs all join its group, which commits
// once, every one of them returning after that commit with its own result;
// a write that goes to the engine directly (DeleteRange) commits the open
// group first.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	for _, dur := range []kv.Durability{kv.Sync, kv.NoSync} {
		t.Run(dur.String(), func(t *testing.T) {
			db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Durability: dur})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			c0, b0 := groupFigures(t, db)
			if err := db.Set(ctx, []byte("alone"), []byte("1")); err != nil {
				t.Fatal(err)
			}
			c1, b1 := groupFigures(t, db)
			if c1-c0 != 1 || b1-b0 != 1 {
				t.Fatalf("a lone write: %d commits of %d batches, want 1 of 1", c1-c0, b1-b0)
			}

			// 15 writers queue behind a held one; the 8th fails.
			release, first := holdWriter(t, db, "w00")
			results := make([]chan error, 16)
			for i := 1; i < 16; i++ {
				results[i] = make(chan error, 1)
				go func() {
					k := fmt.Appendf(nil, "w%02d", i)
					if i%2 == 0 {
						results[i] <- db.Set(ctx, k, []byte("blind"))
						return
					}
					results[i] <- db.Update(ctx, func(tx kv.Txn) error {
						if _, err := tx.Get([]byte("w00")); err != nil {
							return fmt.Errorf("the held writer's write, earlier in the group: %w", err)
						}
						if err := tx.Set(k, []byte("txn")); err != nil {
							return err
						}
						if i == 7 {
							return errDeliberate
						}
						return nil
					})
				}()
			}
			waitWriters(t, db, 15)
			release()
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 16; i++ {
				err := <-results[i]
				switch {
				case i == 7 && !errors.Is(err, errDeliberate):
					t.Errorf("writer 7 returned %v, want its own error", err)
				case i != 7 && err != nil:
					t.Errorf("writer %d: %v", i, err)
				}
			}
			c2, b2 := groupFigures(t, db)
			if c2-c1 != 1 || b2-b1 != 15 {
				t.Errorf("16 writers (one failing) queued behind one: %d commits of %d batches, want 1 of 15", c2-c1, b2-b1)
			}
			for i := range 16 {
				_, err := db.Get(ctx, fmt.Appendf(nil, "w%02d", i))
				if i == 7 && !errors.Is(err, kv.ErrNotFound) {
					t.Errorf("the failed writer's key: %v, want ErrNotFound", err)
				} else if i != 7 && err != nil {
					t.Errorf("writer %d's key: %v", i, err)
				}
			}

			// A DeleteRange queued behind a held writer runs after its
			// group has committed: it deletes the held writer's key.
			release, first = holdWriter(t, db, "z-held")
			deleted := make(chan error, 1)
			go func() { deleted <- db.DeletePrefix(ctx, []byte("z-")) }()
			waitWriters(t, db, 1)
			release()
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if err := <-deleted; err != nil {
				t.Fatal(err)
			}
			if _, err := db.Get(ctx, []byte("z-held")); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("key written by the group before DeletePrefix: %v, want ErrNotFound", err)
			}
		})
	}
}

var errDeliberate = errors.New("deliberate failure")
