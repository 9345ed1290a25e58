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
