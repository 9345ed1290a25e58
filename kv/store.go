package kv

import "context"

// Store is an ordered key-value store: what every user of polykv programs
// against. *DB, returned by Open, is the implementation for every backend;
// the interface exists so that layers (nodestore, logstore) and tests can
// accept wrappers.
//
// # Ownership of slices
//
// The caller may reuse the key and value buffers it passes as soon as a call
// returns. A value returned by Get belongs to the caller. The key and value
// handed to an iteration callback are valid only until the callback returns:
// copy them to keep them.
//
// # Concurrency
//
// Every method is safe for concurrent use. Reads never block writes. Update
// transactions are serializable. A transaction (the ReadTxn of View, the Txn
// of Update) is not: it belongs to the goroutine running the function it
// was given to, and must not be used after that function returns.
//
// # After Close
//
// Close is idempotent. It waits for calls in flight to finish; afterwards
// every method returns ErrClosed. Close must not be called from inside a
// View, Update or Iterate callback of the same store: it would wait for
// ever. DB.CloseContext, given the transaction's context, detects it.
type Store interface {
	// Get returns a copy of the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key []byte) ([]byte, error)
	// Set stores value under key, replacing any previous value. A nil value
	// is stored as an empty one.
	Set(ctx context.Context, key, value []byte) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key []byte) error

	// Iterate calls fn for each key selected by opts, in order, on one
	// consistent snapshot taken when Iterate starts. If fn returns SkipAll
	// the iteration stops and Iterate returns nil; any other error stops it
	// and is returned. If ctx is done when Iterate is called, fn is never
	// called; if it ends while Iterate runs, the iteration stops within a
	// few hundred keys and Iterate returns ctx's error. (ReadTxn.Iterate
	// does the same with the context given to View or Update.)
	Iterate(ctx context.Context, opts IterOptions, fn func(key, value []byte) error) error

	// View runs fn on one consistent read-only snapshot.
	View(ctx context.Context, fn func(tx ReadTxn) error) error
	// Update runs fn in a read-write transaction. It is atomic and
	// serializable; fn reads its own writes. If fn returns an error or
	// panics, nothing is applied (the panic is re-raised). fn may run more
	// than once if the engine reports a conflict, so it must have no effect
	// outside the transaction. A transaction larger than MaxTxnOps or
	// MaxTxnBytes fails with ErrTxnTooLarge and applies nothing.
	//
	// fn must not write to the same store but through tx: see
	// ReadTxn.Context and ErrNestedUpdate for what is detected.
	Update(ctx context.Context, fn func(tx Txn) error) error
	// Write applies b atomically: all of its writes or none. It is the
	// fastest way to load data whose writes need no reads.
	Write(ctx context.Context, b *Batch) error

	// DeleteRange deletes every key k with start <= k < end. A nil or
	// empty end is unbounded (as IterOptions.End): everything from start
	// on goes. Whether it is atomic depends on the backend: see
	// Info().Guarantees.AtomicDeleteRange. When it is not, a crash or an
	// error may leave a part of the range deleted, and a key another
	// goroutine writes into the range while it runs may survive it.
	DeleteRange(ctx context.Context, start, end []byte) error
	// DeletePrefix deletes every key starting with prefix, with the same
	// atomicity as DeleteRange. The empty prefix deletes every key.
	DeletePrefix(ctx context.Context, prefix []byte) error

	// Sync makes every write committed so far durable.
	Sync() error
	// Close releases the store. See "After Close" above.
	Close() error
	// Info describes the open store: backend, directory, options, promises.
	Info() Info
}

// ReadTxn is a consistent read-only view, valid only inside the function
// given to View or Update, and only in the goroutine running it. Slices
// follow the rules of Store.
type ReadTxn interface {
	// Context returns the context of the transaction: one derived from
	// the context given to View or Update that marks what is called with
	// it as called from inside this transaction. Pass it to whatever the
	// function calls: a call of the same store made with it (or with a
	// context derived from it) while the function runs, which would wait
	// for the function, fails at once, where the same call with another
	// context would wait for the transaction, which waits for it. That is
	// a write inside an Update (ErrNestedUpdate), a DB.CloseContext inside
	// a View or an Update, and a DB.Compact that waits for open reads
	// (bbolt) inside a View (ErrNestedCall). It stays a valid context
	// after the function returns, without the mark.
	Context() context.Context
	// Get returns a copy of the value for key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Iterate is Store.Iterate on this transaction's view. Inside Update it
	// sees the transaction's own writes made before it started, and writes
	// made while it runs (including deleting the current key) do not change
	// what it visits.
	Iterate(opts IterOptions, fn func(key, value []byte) error) error
}

// Txn is a read-write transaction, valid only inside the function given to
// Update, and only in the goroutine running it.
type Txn interface {
	ReadTxn
	// Set stores value under key when the transaction commits.
	Set(key, value []byte) error
	// Delete removes key when the transaction commits.
	Delete(key []byte) error
}

// Info describes an open store.
type Info struct {
	Backend      string     // registered backend name, e.g. "badger"
	Path         string     // store directory; empty for memory
	Durability   Durability // the durability the store was opened with
	ReadOnly     bool
	MemoryBudget int64 // bytes the engine may use for caches and memtables
	Guarantees   Guarantees
	// GroupCommit: concurrent Update calls share one engine commit (the
	// engine is a GroupCommitter), so a layer above gains nothing by
	// gathering concurrent writes itself.
	GroupCommit bool
}

// Guarantees declares what a backend promises beyond the common contract.
// The conformance suite and the crash test check each declared promise.
type Guarantees struct {
	// Persistent is false for in-memory engines: nothing survives Close.
	Persistent bool
	// NoSyncKeepsAckedOnKill: under NoSync, every acknowledged commit
	// survives a kill -9 of the process (not a power loss). When false, a
	// kill may lose a tail of acknowledged commits, never a part of one.
	NoSyncKeepsAckedOnKill bool
	// AtomicDeleteRange: DeleteRange and DeletePrefix apply all or nothing.
	AtomicDeleteRange bool
	// ReadOnlyOpenAfterKill: a read-only Open of a store whose process was
	// killed succeeds and sees what a read-write Open would. When false it
	// may fail with ErrNeedsRecovery until a read-write Open has recovered
	// the store.
	ReadOnlyOpenAfterKill bool
	// Shared: the store is not a directory owned by one process but a
	// store on a cluster (NetworkDriver) that any number of stores, in any
	// processes, may have open at once. Update stays serializable between
	// all of them (the engine's optimistic transactions, Transactor).
	// When false, a second open of the store fails with ErrLocked.
	Shared bool
	// DetectsValueDamage: the engine keeps checksums of the stored bytes,
	// so that data damaged while the store was closed (a disk that flips
	// bits, a file overwritten in the middle) makes Open, or the read or
	// iteration that meets it, fail with an error (ErrCorrupt where the
	// engine says what it is), and is never read back as a silently
	// different value or a silently shorter iteration. (Badger checks its
	// tables whole at Open: a table damaged while the store is open can
	// still end an iteration early without an error; DB.Verify finds it.)
	// When false (bbolt), damage the engine's structure checks miss is read
	// back as it is: a value with changed bytes, without an error.
	// DB.Verify checks whatever the engine can.
	DetectsValueDamage bool
}
