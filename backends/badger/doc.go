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
// ErrTxnTooBig never reaches a user: the memtable is 64 MiB by default and
// never below MinMemTableSize.
//
// # Durability
//
// kv.Sync sets Badger's SyncWrites: every commit is fsynced before it
// returns. kv.NoSync does not; a commit is still copied into a memory-mapped
// log before it returns, so it survives a kill -9 of the process
// (Guarantees.NoSyncKeepsAckedOnKill), but not a power loss. Store.Sync
// fsyncs the current logs, the logs of memtables waiting to be flushed and
// the directory.
//
// # Memory budget
//
// kv.Config.MemoryBudget (default kv.DefaultMemoryBudget, 256 MiB) is
// divided as follows (see MemorySplit):
//
//   - memtables of 64 MiB: NumMemtables = budget/2/64MiB - 1, between 1
//     and 5, is how many wait to be flushed; up to NumMemtables+2 are in
//     memory at once (the one taking writes, those waiting, the one being
//     flushed).
//   - the rest of the budget, but at least a quarter of it, to the caches:
//     two thirds to the block cache, one third to the index cache (table
//     indexes and bloom filters, which are otherwise all kept in memory,
//     unbounded).
//
// With 256 MiB: up to 3 memtables (192 MiB), 42 MiB block cache, 21 MiB
// index cache. Badger's own defaults (5 memtables and a 256 MiB block
// cache) would use nearly three times that. Below 256 MiB the split
// exceeds the budget (three memtables and a quarter of the budget for
// caches): a memtable cannot be smaller without lowering Badger's
// transaction limit below kv's.
//
// Peak resident memory is more than the budget: Go's garbage collector
// lets the heap grow to twice what is live (GOGC=100) before collecting,
// and each memtable is a fresh 83 MiB allocation, dropped after its flush;
// tables and memtable logs are memory-mapped files, whose pages count in
// the RSS too (page cache the kernel can reclaim). A process that must
// stay under a limit sets GOMEMLIMIT (runtime/debug.SetMemoryLimit).
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
//	memtable_size         56MiB to 1GiB (default 64MiB)
//	num_memtables         1 to 16 (default from the budget)
//	block_cache_size      default from the budget; 0 only with compression=none
//	index_cache_size      default from the budget; 0 keeps every index in memory
//	num_compactors        0 or 2 to 16 (default 4)
//	value_log_file_size   16MiB to 2GiB-1 (default 1GiB-1)
//	verify_value_checksum true | false (default)
//	compact_l0_on_close   true | false (default)
//	prefetch_size         0 (default) to 10000: values an iteration reads ahead
//
// # Optional capabilities
//
// The engine implements kv.Compacter (value-log garbage collection until
// nothing is left to rewrite) and kv.Stater (file sizes by kind, allocated
// bytes, cache usage and hit rates). It does not implement kv.RangeDeleter:
// DeleteRange and DeletePrefix are kv's chunked deletes, not atomic
// (Guarantees.AtomicDeleteRange is false).
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
