package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

const recoverDoc = `
Recovers a store that a killed or crashed process left, so that read-only
commands (inspect, get, scan, stats, dump, backup, check, copy from it) can
open it: it opens the store read-write, which replays the engine's logs
(Badger truncates the memtable log the process left), syncs it and closes
it. It writes no key and loses nothing that was acknowledged; the engine's
next start would do the same.

Only Badger needs it: a read-only open of a killed Badger store fails with
"store needs recovery". Pebble and bbolt stores open read-only after a kill;
recovering them is harmless.

The store must exist (recover does not create one) and no other process may
have it open.
`

func runRecover(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "recover", "DSN", recoverDoc)
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	cfg, err := parseDSN(fs.Arg(0))
	if err != nil {
		return err
	}
	if cfg.Backend == "memory" {
		return fmt.Errorf("%w: a memory store has nothing to recover", errUsage)
	}
	if cfg.ReadOnly {
		return fmt.Errorf("%w: recover opens the store read-write: drop readonly from the DSN", errUsage)
	}
	// A read-only open first: it refuses a path that is not a store, where
	// a read-write open would create one.
	ro := cfg
	ro.ReadOnly = true
	applyMemoryLimit(cfg)
	db, err := kv.Open(ctx, ro)
	switch {
	case err == nil:
		if err := db.Close(); err != nil {
			return err
		}
	case !errors.Is(err, kv.ErrNeedsRecovery):
		return err
	}
	needed := err != nil
	db, err = kv.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if needed {
		fmt.Fprintf(s.err, "polykv recover: %s recovered: read-only opens work again\n", kv.RedactDSN(fs.Arg(0)))
	} else {
		fmt.Fprintf(s.err, "polykv recover: %s opened read-only already; opened and closed it read-write too\n", kv.RedactDSN(fs.Arg(0)))
	}
	return nil
}
