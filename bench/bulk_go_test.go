package bench_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/kv"
)

// BenchmarkBulkWriter loads bulkN entries (16-byte keys, 100-byte values)
// into a fresh store with a kv.BulkWriter of each chunk size, keys in order
// (a copy, a restore, an import) or shuffled, on every backend, synced and
// not; chunk=default is NewBulkWriter, which picks the chunk size from the
// order of the keys. One op is one entry; the store's open and close are
// not timed.
//
//	go test -run '^$' -bench BulkWriter -benchtime 1x -count 5 ./bench/
func BenchmarkBulkWriter(b *testing.B) {
	const bulkN = 200_000
	keys := make([][]byte, bulkN)
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint64([]byte("bulk:key"), uint64(i))
	}
	shuffled := append([][]byte(nil), keys...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	value := make([]byte, 100)
	for _, backend := range []string{"memory", "badger", "pebble", "bbolt"} {
		for _, dur := range []kv.Durability{kv.NoSync, kv.Sync} {
			for _, order := range []string{"ordered", "random"} {
				for _, chunk := range []int{0, 256 << 10, 512 << 10, 1 << 20, 2 << 20, kv.MaxTxnBytes} {
					if backend == "memory" && dur == kv.Sync {
						continue
					}
					size := "default"
					if chunk > 0 {
						size = fmt.Sprintf("%dKiB", chunk>>10)
					}
					name := fmt.Sprintf("%s/%s/%s/chunk=%s", backend, dur, order, size)
					b.Run(name, func(b *testing.B) {
						ks := keys
						if order == "random" {
							ks = shuffled
						}
						for b.Loop() {
							b.StopTimer()
							cfg := kv.Config{Backend: backend, Durability: dur}
							if backend != "memory" {
								cfg.Path = b.TempDir()
							}
							db, err := kv.Open(b.Context(), cfg)
							if err != nil {
								b.Fatal(err)
							}
							b.StartTimer()
							w := kv.NewBulkWriter(b.Context(), db)
							if chunk > 0 {
								w = kv.NewBulkWriterSize(b.Context(), db, chunk)
							}
							for _, k := range ks {
								if err := w.Set(k, value); err != nil {
									b.Fatal(err)
								}
							}
							if err := w.Close(); err != nil {
								b.Fatal(err)
							}
							b.StopTimer()
							if err := db.Close(); err != nil {
								b.Fatal(err)
							}
							b.StartTimer()
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ks)), "ns/op")
					})
				}
			}
		}
	}
}
