// Package kv is polykv's ordered key-value interface: one contract, several
// embedded engines (Badger by default, Pebble, bbolt, and an in-memory one).
//
// # Basics
//
// Open a store by configuration, with the backends linked in by a blank
// import:
//
//	import _ "github.com/polykv/polykv/backends/all"
//
//	db, err := kv.Open(ctx, kv.Config{Backend: "badger", Path: "/var/lib/engine"})
//	...
//	defer db.Close()
//	err = db.Set(ctx, []byte("k"), []byte("v"))
//	v, err := db.Get(ctx, []byte("k"))
//
// Store is the interface every user programs against; *DB implements it for
// every backend. Engine, Driver and Register are the face for backend
// implementers: a backend supplies an ordered engine, and DB adds everything
// that must behave the same on all of them — argument checks, limits,
// transactions, iteration bounds, buffer copies and the closed-state guard.
//
// # Keys, values and order
//
// A key is 1 to MaxKeySize bytes of any value; a value is 0 to MaxValueSize
// bytes (nil is stored as empty). Keys sort bytewise (bytes.Compare) on every
// backend.
//
// # Transactions
//
// View runs a function on a consistent snapshot. Update runs a function in a
// serializable read-write transaction that reads its own writes and is
// applied atomically when the function returns nil. On the local engines,
// writers are serialized within the process (one Update, Write, Set, Delete or DeleteRange at a
// time), which makes Update serializable on every engine. Under Sync, an
// engine that can (SyncDeferrer: pebble, badger) lets the next writer run
// while a commit waits for its fsync, so that concurrent commits share
// fsyncs; a commit still returns only once durable. An engine whose commit
// cannot be visible before it is durable (GroupCommitter: bbolt) lets
// concurrent writers share one commit instead: each in turn runs its
// function on the state left by the writers before it, and one engine
// transaction commits them all; each returns its own result once that
// commit is done, and a writer whose function fails adds nothing. A
// transaction holds
// at most MaxTxnOps writes and MaxTxnBytes bytes; BulkWriter splits larger
// loads into atomic chunks without splitting a group of writes.
//
// GetMany reads many keys of one transaction at once, with the answers of
// one Get per key: on a local engine it is that loop, on a networked
// engine (MultiGetter) one request per few hundred keys instead of one
// round trip per key. A program that knows the keys it needs before it
// reads them (nodestore: the parents of a page of completions, a folder's
// children) should use it. IterateMany does the same for many short
// iterations (MultiScanner: nodestore's ChildrenMany reads the children
// index of a page of folders in one request).
//
// # Writers in different processes
//
// A store in a directory belongs to one process: Open locks the directory,
// and Update is serializable because kv lets one writer at a time reach the
// engine. A store of a networked backend (NetworkDriver, e.g. etcd: a key
// prefix on a cluster) is open in many processes at once
// (Info().Guarantees.Shared), and there the engine runs each Update as an
// optimistic transaction (Transactor). For writers in different processes,
// on different machines, the guarantees are then:
//
//   - Update is serializable across all of them: the function's reads come
//     from one snapshot and are recorded — every key read, present or
//     missing, and every range iterated up to where the iteration stopped,
//     with each key it saw — and the commit applies the writes only if none
//     of that changed, including keys deleted from or added to an iterated
//     range (no write skew, no phantom). Otherwise the commit applies
//     nothing and the function runs again, after a short random backoff
//     (growing with the time a run takes, so that writers colliding on a
//     slow cluster spread out), up to MaxConflictRetries times; then Update returns ErrConflict, which
//     means nothing was applied. The function must therefore have no effect
//     outside the transaction, as everywhere. Within one process, an Update
//     that has conflicted three times runs its next attempts alone: no
//     other write of the same *DB reaches the engine from its beginning to
//     its commit, so a long transaction among many short ones that touch
//     what it read (a folder's completion among workers updating the same
//     counters) is not starved by its own process. From its seventh run
//     on, on an engine that has them (PriorityTransactor: etcd), it runs as
//     a priority transaction, which writers in other processes do not
//     commit over either: their commits wait until it is done (at most a
//     short lease if its process dies). On an engine without them, a
//     transaction that keeps losing to other processes can still give up
//     with ErrConflict (a caller may run it again; nothing of it was
//     applied).
//   - Set, Delete, Write and DeleteRange are atomic blind writes; a
//     transaction that read what they change fails its commit and retries.
//   - View and Iterate read one consistent snapshot (one revision of the
//     cluster); they never see half of another process's commit.
//   - An error from a commit means nothing was applied, except
//     ErrOutcomeUnknown, returned only when the engine could not learn the
//     outcome before the deadline. When the cluster cannot serve a call
//     (no quorum), it fails with ErrUnavailable or the context's error
//     within the caller's deadline, never hangs: reads too (Get, Iterate,
//     View), which carry the caller's context to the engine
//     (ContextReader).
//   - The limits are the store's own (Limits, LimitsOf): a networked engine
//     may declare smaller ones than the package constants, and BulkWriter,
//     nodestore and logstore size their transactions by them.
//     What a transaction reads counts too: an engine that checks the reads
//     with a bounded number of compares (etcd: --max-txn-ops) fails a
//     commit whose read set is larger with ErrTxnTooLarge, never with a
//     weaker check.
//
// The memory backend has the same optimistic mode (memory:?opt.txn=optimistic)
// for testing a program's behaviour under conflicts without a cluster.
//
// # Faults
//
// A fault of the medium reaches the caller as an error matching one of the
// fault sentinels, on every backend and unchanged through nodestore and
// logstore; the message keeps the engine's and the operating system's
// words, and the operating system's error stays in the chain
// (errors.Is(err, syscall.ENOSPC)). Fault is the classification backends
// apply at their boundary.
//
//   - ErrNoSpace: the disk or a quota is full. The failed commit applied
//     nothing. Free space and retry; where the error also matches
//     ErrNeedsReopen, Close the store and open it again first. Badger
//     and Pebble refuse commits that would leave less than a free-space
//     reserve (448 and 512 MiB by default; their free_space_reserve
//     option), so that their own flushes and compactions keep room: a
//     full disk would otherwise end the process (Badger) or stall commits
//     forever (Pebble). A writable Open below the reserve, which a full
//     disk would hang or end, fails with ErrNoSpace; a read-only Open
//     works.
//   - ErrIO: another failure of the medium (EIO, a read-only file system).
//     A read-write Open on a read-only file system fails with it (and
//     syscall.EROFS); a read-only Open works there on every backend.
//   - ErrNeedsReopen: the engine takes no more writes (Pebble after a
//     failed write or sync of its log, or a refused reservation of log
//     space; Badger after a failed sync; bbolt after a commit that failed
//     once its meta page was written); reads still work. Close, fix the
//     cause, open again.
//   - ErrOutcomeUnknown, with the fault and ErrNeedsReopen: the commit was
//     applied and its sync failed (badger and pebble make a commit
//     visible, then sync it together with its neighbours; bbolt's is
//     visible once its meta page is written, before that page's sync). It is
//     visible in this process until the store is closed; whether it is
//     there after the reopen is not known. Every other failed commit
//     applied nothing.
//
// What survives: under Sync every commit acknowledged before the fault is
// there after the store is reopened, and no commit is half applied. Under
// NoSync a backend that may lose an acknowledged tail on a kill (pebble:
// Guarantees.NoSyncKeepsAckedOnKill false) may lose the tail that was not
// yet written when its log failed. The fault table in README.md lists what
// each backend does, as the tests observe it.
//
// # Caveats
//
//   - Slices handed to iteration callbacks are valid only until the callback
//     returns.
//   - An Update function must not call the write methods of its own store
//     (Set, Delete, Write, Update, DeleteRange, DeletePrefix, Compact):
//     on a local engine the write would wait for the writer lock its own
//     Update holds, for ever; on an optimistic engine it would commit
//     apart from the transaction, once per run, and a run that holds the
//     process's commits (see above) would wait for it for ever. Write
//     through the Txn. What is detected: such a write made with the Txn's
//     context (Txn.Context, or a context derived from it) fails at once
//     with ErrNestedUpdate, on every backend, from whatever goroutine
//     makes it while the function runs. What is not: made with another
//     context (the one given to Update, context.Background()), it cannot
//     be told from a write of another goroutine, which must wait its turn,
//     and it waits as before. So pass tx.Context() to whatever the
//     function calls (nodestore, logstore, your own code). Reads of the
//     store (Get, View, Iterate) inside an Update are fine: they see the
//     last commit, not the transaction's writes. Writes from inside a
//     View or an Iterate callback are allowed (see the bbolt package's
//     "Writing while iterating" for its one limit).
//   - A View's context (ReadTxn.Context) is marked as well: DB.Compact
//     made with it while the function runs, on an engine that compacts
//     only once every read has ended (bbolt), fails at once with
//     ErrNestedCall instead of waiting for that View. Made with another
//     context from inside a View or an Iterate callback, it waits until
//     its context ends: give it a deadline.
//   - DeleteRange and DeletePrefix are atomic only where
//     Info().Guarantees.AtomicDeleteRange says so.
//   - Close waits for calls in flight; do not call it from a callback of
//     the same store (View, Update, Iterate): it would wait for that
//     call, which waits for it, for ever, and it cannot tell itself from a
//     Close of another goroutine, which must wait. DB.CloseContext with a
//     transaction's context (ReadTxn.Context) fails at once with
//     ErrNestedCall instead, leaving the store open, and gives up waiting
//     when its context ends. An Iterate callback has no such context.
//   - kv never sets the process's memory limit (GOMEMLIMIT,
//     runtime/debug.SetMemoryLimit): it is process-wide and belongs to the
//     program. SuggestedMemoryLimit derives one from a store's memory
//     budget (twice the budget; none for the memory backend); the polykv
//     command applies it when GOMEMLIMIT is not set. Without a limit, the
//     Go heap of a busy Badger store can grow well past the budget.
package kv
