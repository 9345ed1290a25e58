package memory_test

import (
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

var factory = conformance.ConfigFactory(kv.Config{Backend: "memory"})

func TestConformance(t *testing.T) {
	conformance.Run(t, factory)
}

func FuzzModel(f *testing.F) {
	conformance.Fuzz(f, factory)
}
