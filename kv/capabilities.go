package kv

import (
	"context"
	"errors"
	"time"
)

// Stats are figures about an open store.
type Stats struct {
	Backend string
	Engine  EngineStats
}

// Stats returns the engine's own statistics when it offers them (Stater),
// and empty engine figures otherwise.
func (db *DB) Stats() (Stats, error) {
	if db == nil || db.e == nil {
		return Stats{}, notOpened("Stats")
	}
	if err := db.enter(); err != nil {
		return Stats{}, err
	}
	defer db.exit()
	st := Stats{Backend: db.info.Backend}
	if s, ok := db.e.(Stater); ok {
		es, err := s.Stats()
		if err != nil {
			return st, err
		}
		st.Engine = es
	}
	return st, nil
}

// Compact asks the engine to reclaim space (Compacter); engines without it
// have nothing to do and Compact returns nil.
//
// An engine that compacts only when no read is open (bbolt) makes Compact
// wait for the open Views and iterations, until ctx ends. Made with the
// context of a View of db (ReadTxn.Context) while its function runs, such
// a Compact fails at once with ErrNestedCall instead: it would wait for
// that View. From inside a View or an Iterate callback with another
// context it cannot tell, and waits until ctx ends: give it a deadline.
// Made with the context of an Update of db it fails with ErrNestedUpdate,
// as a write.
func (db *DB) Compact(ctx context.Context) error {
	if err := db.check(ctx, "Compact"); err != nil {
		return err
	}
	if db.nested(ctx) {
		return db.errNested()
	}
	if err := db.checkWrite(); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	c, ok := db.e.(Compacter)
	if !ok {
		return nil
	}
	for {
		err := db.compactOnce(ctx, c)
		if !errors.Is(err, ErrReadsOpen) {
			return err
		}
		if db.inCall(ctx) {
			// One of the open reads is the View ctx comes from: it ends
			// only once this call has returned.
			return db.errNestedCall("Compact")
		}
		// Reads are open: wait for them without the writer lock, which
		// their callbacks may be waiting for.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(CompactRetryInterval):
		}
	}
}

// compactOnce calls c.Compact once; on a GroupCommitter engine it holds
// the writer lock, so that no group holds the engine's write transaction
// open while it compacts (bbolt replaces its file).
func (db *DB) compactOnce(ctx context.Context, c Compacter) error {
	if db.grouper != nil {
		if err := db.lockEngineWrites(ctx); err != nil {
			return err
		}
		defer db.unlockWrites()
	}
	return c.Compact(ctx)
}
