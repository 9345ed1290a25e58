// Package bbolt is polykv's backend on bbolt (go.etcd.io/bbolt): a single
// B+tree file, memory-mapped, with one writer at a time and readers that
// never block. It is the simplest engine polykv offers and the easiest to
// reason about: every commit rewrites the pages it touched and then the
// meta page, so the file is always in the state of one commit or the next.
//
// # Basics
//
// Open a store directly:
//
//	db, err := bbolt.Open(ctx, kv.Config{Path: "/var/lib/engine"})
//
// or by configuration, since the package registers itself as "bbolt":
//
//	import _ "github.com/polykv/polykv/backends/bbolt"
//	db, err := kv.Open(ctx, kv.Config{Backend: "bbolt", Path: "/var/lib/engine"})
//
// Config.Path is a directory, as for every persistent backend. It holds
// polykv's marker and lock files and the bbolt file, DataFileName
// ("data.bolt"), whose one bucket ("polykv") holds every key. The file can
// be inspected with the bbolt command (bbolt keys data.bolt polykv) while
// no store has it open.
//
// # How kv maps onto bbolt
//
//   - Get: a read transaction; the value is copied out before it ends
//     (bbolt values point into the mmap and are invalid afterwards). A key
//     with an empty value is found, a missing key is kv.ErrNotFound.
//   - Write, Set, Delete and the commit of an Update: exactly one bbolt
//     read-write transaction per kv.Batch, all or nothing (never bbolt's
//     DB.Batch, which may merge or re-run functions). The writes go in key
//     order: bbolt splits its nodes only at commit, so a large batch of
//     hashed keys in arrival order would cost time quadratic in its size.
//   - View and Iterate: a read transaction each, with a cursor bounded by
//     the iteration's range; it sees the last commit before it began.
//   - DeleteRange and DeletePrefix: one read-write transaction, hence
//     atomic (Info().Guarantees.AtomicDeleteRange is true); a context
//     cancelled midway deletes nothing. Deleting every key drops and
//     recreates the bucket.
//   - Sync: fdatasync of the file.
//   - Stats (kv.Stater): the file's allocated bytes, bbolt's counters, and
//     the drops of OptResidentLimit.
//   - Compact (kv.Compacter): bbolt reuses freed pages but never shrinks
//     its file. Compact copies the live data into a new file with full
//     pages, syncs it and renames it over the old one, so a crash leaves
//     one or the other, whole. It waits for open iterations and Views to
//     end (until its context ends; from inside a View with the View's
//     context it fails at once with kv.ErrNestedCall) and blocks every
//     other call while it copies: run it in a quiet moment, after large
//     deletions.
//
// # Durability
//
// kv.Sync (the default) is bbolt's default: each commit calls fdatasync
// twice (data pages, then the meta page), so a committed transaction
// survives power loss. kv.NoSync sets bbolt's NoSync: the commit still
// writes every page with pwrite before it returns and skips only the
// fdatasync, so every acknowledged commit survives a kill of the process
// (Guarantees.NoSyncKeepsAckedOnKill is true). A power loss or kernel crash
// under NoSync can do worse than lose recent commits: the disk may persist
// the meta page before the pages it points to, or a page reused by a later
// commit, leaving a file bbolt cannot read. Call Store.Sync at the points
// that must survive a power loss, or use kv.Sync. Durability does not
// change how the freelist is written (see OptNoFreelistSync).
//
// A commit that fails once its meta page is written (the meta page's
// fdatasync failed) is nonetheless visible: bbolt reads its meta pages
// through the mapping, and its rollback returns the commit's pages to the
// free list. The write then fails with kv.ErrOutcomeUnknown, the fault and
// kv.ErrNeedsReopen, and the store refuses every later write until it is
// reopened, so that no commit writes over those pages (commitfault.go). A
// commit that fails before (a full disk, its pages' write or sync) applied
// nothing, and the store goes on.
//
// # Group commit
//
// bbolt runs one read-write transaction at a time, and its commit (two
// fdatasyncs under kv.Sync) must end before the next begins, so commits
// cannot share syncs as Pebble's and Badger's do. Concurrent writers share
// the transaction instead (kv.GroupCommitter, group.go): while one writer
// runs, those waiting for kv's writer lock each in turn run their function
// in the same transaction, seeing the writes before theirs, and the last
// one commits it for all of them. A lone writer commits by itself, as
// before. Stats reports group_commits and group_batches.
//
// # Writing while iterating
//
// bbolt must remap its file when it grows past the mapped size, and a remap
// waits for every open read transaction to end. A goroutine that writes
// (Store.Set) from inside an Iterate callback holds a read transaction
// while it waits for the write, so with bbolt's default mapping it would
// wait for itself forever. This backend maps DefaultInitialMmapSize (256
// GiB on 64-bit Unix, about 230 million nodes of a nodestore traversal) of
// address space when it opens the file, so no remap happens while the file
// is below that size and such writes proceed. The mapping is
// address space, not memory: pages are read on demand and live in the OS
// page cache. If the system refuses that much (ulimit -v) and the option
// was not set, Open retries with a quarter of it, down to 1 GiB and then
// bbolt's own default, and logs the size it got. What remains:
//
//   - A store whose file grows past the mapping (OptInitialMmapSize) can
//     still deadlock a write made while the same goroutine, or a goroutine
//     waiting for that write, or one whose write shares its commit (group
//     commit), has an iteration or View open. Set
//     initial_mmap_size above the largest file you expect; a reopen maps
//     at least the file's size. When the file passes half of the mapping,
//     the next write logs a warning (once per open) naming the option.
//   - While a long iteration is open, pages freed by later commits cannot
//     be reused, so the file grows faster.
//
// Writes inside Store.Update never meet this: kv buffers them and applies
// them after the function returns, when its iterations are closed.
//
// # Memory budget
//
// bbolt keeps no cache of its own: reads go through the mapping to the OS
// page cache, which the kernel sizes. A write transaction holds the pages
// it dirties in the Go heap until it commits; kv's transaction limits
// (kv.MaxTxnBytes) bound that, except for DeleteRange, which keeps the
// B+tree nodes of the whole range in memory until its commit.
//
// What the budget bounds is the other part of this process's RSS: every
// page of the file the process reads through the mapping stays mapped in
// its page tables, and counts in its RSS (as RssFile), until the store
// closes or the kernel reclaims it. The kernel maps 16 neighbouring pages
// at each fault (fault-around, even under bbolt's MADV_RANDOM), so with
// hashed keys, whose writes land all over the file, the process soon maps
// the whole file: 1.1 GiB of RSS for the 1.07 GiB file of a
// million-node nodestore traversal, against 159 MiB of heap.
//
// With OptResidentLimit (default: Config.MemoryBudget, 256 MiB unless
// set; Linux only), the store reads the process's resident file pages
// from /proc/self/statm every few hundred operations while the data file
// is larger than the limit (a smaller file cannot exceed it: nothing is
// counted; a reading is one pread, about 1 µs), and when they have
// grown by the limit since its last drop, drops its mapping of the whole
// file with madvise(MADV_DONTNEED). The data is untouched: bbolt maps the
// file read-only and shared and writes with pwrite, so a dropped page
// still holds exactly what the file holds, in the OS page cache; the next
// read of it is a minor page fault that maps it again (or a read from
// disk, if the kernel evicted it meanwhile, as it could have anyway). The
// drop is made inside an open bbolt transaction, which holds bbolt's mmap
// lock, so it never meets a remap; concurrent readers only fault.
//
// What RSS then means: the heap, plus at most about the limit (and one
// check interval) of this file's pages mapped by the process. The file's
// pages are still cached by the kernel, outside the process: they show in
// the system's page cache ("buff/cache"), they still count against a
// cgroup memory limit that charges page cache (as they would without the
// drop), and the kernel can reclaim them under pressure either way. The
// limit bounds this process's RSS, not the memory the file uses on the
// machine.
//
// The cost is the faults: when the file is larger than the limit and
// accessed at random, most reads of a page after a drop fault it in again
// (a few microseconds each). Measured on the nodestore traversal
// (traverse-gen, 2 shared cores, old and new run one after the other; see
// the repository's bench/results/million/bbolt.txt): at 1,000,000 nodes
// (a 1.07 GiB file, four times the limit) peak RSS 1.62 GiB -> 818 MiB
// and the mapped file pages 1113 -> 280 MiB, for 16.3k -> 12.1k node/s
// (CPU per node 71 -> 92 µs, minor faults 0.24 -> 5.7 million); at
// 200,000 nodes the file's mapped pages stay below 256 MiB, nothing is
// dropped and the throughput is unchanged (19.9k and 19.6k node/s,
// medians of three). With a 64 MiB budget at 200,000 nodes (a limit of a
// third of the file) 20.2k -> 15.1k node/s, peak 314 -> 172 MiB. The
// worst case is random point reads and nothing else: a Get of a 48 MiB
// store with a 12 MiB limit takes 7.2 µs against 1.2 µs with the whole
// file mapped (BenchmarkResidentLimit), each read paying a fault. Set the
// option to "off" to keep every page mapped (the fastest, and RSS up to
// the file size), or raise the budget: nothing is dropped while the
// file's mapped pages stay below the limit.
//
// The file itself is large for this workload (1.07 GiB for a million
// nodes in two queues, against 434 MiB for Pebble): nodestore's keys are
// hashes, so inserts land on random leaves, and bbolt splits an
// overflowing leaf into a half-full page and the rest. Bucket.FillPercent
// only moves where that split happens (bbolt advises raising it for
// append-mostly inserts, which these are not), and raising it makes this
// workload worse: at 200,000 nodes the file is 215 MiB at bbolt's default
// 0.5, 249 MiB at 0.9 and 336 MiB at 1.0, at 19.5k, 10.6k and 7.1k
// node/s (pages filled to the brim overflow at the next insert and split
// again). This package leaves it at bbolt's default.
//
// # Options
//
// Config.Options accepts OptInitialMmapSize, OptFreelist,
// OptNoFreelistSync, OptPageSize, OptLockTimeout and OptResidentLimit; any
// other key fails Open with kv.ErrInvalidConfig naming it.
// Config.ReadOnly opens the file read-only with a shared lock, so several
// read-only stores may share it.
//
// # Damaged data
//
// bbolt keeps no checksum of its data pages (Guarantees.DetectsValueDamage
// is false): a value whose bytes change on disk reads back changed, without
// an error. A page whose structure no longer makes sense makes bbolt panic;
// the panic is recovered and the call returns an error matching
// kv.ErrCorrupt. bbolt replaces a damaged newer meta page with the older
// one, silently (the state one commit older): on a store closed cleanly,
// Open detects it (cleanclose.go: Close records the last transaction, Open
// checks it) and fails with kv.ErrCorrupt. Verify (kv.Verifier: DB.Verify,
// polykv verify) runs bbolt's page consistency check and checks both meta
// pages' checksums.
//
// # Caveats
//
//   - bbolt also locks its file (flock). polykv's directory lock is taken
//     first; bbolt's lock only waits when a program outside polykv holds
//     the file, and only OptLockTimeout long before Open fails with
//     kv.ErrLocked (bbolt alone would wait forever).
//   - bbolt asserts its invariants with panics; this package turns a panic
//     inside bbolt into an error (a damaged file), so it never reaches the
//     caller as a panic.
//   - Engine errors come back as "kv: bbolt: <op> <file>: ..." wrapping a
//     kv sentinel where one applies (kv.ErrLocked, kv.ErrClosed,
//     kv.ErrNotAStore for a file bbolt cannot read).
//   - Engine logs go to Config.Logger, never to stderr.
package bbolt
