package logstore_test

import (
	"testing"

	_ "github.com/polykv/polykv/backends/badger"
	_ "github.com/polykv/polykv/backends/bbolt"
	_ "github.com/polykv/polykv/backends/memory"
	_ "github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestConformance runs the logstore section of the conformance suite on
// every backend linked in.
func TestConformance(t *testing.T) {
	for _, name := range []string{"memory", "badger", "pebble", "bbolt"} {
		t.Run(name, func(t *testing.T) {
			conformance.RunLogstore(t, conformance.ConfigFactory(kv.Config{Backend: name, Durability: kv.NoSync}))
		})
	}
}
