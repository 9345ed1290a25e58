package bbolt_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// The benchmarks run each workload on raw bbolt (same file options: NoSync,
// hashmap freelist, the default mapping) and through polykv, side by side, so
// that the abstraction's overhead reads as the ratio of the two lines:
//
//	go test -run '^$' -bench . -benchmem ./backends/bbolt

const benchKeys = 10000

func benchKey(i int) []byte {
	return fmt.Appendf(nil, "src:%08d:pending:pending:%016x", i%100, uint64(i)*0x9E3779B97F4A7C15)
}

var benchValue = bytes.Repeat([]byte("v"), 128)

func openRaw(b *testing.B) (*bolt.DB, []byte) {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.bolt"), 0o600, &bolt.Options{
		NoSync: true, FreelistType: bolt.FreelistMapType, InitialMmapSize: bbolt.DefaultInitialMmapSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	name := []byte("polykv")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
		b.Fatal(err)
	}
	return db, name
}

func fillRaw(b *testing.B, db *bolt.DB, name []byte) {
	b.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(name)
		for i := range benchKeys {
			if err := bk.Put(benchKey(i), benchValue); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func fillKV(b *testing.B, db *kv.DB) {
	b.Helper()
	var batch kv.Batch
	for i := range benchKeys {
		if err := batch.Set(benchKey(i), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Write(context.Background(), &batch); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBatchWrite: one transaction of 1000 random-order keys.
func BenchmarkBatchWrite(b *testing.B) {
	const n = 1000
	b.Run("raw", func(b *testing.B) {
		db, name := openRaw(b)
		b.SetBytes(n * int64(len(benchValue)))
		for it := 0; b.Loop(); it++ {
			err := db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(name)
				for i := range n {
					if err := bk.Put(benchKey(it*n+i), benchValue); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kv", func(b *testing.B) {
		db := open(b, "", nil)
		ctx := context.Background()
		b.SetBytes(n * int64(len(benchValue)))
		var batch kv.Batch
		for it := 0; b.Loop(); it++ {
			batch.Reset()
			for i := range n {
				if err := batch.Set(benchKey(it*n+i), benchValue); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Write(ctx, &batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGet: point reads of present keys.
func BenchmarkGet(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		db, name := openRaw(b)
		fillRaw(b, db, name)
		for i := 0; b.Loop(); i++ {
			var out []byte
			err := db.View(func(tx *bolt.Tx) error {
				out = append([]byte(nil), tx.Bucket(name).Get(benchKey(i%benchKeys))...)
				return nil
			})
			if err != nil || len(out) != len(benchValue) {
				b.Fatal(err, len(out))
			}
		}
	})
	b.Run("kv", func(b *testing.B) {
		db := open(b, "", nil)
		fillKV(b, db)
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			v, err := db.Get(ctx, benchKey(i%benchKeys))
			if err != nil || len(v) != len(benchValue) {
				b.Fatal(err, len(v))
			}
		}
	})
}

// BenchmarkPrefixScan: a scan of one prefix of about 100 keys, values
// included.
func BenchmarkPrefixScan(b *testing.B) {
	prefix := []byte("src:00000042:")
	b.Run("raw", func(b *testing.B) {
		db, name := openRaw(b)
		fillRaw(b, db, name)
		for b.Loop() {
			n := 0
			err := db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(name).Cursor()
				for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
					n += len(v)
				}
				return nil
			})
			if err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
	})
	b.Run("kv", func(b *testing.B) {
		db := open(b, "", nil)
		fillKV(b, db)
		ctx := context.Background()
		for b.Loop() {
			n := 0
			err := db.Iterate(ctx, kv.IterOptions{Prefix: prefix}, func(_, v []byte) error {
				n += len(v)
				return nil
			})
			if err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
	})
}

// BenchmarkLargeBatch: one transaction of 20000 hashed (random-order) keys
// into a fresh store, as a nodestore batch insert does. Raw bbolt applies
// them in the given order; the engine sorts them first (see Apply).
func BenchmarkLargeBatch(b *testing.B) {
	const n = 20000
	key := func(it, i int) []byte { return fmt.Appendf(nil, "%016x", uint64(it*n+i)*0x9E3779B97F4A7C15) }
	b.Run("raw", func(b *testing.B) {
		db, name := openRaw(b)
		for it := 0; b.Loop(); it++ {
			err := db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(name)
				for i := range n {
					if err := bk.Put(key(it, i), benchValue); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kv", func(b *testing.B) {
		db := open(b, "", nil)
		ctx := context.Background()
		var batch kv.Batch
		for it := 0; b.Loop(); it++ {
			batch.Reset()
			for i := range n {
				if err := batch.Set(key(it, i), benchValue); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Write(ctx, &batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResidentLimit is the price of resident_limit: random point
// reads of a store of about 48 MiB, its whole mapping kept ("off") against
// a limit of a quarter of the file, which drops the mapping again and
// again so that most reads fault their page back in. Compare the two
// lines of one run:
//
//	go test -run '^$' -bench ResidentLimit ./backends/bbolt
func BenchmarkResidentLimit(b *testing.B) {
	const n = 40000
	value := bytes.Repeat([]byte("v"), 1000)
	for _, limit := range []string{"off", "12MiB"} {
		b.Run("limit="+limit, func(b *testing.B) {
			db := open(b, "", map[string]string{"resident_limit": limit})
			fill(b, db, "key%07d", 0, n, value)
			ctx := context.Background()
			keys := make([][]byte, n)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key%07d", (i*7919)%n)
			}
			var dst []byte
			for i := 0; b.Loop(); i++ {
				var err error
				if dst, err = db.GetAppend(ctx, dst[:0], keys[i%n]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if st, err := db.Stats(); err == nil {
				b.ReportMetric(float64(st.Engine.Extra["resident_drops"]), "drops")
			}
		})
	}
}
