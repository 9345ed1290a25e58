package kv

import (
	"context"
	"errors"
	"io"
	"time"
)

// This file is the implementer's face of kv: what a backend package provides.
// Users never call these methods; *DB does, after it has validated keys,
// values and sizes, checked the store is open, bounded iterations and
// serialized writers. An Engine therefore only has to be a faithful ordered
// store: no argument checking, no retry loops, no closed-state guard.

// Driver opens engines of one backend. A backend package registers its
// Driver in init with Register.
type Driver interface {
	// Open opens or creates the engine whose files live in dir (already
	// created, locked and marked by kv; empty for an in-memory engine).
	// cfg has been validated and has its defaults filled in.
	Open(ctx context.Context, dir string, cfg *Config) (Engine, error)
	// Guarantees are the promises this backend makes (see Guarantees).
	Guarantees() Guarantees
}

// SyncDeferrer is an optional capability of an Engine, used when the store
// is opened with Sync: the group commit. ApplyDeferred applies b as Apply
// does, but returns once b is visible, with a function that waits until b
// is durable. *DB calls ApplyDeferred with its writer lock held and wait
// after releasing it, so the next writer runs while the engine syncs and
// one sync can make several commits durable. The commit still returns only
// once durable.
//
// An engine may implement it only if, when ApplyDeferred returns, b is
// visible to every later read (the next writer must see it: Update stays
// serializable) and a sync makes every write applied before it durable
// (the commits that survive a crash stay a prefix of the acknowledged
// ones). wait is called exactly once; an error from it means b is visible
// but may not be durable, and the engine must refuse every later write
// (ErrNeedsReopen). *DB returns that error to the writer wrapped with
// ErrOutcomeUnknown: nothing was refused, the commit may or may not last.
type SyncDeferrer interface {
	ApplyDeferred(ctx context.Context, b *Batch) (wait func() error, err error)
}

// GroupCommitter is an optional capability of an Engine whose commits
// cannot be made visible before they are durable, so that SyncDeferrer does
// not fit (bbolt: a commit is one read-write transaction and its fsyncs,
// and the next one cannot begin before they end). Instead, several writers
// share one engine commit: kv begins a group (one engine write
// transaction), and while other writers wait for the writer lock, each in
// turn runs its function reading the group (the latest commit plus every
// batch added to the group before it) and adds its writes; the last one
// commits the group, and every writer in it returns once that commit has.
// Writers still run one at a time, each seeing every write before it:
// Update stays serializable. A writer whose function fails adds nothing.
// See kv/group.go.
type GroupCommitter interface {
	BeginGroup(ctx context.Context) (WriteGroup, error)
}

// WriteGroup is one engine write transaction shared by several writers,
// one at a time (kv's writer lock is held around every call but Commit's
// wait). While a group is open, no other write reaches the engine.
type WriteGroup interface {
	// Reader reads the state of the last commit with every batch added to
	// the group applied over it. kv closes every iterator before the next
	// Add.
	Reader
	// Add applies b to the group. b stays valid until Commit or Rollback
	// returns. An error means the group must not be committed: kv rolls it
	// back, and every writer in it gets an error.
	Add(b *Batch) error
	// Commit applies every batch added, atomically, with the durability the
	// engine was opened with; on error nothing of the group is applied.
	Commit() error
	// Rollback discards the group.
	Rollback() error
}

// ConfigValidator is implemented by drivers that check their
// backend-specific settings (Config.Options). kv.Open and Config.Validate
// call it before anything touches the directory, so a bad option never
// leaves a half-created store behind.
type ConfigValidator interface {
	ValidateConfig(cfg *Config) error
}

