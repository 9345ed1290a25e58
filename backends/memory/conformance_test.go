package memory_test

import (
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

var factory = conformance.ConfigFactory(kv.Config{Backend: "memory"})

func TestConformance(t *testing.T) {
	conformance.Run(t, factory)
}

func FuzzModel(f *testing.F) {
	conformance.Fuzz(f, factory)
}

// TestConformanceOptimistic runs the whole suite with Update running as
// optimistic engine transactions (kv.Transactor), as on a networked
// backend: no writer lock in kv, conflicts detected at commit and retried.
func TestConformanceOptimistic(t *testing.T) {
	conformance.Run(t, conformance.ConfigFactory(kv.Config{Backend: "memory", Options: map[string]string{"txn": "optimistic"}}))
}

// TestConformanceStripes runs the nodestore section with counter stripes
// (nodestore.StripesOn) on an optimistic store: the writes a shared store
// makes, checked on every rule without a cluster.
func TestConformanceStripes(t *testing.T) {
	conformance.RunNodestoreWith(t, conformance.ConfigFactory(kv.Config{Backend: "memory", Options: map[string]string{"txn": "optimistic"}}),
		conformance.Options{Nodestore: &nodestore.Options{CounterStripes: nodestore.StripesOn}})
}
