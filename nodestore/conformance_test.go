package nodestore_test

import (
	"testing"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestConformance runs the nodestore section of the conformance suite on
// every backend, NoSync (the suite checks consistency, not power-loss
// durability), the backends in parallel.
func TestConformance(t *testing.T) {
	for _, b := range []string{"memory", "badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			conformance.RunNodestore(t, conformance.ConfigFactory(kv.Config{Backend: b, Durability: kv.NoSync}))
		})
	}
}