// Engine is one open engine.
//
// Writes reach the engine only through Apply and (if implemented)
// SyncDeferrer.ApplyDeferred, GroupCommitter's WriteGroup and
// RangeDeleter.DeleteRange, and *DB never runs two of them at once (the
// wait ApplyDeferred returns runs outside that lock, alongside the next
// write; a WriteGroup stays open across several writers' turns, and no
// other write reaches the engine until it is committed). Reads
// (Get, NewIter, NewSnapshot) may run concurrently with each other and with
// a write.
type Engine interface {
	Reader
	// NewSnapshot returns a consistent view of the latest committed state.
	NewSnapshot() (Snapshot, error)
	// Apply applies every write of b atomically, with the durability the
	// engine was opened with. On error nothing of b is visible, even after a
	// crash. b is valid only during the call (its slices must not be kept).
	Apply(ctx context.Context, b *Batch) error
	// Sync makes every write applied so far durable.
	Sync() error
	// Close releases the engine. *DB calls it once, after every call in
	// flight has returned.
	Close() error
}

// Reader reads an engine's latest committed state, or a snapshot.
type Reader interface {
	// Get appends the value of key to dst and returns it, or ErrNotFound.
	// The returned slice must not alias engine memory.
	Get(key, dst []byte) ([]byte, error)
	// NewIter returns an iterator over the keys in r. The iterator sees one
	// consistent state, fixed when it is created.
	NewIter(r IterRange) (Iter, error)
}

// Snapshot is a consistent read view. Close releases it.
type Snapshot interface {
	Reader
	Close() error
}

// IterRange is what an engine iterator visits: the keys k with
// Lower <= k < Upper (a nil bound is unbounded), ascending, or descending
// when Reverse is set. *DB has already turned Prefix/Start/End into these
// bounds; Lower < Upper when both are set.
type IterRange struct {
	Lower, Upper []byte
	Reverse      bool
	// KeysOnly: Value will not be called; skip loading values.
	KeysOnly bool
}

// Iter is a pull iterator over an engine. It starts before the first key:
// call Next to move to each key in turn.
type Iter interface {
	// Next moves to the next key in the iteration's direction and reports
	// whether there is one.
	Next() bool
	// Key returns the current key. It may alias engine memory: valid only
	// until the next call to Next or Close, and must not be modified.
	Key() []byte
	// Value appends the current value to dst and returns it.
	Value(dst []byte) ([]byte, error)
	// Err returns the error that ended the iteration early, if any.
	Err() error
	// Close releases the iterator. It is called exactly once.
	Close() error
}

// Optional capabilities. An Engine may implement any of these; *DB discovers
// them by type assertion and falls back to a generic implementation:
//
//	ConfigValidator  (on the Driver) checks Config.Options before the directory is touched
//	RangeDeleter     native DeleteRange              fallback: chunked batches
//	Scanner          a whole iteration in one call   fallback: stepping an Iter (iterate.go)
//	MultiGetter      many point reads in one request fallback: one Get per key (getmany.go; on a Reader)
//	MultiScanner     many ranges in one request      fallback: one iteration per range (itermany.go; on a Reader)
//	SyncDeferrer     group commit under Sync         fallback: Apply, one writer and sync at a time
//	GroupCommitter   writers share one engine commit fallback: Apply, one engine commit per writer
//	Compacter        reclaim space                   fallback: nothing to do
//	Stater           engine statistics               fallback: empty figures
//	BackupWriter     native backup stream            fallback: Dump's format (dump.go)
//	Verifier         whole-store damage check        fallback: the full scan alone (verify.go)
//	Transactor       optimistic read-write txns      fallback: kv's writer lock (one writer per process)
//	PriorityTransactor a starved txn goes first     fallback: only the process's own writers wait for it
//	LimitDeclarer    smaller transaction/size limits fallback: DefaultLimits (the package constants)
//	ContextReader    reads that carry the caller's ctx fallback: Reader's methods, bounded by the engine (readctx.go)
//
// And on the Driver:
//
//	ConfigValidator  checks Config.Options           fallback: none
//	NetworkDriver    stores that are not directories fallback: a directory, created, locked and marked by kv

