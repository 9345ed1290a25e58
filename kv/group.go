package kv

import (
	"context"
	"fmt"
	"runtime"
)

// Group commit for engines that implement GroupCommitter (bbolt).
//
// Writers still take the writer lock one at a time. The first writer to
// find no group open begins one; each writer runs in turn, reading the
// group, and adds its batch; a writer that releases the lock while others
// wait for it leaves the group open for them, and the writer that releases
// it with nobody waiting (or when the group is full) commits the group,
// still holding the lock. Every writer in the group then returns the
// commit's result. On an idle store a writer is alone in its group, and the
// engine sees what it saw before: one transaction per writer.
//
// Every path that takes the writer lock releases it through unlockWrites,
// which settles the group, so no group outlives the writers in it; a
// writer that calls the engine directly (DeleteRange, Compact) first
// commits the open group (flushGroup).

// Limits of one group: past them, the writer that fills it commits it,
// so that a group's latency and its transaction stay bounded.
const (
	groupMaxWriters = 128
	groupMaxBytes   = MaxTxnBytes
)

// writeGroup is the open group and what its writers wait for.
type writeGroup struct {
	wg      WriteGroup
	writers int // writers whose batch was added
	bytes   int
	done    chan struct{} // closed once committed or rolled back
	err     error         // the outcome, set before done is closed
}

func (g *writeGroup) wait() error {
	<-g.done
	return g.err
}

// openGroup returns the open group, beginning one if there is none. The
// caller holds the writer lock.
func (db *DB) openGroup(ctx context.Context) (*writeGroup, error) {
	if db.group != nil {
		return db.group, nil
	}
	wg, err := db.grouper.BeginGroup(ctx)
	if err != nil {
		return nil, err
	}
	db.group = &writeGroup{wg: wg, done: make(chan struct{})}
	return db.group, nil
}

// addToGroup adds b to the open group (beginning one) and returns the wait
// for the group's commit. The caller holds the writer lock.
func (db *DB) addToGroup(ctx context.Context, b *Batch) (wait func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // before Add: a cancelled writer must not fail the others
	}
	g, err := db.openGroup(ctx)
	if err != nil {
		return nil, err
	}
	if err := g.wg.Add(b); err != nil {
		db.endGroup(g, fmt.Errorf("kv: %s: a write committed together with this one failed, nothing of either was applied: %w", db.info.Backend, err))
		return nil, err
	}
	g.writers++
	g.bytes += b.Size()
	return g.wait, nil
}

// settleGroup commits the open group unless other writers wait for the
// lock and it has room for them. The caller holds the writer lock.
func (db *DB) settleGroup() {
	g := db.group
	if g == nil {
		return
	}
	if g.writers < groupMaxWriters && g.bytes < groupMaxBytes {
		if db.writersWaiting.Load() > 0 {
			return // the next writer adds to it
		}
		// The writers that the last commit released may be on their way
		// to the lock: let them get there before committing without them.
		runtime.Gosched()
		if db.writersWaiting.Load() > 0 {
			return
		}
	}
	db.commitGroup(g)
}

// flushGroup commits the open group, if any, before a write that goes to
// the engine directly. The caller holds the writer lock.
func (db *DB) flushGroup() {
	if g := db.group; g != nil {
		db.commitGroup(g)
	}
}

func (db *DB) commitGroup(g *writeGroup) {
	if g.writers == 0 {
		db.endGroup(g, nil)
		return
	}
	db.group = nil
	g.err = g.wg.Commit()
	close(g.done)
}

// endGroup rolls g back; its writers get err.
func (db *DB) endGroup(g *writeGroup, err error) {
	db.group = nil
	if rerr := g.wg.Rollback(); err == nil && g.writers > 0 {
		err = rerr
	}
	g.err = err
	close(g.done)
}
