package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
)

// TestFailedWALRotation: a write fault that hits the log while Compact
// rotates it (closing the previous log fails, and Pebble panics in
// rotateWAL) gives Compact a typed error; Close does not close the log
// writer a second time, which would hand its blocks to two later writers of
// the process (walrotation.go). Afterwards a second store, opened in the
// same process, commits transactions that span many log blocks: after it
// is reopened every one is there, and so is every transaction the first
// store acknowledged before the fault.
func TestFailedWALRotation(t *testing.T) {
	ctx := context.Background()
	var armed atomic.Bool
	var injected atomic.Int64
	inject := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if armed.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.HasSuffix(op.Path, ".log") {
			injected.Add(1)
			return &fs.PathError{Op: "write", Path: op.Path, Err: syscall.EIO}
		}
		return nil
	})
	restore := pebble.SetWrapFS(func(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, inject) })
	defer restore()

	value := bytes.Repeat([]byte("v"), 10<<10) // 3 transactions per 32 KiB log block
	write := func(db *kv.DB, n int) {
		t.Helper()
		for i := range n {
			if err := db.Set(ctx, fmt.Appendf(nil, "k%04d", i), value); err != nil {
				t.Fatalf("Set %d: %v", i, err)
			}
		}
	}
	count := func(cfg kv.Config) int {
		t.Helper()
		db, err := pebble.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("reopen %s: %v", cfg.Path, err)
		}
		defer db.Close()
		n := 0
		err = db.View(ctx, func(tx kv.ReadTxn) error {
			return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error {
				if !bytes.Equal(v, value) {
					return fmt.Errorf("key %q: a value of %d bytes, want %d", k, len(v), len(value))
				}
				n++
				return nil
			})
		})
		if err != nil {
			t.Fatalf("scan %s: %v", cfg.Path, err)
		}
		return n
	}

	a := kv.Config{Path: t.TempDir(), Durability: kv.Sync, MemoryBudget: kv.MinMemoryBudget}
	db, err := pebble.Open(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	write(db, 40)
	armed.Store(true)
	err = db.Compact(ctx) // flushes the memtable: rotates the log, whose close fails
	armed.Store(false)
	if injected.Load() == 0 {
		t.Fatal("Compact wrote nothing to the log: the fault was not injected")
	}
	if !errors.Is(err, kv.ErrIO) {
		t.Errorf("Compact with the log failing = %v, want kv.ErrIO", err)
	}
	if err := db.Set(ctx, []byte("after"), value); !errors.Is(err, kv.ErrNeedsReopen) && !errors.Is(err, kv.ErrIO) {
		t.Errorf("Set after the failed rotation = %v, want kv.ErrNeedsReopen", err)
	}
	t.Logf("Close after the failed rotation: %v", db.Close())

	b := kv.Config{Path: t.TempDir(), Durability: kv.Sync, MemoryBudget: kv.MinMemoryBudget}
	db, err = pebble.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	write(db, 60)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(b); n != 60 {
		t.Errorf("the second store holds %d of its 60 transactions after reopening", n)
	}
	if n := count(a); n != 40 {
		t.Errorf("the first store holds %d of its 40 acknowledged transactions after reopening", n)
	}
}
