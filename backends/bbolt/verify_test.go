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
