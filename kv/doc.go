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
// applied atomically when the function returns nil. Writers are serialized
// within the process (one Update, Write, Set, Delete or DeleteRange at a
// time), which makes Update serializable on every engine. Under Sync, an
// engine that can (SyncDeferrer: pebble) lets the next writer run while a
// commit waits for its fsync, so that concurrent commits share fsyncs; a
// commit still returns only once durable. A transaction holds
// at most MaxTxnOps writes and MaxTxnBytes bytes; BulkWriter splits larger
// loads into atomic chunks without splitting a group of writes.
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
//     refuses commits that would leave less than a free-space reserve
//     (448 MiB by default; its free_space_reserve option) instead of
//     letting a write to a full disk end the process.
//   - ErrIO: another failure of the medium (EIO, a read-only file system).
//     A read-write Open on a read-only file system fails with it (and
//     syscall.EROFS); a read-only Open works there on every backend.
//   - ErrNeedsReopen: the engine takes no more writes (Pebble after a
//     failed write or sync of its log); reads still work. Close, fix the
//     cause, open again.
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
//   - An Update function must not call the write methods of its own store: it
//     would wait for itself. Write through the Txn.
//   - DeleteRange and DeletePrefix are atomic only where
//     Info().Guarantees.AtomicDeleteRange says so.
//   - Close waits for calls in flight; do not call it from a callback.
package kv
