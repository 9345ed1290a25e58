package all_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// TestEngineCloseWithForgottenReaders: on every backend, Close of a store
// whose Engine (used directly, bypassing kv.DB's bookkeeping) still has an
// iterator and a snapshot open returns: it may report them, but never
// waits for them forever. The forgotten ones may be closed afterwards.
func TestEngineCloseWithForgottenReaders(t *testing.T) {
	for _, b := range append([]string{"memory"}, persistent...) {
		t.Run(b, func(t *testing.T) {
			cfg := kv.Config{Backend: b}
			if b != "memory" {
				cfg.Path = filepath.Join(t.TempDir(), "s")
			}
			db, err := kv.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set(t.Context(), []byte("k"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			it, err := db.Engine().NewIter(kv.IterRange{})
			if err != nil {
				t.Fatal(err)
			}
			it.Next()
			snap, err := db.Engine().NewSnapshot()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- db.Close() }()
			select {
			case err := <-done:
				t.Logf("Close: %v", err)
			case <-time.After(hangLimit):
				t.Fatalf("Close still waiting after %v for an iterator and a snapshot never closed", hangLimit)
			}
			it.Close()
			snap.Close()
		})
	}
}