// RangeDeleter is implemented by engines with a native range deletion
// (Pebble). The deletion must be atomic when the driver declares
// Guarantees.AtomicDeleteRange. Without it, *DB deletes the range in
// chunks of batches.
type RangeDeleter interface {
	DeleteRange(ctx context.Context, start, end []byte) error
}

// Compacter is implemented by engines that can reclaim space on demand
// (Badger value-log GC, Pebble manual compaction, bbolt copying its live
// pages into a new file). Without it, DB.Compact does nothing.
//
// An engine whose Compact must wait for open reads to end (bbolt replaces
// its file) returns ErrReadsOpen instead of waiting: DB.Compact calls it
// holding the writer lock (GroupCommitter engines), and the callback of
// such a read may be waiting for that lock to write. DB.Compact then
// releases the lock, waits CompactRetryInterval and calls again, until
// its context ends; or, when that context is a View's of the store
// (ReadTxn.Context) whose function runs, one of the reads it waits for,
// it fails at once with ErrNestedCall.
type Compacter interface {
	Compact(ctx context.Context) error
}

// ErrReadsOpen is returned by a Compacter's Compact while reads that must
// end before it can run are open (see Compacter). DB.Compact never returns
// it: it retries.
var ErrReadsOpen = errors.New("kv: compaction waits for open reads")

// CompactRetryInterval is how long DB.Compact waits, without the writer
// lock, before calling a Compact that returned ErrReadsOpen again.
const CompactRetryInterval = 5 * time.Millisecond

// Stater is implemented by engines that report their own statistics.
// Without it, DB.Stats reports only what kv can count itself.
type Stater interface {
	Stats() (EngineStats, error)
}

// EngineStats are an engine's own figures. Fields an engine does not know
// are zero.
type EngineStats struct {
	// DiskBytes is the size of the engine's files, in allocated blocks.
	DiskBytes int64
	// MemoryBytes is what the engine's caches and memtables hold now.
	MemoryBytes int64
	// Extra holds engine-specific figures by name.
	Extra map[string]int64
}

// BackupWriter is implemented by engines with a native, consistent backup
// stream. Without it, DB.Backup writes a generic dump of every key and value.
type BackupWriter interface {
	Backup(ctx context.Context, w io.Writer) error
}

// Transactor is implemented by engines that run a whole read-write
// transaction themselves, optimistically: the capability that keeps Update
// serializable when writers live in different processes or machines (a
// networked engine shared by many stores). When an engine implements it,
// *DB takes no writer lock at all: Update begins an EngineTxn, runs its
// function with reads going to that transaction (kv keeps the pending writes
// and merges them into reads, so the function reads its own writes), and
// hands the collected writes to EngineTxn.Commit. A commit that reports
// ErrConflict is retried by kv's loop (after a short randomized backoff),
// at most MaxConflictRetries times; from the fourth run on, the run keeps
// the process's other writes from reaching the engine until it commits (a
// lock of *DB's own, shared by every other commit: see kv/optimistic.go).
// Set, Delete, Write and DeleteRange go to Apply and RangeDeleter without
// a writer lock: they are blind writes, atomic by themselves, and any
// transaction that read what they change fails its commit.
//
// Local engines do not implement it: one writer at a time under kv's lock
// is serializable and costs them nothing.
type Transactor interface {
	// BeginTxn starts a transaction reading the latest committed state.
	BeginTxn(ctx context.Context) (EngineTxn, error)
}

