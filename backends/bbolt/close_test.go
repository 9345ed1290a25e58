package bbolt_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// TestEngineCloseWithForgottenReaders: the Engine used directly, with an
// iterator and a snapshot never closed. bbolt's own Close waits for every
// read transaction, forever; the engine's Close rolls them back and says
// so, and a late Close of the forgotten ones is harmless.
func TestEngineCloseWithForgottenReaders(t *testing.T) {
	db := open(t, "", nil)
	fill(t, db, "k%04d", 0, 10, []byte("v"))
	e := db.Engine()
	it, err := e.NewIter(kv.IterRange{})
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatal("no key")
	}
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still blocked after 10s by an iterator and a snapshot never closed")
	}
	if err == nil || !strings.Contains(err.Error(), "2 iterator(s) or snapshot(s) still open") {
		t.Errorf("Close = %v, want it to report the 2 readers it rolled back", err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("late iterator Close = %v", err)
	}
	if err := snap.Close(); err != nil && !errors.Is(err, kv.ErrClosed) {
		t.Errorf("late snapshot Close = %v", err)
	}
}
