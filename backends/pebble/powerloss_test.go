package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
)

// TestPowerLoss simulates a power loss with Pebble's crashable in-memory
// file system: CrashClone keeps what was synced and, in the second mode, a
// random share of what was not (torn, reordered writes of the page cache).
// Writers commit 2-key transactions concurrently (the group commit under
// Sync); the clone is taken while they run. On the store reopened from the
// clone: under Sync every commit acknowledged before the clone began is
// there; under NoSync what survives is, per writer, a prefix of its
// commits; in every mode no transaction is half there.
func TestPowerLoss(t *testing.T) {
	const writers, perWriter = 4, 300
	for _, d := range []kv.Durability{kv.Sync, kv.NoSync} {
		for _, unsynced := range []int{0, 50} {
			t.Run(fmt.Sprintf("%s/unsynced=%d%%", d, unsynced), func(t *testing.T) {
				ctx := context.Background()
				mem := vfs.NewCrashableMem()
				restore := pebble.SetWrapFS(func(vfs.FS) vfs.FS { return mem })
				defer func() { restore() }() // the restore of the clone's wrap, set below
				dir := t.TempDir()
				mkdirSynced(t, mem, dir)
				db, err := pebble.Open(ctx, kv.Config{Path: dir, Durability: d})
				if err != nil {
					t.Fatal(err)
				}
				acked := make([]atomic.Int64, writers)
				var total atomic.Int64
				var wg sync.WaitGroup
				var cloned *vfs.MemFS
				var before [writers]int64
				for w := range writers {
					wg.Go(func() {
						for i := range perWriter {
							err := db.Update(ctx, func(tx kv.Txn) error {
								if err := tx.Set(powerKey('a', w, i), []byte("v")); err != nil {
									return err
								}
								return tx.Set(powerKey('b', w, i), []byte("v"))
							})
							if err != nil {
								t.Errorf("writer %d, commit %d: %v", w, i, err)
								return
							}
							acked[w].Store(int64(i + 1))
							if total.Add(1) == writers*perWriter/2 {
								for j := range writers {
									before[j] = acked[j].Load()
								}
								cloned = mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(uint64(unsynced), 7))})
							}
						}
					})
				}
				wg.Wait()
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if cloned == nil {
					t.Fatal("no clone taken")
				}
				restore()
				restore = pebble.SetWrapFS(func(vfs.FS) vfs.FS { return cloned })
				db, err = pebble.Open(ctx, kv.Config{Path: dir, Durability: d})
				if err != nil {
					t.Fatalf("open after the power loss: %v", err)
				}
				defer db.Close()
				for w := range writers {
					first := -1 // the first commit missing
					for i := range perWriter {
						a := present(t, db, powerKey('a', w, i))
						b := present(t, db, powerKey('b', w, i))
						if a != b {
							t.Fatalf("writer %d, commit %d: half there (a %v, b %v)", w, i, a, b)
						}
						switch {
						case !a && first < 0:
							first = i
						case a && first >= 0:
							t.Fatalf("writer %d: commit %d there after commit %d missing: not a prefix", w, i, first)
						}
					}
					if first < 0 {
						first = perWriter
					}
					if d == kv.Sync && int64(first) < before[w] {
						t.Errorf("writer %d: %d commits acknowledged before the power loss, %d there after it", w, before[w], first)
					}
					t.Logf("writer %d: %d acknowledged before the clone, %d there", w, before[w], first)
				}
			})
		}
	}
}

func powerKey(family byte, w, i int) []byte { return fmt.Appendf(nil, "%c/%d/%05d", family, w, i) }

func present(t *testing.T, db *kv.DB, k []byte) bool {
	t.Helper()
	_, err := db.Get(context.Background(), k)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// mkdirSynced creates dir on mem with every directory entry up to the root
// synced, as a directory that existed before the power loss is.
func mkdirSynced(t *testing.T, mem *vfs.MemFS, dir string) {
	t.Helper()
	if err := mem.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		f, err := mem.OpenDir(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		if d == filepath.Dir(d) {
			return
		}
	}
}
