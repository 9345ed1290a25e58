package kv

import "context"

// This file is ContextReader: reads that end when their caller's context
// does, on engines whose reads can wait for something outside the process.

// ContextReader is an optional capability of an Engine whose reads can wait
// on something outside the process (a cluster's members): without it, a
// read of DB.Get, DB.Iterate or DB.View carries no context to the engine
// (Reader's methods take none) and ends only when the engine's own reads
// do, so a caller's deadline or cancellation would not reach it.
//
// ReaderContext returns a Reader of the latest committed state whose reads
// carry ctx; NewSnapshotContext returns a Snapshot, as NewSnapshot does,
// whose reads carry ctx. Either may be called for one call only: *DB never
// uses them after the call whose context it gave has returned. The Reader
// and the Snapshot implement the same optional Reader capabilities
// (Scanner, MultiGetter, MultiScanner) as the engine's own.
//
// Local engines, whose reads never wait on anything but their own files,
// do not implement it.
type ContextReader interface {
	ReaderContext(ctx context.Context) Reader
	NewSnapshotContext(ctx context.Context) (Snapshot, error)
}

// reader returns the Reader of the latest committed state for a call with
// ctx: one that carries ctx when the engine's reads can wait
// (ContextReader), else the engine itself.
func (db *DB) reader(ctx context.Context) Reader {
	if db.ctxReader != nil {
		return db.ctxReader.ReaderContext(ctx)
	}
	return db.e
}

// snapshot returns a Snapshot for a call with ctx (see reader).
func (db *DB) snapshot(ctx context.Context) (Snapshot, error) {
	if db.ctxReader != nil {
		return db.ctxReader.NewSnapshotContext(ctx)
	}
	return db.e.NewSnapshot()
}
