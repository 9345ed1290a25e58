package kv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// This file is Update on an engine that runs optimistic transactions itself
// (Transactor): no writer lock, reads recorded by the engine, the writes
// collected by kv and committed by the engine with a check of everything
// read. See Transactor and EngineTxn in engine.go.

// escalateAfter is how many conflicts an Update suffers before its next
// runs hold commitMu exclusively: from its beginning to its commit, no
// other write of this process reaches the engine, so only writers in other
// processes can still make it conflict. Without it, a long transaction
// among short ones that touch what it read (a folder's completion among
// workers flipping statuses, all updating the same counters) conflicts on
// every run and gives up after MaxConflictRetries; short transactions
// escalate too when they collide that often, which serializes the
// process's hottest writers instead of letting them fail.
const escalateAfter = 3

// priorityAfter is how many conflicts an Update suffers before its next
// runs are priority transactions (PriorityTransactor), which writers in
// other processes do not commit over either: escalating costs the engine
// extra round trips and holds every other writer of the store back, so
// it comes after the process's own writers have been held back and it
// still conflicted.
const priorityAfter = 6

// runOptimistic runs fn once in an engine transaction; attempt is the
// number of conflicts before it. A conflict at commit comes back wrapped
// in errRetry, for Update's loop. From escalateAfter on, the run holds
// commitMu for its whole length, else only the shared side for its commit;
// from priorityAfter on, it is a priority transaction when the engine has
// them.
func (db *DB) runOptimistic(ctx context.Context, fn func(tx Txn) error, attempt int) error {
	exclusive := attempt >= escalateAfter
	if exclusive {
		db.commitMu.Lock()
		defer db.commitMu.Unlock()
	}
	begin := db.txner.BeginTxn
	if pt, ok := db.txner.(PriorityTransactor); ok && attempt >= priorityAfter {
		begin = pt.BeginPriorityTxn
	}
	et, err := begin(ctx)
	if errors.Is(err, ErrConflict) {
		// A priority transaction that could not get its turn in time.
		return fmt.Errorf("%w: %w", errRetry, err)
	}
	if err != nil {
		return err
	}
	defer et.Discard()
	b := db.txnBatch()
	defer db.putBatch(b)
	tx := newTxn(ctx, db, et, b)
	if err := tx.run(fn); err != nil {
		return err
	}
	if b.Len() == 0 {
		// Nothing to write: the function read one consistent snapshot,
		// which is a serializable read-only transaction by itself.
		return nil
	}
	if !exclusive {
		db.commitMu.RLock()
	}
	err = et.Commit(ctx, b)
	if !exclusive {
		db.commitMu.RUnlock()
	}
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("%w: %w", errRetry, err)
	}
	return err
}

// Backoff between the runs of a conflicting optimistic transaction: the
// writers that collided retry at spread-out times instead of colliding
// again. attempt 0 waits up to 1 ms, doubling to at most 64 ms; on an
// engine whose transactions take longer than 1 ms (a networked engine's
// round trips and replicated commit), the unit is the failed run's
// duration instead, doubling to at most 64 ms or 16 runs' worth (a shorter window
// would make the same writers collide again: with 8 writers on one
// counter of a 3-member etcd cluster, 16 retries were not enough).
const (
	conflictBackoffBase = time.Millisecond
	conflictBackoffMax  = 64 * time.Millisecond
	conflictBackoffRuns = 16
)

func conflictBackoff(ctx context.Context, attempt int, took time.Duration) error {
	unit := max(conflictBackoffBase, took)
	d := unit << min(attempt, 6)
	d = min(d, max(conflictBackoffMax, took*conflictBackoffRuns))
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
