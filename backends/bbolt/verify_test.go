package bbolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// errAfter is a context whose Err turns to Canceled after n calls.
type errAfter struct {
	context.Context
	n     int32
	calls atomic.Int32
}

func (c *errAfter) Err() error {
	if c.calls.Add(1) > c.n {
		return context.Canceled
	}
	return nil
}

// checkGoroutines counts the goroutines in bbolt's Tx.Check.
func checkGoroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "bbolt.(*Tx).check")
}

// TestVerifyCancelledAfterProblemLeavesNoCheck: Verify of a damaged store
// whose context ends once bbolt's page check has reported a problem stops
// that check before it returns. It used to drain by calling Tx.Check a
// second time: the first check's goroutine stayed blocked for ever on its
// next report, reading a transaction that had ended.
func TestVerifyCancelledAfterProblemLeavesNoCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir, nil)
	var b kv.Batch
	for i := range 400 {
		if err := b.Set(fmt.Appendf(nil, "k%04d", i), []byte("val")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage: swap the keys of two neighbours in their leaf page, so the
	// page's keys are out of order (bbolt's check reports each page).
	path := filepath.Join(dir, bbolt.DataFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 400; i += 50 {
		a, c := fmt.Appendf(nil, "k%04dval", i), fmt.Appendf(nil, "k%04dval", i+1)
		at, ct := bytes.Index(data, a), bytes.Index(data, c)
		if at < 0 || ct < 0 {
			t.Fatalf("keys %q and %q not found in the data file", a, c)
		}
		copy(data[at:], c[:5])
		copy(data[ct:], a[:5])
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, nil)
	if _, err := db.Verify(ctx); !errors.Is(err, kv.ErrCorrupt) {
		t.Fatalf("Verify of the damaged store: %v, want ErrCorrupt", err)
	}
	before := checkGoroutines()
	for range 5 {
		if _, err := db.Verify(&errAfter{Context: ctx, n: 1}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Verify whose context ends after the first problem: %v, want context.Canceled", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for checkGoroutines() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := checkGoroutines(); n > before {
		t.Errorf("%d goroutines of bbolt's Tx.Check left running after Verify returned (%d before)", n, before)
	}
}

// TestTruncatedFileIsCorrupt: a data file cut short of the pages its meta
// page says are in use is kv.ErrCorrupt at Open. bbolt maps the file and
// read those pages past its end: a SIGBUS that ended the process, in every
// command that opened the store (found by an audit of the CLI).
func TestTruncatedFileIsCorrupt(t *testing.T) {
	ctx := context.Background()
	dir, path := closedStore(t, 5000)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{64 << 10, 16 << 10} {
		if size >= fi.Size() {
			t.Fatalf("the data file is only %d bytes", fi.Size())
		}
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		for _, readOnly := range []bool{false, true} {
			db, err := bbolt.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync, ReadOnly: readOnly})
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, kv.ErrCorrupt) || !strings.Contains(err.Error(), "cut short") {
				t.Errorf("open (read-only %v) of a data file cut to %d of %d bytes: %v, want ErrCorrupt", readOnly, size, fi.Size(), err)
			}
		}
	}
}

// TestOpenPanicReleasesLock: when bbolt panics while opening a damaged
// file, the error is ErrCorrupt and the file's lock is released: the next
// open is refused for the damage again, not for a lock that the failed
// open kept (it waited out its timeout as if another process had the
// store).
func TestOpenPanicReleasesLock(t *testing.T) {
	ctx := context.Background()
	dir, path := closedStore(t, 5000)
	// Zero every page after the two meta pages: the length stays, the
	// pages the meta page names (the free list, the root) are garbage.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[2*os.Getpagesize():])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		db, err := bbolt.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync, Options: map[string]string{"lock_timeout": "200ms"}})
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, kv.ErrCorrupt) {
			t.Fatalf("open %d of the damaged store: %v, want ErrCorrupt", i+1, err)
		}
	}
}

// closedStore writes n keys to a new store, closes it, and returns its
// directory and data file.
func closedStore(t *testing.T, n int) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	db := open(t, dir, nil)
	fill(t, db, "k%05d", 0, n, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, bbolt.DataFileName)
}

// TestVerifyInsideUpdateFailsAtOnce: Verify made with the context of an
// Update of the same store fails at once with kv.ErrNestedCall. Its page
// check needs bbolt's write transaction, which the Update's group holds
// while the function runs (group commit begins it before the function),
// so it used to wait for the function, which waited for it, for ever.
func TestVerifyInsideUpdateFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.NoSync})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- db.Update(ctx, func(tx kv.Txn) error {
			_, err := db.Verify(tx.Context())
			return err
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, kv.ErrNestedCall) {
			t.Errorf("Verify inside Update: %v, want kv.ErrNestedCall", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Verify inside Update still blocked after 5s (deadlock); the store is left open")
	}
}
