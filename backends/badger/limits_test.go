package badger_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
)

// edgeKey returns a key of n bytes (n >= 6) starting with '!' and tag, so that it
// is stored one byte longer: the worst case for Badger's size estimate.
func edgeKey(tag byte, i, n int) []byte {
	k := make([]byte, n)
	k[0], k[1] = '!', tag
	binary.BigEndian.PutUint32(k[n-4:], uint32(i))
	return k
}

// edgeBatch fills a batch with ops writes of keyLen-byte keys and
// valueLen-byte values and checks it is exactly at the limit it targets.
func edgeBatch(tb testing.TB, tag byte, ops, keyLen, valueLen int, del bool) *kv.Batch {
	tb.Helper()
	b := new(kv.Batch)
	v := bytes.Repeat([]byte{'v'}, valueLen)
	for i := range ops {
		var err error
		if del {
			err = b.Delete(edgeKey(tag, i, keyLen))
		} else {
			err = b.Set(edgeKey(tag, i, keyLen), v)
		}
		if err != nil {
			tb.Fatalf("op %d: %v", i, err)
		}
	}
	return b
}

// TestTxnLimitsEdge commits transactions exactly at kv.MaxTxnOps writes
// and exactly at kv.MaxTxnBytes bytes (separately and together), with the
// smallest accepted memtable and the default one, and with values kept in
// the LSM tree (Badger's costlier estimate) or in the value log. Badger's
// ErrTxnTooBig must never surface; one write more is kv.ErrTxnTooLarge.
func TestTxnLimitsEdge(t *testing.T) {
	ctx := context.Background()
	inlineValue := kv.MaxTxnBytes/8 - 16 - kv.TxnEntryOverhead // 8 writes of 16-byte keys fill MaxTxnBytes
	cases := []struct {
		name             string
		ops, keyLen, val int
		del              bool
	}{
		{"ops", kv.MaxTxnOps, 6, 0, false},
		{"ops-deletes", kv.MaxTxnOps, 6, 0, true},
		{"bytes-large-values", 8, 16, inlineValue, false},
		{"ops-and-bytes", kv.MaxTxnOps, 16, kv.MaxTxnBytes/kv.MaxTxnOps - 16 - kv.TxnEntryOverhead, false},
	}
	configs := []struct {
		name string
		opts map[string]string
	}{
		{"default", nil},
		{"min-memtable", map[string]string{"memtable_size": fmt.Sprint(badger.MinMemTableSize)}},
		{"vlog", map[string]string{"memtable_size": fmt.Sprint(badger.MinMemTableSize), "value_threshold": "0"}},
	}
	stress := os.Getenv("POLYKV_STRESS") == "1"
	if !stress {
		// The tightest configuration only; POLYKV_STRESS=1 runs them all.
		configs = configs[1:2]
		cases = slices.DeleteFunc(cases, func(c struct {
			name             string
			ops, keyLen, val int
			del              bool
		}) bool {
			return c.del
		})
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			db := openStore(t, "", cfg.opts)
			for ci, c := range cases {
				tag := byte('A' + ci)
				t.Run(c.name, func(t *testing.T) {
					b := edgeBatch(t, tag, c.ops, c.keyLen, c.val, c.del)
					if b.Len() != kv.MaxTxnOps && b.Size() != kv.MaxTxnBytes {
						t.Fatalf("batch of %d writes, %d bytes is at no limit", b.Len(), b.Size())
					}
					if err := db.Write(ctx, b); err != nil {
						t.Fatalf("write at the limit (%d writes, %d bytes): %v", b.Len(), b.Size(), err)
					}
					// One more write is refused by kv, before Badger.
					extra := edgeKey(tag, c.ops, c.keyLen)
					if err := b.Set(extra, make([]byte, c.val)); !errors.Is(err, kv.ErrTxnTooLarge) {
						t.Fatalf("write past the limit: %v, want ErrTxnTooLarge", err)
					}
					n := 0
					err := db.Iterate(ctx, kv.IterOptions{Prefix: []byte{'!', tag}, KeysOnly: true}, func(k, _ []byte) error {
						n++
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					want := c.ops
					if c.del {
						want = 0
					}
					if n != want {
						t.Fatalf("%d keys after the commit, want %d", n, want)
					}
				})
			}
			// The same through Update, whose Txn builds the batch.
			t.Run("update", func(t *testing.T) {
				if !stress {
					t.Skip("POLYKV_STRESS=1 runs it")
				}
				v := make([]byte, kv.MaxTxnBytes/kv.MaxTxnOps-16-kv.TxnEntryOverhead)
				err := db.Update(ctx, func(tx kv.Txn) error {
					for i := range kv.MaxTxnOps {
						if err := tx.Set(edgeKey('u', i, 16), v); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatalf("update at both limits: %v", err)
				}
			})
		})
	}
}

func TestMemtableBelowLimitRefused(t *testing.T) {
	for _, size := range []string{"1MiB", fmt.Sprint(badger.MinMemTableSize - 1), "53MiB"} {
		_, err := badger.Open(context.Background(), kv.Config{Path: t.TempDir(), Options: map[string]string{"memtable_size": size}})
		if !errors.Is(err, kv.ErrInvalidConfig) {
			t.Errorf("memtable_size=%s: %v, want ErrInvalidConfig", size, err)
		}
	}
}
