package badger

import (
	"fmt"
	"syscall"

	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
)

// Badger writes its memtable logs (.mem), value logs (.vlog) and tables
// (.sst) through memory maps of files it makes large with ftruncate: sparse
// files, whose blocks the file system allocates only when a page is first
// written. On a full file system that write cannot be backed and the
// kernel sends SIGBUS, which the Go runtime turns into a fatal error: the
// process ends, whatever goroutine it was (Badger's writer for the logs,
// its flush and compaction goroutines for the tables). No error reaches a
// caller, and debug.SetPanicOnFault cannot help: it applies to the
// goroutine that sets it, and these are Badger's.
//
// The engine therefore keeps a free-space reserve: a commit first checks
// how much the file system has free (statfs, at least every 100 ms and
// whenever the commits since the last statfs wrote half of what was then
// free above the reserve: diskspace.Guard) and fails with kv.ErrNoSpace,
// applying nothing, when it would leave less than the reserve. The
// reserve is room for what Badger writes on its own once commits stop:
// the flush of every memtable it may hold (numMemtables queued, one being
// flushed, the one taking writes, which Close also flushes) and a
// compaction of the level-0 tables they become (Badger compacts level 0
// at 5 tables, into level 1):
//
//	reserve = (numMemtables + 2 + 5) × memtable_size
//
// 448 MiB with the defaults (one queued 56 MiB memtable). The
// free_space_reserve option sets another size; 0 turns the check off.
// Compactions of the deeper levels of a large store can still need more
// than the reserve. Free space is what an unprivileged writer may use
// (statfs f_bavail), so a root process keeps the file system's root
// reserve as a margin.

// level0Tables is Badger's NumLevelZeroTables default: level-0 tables
// that trigger a compaction into level 1.
const level0Tables = 5

// defaultFreeSpaceReserve is the reserve for numMemtables memtables of
// memTableSize (see above).
func defaultFreeSpaceReserve(numMemtables int, memTableSize int64) int64 {
	return int64(numMemtables+2+level0Tables) * memTableSize
}

// FreeSpaceReserve returns the free space, in bytes, under which a Badger
// store opened with cfg refuses commits with kv.ErrNoSpace (see the
// package documentation, # Full disk): the free_space_reserve option, or
// the default derived from the memtables. 0 means the check is off.
func FreeSpaceReserve(cfg kv.Config) (int64, error) {
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = kv.DefaultMemoryBudget
	}
	s, err := buildSettings(cfg.Path, &cfg)
	if err != nil {
		return 0, err
	}
	return s.freeSpaceReserve, nil
}

// freeSpace measures the free space of a directory's file system (a
// variable for the tests).
var freeSpace = diskspace.Free

// checkSpace returns kv.ErrNoSpace when writing n more bytes would leave
// less than the reserve free on the store's file system.
func (e *engine) checkSpace(n int) error {
	if e.readOnly {
		return nil
	}
	free, ok, err := e.space.Check(int64(n))
	if err != nil {
		return fmt.Errorf("kv: badger: write %s: free space: %w", e.dir, kv.Fault(err))
	}
	if !ok {
		return fmt.Errorf("kv: badger: write %s: %w: %d bytes free, the commit needs %d and Badger keeps %d in reserve for its flushes and compactions (a write to a full disk would end the process); free space and retry, the store stays usable",
			e.dir, kv.ErrNoSpace, free, n, e.space.Reserve)
	}
	return nil
}

// checkOpenSpace refuses a writable open on a disk with less than the
// reserve free. Badger's open writes through memory maps (the header of a
// new memtable's log, the value log's), and on a full disk such a write is
// a SIGBUS that ends the process (TestDiskFull, step 3: a store reopened on
// a disk left full). A store with less than the reserve free would refuse
// every commit anyway; a read-only open writes nothing and is not checked.
func checkOpenSpace(dir string, reserve int64) error {
	if reserve <= 0 {
		return nil
	}
	free, err := freeSpace(dir)
	if err != nil || free >= reserve {
		return nil // an unknown free space: Badger's own open decides
	}
	return fmt.Errorf("kv: badger: open %s: %w: %d bytes free, less than the %d Badger keeps in reserve (free_space_reserve) for what it writes on its own, through memory maps, where a full disk ends the process: free space, or open the store read-only",
		dir, kv.Fault(syscall.ENOSPC), free, reserve)
}
