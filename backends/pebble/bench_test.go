package pebble_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
)

// The benchmarks measure polykv's Pebble backend and raw Pebble side by
// side, on the same data and comparable options (NoSync), so that the
// abstraction's overhead is the ratio of the two sub-benchmarks "kv" and
// "raw" of one run:
//
//	go test -run XXX -bench . ./backends/pebble

const benchKeys = 50000

func benchValue(i int) []byte {
	return fmt.Appendf(nil, "value-%08d-%s", i, "0123456789abcdef0123456789abcdef")
}

func openBenchKV(b *testing.B) *kv.DB {
	b.Helper()
	db, err := pebble.Open(context.Background(), kv.Config{Path: b.TempDir(), Durability: kv.NoSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func openBenchRaw(b *testing.B) *cpebble.DB {
	b.Helper()
	c := cpebble.NewCache(kv.DefaultMemoryBudget)
	defer c.Unref()
	opts := &cpebble.Options{Cache: c, MemTableSize: 64 << 20, FormatMajorVersion: pebble.FormatMajorVersion,
		Logger: quiet{}}
	db, err := cpebble.Open(filepath.Join(b.TempDir(), "raw"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(f string, a ...any) {
	panic(fmt.Sprintf(f, a...))
}

func loadKV(b *testing.B, db *kv.DB) {
	w := kv.NewBulkWriter(context.Background(), db)
	for i := range benchKeys {
		if err := w.Set(key(i), benchValue(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func loadRaw(b *testing.B, db *cpebble.DB) {
	bt := db.NewBatch()
	for i := range benchKeys {
		bt.Set(key(i), benchValue(i), nil)
	}
	if err := bt.Commit(cpebble.NoSync); err != nil {
		b.Fatal(err)
	}
	bt.Close()
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	b.Run("kv", func(b *testing.B) {
		db := openBenchKV(b)
		loadKV(b, db)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := db.Get(ctx, key(i*7919%benchKeys)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("raw", func(b *testing.B) {
		db := openBenchRaw(b)
		loadRaw(b, db)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, c, err := db.Get(key(i * 7919 % benchKeys))
			if err != nil {
				b.Fatal(err)
			}
			_ = append([]byte(nil), v...) // the copy a caller must make too
			c.Close()
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	val := benchValue(0)
	b.Run("kv", func(b *testing.B) {
		db := openBenchKV(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := db.Set(ctx, key(i), val); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("raw", func(b *testing.B) {
		db := openBenchRaw(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := db.Set(key(i), val, cpebble.NoSync); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkBatch1000 writes batches of 1000 keys.
func BenchmarkBatch1000(b *testing.B) {
	ctx := context.Background()
	val := benchValue(0)
	b.Run("kv", func(b *testing.B) {
		db := openBenchKV(b)
		b.ReportAllocs()
		var bt kv.Batch
		n := 0
		for b.Loop() {
			bt.Reset()
			for range 1000 {
				bt.Set(key(n), val)
				n++
			}
			if err := db.Write(ctx, &bt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		db := openBenchRaw(b)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			bt := db.NewBatch()
			for range 1000 {
				bt.Set(key(n), val, nil)
				n++
			}
			if err := bt.Commit(cpebble.NoSync); err != nil {
				b.Fatal(err)
			}
			bt.Close()
		}
	})
}

// BenchmarkScan1000 reads 1000 consecutive keys and values from a random
// start.
func BenchmarkScan1000(b *testing.B) {
	ctx := context.Background()
	b.Run("kv", func(b *testing.B) {
		db := openBenchKV(b)
		loadKV(b, db)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			n := 0
			err := db.Iterate(ctx, kv.IterOptions{Start: key(i * 7919 % (benchKeys - 1000)), Limit: 1000}, func(k, v []byte) error {
				n += len(v)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("raw", func(b *testing.B) {
		db := openBenchRaw(b)
		loadRaw(b, db)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			it, err := db.NewIter(&cpebble.IterOptions{LowerBound: key(i * 7919 % (benchKeys - 1000))})
			if err != nil {
				b.Fatal(err)
			}
			n, c := 0, 0
			for ok := it.First(); ok && c < 1000; ok = it.Next() {
				n += len(it.Value())
				c++
			}
			it.Close()
			i++
		}
	})
}

// BenchmarkOpenCleanCloseCheck measures what the check of the clean-close
// record costs Open (a read-only open of the store before the read-write
// one: tables.go), side by side with an Open of the same store without the
// record, on a store of benchKeys keys in several tables.
func BenchmarkOpenCleanCloseCheck(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	for round := range 4 { // four flushes: four tables
		db, err := pebble.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
		if err != nil {
			b.Fatal(err)
		}
		var batch kv.Batch
		for i := range benchKeys / 4 {
			k := round*benchKeys/4 + i
			batch.Set(fmt.Appendf(nil, "key-%08d", k), benchValue(k))
		}
		if err := db.Write(ctx, &batch); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for _, check := range []bool{true, false} {
		b.Run(fmt.Sprintf("record=%v", check), func(b *testing.B) {
			for b.Loop() {
				if !check {
					if err := os.Remove(filepath.Join(dir, "polykv-pebble-tables")); err != nil {
						b.Fatal(err)
					}
				}
				db, err := pebble.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
