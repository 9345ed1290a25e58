package pebble

import (
	"fmt"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
)

// FreeSpaceReserve returns the free space, in bytes, under which a Pebble
// store opened with cfg refuses commits with kv.ErrNoSpace: the
// free_space_reserve option, or room for Pebble's own flushes and an L0
// compaction (7 memtables) and for two reservations of log space (64 MiB):
// 512 MiB at the default memory budget. 0 means the check is off. Should
// the disk still refuse the space the engine keeps ahead of its log (32
// MiB at a time: other writers took the reserve), the store stops taking
// writes until it is reopened. See the package documentation, # Full disk.
func FreeSpaceReserve(cfg kv.Config) (int64, error) {
	s, err := parseSettings(cfg.Options)
	if err != nil {
		return 0, err
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = kv.DefaultMemoryBudget
	}
	return s.reserve(cfg.MemoryBudget), nil
}

// checkSpace refuses a commit of b, with kv.ErrNoSpace, when it would leave
// less than the reserve free. Pebble writes its flushes and compactions on
// its own; a flush that fails for want of space is retried, and once
// memtables wait for it a commit waits in Pebble's write stall for as long
// as the disk stays full (TestFullDiskRefusesInsteadOfStalling). The
// reserve keeps them room. A batch of deletions only is not refused: it is
// how space is given back.
func (e *engine) checkSpace(b *kv.Batch) error {
	if e.readOnly {
		return nil
	}
	free, ok, err := e.space.Check(int64(b.Size()))
	if ok || err != nil || deletesOnly(b) {
		return nil // an unknown free space: Pebble's own writes decide
	}
	return fmt.Errorf("kv: pebble: write %s: %w: %s free, the commit needs %s and Pebble keeps %s in reserve for its flushes and compactions (free_space_reserve); free space (a deletion is allowed) and retry, the store stays usable",
		e.path, kv.ErrNoSpace, mib(free), mib(int64(b.Size())), mib(e.space.Reserve))
}

// deletesOnly reports whether b holds no Set.
func deletesOnly(b *kv.Batch) bool {
	for i := range b.Len() {
		if kind, _, _ := b.Op(i); kind == kv.OpSet {
			return false
		}
	}
	return true
}

// checkOpenSpace refuses a writable open on a disk too full for it.
//
// Before it returns, Pebble's Open flushes what the logs hold beyond the
// last flush (a store that was not closed cleanly), and a flush that fails
// for want of space is retried at once, for as long as the disk stays
// full: Open would never return (TestOpenOnFullDiskIsRefused). So such an
// open needs room for the tables that flush writes: the size of the logs
// (an upper bound of what they hold: logs kept for reuse count too), with
// a margin for the tables' own overhead.
//
// Any writable open also needs the free-space reserve: below it every
// commit is refused anyway, and Close, which flushes and so rotates the
// log, would write the log's end into space that is not there, where
// Pebble ends the process (TestDiskFull, a store closed cleanly and opened
// on a disk filled to the last block). Where free space is not known,
// nothing is checked; space that other writers take meanwhile can still
// make an open wait.
func checkOpenSpace(fs vfs.FS, dir string, closedCleanly bool, reserve int64) error {
	if !diskspace.Known {
		return nil
	}
	var logs int64
	if !closedCleanly {
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
	}
	if logs == 0 && reserve <= 0 {
		return nil
	}
	free, err := diskspace.Free(dir)
	if err != nil {
		return nil
	}
	flush := int64(0)
	if logs > 0 {
		flush = logs + logs/16 + 1<<20
	}
	if free >= max(flush, reserve) {
		return nil
	}
	if free < flush {
		return fmt.Errorf("%w: the disk has %s free; the store was not closed cleanly, and opening it for writing flushes its logs (%s), which needs %s: free some space, or open the store read-only",
			kv.Fault(syscall.ENOSPC), mib(free), mib(logs), mib(flush))
	}
	return fmt.Errorf("%w: the disk has %s free, less than the %s Pebble keeps in reserve for its flushes and compactions (free_space_reserve): free some space, or open the store read-only",
		kv.Fault(syscall.ENOSPC), mib(free), mib(reserve))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
