package nodestore_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// The crash tests kill a child process that completes folders with their
// children (conformance.NodestoreCrashWorkload) at random moments, reopen
// the store and check that every node is in exactly one status key, that
// no completion is half applied and that the counters equal a scan. One
// test per backend: RunCrash re-runs the test binary with -test.run.

func crashOptions() conformance.CrashOptions {
	return conformance.CrashOptions{Workload: conformance.NodestoreCrashWorkload{}}
}

func TestCrashBadger(t *testing.T) {
	conformance.RunCrash(t, kv.Config{Backend: "badger"}, crashOptions())
}

func TestCrashPebble(t *testing.T) {
	conformance.RunCrash(t, kv.Config{Backend: "pebble"}, crashOptions())
}

func TestCrashBbolt(t *testing.T) {
	conformance.RunCrash(t, kv.Config{Backend: "bbolt"}, crashOptions())
}

// TestPowerCut runs the same workload with power cuts instead of kills
// (conformance.WithPowerCut: the store on a loop-mounted ext4 whose
// unsynced writes each cut loses), under Sync: every acknowledged
// completion must survive, counters exact.
func TestPowerCut(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			opts := crashOptions()
			opts.Modes = []kv.Durability{kv.Sync}
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.WithPowerCut(t, opts, 1<<30))
		})
	}
}
