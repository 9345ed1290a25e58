package bbolt

import (
	"fmt"

	"github.com/polykv/polykv/kv"
	bolt "go.etcd.io/bbolt"
)

// A commit that fails after bbolt wrote its meta page.
//
// bbolt's Tx.Commit writes the transaction's pages, then the meta page,
// each followed by an fdatasync under Sync. When the meta page's write
// succeeded and its fdatasync failed, Commit rolls the transaction back
// and returns the error, yet the commit is there: bbolt reads its meta
// pages through the file's mapping, which already holds the new one, so
// every later transaction sees the commit (the highest valid transaction
// id wins). Worse, the rollback handed the commit's pages back to the
// free list, so the next commit would write over the tree that is now
// current. After a failed commit the engine therefore looks at the
// transaction id a new read transaction sees: if it reached the failed
// transaction's, the error says kv.ErrOutcomeUnknown (the commit is
// visible here; whether it survives a reopen is not known, since its meta
// page was never synced) and kv.ErrNeedsReopen, and the engine refuses
// every later write. Reads go on; Close and open again, and bbolt's open
// rebuilds what it needs from the file as it is.
//
// A commit that failed earlier (its pages' write or sync, a full disk)
// left the old meta page current: nothing was applied, and the store goes
// on taking writes, as before.

// update runs fn in one read-write transaction of db (bolt.DB.Update) and
// classifies a failed commit (commitFailed); an error of fn is returned
// wrapped, nothing having been committed.
func (e *engine) update(db *bolt.DB, op string, fn func(tx *bolt.Tx) error) error {
	txid, ran := 0, false
	err := db.Update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		if err := fn(tx); err != nil {
			return err
		}
		ran = true
		return nil
	})
	if ran && e.afterCommit != nil {
		err = e.afterCommit(err)
	}
	switch {
	case err == nil:
		return nil
	case !ran:
		return wrapErr(op, e.path, err)
	default:
		return e.commitFailed(db, txid, op, err)
	}
}

// commitFailed classifies the error err of the commit of the read-write
// transaction txid on db, stopping writes if the commit is visible.
func (e *engine) commitFailed(db *bolt.DB, txid int, op string, err error) error {
	if !e.readOnly && committedID(db) >= txid {
		ferr := fmt.Errorf("kv: bbolt: %s %s: the commit failed after its meta page was written, and is visible (%w); "+
			"whether it survives a reopen is not known: %w: %w", op, e.path, kv.Fault(err), kv.ErrOutcomeUnknown, kv.ErrNeedsReopen)
		e.stopWrites(fmt.Errorf("kv: bbolt: write %s: refused after a commit that failed once its meta page was written; close and reopen the store: %w: %w",
			e.path, kv.ErrNeedsReopen, kv.Fault(err)))
		return ferr
	}
	return wrapErr(op, e.path, err)
}

// committedID is the transaction id of the meta page a new read
// transaction of db uses (-1 if none can begin).
func committedID(db *bolt.DB) int {
	tx, err := db.Begin(false)
	if err != nil {
		return -1
	}
	defer func() { _ = tx.Rollback() }()
	return tx.ID()
}

// afterCommitHook is the type of engine.afterCommit: tests replace the
// result of a commit with it, to fail one that bbolt completed (the state
// a failed sync of the meta page leaves in the process).
type afterCommitHook func(err error) error

// stopWrites makes every later write fail with err.
func (e *engine) stopWrites(err error) {
	e.writesStopped.CompareAndSwap(nil, &err)
}

// checkWrites returns the error that stopped writes, if any.
func (e *engine) checkWrites() error {
	if p := e.writesStopped.Load(); p != nil {
		return *p
	}
	return nil
}
