package kv

import "errors"

// Errors returned by every Store, whatever the backend. Match them with
// errors.Is: backends wrap them with context ("kv: badger: open /path: ...").

// These can occur on any read.
var (
	// ErrNotFound is returned by Get when the key does not exist. A key that
	// exists with an empty value is found: Get returns a zero-length value and
	// a nil error.
	ErrNotFound = errors.New("kv: key not found")
)

// These can occur when a key, a value or a transaction breaks a limit.
var (
	// ErrEmptyKey is returned for a zero-length key.
	ErrEmptyKey = errors.New("kv: empty key")
	// ErrKeyTooLarge is returned for a key longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("kv: key too large")
	// ErrValueTooLarge is returned for a value longer than MaxValueSize.
	ErrValueTooLarge = errors.New("kv: value too large")
	// ErrTxnTooLarge is returned when a transaction or batch would exceed
	// MaxTxnOps operations or MaxTxnBytes bytes. Nothing of it is applied.
	ErrTxnTooLarge = errors.New("kv: transaction too large")
	// ErrConflict is returned by Update when the engine kept reporting a
	// conflict after MaxConflictRetries retries. Nothing of it is applied.
	ErrConflict = errors.New("kv: transaction conflict")
)

// These can occur when a store is used in the wrong state.
var (
	// ErrClosed is returned by every method of a closed store, including
	// transactions and iterations still running when Close was called.
	ErrClosed = errors.New("kv: store closed")
	// ErrReadOnly is returned by every write to a store opened read-only.
	ErrReadOnly = errors.New("kv: store is read-only")
	// ErrTxnDone is returned when a transaction is used after the function
	// given to View or Update has returned.
	ErrTxnDone = errors.New("kv: transaction already finished")
	// ErrNestedUpdate is returned by a write to a store (Set, Delete,
	// Write, Update, DeleteRange, DeletePrefix, Compact) made with the
	// context of an Update of the same store (Txn.Context, or a context
	// derived from it) while that Update's function runs: the write would
	// wait for the Update, which waits for it. A write with nothing to do
	// (an empty Batch, an empty range) is refused too. Nothing of the write is
	// applied; the Update goes on. Write through the Txn instead.
	ErrNestedUpdate = errors.New("kv: write to a store from inside its own Update")
	// ErrNestedCall is returned by a call that waits for the store's
	// transactions to end (DB.CloseContext; DB.Compact on an engine that
	// compacts only when no read is open, bbolt) made with the context of
	// a View or an Update of the same store (ReadTxn.Context, or a context
	// derived from it) while that function runs: the call would wait for
	// the function, which waits for it. Nothing is done; the store stays
	// open and usable. Make the call after the function returns.
	ErrNestedCall = errors.New("kv: call from inside a View or Update of the same store would wait for it")
)

// These can occur when a store is opened.
var (
	// ErrLocked is returned by Open when another Store, in this process or
	// another, holds the directory.
	ErrLocked = errors.New("kv: store directory is locked by another process or store")
	// ErrBackendMismatch is returned by Open when the directory's marker
	// names another backend than the one asked for. No file is touched.
	ErrBackendMismatch = errors.New("kv: backend mismatch")
	// ErrNotAStore is returned by Open for a non-empty directory that has no
	// polykv marker file. No file is touched.
	ErrNotAStore = errors.New("kv: directory is not a polykv store")
	// ErrUnknownBackend is returned by Open for a backend name that no
	// package registered.
	ErrUnknownBackend = errors.New("kv: unknown backend")
	// ErrInvalidConfig is returned for a configuration that fails validation.
	// The message names the field and the allowed values.
	ErrInvalidConfig = errors.New("kv: invalid config")
	// ErrUnsupportedFormat is returned when the marker names a format version
	// this build cannot read.
	ErrUnsupportedFormat = errors.New("kv: unsupported store format")
	// ErrNeedsRecovery is returned by a read-only Open of a store that was
	// not closed cleanly (its process was killed, or crashed) when the
	// engine cannot read it without first writing to it (Badger truncates
	// its memtable logs). A read-write Open recovers the store (Close it,
	// and read-only opens work again); nothing acknowledged is lost by it.
	// polykv recover DSN does exactly that.
	ErrNeedsRecovery = errors.New("kv: store needs recovery (not closed cleanly); a read-write open recovers it")
)

// SkipAll may be returned by an iteration callback to stop the iteration
// early. Iterate then returns nil.
var SkipAll = errors.New("kv: skip all remaining keys") //nolint:staticcheck // ST1012: named after io/fs.SkipAll, which it mirrors

// These can occur on any call that reaches the disk or the network: faults of
// the medium, not of the caller. Backends translate their engine's errors into
// them at the boundary; the message keeps the engine's own words. See the
// package documentation (# Faults) for which leave the store usable.
var (
	// ErrNoSpace is returned when a write failed because the disk or a quota
	// is full (ENOSPC, EDQUOT, etcd's space quota). Where the operating system
	// said so, the error also matches syscall.ENOSPC. Nothing of the failed
	// commit is applied.
	ErrNoSpace = errors.New("kv: no space left (disk or quota full)")
	// ErrCorrupt is returned when stored data failed a check: a checksum, a
	// page consistency check, a value that cannot be decoded. The data read
	// cannot be trusted; an iteration that meets it stops with this error
	// instead of looking complete.
	ErrCorrupt = errors.New("kv: stored data is damaged")
	// ErrIO is returned for any other failure of the storage medium (EIO, a
	// read-only filesystem for a write, a failed fsync).
	ErrIO = errors.New("kv: i/o failure")
	// ErrUnavailable is returned by networked backends when the cluster
	// cannot serve the call (no quorum, no member reachable) within the
	// call's deadline. Whether a failed commit was applied is resolved
	// before it is returned (see ErrOutcomeUnknown).
	ErrUnavailable = errors.New("kv: store unavailable")
	// ErrOutcomeUnknown is returned by a commit whose outcome could not be
	// resolved: on a cluster, the connection was lost after the request was
	// sent and the store stayed unreachable until the deadline, or the
	// caller's context was cancelled while the commit was in flight; on a local
	// engine, the commit was applied and its sync then failed (badger and
	// pebble under Sync; bbolt when the sync of its meta page failed), so
	// it is visible in this process and may or may not survive a reopen
	// (the error also matches the fault and ErrNeedsReopen). It may or may not have been applied. Every other
	// commit error means nothing was applied.
	ErrOutcomeUnknown = errors.New("kv: commit outcome unknown")
	// ErrNeedsReopen is returned by every write to a store whose engine
	// stopped taking writes after a fault it cannot recover from in place
	// (Pebble after a failed write or sync of its log). The error also
	// matches the fault (ErrNoSpace, ErrIO). Reads keep working; Close the
	// store, fix the cause (free space) and open it again: every commit
	// acknowledged before the fault is there.
	ErrNeedsReopen = errors.New("kv: store must be reopened after a fault")
)