// PriorityTransactor is implemented by Transactors that can let one
// transaction commit ahead of the store's writers in every process: kv
// begins the runs of an Update that has conflicted priorityAfter times
// (see kv/optimistic.go) with BeginPriorityTxn instead of BeginTxn. While
// a priority transaction is open, every other commit to the store, from
// any process, fails with ErrConflict (and runs again once the priority
// transaction is done) and blind writes wait; at most one priority
// transaction per store is open at a time (BeginPriorityTxn waits for the
// current one, within ctx; a holder that dies releases it after a short
// lease). Without it, an Update starved by writers in other processes
// gives up with ErrConflict after MaxConflictRetries runs.
type PriorityTransactor interface {
	Transactor
	BeginPriorityTxn(ctx context.Context) (EngineTxn, error)
}

// EngineTxn is one optimistic transaction of a Transactor.
//
// Its reads (the Reader methods, and Scanner's Scan if it implements
// kv.Scanner) see one consistent state, fixed when it began, and record
// what they saw: each key read by Get, present or missing, with the version
// it had; each range an iteration covered, up to the key where the
// iteration stopped (the whole range when it ran to its end), and the
// version of every key it visited.
//
// Commit applies b atomically if and only if nothing the transaction read
// has changed since it began: no key read was modified, created or deleted,
// and no key was created in or deleted from a range it iterated. Checking
// only "no key in the range was modified since version V" is not enough: a
// key deleted from the range leaves nothing to compare (a phantom), so the
// keys an iteration saw must each be checked as well. When the check fails,
// Commit returns an error wrapping ErrConflict and applies nothing.
//
// An error from Commit means nothing was applied, with one exception: an
// error wrapping ErrOutcomeUnknown says the engine could not learn whether
// the commit was applied (the connection was lost after the request was
// sent and could not be restored before the deadline). An engine resolves
// the outcome itself whenever it can (for example by a token written with
// the commit and read back after reconnecting).
//
// A transaction belongs to one goroutine. Discard is called exactly once,
// after Commit or instead of it.
type EngineTxn interface {
	Reader
	Commit(ctx context.Context, b *Batch) error
	Discard()
}

// LimitDeclarer is implemented by engines whose limits are smaller than
// the package constants (MaxKeySize, MaxValueSize, MaxTxnOps, MaxTxnBytes):
// a networked engine bounded by its server's request size. *DB checks every
// key, value, batch and transaction against the declared limits, and
// BulkWriter, nodestore and logstore size their chunks by them (LimitsOf).
// A declared limit larger than the package constant, or below 1, is
// ignored: the constant applies.
type LimitDeclarer interface {
	Limits() Limits
}

// NetworkDriver is implemented by drivers whose stores are not
// directories: a store is a key prefix on a cluster, named by cfg.Path (the
// prefix) and cfg.Endpoints. kv.Open then creates, locks and marks no
// directory: it calls OpenNetwork instead of Open, and checks the store's
// marker through the engine (NetworkEngine) with the same rules as a
// directory's marker file: a marker naming another backend fails with
// ErrBackendMismatch, a non-empty store without a marker with
// ErrNotAStore, and a new store gets its marker (created atomically, only
// if absent) before the engine is handed out. Several stores, in any
// processes, may have the same store open at once (Guarantees.Shared), so
// there is no lock; the engine must implement Transactor so that Update
// stays serializable between them.
type NetworkDriver interface {
	Driver
	OpenNetwork(ctx context.Context, cfg *Config) (NetworkEngine, error)
}

// NetworkEngine is the engine of a NetworkDriver: an Engine that keeps its
// store's marker itself, outside the keys the store holds.
type NetworkEngine interface {
	Engine
	Transactor
	// ReadMarker returns the store's marker, or an error wrapping
	// fs.ErrNotExist when it has none. An engine stores the marker as
	// Marker.Encode writes it and reads it with ParseMarker.
	ReadMarker(ctx context.Context) (Marker, error)
	// Empty reports whether the store holds no key at all.
	Empty(ctx context.Context) (bool, error)
	// CreateMarker stores m atomically unless the store already has a
	// marker, and returns the marker the store holds afterwards: m, or the
	// one another opener wrote first.
	CreateMarker(ctx context.Context, m Marker) (Marker, error)
}
