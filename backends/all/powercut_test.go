package all_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestPowerCut is TestCrash with power cuts instead of kills: the stores
// live on an ext4 file system of their own (a loop device, mounted by the
// test as root; skipped where that is refused), and each kill copies the
// disk as it is at that moment, unsynced writes lost, and mounts the copy
// in place of the file system (conformance.PowerCut). Under Sync every
// acknowledged commit must survive, on every backend; under NoSync a tail
// may go, never a part of a transaction. bbolt runs Sync only: under
// NoSync a power loss may corrupt its file (declared in kv.NoSync and the
// README's durability table). Short by default; POLYKV_STRESS=1 runs 200
// cuts per backend and mode.
func TestPowerCut(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.WithPowerCut(t, powerCutOptions(b), 1<<30))
		})
	}
}

// TestPowerCutConcurrent is TestPowerCut with four goroutines committing
// at once (conformance.ConcurrentTxnWorkload): commits that share an
// fsync (group commit) must each survive the cut once acknowledged.
func TestPowerCutConcurrent(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			opts := powerCutOptions(b)
			opts.Workload = conformance.ConcurrentTxnWorkload{Writers: 4}
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.WithPowerCut(t, opts, 1<<30))
		})
	}
}

// powerCutOptions: both durabilities, but Sync only on bbolt.
func powerCutOptions(backend string) conformance.CrashOptions {
	if backend == "bbolt" {
		return conformance.CrashOptions{Modes: []kv.Durability{kv.Sync}}
	}
	return conformance.CrashOptions{}
}
