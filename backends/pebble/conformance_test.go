package pebble_test

import (
	"os"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

var factory = conformance.ConfigFactory(kv.Config{Backend: "pebble", Durability: kv.NoSync})

func TestConformance(t *testing.T) {
	conformance.Run(t, factory)
}

// TestConformanceSync runs the suite once more with synced commits, the
// default durability. Every commit waits for an fsync, so it runs only
// under POLYKV_STRESS=1 (make stress).
func TestConformanceSync(t *testing.T) {
	if os.Getenv("POLYKV_STRESS") != "1" {
		t.Skip("set POLYKV_STRESS=1: the NoSync run covers the contract, this one adds fsync")
	}
	conformance.Run(t, conformance.ConfigFactory(kv.Config{Backend: "pebble", Durability: kv.Sync}))
}

func FuzzModel(f *testing.F) {
	conformance.Fuzz(f, factory)
}
