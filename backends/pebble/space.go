package pebble

import (
	"fmt"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
)

// FreeSpaceReserve returns the free space, in bytes, that a Pebble store
// opened with cfg needs to take writes besides the space its files hold:
// one reservation of WAL space (32 MiB, whatever cfg). When the disk
// refuses a reservation the store refuses every later write with
// kv.ErrNoSpace until it is reopened (see the package documentation,
// # Full disk).
func FreeSpaceReserve(cfg kv.Config) int64 {
	_ = cfg
	return walReserveChunk
}

// checkOpenSpace refuses a writable open that could not return.
//
// Before it returns, Pebble's Open flushes what the logs hold beyond the
// last flush (a store that was not closed cleanly), and a flush that fails
// for want of space is retried at once, for as long as the disk stays
// full: Open would never return (TestOpenOnFullDiskIsRefused). So such an
// open needs room for the tables that flush writes: the size of the logs
// (an upper bound of what they hold: logs kept for reuse count too), with
// a margin for the tables' own overhead. A store closed cleanly has
// nothing to flush; on a disk too full for the next reservation of log
// space it opens, and refuses its first write with kv.ErrNoSpace. Where
// free space is not known, nothing is checked; space that other writers
// take while Pebble flushes can still make it wait.
func checkOpenSpace(fs vfs.FS, dir string, closedCleanly bool) error {
	if closedCleanly || !diskspace.Known {
		return nil
	}
	var logs int64
	names, err := fs.List(dir)
	if err != nil {
		return nil // Pebble's own open meets what is wrong
	}
	for _, name := range names {
		if !isWAL(name) {
			continue
		}
		if fi, err := fs.Stat(fs.PathJoin(dir, name)); err == nil {
			logs += fi.Size()
		}
	}
	if logs == 0 {
		return nil
	}
	free, err := diskspace.Free(dir)
	if err != nil {
		return nil
	}
	need := logs + logs/16 + 1<<20
	if free >= need {
		return nil
	}
	return fmt.Errorf("%w: the disk has %s free; the store was not closed cleanly, and opening it for writing flushes its logs (%s), which needs %s: free some space, or open the store read-only",
		kv.Fault(syscall.ENOSPC), mib(free), mib(logs), mib(need))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
