package badger_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/polykv/polykv/kv"
)

// fill writes n keys "k" + 8-byte index with values of size bytes.
func fill(b *testing.B, db *kv.DB, n, size int) {
	b.Helper()
	ctx := context.Background()
	w := kv.NewBulkWriter(ctx, db)
	v := make([]byte, size)
	for i := range n {
		k := binary.BigEndian.AppendUint64([]byte("k"), uint64(i))
		if err := w.Set(k, v); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIterate compares value prefetching (one goroutine per value in
// Badger) with none, side by side, for small and large values, forward
// and reverse; ns/key is the figure to compare.
func BenchmarkIterate(b *testing.B) {
	ctx := context.Background()
	const n = 20000
	for _, size := range []int{100, 4096} {
		for _, prefetch := range []string{"0", "100"} {
			for _, rev := range []bool{false, true} {
				b.Run(fmt.Sprintf("value=%d/prefetch=%s/reverse=%v", size, prefetch, rev), func(b *testing.B) {
					db := openStore(b, "", map[string]string{"prefetch_size": prefetch})
					fill(b, db, n, size)
					b.ResetTimer()
					for b.Loop() {
						keys := 0
						err := db.Iterate(ctx, kv.IterOptions{Reverse: rev}, func(k, v []byte) error {
							keys++
							return nil
						})
						if err != nil || keys != n {
							b.Fatalf("%d keys, %v", keys, err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
				})
			}
		}
	}
}

// BenchmarkWrite measures batches of 1000 writes of 100-byte values.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	db := openStore(b, "", nil)
	v := make([]byte, 100)
	batch := new(kv.Batch)
	i := 0
	for b.Loop() {
		batch.Reset()
		for range 1000 {
			k := binary.BigEndian.AppendUint64([]byte("k"), uint64(i))
			i++
			if err := batch.Set(k, v); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/write")
}

// BenchmarkGet measures point reads of present keys.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	db := openStore(b, "", nil)
	const n = 20000
	fill(b, db, n, 100)
	i := 0
	for b.Loop() {
		k := binary.BigEndian.AppendUint64([]byte("k"), uint64(i%n))
		i += 7919
		if _, err := db.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFreeSpaceCheck measures what the free-space reserve (a statfs
// before every commit) costs the smallest commits, NoSync single Sets,
// with the check on (the default) and off (free_space_reserve=0) side by
// side.
func BenchmarkFreeSpaceCheck(b *testing.B) {
	for _, c := range []struct {
		name string
		opts map[string]string
	}{
		{"reserve=default", nil},
		{"reserve=0", map[string]string{"free_space_reserve": "0"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			db := openStore(b, "", c.opts)
			v := make([]byte, 100)
			i := 0
			for b.Loop() {
				k := binary.BigEndian.AppendUint64([]byte("k"), uint64(i))
				i++
				if err := db.Set(ctx, k, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
