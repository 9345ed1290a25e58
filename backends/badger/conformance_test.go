package badger_test

import (
	"os"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestConformance runs the whole conformance suite. A Badger open and
// close costs about 0.1 s (allocating and then flushing a 56 MiB memtable),
// and the suite's model test reopens the store often, so the default run
// uses a shorter model run; POLYKV_STRESS=1 runs the full one.
func TestConformance(t *testing.T) {
	if os.Getenv("POLYKV_STRESS") != "1" {
		setDefault(t, "POLYKV_MODEL_OPS", "1000")
	}
	conformance.Run(t, conformance.ConfigFactory(kv.Config{Backend: "badger", Durability: kv.NoSync}))
}

// setDefault sets an environment variable for the test unless the caller
// set it already.
func setDefault(t *testing.T, name, value string) {
	if _, ok := os.LookupEnv(name); !ok {
		t.Setenv(name, value)
	}
}

// FuzzModel is the model test on fuzz input (conformance.Fuzz). Each input
// opens a fresh store, about 0.1 s on Badger, so `go test -fuzz` explores
// about ten inputs a second here; `go test` runs the seed corpus.
func FuzzModel(f *testing.F) {
	conformance.Fuzz(f, conformance.ConfigFactory(kv.Config{Backend: "badger", Durability: kv.NoSync}))
}
