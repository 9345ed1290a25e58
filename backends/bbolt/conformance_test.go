package bbolt_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// factory opens NoSync stores (every rule but durability under power loss
// holds the same under Sync, and NoSync keeps the suite fast).
var factory = conformance.ConfigFactory(kv.Config{Backend: "bbolt", Durability: kv.NoSync})

func TestConformance(t *testing.T) {
	conformance.Run(t, factory)
}

// TestConformanceSync runs the suite under the default durability; stress
// only, since each commit then waits for two fdatasyncs.
func TestConformanceSync(t *testing.T) {
	if !stress() {
		t.Skip("POLYKV_STRESS=1 runs the suite under kv.Sync too")
	}
	conformance.Run(t, conformance.ConfigFactory(kv.Config{Backend: "bbolt"}))
}

func FuzzModel(f *testing.F) {
	conformance.Fuzz(f, factory)
}
