package badger_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/polykv/polykv/backends/badger"
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

// BenchmarkVerification measures what the damage checks cost, side by
// side on one store of 200,000 keys with 100-byte values (about 30 MB of
// tables): Open with and without verify_on_open (every table's checksums),
// a full scan and random Gets with and without block checksums
// (checksum_verification=block, the default, or none), and DB.Verify.
func BenchmarkVerification(b *testing.B) {
	ctx := context.Background()
	const n = 200000
	dir := b.TempDir()
	cfg := func(opts map[string]string) kv.Config {
		return kv.Config{Path: dir, Durability: kv.NoSync, Options: opts}
	}
	db, err := badger.Open(ctx, cfg(map[string]string{"verify_on_open": "false"}))
	if err != nil {
		b.Fatal(err)
	}
	w := kv.NewBulkWriter(ctx, db)
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]byte, 100)
	for i := range n {
		for j := range v {
			v[j] = byte(rng.UintN(256)) // incompressible, as most stored values are once snappy is done
		}
		if err := w.Set(binary.BigEndian.AppendUint64([]byte("k"), uint64(i)), v); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil { // flushes the memtable into tables
		b.Fatal(err)
	}
	for _, verify := range []string{"true", "false"} {
		b.Run("open/verify_on_open="+verify, func(b *testing.B) {
			for b.Loop() {
				db, err := badger.Open(ctx, cfg(map[string]string{"verify_on_open": verify}))
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, mode := range []string{"block", "none"} {
		opts := map[string]string{"verify_on_open": "false", "checksum_verification": mode}
		b.Run("scan/checksum_verification="+mode, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db, err := badger.Open(ctx, cfg(opts)) // a cold block cache each time
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				keys := 0
				err = db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
					keys++
					return nil
				})
				if err != nil || keys != n {
					b.Fatalf("%d keys, %v", keys, err)
				}
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
		})
		b.Run("get/checksum_verification="+mode, func(b *testing.B) {
			b.StopTimer()
			db, err := badger.Open(ctx, cfg(opts))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			i := uint64(0)
			b.StartTimer()
			const gets = 2000
			for b.Loop() {
				for range gets {
					i = (i*6364136223846793005 + 1442695040888963407) % n
					if _, err := db.Get(ctx, binary.BigEndian.AppendUint64([]byte("k"), i)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*gets), "ns/get")
		})
	}
	b.Run("verify", func(b *testing.B) {
		db, err := badger.Open(ctx, cfg(map[string]string{"verify_on_open": "false"}))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			if _, err := db.Verify(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkShortScanEnd measures checkTail, the check a forward iteration
// makes when it runs out of keys before its upper bound, on 2,000,000 keys
// of 100 random bytes (about 50 tables): 10-key prefix scans in the
// middle of the key space and at its end. Both run out (Badger's iterator
// stops at the end of its prefix) and both find no table ending inside
// what is left of their range: what they measure beside the scan is the
// lookup of the tables' end keys (tableends.go).
func BenchmarkShortScanEnd(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := badger.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
	if err != nil {
		b.Fatal(err)
	}
	w := kv.NewBulkWriter(ctx, db)
	rng := rand.New(rand.NewPCG(3, 4))
	v := make([]byte, 100)
	for i := range 2_000_000 {
		for j := range v {
			v[j] = byte(rng.UintN(256))
		}
		if err := w.Set(fmt.Appendf(nil, "p%06d/%d", i/10, i%10), v); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	db, err = badger.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	b.Logf("%d tables", len(tables))
	for _, where := range []string{"middle", "end"} {
		prefix := []byte("p100000/")
		if where == "end" {
			prefix = []byte("p199999/")
		}
		b.Run(where, func(b *testing.B) {
			for b.Loop() {
				n := 0
				if err := db.Iterate(ctx, kv.IterOptions{Prefix: prefix}, func(k, v []byte) error { n++; return nil }); err != nil || n != 10 {
					b.Fatalf("%d keys, %v", n, err)
				}
			}
		})
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
