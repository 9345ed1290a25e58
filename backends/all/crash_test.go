package all_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestCrash kills a child process committing transactions, again and
// again, on every persistent backend and in both durability modes, and
// checks what each backend promises (see conformance.RunCrash). Short by
// default; POLYKV_STRESS=1 runs 200 cycles per backend and mode.
func TestCrash(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.CrashOptions{})
		})
	}
}

// TestCrashConcurrent is TestCrash with four goroutines committing at once
// (conformance.ConcurrentTxnWorkload): what survives a kill must still be a
// gapless prefix holding every acknowledged transaction, with commits
// overlapping (on pebble under Sync, sharing fsyncs).
func TestCrashConcurrent(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunCrash(t, kv.Config{Backend: b}, conformance.CrashOptions{
				Workload: conformance.ConcurrentTxnWorkload{Writers: 4},
			})
		})
	}
}
