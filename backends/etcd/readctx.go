package etcd

import (
	"context"
	"sync/atomic"

	"github.com/polykv/polykv/kv"
)

// Reads that carry their caller's context (kv.ContextReader): DB.Get,
// DB.Iterate and DB.View end at the caller's deadline or cancellation, or
// at request_timeout when the context has none — a read of a store whose
// cluster has lost its quorum never waits longer than its caller allows.

var _ kv.ContextReader = (*engine)(nil)

// ReaderContext returns the latest committed state, read with ctx.
func (e *engine) ReaderContext(ctx context.Context) kv.Reader {
	return latest{e: e, ctx: ctx}
}

// NewSnapshotContext pins the latest revision (read with ctx): every read
// of the snapshot is at that revision, with ctx.
func (e *engine) NewSnapshotContext(ctx context.Context) (kv.Snapshot, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	floor := e.pinFloor()
	defer e.unpin(floor)
	rev, err := e.currentRevision(ctx)
	if err != nil {
		return nil, err
	}
	beforePin()
	e.pin(rev)
	return &snapshot{e: e, ctx: ctx, rev: rev}, nil
}

// latest reads the latest committed state with ctx.
type latest struct {
	e   *engine
	ctx context.Context
}

// Get reads the latest committed value of key (a linearizable read).
func (l latest) Get(key, dst []byte) ([]byte, error) {
	if l.e.closed.Load() {
		return nil, errClosed
	}
	ctx, cancel := l.e.callCtx(l.ctx)
	defer cancel()
	v, _, _, err := l.e.get(ctx, key, dst, 0)
	return v, err
}

// NewIter iterates over the latest committed state, pinned to the revision
// its first page is read at.
func (l latest) NewIter(r kv.IterRange) (kv.Iter, error) {
	if l.e.closed.Load() {
		return nil, errClosed
	}
	it := l.e.newIter(l.ctx, r, 0, nil)
	it.floor = l.e.pinFloor()
	return it, nil
}

// snapshot reads one revision, with the context it was created with.
type snapshot struct {
	e      *engine
	ctx    context.Context
	rev    int64
	closed atomic.Bool
}

func (s *snapshot) Get(key, dst []byte) ([]byte, error) {
	if s.e.closed.Load() {
		return nil, errClosed
	}
	ctx, cancel := s.e.callCtx(s.ctx)
	defer cancel()
	v, _, _, err := s.e.get(ctx, key, dst, s.rev)
	return v, err
}

func (s *snapshot) NewIter(r kv.IterRange) (kv.Iter, error) {
	if s.e.closed.Load() {
		return nil, errClosed
	}
	return s.e.newIter(s.ctx, r, s.rev, nil), nil
}
