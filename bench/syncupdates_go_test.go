package bench_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
)

// BenchmarkSyncUpdates runs one-key Updates under kv.Sync from 1, 4 and 16
// goroutines on each persistent backend; ns/op is the wall time per
// Update. Where the engine supports group commit (kv.SyncDeferrer: pebble)
// concurrent Updates share fsyncs; elsewhere each pays its own.
//
//	go test -run '^$' -bench SyncUpdates -benchtime 2s ./bench/
func BenchmarkSyncUpdates(b *testing.B) {
	for _, backend := range []string{"badger", "pebble", "bbolt"} {
		for _, g := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", backend, g), func(b *testing.B) {
				db, err := kv.Open(b.Context(), kv.Config{Backend: backend, Path: b.TempDir(), Durability: kv.Sync})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				per := (b.N + g - 1) / g
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range per {
							k := fmt.Appendf(nil, "w%02d:%08d", w, i)
							if err := db.Update(b.Context(), func(tx kv.Txn) error { return tx.Set(k, k) }); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}
