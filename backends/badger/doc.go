// Package badger is polykv's Badger backend (github.com/dgraph-io/badger/v4),
// the default engine. Importing it registers the backend as "badger" for
// kv.Open; Open opens a store without going through the registry:
//
//	db, err := badger.Open(ctx, kv.Config{Path: "/var/lib/engine"})
//
// Everything a program does with the store goes through kv.Store (the *kv.DB
// returned by Open); this package only supplies the engine under it, and
// exports nothing of Badger's types.
//
// # How kv maps onto Badger
//
//   - Apply (every Set, Delete, Write and Update commit) is one read-write
//     Badger transaction committed once; Badger logs it with an
//     end-of-transaction marker, so a crash never leaves half of it.
//     kv.DB serializes writers, so Badger's conflict detection is turned off
//     (DetectConflicts=false): ErrConflict cannot happen.
//   - Get, View and every iteration use read-only transactions (snapshots).
//   - Iterations seek to their lower bound, or in reverse to their upper
//     bound, skipping the bound itself (Badger's reverse Seek lands on the
//     largest key <= the target); the common prefix of the bounds becomes
//     Badger's iterator Prefix. Keys-only iterations never read values.
//   - Values are copied out of Badger (Item.ValueCopy) before they reach
//     the caller.
//
// # Keys
//
// Badger reserves keys starting with "!badger!". Every key whose first
// byte is '!' is therefore stored as "!" + 0x01 + the rest of the key; the
// mapping keeps bytewise order and is invisible to users. A program that
// reads the directory with Badger directly sees those stored keys.
//
// # Transaction limits
//
// Badger refuses a transaction larger than 15% of its memtable (count and
// bytes). kv's limits (kv.MaxTxnOps, kv.MaxTxnBytes) are checked against
// Badger's at Open for the configured memtable size, so Badger's
// ErrTxnTooBig never reaches a user: the memtable is never below
// MinMemTableSize (56 MiB, the default).
//
// # Durability
//
// Under kv.Sync every commit is durable before it returns, and concurrent
// commits share syncs (group commit, kv.SyncDeferrer): Badger runs without
// its own SyncWrites, which would sync once per commit, and the backend
// syncs after the commit is visible, one sync for every commit applied
// before it began — an fsync of the newest memtable log and value log and
// of each one rotated since the last sync, through the backend's own
// descriptors, so that commits go on while it runs (Badger's DB.Sync
// would hold its DB lock and stop them; groupsync.go). Measured
// with BenchmarkSyncUpdates (bench), 2026-12-04 on a shared 2-core machine
// whose fsync was slow that day (~1-5 ms): 16 goroutines 6.6 ms -> 0.37 ms
// per Update (SyncWrites vs group sync, same run conditions); one
// goroutine unchanged in kind (one sync per commit). A failed sync makes
// the engine refuse every later write. kv.NoSync does not sync; a commit is still copied into a memory-mapped
// log before it returns, so it survives a kill -9 of the process
// (Guarantees.NoSyncKeepsAckedOnKill), but not a power loss. Store.Sync
// fsyncs the current logs, the logs of memtables waiting to be flushed and
// the directory.
//
// # Read-only opens after a crash
//
// A read-only open (kv.Config.ReadOnly) of a store whose process was
// killed fails with kv.ErrNeedsRecovery: Badger preallocates each
// memtable log (.mem) and must truncate it at its last entry before it can
// read it, which a read-only open cannot do. The backend refuses such an
// open before Badger starts (a .mem file exists only after an unclean
// stop). A read-write open recovers the store and loses nothing
// acknowledged; polykv recover does it for the command-line tool.
//
// # Memory budget
//
// kv.Config.MemoryBudget (default kv.DefaultMemoryBudget, 256 MiB) is
// divided as follows (see MemorySplit), counting what Badger really holds:
//
//   - memtables of 56 MiB (MinMemTableSize, the smallest that keeps
//     Badger's transaction limit above kv's), each an arena of 72.8 MiB
//     that Badger allocates up front (the memtable plus room for the
//     largest batch and its nodes). Up to NumMemtables+2 are in memory at
//     once: the one taking writes, NumMemtables queued for flushing, the
//     one being flushed.
//   - the flush: Badger builds each level-0 table whole in memory, its
//     blocks uncompressed and compressed, about twice the memtable (112
//     MiB).
//   - the caches get the rest, but at least an eighth of the budget: two
//     thirds to the block cache, one third to the index cache (table
//     indexes and bloom filters, which are otherwise all kept in memory,
//     unbounded).
//   - NumMemtables is the most, from 1 to 5, that leaves the caches their
//     eighth.
//
// The fixed part, three arenas and a flush (330 MiB), is more than the
// default budget: with 256 MiB the split is 1 queued memtable and 32 MiB of
// caches (21 MiB block, 11 MiB index), about 360 MiB in all. The budget
// holds from about 378 MiB up (512 MiB: 2 queued memtables, 109 MiB of
// caches). Fewer memtables are not possible (with none queued, Badger's
// writer can wait for a flush that already ended) and smaller ones would
// lower Badger's transaction limit below kv's. Compactions add their own
// table builders, outside the split: two compactions at a time
// (num_compactors=2), each building several of its 2 MiB output tables at
// once.
//
// Peak resident memory is well above that. Measured on the bench's
// traverse-gen workload at 1,000,000 nodes (NoSync, 2 cores, whole process
// including the generated tree; bench/results/million), peak RSS was 1.57,
// 1.63 and 1.70 GiB in three runs (1.71 to 1.96 GiB with the earlier
// defaults: 64 MiB memtables, 4 compactors, 63 MiB of caches, run in pairs
// with these), 2.47, 2.15 and 2.02 GiB in three more; 0.53 to 0.56 GiB of
// it are pages of memory-mapped files, the rest heap. Pebble stays under
// 1 GiB. The causes, none of which an option changes:
//
//   - Go's garbage collector lets the heap grow to twice what is live
//     (GOGC=100) before collecting, and each memtable is a fresh 72.8 MiB
//     allocation, garbage once flushed.
//   - Badger pools up to 8 table-builder allocators (ristretto's
//     z.AllocatorPool, up to 400 MiB each) and frees one only after 2
//     seconds without compaction or flush; while the store is written,
//     several of them keep the size a level-0 flush grew them to (about 500
//     MiB of the 720 to 770 MiB live at the peak in heap profiles). Badger
//     frees these buffers explicitly only when built with jemalloc (cgo).
//   - Badger memory-maps its tables and memtable logs: every table page
//     read and every log page written counts in the RSS (page cache the
//     kernel can reclaim, but counted all the same).
//
// compression=none halves the flush but makes the tables, and the mapped
// pages read, larger (no smaller peak measured: traverse-gen at 1,000,000
// nodes under a 512 MiB soft limit peaked at 1.38 GiB against 1.10 GiB
// with snappy), and it is faster (17.8k against 13.3k node/s there: no
// block compression or decoding, and less garbage); compression=zstd makes
// them smaller and compactions slower. A process that must stay under a
// limit sets GOMEMLIMIT (runtime/debug.SetMemoryLimit): with 512 MiB, the
// same run peaked at 1.2 GiB (1.0 GiB with the earlier defaults), the heap
// under 0.5 GiB and the rest mapped file pages. polykv never sets it for
// the program.
//
// # Full disk
//
// Badger writes its logs and tables through memory maps of sparse files,
// and a write that a full file system cannot back is a SIGBUS that ends the
// process. So the engine keeps a free-space reserve (FreeSpaceReserve: 448
// MiB by default, the free_space_reserve option; 0 turns the check off): a
// commit that would leave less free fails with kv.ErrNoSpace, applying
// nothing, and a writable open on a disk with less free is refused with
// kv.ErrNoSpace (Badger's open writes through memory maps too). The store
// stays usable: once space is freed, commits go on. A read-only open
// writes nothing and is not checked. See space.go for the reserve's size.
//
// # Options
//
// kv.Config.Options accepts these keys (sizes are bytes, optionally
// followed by KiB, MiB or GiB); any other key is kv.ErrInvalidConfig naming
// it and listing these:
//
//	compression           none | snappy (default) | zstd
//	zstd_level            1 (default) to 22, with compression=zstd
//	value_threshold       0 to 1MiB (default 1MiB): values of at least this size go to the value log
//	memtable_size         56MiB (default) to 1GiB
//	num_memtables         1 to 16 (default from the budget)
//	block_cache_size      default from the budget; 0 only with compression=none
//	index_cache_size      default from the budget; 0 keeps every index in memory
//	num_compactors        0 or 2 (default) to 16
//	value_log_file_size   16MiB to 2GiB-1 (default 1GiB-1)
//	checksum_verification block (default) | none: verify each table block read from disk
//	verify_on_open        true (default) | false: verify every table's checksums at Open
//	verify_value_checksum true | false (default)
//	compact_l0_on_close   true | false (default)
//	prefetch_size         0 (default) to 10000: values an iteration reads ahead
//
// # Damaged data
//
// Badger's iterators end without an error at a table block they cannot
// read: its table iterator keeps the error to itself, and the merging
// iterator carries on with the other tables. With Badger's default options
// a damaged table block therefore either decodes into wrong keys and values
// or silently cuts an iteration short (4 KiB of garbage in a table: a full
// scan returned 2965 of 3000 keys, or wrong values, with a nil error). This
// package therefore:
//
//   - verifies the checksum of every block read from disk
//     (checksum_verification=block, Badger's OnBlockRead): a damaged block is
//     never decoded into wrong data;
//   - verifies every table's checksums when the store is opened
//     (verify_on_open): a store damaged while it was closed fails to open
//     with kv.ErrCorrupt naming the table, instead of iterating short. It
//     costs a read of every table at Open (about 0.4 s for 25 MB of tables
//     on the 2-core test machine; see BenchmarkVerification);
//   - implements kv.Verifier with the same check, for DB.Verify and polykv
//     verify;
//   - maps Badger's corruption messages to kv.ErrCorrupt (errors.go);
//   - records the tables at a clean close and, at the next Open, checks
//     the MANIFEST against that record before Badger may delete anything
//     (tables.go): Badger reads a damaged last MANIFEST record as a write
//     a crash cut short, and would delete the tables it listed;
//   - when a forward iteration runs out of keys before its upper bound,
//     checks that no table holds a key the snapshot sees past the last key
//     visited (iter.go, checkTail): a damaged block that cuts an iteration
//     short at the end of a table is kv.ErrCorrupt, even when the damage
//     happened while the store was open.
//
// What remains: a damaged block in the middle of a table, when another
// table of the same level carries the iteration on, or in a reverse
// iteration, while the store is open (after its check at Open), still
// leaves a gap without an error; DB.Verify (or the next Open) sees it.
// Badger's own OnTableRead modes, which verify each table as Badger opens
// it, are not offered: Badger 4.9 then dereferences a nil block in one of
// its goroutines when a check fails, ending the process. A damaged memtable log is read, as after a crash, up to its first
// damaged entry: the entries after it are dropped without an error. The
// value log (values of value_threshold bytes or more) is checked only with
// verify_value_checksum.
//
// # Optional capabilities
//
// The engine implements kv.Compacter (value-log garbage collection until
// nothing is left to rewrite) and kv.Stater (file sizes by kind, allocated
// bytes, cache usage and hit rates). It does not implement kv.RangeDeleter:
// DeleteRange and DeletePrefix are kv's chunked deletes, not atomic
// (Guarantees.AtomicDeleteRange is false): each chunk lists up to a few
// thousand keys of the range, then deletes them under the writer lock, so a
// key another goroutine writes into a chunk's part of the range in between
// survives the delete.
//
// # Caveats
//
//   - Badger logs through kv.Config.Logger (discarded by default), never to
//     stderr. Its Errorf, Warningf, Infof and Debugf map to slog levels.
//   - Badger's files: a .mem write-ahead log per memtable (a sparse file of
//     twice memtable_size), .sst tables, .vlog value-log files (sparse, of
//     twice value_log_file_size), MANIFEST, KEYREGISTRY and a LOCK file.
//     Stats.DiskBytes counts allocated blocks, not apparent sizes.
//   - A process killed while Badger creates a log file leaves a zero-length
//     .vlog or .mem file that Badger v4.9 refuses to open again; Open
//     removes such files first (they hold nothing). A read-only open cannot,
//     and fails until a read-write open has run once.
//   - Badger calls log.Fatal on some internal assertion failures (y.Check);
//     polykv cannot intercept those. When badger.Open itself fails after
//     starting its background goroutines, Badger leaves them running.
package badger
