package bench

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/kv"
)

// The recorder logs writes in commit order, not in the order concurrent
// Updates return: eight writers increment one counter (on bbolt the
// writers of a group commit return together, on optimistic memory they
// conflict and run again), every record of the counter is one more than
// the one before, and the replay ends with the same store.
func TestRecorderLogsCommitOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  kv.Config
	}{
		{"bbolt", kv.Config{Backend: "bbolt"}},
		{"memory", kv.Config{Backend: "memory"}},
		{"memory-optimistic", kv.Config{Backend: "memory", Options: map[string]string{"txn": "optimistic"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			backend := c.cfg.Backend
			ctx := context.Background()
			dir := t.TempDir()
			open := func(name string) *kv.DB {
				cfg := c.cfg
				cfg.Durability = kv.Sync
				if backend != "memory" {
					cfg.Path = filepath.Join(dir, name)
				}
				db, err := kv.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			db := open("a")
			rec, err := newRecorder(db, filepath.Join(dir, "writes.log"))
			if err != nil {
				t.Fatal(err)
			}
			key := []byte("counter")
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 300 {
						err := rec.Update(ctx, func(tx kv.Txn) error {
							var n uint64
							v, err := tx.Get(key)
							if err == nil {
								n = binary.BigEndian.Uint64(v)
							}
							return tx.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := rec.finish(); err != nil {
				t.Fatal(err)
			}
			// Count the log's inversions: records of the counter whose value
			// is not one more than the record before.
			inv := 0
			var last uint64
			lb, _ := os.ReadFile(rec.f.Name())
			for len(lb) > 0 {
				lb = lb[1:]
				kl, n := binary.Uvarint(lb)
				lb = lb[n:]
				vl, n := binary.Uvarint(lb)
				lb = lb[n:]
				v := binary.BigEndian.Uint64(lb[kl : kl+vl])
				lb = lb[kl+vl:]
				if v != last+1 {
					inv++
				}
				last = v
			}
			if inv > 0 {
				t.Errorf("%d of %d log records out of commit order", inv, 8*300)
			}
			fresh := open("b")
			if _, err := replay(rec.f.Name(), kv.NewBulkWriter(ctx, fresh)); err != nil {
				t.Fatal(err)
			}
			v1, _ := db.Get(ctx, key)
			v2, _ := fresh.Get(ctx, key)
			want, _, _ := digest(ctx, db)
			got, _, _ := digest(ctx, fresh)
			if want != got {
				t.Errorf("replayed store differs: counter %d on the recorded store, %d after replaying the recorder's log",
					binary.BigEndian.Uint64(v1), binary.BigEndian.Uint64(v2))
			}
		})
	}
}
