// Package pebble is polykv's backend on CockroachDB's Pebble
// (github.com/cockroachdb/pebble/v2), an LSM engine. Importing the package
// registers it as "pebble":
//
//	import _ "github.com/polykv/polykv/backends/pebble"
//
//	db, err := kv.Open(ctx, kv.Config{Backend: "pebble", Path: dir})
//
// or, without the registry, pebble.Open(ctx, kv.Config{Path: dir}). Either
// way the result is a *kv.DB: program against kv.Store and read its
// documentation first. This page says only what is particular to Pebble.
//
// # Basics
//
// Pebble has no transactions; it has batches, snapshots and bounded
// iterators, and polykv builds on them natively:
//
//   - Get copies Pebble's value before releasing it (Pebble's slice is valid
//     only until its closer runs).
//   - Iterate uses a Pebble iterator with LowerBound/UpperBound, walked with
//     First/Next, or Last/Prev for Reverse.
//   - View reads one Pebble snapshot.
//   - Write, Set, Delete and the commit of an Update build one Pebble batch,
//     committed once: atomically, and visible to every read as soon as the
//     commit returns. kv.DB runs one writer at a time, and an Update reads
//     the latest state plus its own buffered writes, so Update is
//     serializable and never reports a conflict.
//   - DeleteRange and DeletePrefix write one range tombstone in one batch:
//     atomic, even across a crash (Guarantees.AtomicDeleteRange), and O(1)
//     in the size of the range. The space is reclaimed by compactions.
//   - DB.Compact compacts the whole key space (kv.Compacter); DB.Stats
//     reports disk usage in allocated blocks, block cache and memtable
//     sizes and a selection of Pebble's metrics (kv.Stater).
//
// # Durability
//
// kv.Sync commits with pebble.Sync: the WAL is fsynced before the commit
// returns. Concurrent commits share fsyncs (group commit, kv.SyncDeferrer):
// a commit is applied with DB.ApplyNoSyncWait under kv's writer lock, which
// makes it visible, and waits for its sync (Batch.SyncWait) after the lock
// is released, so the next writer commits meanwhile and Pebble's WAL writer
// syncs every record queued at once. Measured on 2026-11-26 (2 cores,
// fsync about 150 µs): 16 goroutines doing one-key Updates took 18 µs per
// Update instead of 157 µs, 4 goroutines 69 µs; one goroutine is
// unchanged. As with Pebble's own synced commits, another reader can see a
// commit a moment before its fsync ends; the commit itself returns only
// after it, and a later commit is never durable without the earlier ones
// (the WAL is one sequence). A sync that fails makes the engine refuse
// every later write (FatalError). kv.NoSync commits with pebble.NoSync: the commit returns once
// its WAL record is in Pebble's WAL buffer in user space, which a
// background goroutine writes to the file shortly after. A kill -9 can
// therefore lose a tail of acknowledged commits under NoSync
// (Guarantees.NoSyncKeepsAckedOnKill is false), never a part of one, and
// what survives is always a prefix of the commits. Store.Sync writes a
// synced empty WAL record, which makes everything committed before it
// durable.
//
// The WAL is never disabled: Pebble's DisableWAL would lose every write
// since the last memtable flush on a crash, whatever the durability.
// WALMinSyncInterval is left at zero: it delays synced commits so that
// more of them share an fsync; the group commit above shares them without
// adding latency to a lone writer.
//
// # Memory budget
//
// kv.Config.MemoryBudget (default kv.DefaultMemoryBudget, 256 MiB) sizes
// Pebble's block cache, and Pebble reserves its memtables inside that cache
// (Cache.Reserve): the budget bounds blocks and memtables together.
//
//   - MemTableSize is a quarter of the budget, between 4 MiB and 128 MiB
//     (64 MiB at the default budget), and MemTableStopWritesThreshold is 2:
//     memtables (plus one kept for recycling) take at most three quarters
//     of the budget, and usually one quarter.
//   - The block cache holds what the memtables leave: at least a quarter of
//     the budget, usually three quarters.
//
// With memtables of 32 MiB or more (budgets of 128 MiB and up), a batch of
// kv.MaxTxnBytes (8 MiB) goes into the memtable like any other. Below that,
// a batch of half a memtable or more is committed as its own flushable
// batch: still atomic, but it forces a memtable flush. Outside the budget:
// the kv.Batch being committed, sstable index and filter blocks pinned by
// open tables (Config.Options max_open_files), and Go's own overhead.
//
// # Disk
//
// While a store is open, Pebble preallocates each WAL file at 110% of
// MemTableSize and keeps up to three finished WALs for reuse, so even a
// nearly empty store occupies about 70 to 280 MiB of allocated blocks at
// the default budget (DB.Stats DiskBytes counts them; Extra["table_bytes"]
// is the data in sstables alone). Close gives that space back: it flushes
// the memtable, then removes the WALs the flush made obsolete (those kept
// for reuse included) and the preallocated tail of the one left, so a
// closed store holds its sstables, its manifest and one WAL that holds no
// data (but may be a reused file that keeps the stale bytes of an older
// log: up to about 70 MiB at the default budget). Space
// freed by deletes and range deletes comes back as compactions run, or at
// once with DB.Compact.
//
// # Full disk
//
// Three guards keep a full disk from hanging a call or ending the process:
//
//   - A free-space reserve (FreeSpaceReserve, the free_space_reserve
//     option: 7 memtables and 64 MiB of log space, 512 MiB at the default
//     budget; 0 turns it off): a commit that would leave less free fails
//     with kv.ErrNoSpace, applying nothing, and the store stays usable
//     (deletions are not refused: they give space back). Without it Pebble
//     fills the disk with its own flushes and compactions, a flush fails
//     and is retried, and commits wait in Pebble's write stall for as long
//     as the disk stays full.
//   - Space reserved ahead of the log: every WAL file keeps 16 MiB of
//     allocated blocks ahead of its end, reserved 32 MiB at a time, so that
//     no log write fails for want of space (Pebble ends the process when
//     one fails while it rotates the log: see the Caveats). Should the
//     disk refuse a reservation anyway (other writers took the reserve),
//     every later write fails with kv.ErrNoSpace and kv.ErrNeedsReopen (a
//     *FatalError) while the log's writes still fit; reads go on, and the
//     store reopens with every acknowledged write, under NoSync too.
//   - A writable open is refused with kv.ErrNoSpace below the reserve:
//     its commits would be, and its Close, which flushes and so rotates
//     the log, would write the log's end into space that is not there. A
//     store that was not closed cleanly flushes its logs before Open
//     returns, and Pebble retries a flush that fails for want of space for
//     as long as the disk stays full: such an open is refused too when the
//     disk has less free space than the logs' size (and a margin). A
//     read-only open flushes nothing and reads everything.
//
// On a file system without fallocate nothing is reserved ahead of the log.
//
// # Options
//
// kv.Config.Options accepts these keys (see the Opt constants): compression,
// bloom_bits_per_key, bytes_per_sync, wal_bytes_per_sync,
// l0_compaction_threshold, l0_stop_writes_threshold,
// max_concurrent_compactions, max_open_files, free_space_reserve. Any other key is an error
// (kv.ErrInvalidConfig) naming it and listing these. The on-disk format is
// pinned (FormatMajorVersion) rather than left to Pebble's default.
//
// # Logging
//
// Pebble logs through its Logger and EventListener; both go to
// kv.Config.Logger (discarded by default), never to stderr. Routine events
// (flushes, compactions) are at debug level, write stalls and slow disks at
// warn, background errors and detected corruption at error.
//
// # Damaged data
//
// Pebble checks a checksum on every block it reads: a read or an iteration
// that meets a damaged block fails with an error matching kv.ErrCorrupt
// (errors.go), naming the file and the block. Pebble reads a damaged last
// record of the MANIFEST as a write cut short by a crash and would open the
// state before it, deleting the tables that record added: on a store closed
// cleanly, Open detects this (tables.go: Close records the tables the
// MANIFEST lists; the next Open checks them, read-only, before Pebble may
// delete anything) and fails with kv.ErrCorrupt. After a crash there is no
// record and no such check. In a write-ahead log, Pebble reads past a
// damaged record: when intact records follow, Open fails with kv.ErrCorrupt;
// a damaged last record is read as a write cut short by a crash and dropped
// without an error (that commit is lost).
//
// # Caveats
//
//   - Pebble reports unrecoverable failures (a failed WAL or MANIFEST
//     write) through Logger.Fatalf, after which its state is unusable; see
//     FatalError for what this package does.
//   - A WAL write that fails while Pebble closes the log to rotate it
//     panics with Pebble's mutex released: "fatal error: sync: unlock of
//     unlocked mutex", which ends the process (cockroachdb/pebble#5601).
//     A full disk no longer gets there (# Full disk), nor a medium whose
//     failure shows first in a reservation of log space; an I/O error
//     (EIO) first met by that write still can.
//   - Pebble takes its own LOCK file (fcntl) besides kv's directory lock,
//     even read-only: one directory can be open by one Store at a time, even
//     for reading (kv.ErrLocked otherwise).
//   - Pebble panics when used after Close; kv.DB and this package refuse
//     every such call with kv.ErrClosed instead. The engine closes any
//     iterator or snapshot still open when it is closed (kv.DB never leaves
//     one) and reports it as an error.
package pebble
