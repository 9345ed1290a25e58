package kv

import "context"

// Stats are figures about an open store.
type Stats struct {
	Backend string
	Engine  EngineStats
}

// Stats returns the engine's own statistics when it offers them (Stater),
// and empty engine figures otherwise.
func (db *DB) Stats() (Stats, error) {
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
func (db *DB) Compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.checkWrite(); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	if c, ok := db.e.(Compacter); ok {
		if db.grouper != nil {
			// No group may hold the engine's write transaction open
			// while it compacts (bbolt replaces its file).
			db.lockEngineWrites()
			defer db.unlockWrites()
		}
		return c.Compact(ctx)
	}
	return nil
}
