package kv

import (
	"context"
	"io"
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
// but may not be durable, and the engine must refuse every later write.
type SyncDeferrer interface {
	ApplyDeferred(ctx context.Context, b *Batch) (wait func() error, err error)
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
// SyncDeferrer.ApplyDeferred and RangeDeleter.DeleteRange, and *DB never
// runs two of them at once (the wait ApplyDeferred returns runs outside
// that lock, alongside the next write). Reads
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
//	SyncDeferrer     group commit under Sync         fallback: Apply, one writer and sync at a time
//	Compacter        reclaim space                   fallback: nothing to do
//	Stater           engine statistics               fallback: empty figures
//	BackupWriter     native backup stream            fallback: Dump's format (dump.go)
//	Verifier         whole-store damage check        fallback: the full scan alone (verify.go)

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
type Compacter interface {
	Compact(ctx context.Context) error
}

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
