package badger_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
)

// TestDamagedTableScanNotSilent: a table damaged where Open does not look
// (verify_on_open=false stands for damage that happens while the store is
// open) must not make a full scan end early with a nil error: the scan
// either returns every key or fails with kv.ErrCorrupt.
func TestDamagedTableScanNotSilent(t *testing.T) {
	ctx := context.Background()
	const n = 3000
	for seed := range 8 {
		dir := filepath.Join(t.TempDir(), "s")
		db, err := badger.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
		if err != nil {
			t.Fatal(err)
		}
		var b kv.Batch
		for i := range n {
			b.Set(fmt.Appendf(nil, "k%06d", i), fmt.Appendf(nil, "value %d %0100d", i, i*7919))
		}
		if err := db.Write(ctx, &b); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		if len(tables) == 0 {
			t.Fatal("no table")
		}
		data, err := os.ReadFile(tables[0])
		if err != nil {
			t.Fatal(err)
		}
		off := len(data) * (seed + 1) / 12 // spread over the first two thirds: data blocks
		for i := off; i < off+512 && i < len(data); i++ {
			data[i] ^= 0x5a
		}
		if err := os.WriteFile(tables[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err = badger.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync, Options: map[string]string{"verify_on_open": "false"}})
		if err != nil {
			t.Logf("seed %d: open: %v", seed, err)
			continue
		}
		got := 0
		err = db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error { got++; return nil })
		db.Close()
		switch {
		case errors.Is(err, kv.ErrCorrupt):
			t.Logf("seed %d: %d keys, then %v", seed, got, err)
		case err != nil:
			t.Errorf("seed %d: scan error does not match kv.ErrCorrupt: %v", seed, err)
		case got != n:
			t.Errorf("seed %d: the scan returned %d of %d keys with a nil error", seed, got, n)
		}
	}
}
