package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
)

const compactDoc = `
Opens the store read-write and asks its engine to reclaim space now
(kv.DB.Compact): Badger rewrites value-log files that are mostly garbage
(values of at least its value threshold; its LSM tree compacts in the
background), Pebble compacts the whole key space (dropping deleted and
overwritten data), bbolt copies its live pages into a new file. It prints the
size of the store directory on disk (allocated blocks) before the open and
after the close (a store on a cluster has no directory to measure).

The store must exist (compact does not create one) and no other process may
have it open. A memory store has nothing on disk: that is a usage error.
`

func runCompact(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "compact", "DSN", compactDoc)
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
	switch {
	case cfg.Backend == "memory":
		return fmt.Errorf("%w: a memory store has nothing on disk to compact", errUsage)
	case cfg.ReadOnly:
		return fmt.Errorf("%w: compact opens the store read-write: drop readonly from the DSN", errUsage)
	}
	// A read-only open first: it refuses a store that does not exist,
	// where a read-write open would create one (as recover does).
	local := true
	ro := cfg
	ro.ReadOnly = true
	probe, err := kv.Open(ctx, ro)
	switch {
	case err == nil:
		local = onDisk(probe.Info())
		if err := probe.Close(); err != nil {
			return err
		}
	case !errors.Is(err, kv.ErrNeedsRecovery): // a killed Badger store: the read-write open recovers it
		return err
	}
	var before int64
	if local {
		if before, err = bench.DiskUsage(cfg.Path); err != nil {
			return fmt.Errorf("measure the size on disk: %w", err)
		}
	}
	db, err := openDSN(ctx, fs.Arg(0), false)
	if err != nil {
		return err
	}
	defer db.Close()
	backend := db.Info().Backend
	if err := db.Compact(ctx); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if !local {
		fmt.Fprintf(s.out, "compacted %s store %s\n", backend, cfg.Path)
		return nil
	}
	after, err := bench.DiskUsage(cfg.Path)
	if err != nil {
		return fmt.Errorf("measure the size on disk: %w", err)
	}
	change := ""
	if before > 0 {
		change = fmt.Sprintf(" (%+.1f%%)", 100*float64(after-before)/float64(before))
	}
	fmt.Fprintf(s.out, "compacted %s store %s: %d bytes on disk before, %d after%s\n", backend, cfg.Path, before, after, change)
	return nil
}
