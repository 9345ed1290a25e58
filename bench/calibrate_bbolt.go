package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/kv"
)

// Calibration target: bbolt through its own API, configured as
// backends/bbolt configures it by default (driver.go, options.go): one
// bucket in <dir>/data.bolt, NoSync from the durability, the hashmap
// freelist, its initial mapping (DefaultInitialMmapSize), a 1 s lock timeout. A careful bbolt
// user: one Update per batch, a View per read, cursor scans handing out
// bbolt's own slices.

func init() { rawEngines["bbolt"] = openRawBbolt }

var rawBucket = []byte("polykv")

func openRawBbolt(_ context.Context, cfg kv.Config) (target, func() error, error) {
	if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
		return nil, nil, err
	}
	db, err := bolt.Open(filepath.Join(cfg.Path, "data.bolt"), 0o600, &bolt.Options{
		Timeout:         time.Second,
		NoSync:          cfg.Durability == kv.NoSync,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 256 << 30, // bbolt.DefaultInitialMmapSize on 64-bit Unix
	})
	if err != nil {
		return nil, nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(rawBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return &rawBbolt{db: db}, db.Close, nil
}

type rawBbolt struct{ db *bolt.DB }

func (r *rawBbolt) write(b *writeBatch) error {
	return r.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(rawBucket)
		for i, k := range b.keys {
			if err := bk.Put(k, b.vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (r *rawBbolt) get(key, dst []byte) ([]byte, bool, error) {
	found := false
	err := r.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(rawBucket).Get(key); v != nil {
			found = true
			dst = append(dst, v...)
		}
		return nil
	})
	return dst, found, err
}

func (r *rawBbolt) scan(lower, upper []byte, limit int, keysOnly bool, fn func(k, v []byte) error) error {
	n := 0
	return r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(rawBucket).Cursor()
		var k, v []byte
		if lower == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(lower)
		}
		for ; k != nil; k, v = c.Next() {
			if upper != nil && bytes.Compare(k, upper) >= 0 {
				break
			}
			if keysOnly {
				v = nil
			}
			if err := fn(k, v); err != nil {
				return err
			}
			n++
			if limit > 0 && n == limit {
				break
			}
		}
		return nil
	})
}

func (r *rawBbolt) rmw(key []byte, f func(old []byte) []byte) error {
	return r.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(rawBucket)
		return bk.Put(key, f(bk.Get(key)))
	})
}
