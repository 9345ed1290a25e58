package all_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestDiskFull fills a small tmpfs under each persistent backend, in both
// durability modes, and checks that a commit on the full disk fails with
// kv.ErrNoSpace instead of ending the process, and that the store, once
// space is freed and it is reopened, holds every acknowledged commit and
// takes writes again (see conformance.RunDiskFull). Linux and root only;
// POLYKV_STRESS=1 runs 20 cycles per backend and mode.
func TestDiskFull(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunDiskFull(t, kv.Config{Backend: b}, conformance.DiskFullOptions{})
		})
	}
}
