package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// openDSN opens the store a DSN names. readOnly forces a read-only open
// (the store must exist); otherwise the DSN's own readonly setting holds.
func openDSN(ctx context.Context, dsn string, readOnly bool) (*kv.DB, error) {
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if readOnly && cfg.Backend != "memory" {
		cfg.ReadOnly = true
	}
	applyMemoryLimit(cfg)
	db, err := kv.Open(ctx, cfg)
	if errors.Is(err, kv.ErrNeedsRecovery) {
		return nil, fmt.Errorf("%w\n(run 'polykv recover %s' once, then try again)", err, dsn)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// isEmpty reports whether the store holds no key.
func isEmpty(ctx context.Context, s kv.Store) (bool, error) {
	empty := true
	err := s.Iterate(ctx, kv.IterOptions{KeysOnly: true, Limit: 1}, func(_, _ []byte) error {
		empty = false
		return nil
	})
	return empty, err
}

// parseAndOpen is the start of every command that takes one DSN: parse the
// flags, check that exactly the DSN remains, and open the store it names.
func parseAndOpen(ctx context.Context, fs *flag.FlagSet, s stdio, args []string, readOnly bool) (*kv.DB, error) {
	if err := parse(fs, s, args); err != nil {
		return nil, err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return nil, err
	}
	return openDSN(ctx, fs.Arg(0), readOnly)
}
