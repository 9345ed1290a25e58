package bbolt

import (
	"context"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/polykv/polykv/kv"
)

// Group commit (kv.GroupCommitter).
//
// A bbolt commit is one read-write transaction: its pages written, an
// fdatasync, its meta page written, another fdatasync; and the next
// read-write transaction cannot begin before it ends. Commits of concurrent
// writers therefore cannot share syncs the way Pebble's and Badger's do
// (kv.SyncDeferrer: visible now, durable soon), and one writer at a time
// pays two syncs each. Instead, kv's writers share the transaction itself:
// kv begins a group, each waiting writer in turn reads it and adds its
// batch, and one commit, with its two syncs, makes all of them durable
// (kv/group.go). That is what bbolt's own DB.Batch does for functions that
// may run more than once; here every function runs once, on its caller's
// goroutine, and a failed one adds nothing.
//
// The same holds under kv.NoSync: one commit for many writers still writes
// each changed page once instead of once per writer.

var _ kv.GroupCommitter = (*engine)(nil)

// group is one read-write transaction shared by several kv writers. It
// holds e.mu shared from BeginGroup until Commit or Rollback (released on
// whichever goroutine ends it), as Apply does for its transaction.
type group struct {
	e    *engine
	db   *bolt.DB
	tx   *bolt.Tx
	bk   *bolt.Bucket
	ops  int
	done bool
}

// groupCounters are the group commits since Open, for Stats.
type groupCounters struct {
	commits atomic.Int64 // groups committed
	batches atomic.Int64 // batches in them
}

// BeginGroup begins the read-write transaction of a group.
func (e *engine) BeginGroup(ctx context.Context) (_ kv.WriteGroup, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.checkWrites(); err != nil {
		return nil, err
	}
	db, err := e.use()
	if err != nil {
		return nil, err
	}
	var tx *bolt.Tx
	defer func() {
		if err != nil {
			if tx != nil {
				_ = tx.Rollback()
			}
			e.mu.RUnlock()
		}
	}()
	defer recoverTo(&err, "apply", e.path)
	tx, err = db.Begin(true)
	if err != nil {
		return nil, wrapErr("apply", e.path, err)
	}
	e.mapping.check(tx)
	return &group{e: e, db: db, tx: tx, bk: tx.Bucket(bucketName)}, nil
}

func (g *group) usable(op string) error {
	if g.done {
		return wrapErr(op, g.e.path, berrors.ErrTxClosed)
	}
	return nil
}

// Get reads key as the group has it: the last commit and every batch added.
func (g *group) Get(key, dst []byte) (out []byte, err error) {
	if err := g.usable("get"); err != nil {
		return nil, err
	}
	defer recoverTo(&err, "get", g.e.path)
	g.e.res.note(g.tx, 1)
	return get(g.bk, key, dst)
}

// NewIter iterates within the group's transaction; kv closes it before the
// next Add (a bbolt cursor does not survive a write to its bucket).
func (g *group) NewIter(r kv.IterRange) (kv.Iter, error) {
	if err := g.usable("iterate"); err != nil {
		return nil, err
	}
	it := newIter(g.tx, g.bk, r, g.e.path)
	it.res = g.e.res
	return it, nil
}

// Scan runs a whole iteration within the group's transaction (kv.Scanner).
func (g *group) Scan(r kv.IterRange, sc *kv.Scan) error {
	if err := g.usable("iterate"); err != nil {
		return err
	}
	var it iter
	it.init(g.tx, g.bk, r, g.e.path)
	it.res = g.e.res
	return it.scan(sc)
}

// Add writes b into the transaction; b stays valid until Commit or
// Rollback, as bbolt's Put requires of its values.
func (g *group) Add(b *kv.Batch) (err error) {
	if err := g.usable("apply"); err != nil {
		return err
	}
	defer recoverTo(&err, "apply", g.e.path)
	if err := g.e.write(g.bk, b); err != nil {
		return wrapErr("apply", g.e.path, err)
	}
	g.ops += b.Len()
	g.e.groups.batches.Add(1)
	return nil
}

// Commit commits the transaction: every batch added, atomically.
func (g *group) Commit() (err error) {
	if err := g.usable("apply"); err != nil {
		return err
	}
	g.done = true
	defer g.e.mu.RUnlock()
	defer recoverTo(&err, "apply", g.e.path)
	txid := g.tx.ID()
	err = g.tx.Commit()
	if g.e.afterCommit != nil {
		err = g.e.afterCommit(err)
	}
	if err != nil {
		return g.e.commitFailed(g.db, txid, "apply", err)
	}
	g.e.groups.commits.Add(1)
	g.e.res.noteAfterWrite(g.db, g.ops)
	return nil
}

// Rollback discards the transaction.
func (g *group) Rollback() (err error) {
	if g.done {
		return nil
	}
	g.done = true
	defer g.e.mu.RUnlock()
	defer recoverTo(&err, "roll back a write to", g.e.path)
	err = g.tx.Rollback()
	return wrapErr("roll back a write to", g.e.path, err)
}
