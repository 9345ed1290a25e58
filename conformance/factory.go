package conformance

import (
	"testing"

	"github.com/polykv/polykv/kv"
)

// Factory prepares one fresh store location for one subtest and returns a
// function that opens it. The suite calls open, uses the store, may Close
// it and call open again to reopen the same store (persistence tests run
// only when Info().Guarantees.Persistent is true; an in-memory backend's
// open simply returns a new empty store). Use t.TempDir and t.Cleanup inside
// the factory: the suite closes every store it opened, but the factory owns
// the location.
type Factory func(t *testing.T) (open func() (kv.Store, error))

// ConfigFactory returns a Factory that opens, with kv.Open, a store of the
// given configuration in a fresh t.TempDir() (Path is ignored and replaced;
// for the memory backend it stays empty).
func ConfigFactory(cfg kv.Config) Factory {
	return func(t *testing.T) func() (kv.Store, error) {
		c := cfg
		if c.Backend != "memory" {
			c.Path = t.TempDir()
		}
		return func() (kv.Store, error) {
			db, err := kv.Open(t.Context(), c)
			if err != nil {
				return nil, err
			}
			return db, nil
		}
	}
}
