package all_test

import (
	"testing"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/backends/pebble"
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
			cfg := kv.Config{Backend: b}
			var opts conformance.DiskFullOptions
			if b == "badger" {
				// Badger refuses commits below its free-space reserve
				// (448 MiB by default): the tmpfs leaves room above it.
				// Unwritten tmpfs space costs no memory.
				reserve, err := badger.FreeSpaceReserve(cfg)
				if err != nil {
					t.Fatal(err)
				}
				opts.Size = reserve + 64<<20
				opts.Room = reserve + 4<<20
			}
			if b == "pebble" {
				// Pebble refuses commits below its free-space reserve
				// (7 memtables and 64 MiB of log space), counted after
				// the space its live log has reserved (32 MiB, and
				// Pebble's own 4.4 MiB): small memtables keep it small,
				// and rotate the log within a cycle.
				cfg.MemoryBudget = 16 << 20
				reserve, err := pebble.FreeSpaceReserve(cfg)
				if err != nil {
					t.Fatal(err)
				}
				opts.Room = reserve + 48<<20
			}
			conformance.RunDiskFull(t, cfg, opts)
		})
	}
}

// TestReadOnlyMedia puts a store of each persistent backend on a tmpfs
// remounted read-only: read-only opens work side by side and read
// everything, a read-write open fails with kv.ErrIO (see
// conformance.RunReadOnlyMedia). Linux and root only.
func TestReadOnlyMedia(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			conformance.RunReadOnlyMedia(t, kv.Config{Backend: b})
		})
	}
}
