package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/polykv/polykv/kv"
)

// openDSN opens the store a DSN names. readOnly forces a read-only open
// (the store must exist); otherwise the DSN's own readonly setting holds.
func openDSN(ctx context.Context, dsn string, readOnly bool) (*kv.DB, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if readOnly && cfg.Backend != "memory" {
		cfg.ReadOnly = true
	}
	applyMemoryLimit(cfg)
	db, err := kv.Open(ctx, cfg)
	if errors.Is(err, kv.ErrNeedsRecovery) {
		return nil, fmt.Errorf("%w\n(run 'polykv recover %s' once, then try again)", err, kv.RedactDSN(dsn))
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// parseDSN parses a DSN and checks its configuration without touching the
// file system: a malformed DSN, an unknown backend or a bad backend option
// is a usage error (exit code 2), found before any store is opened.
func parseDSN(dsn string) (kv.Config, error) {
	cfg, err := kv.ParseDSN(dsn)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return kv.Config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cfg, nil
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

// stagedStore is a new store that load or copy builds under a temporary
// name beside its destination and renames into place only once it is
// complete (loaded or copied, verified, synced and closed), so that a
// failed or interrupted load or copy never leaves, under the destination's
// name, a store that opens like a complete one.
type stagedStore struct {
	final, tmp string
	// like: the empty directory the store replaces, whose mode and
	// owner the store's directory takes (nil when there was none).
	like fs.FileInfo
	// kept: the store is complete in tmp but could not be moved into
	// place; abandon leaves it for the user.
	kept bool
}

// stageNewStore returns the configuration to open instead of cfg, and the
// staging (nil when there is none): a store is staged when cfg.Path does
// not exist yet or is an empty directory. A memory store, or a directory
// that holds anything (an existing store: --merge, or an empty store made
// earlier), is written in place.
func stageNewStore(cfg kv.Config) (kv.Config, *stagedStore, error) {
	if cfg.Backend == "memory" || cfg.Path == "" || len(cfg.Endpoints) > 0 {
		// Nothing to stage: no directory (a cluster store, with its
		// endpoints, is a key prefix; see the command's doc).
		return cfg, nil, nil
	}
	final, err := filepath.Abs(cfg.Path)
	if err != nil {
		return cfg, nil, err
	}
	// An empty directory reached through a symbolic link: the store goes
	// into the directory (staged beside it), the link stays.
	if real, err := filepath.EvalSymlinks(final); err == nil {
		final = real
	}
	entries, err := os.ReadDir(final)
	what := "is an empty directory"
	switch {
	case errors.Is(err, fs.ErrNotExist):
		what = "does not exist"
	case err != nil:
		return cfg, nil, err
	case len(entries) > 0:
		return cfg, nil, nil
	}
	if cfg.Backend == kv.AutoBackend {
		// auto opens the backend an existing store's marker names: there
		// is none to read. Said here, with the user's path, rather than by
		// kv.Open of the staging directory, which would name that.
		return cfg, nil, fmt.Errorf("%w: %s %s: backend %q needs an existing store; name a backend to create one (badger, pebble or bbolt instead of auto)",
			errUsage, cfg.Path, what, kv.AutoBackend)
	}
	if what == "is an empty directory" {
		// An empty directory on which a file system is mounted (a
		// volume of its own: XFS, tmpfs or NFS mount points, container
		// volumes are empty) cannot be replaced by a store built beside
		// it, on its parent's file system: the rename into place would
		// fail with EBUSY after all the work, leaving the whole store on
		// the parent's file system. Refused before anything is written.
		fi, err := os.Stat(final)
		if err != nil {
			return cfg, nil, err
		}
		pfi, err := os.Stat(filepath.Dir(final))
		if err != nil {
			return cfg, nil, err
		}
		if !sameDevice(fi, pfi) {
			return cfg, nil, fmt.Errorf("%w: %s is an empty directory on which a file system is mounted: a new store is built beside its directory and renamed into place, which cannot replace a mount point; name a directory inside it (%s)",
				errUsage, cfg.Path, filepath.Join(cfg.Path, "store"))
		}
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return cfg, nil, err
	}
	tmp, err := mkdirStaging(filepath.Dir(final), "."+filepath.Base(final)+".partial-")
	if err != nil {
		return cfg, nil, err
	}
	staged := cfg
	staged.Path = tmp
	st := &stagedStore{final: final, tmp: tmp}
	if fi, err := os.Stat(final); err == nil {
		st.like = fi
	}
	return staged, st, nil
}

// mkdirStaging creates a directory of a new name, prefix followed by a
// random number, in dir, and returns its path. Its mode is the one kv.Open
// gives a store directory it creates, 0755 less the process's umask (the
// kernel applies it to Mkdir's mode): the directory becomes the store.
// os.MkdirTemp would make it 0700.
func mkdirStaging(dir, prefix string) (string, error) {
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err := os.Mkdir(name, 0o755)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("create a staging directory in %s: every name tried exists (%s*)", dir, prefix)
}

// commit renames the complete, closed store into place (over the empty
// directory, if there is one) and syncs the parent directory.
func (s *stagedStore) commit() error {
	if s == nil {
		return nil
	}
	// os.Rename refuses to replace a directory, even an empty one (rename(2)
	// would): remove the empty directory first. Remove fails on one that
	// is no longer empty, and the store stays where it is.
	if s.like != nil {
		// The directory the user made keeps its mode, and its owner where
		// this process may set it.
		if err := os.Chmod(s.tmp, s.like.Mode().Perm()); err != nil {
			s.kept = true
			return fmt.Errorf("move the complete store into place: %w (it is complete in %s)", err, s.tmp)
		}
		if uid, gid, ok := ownerOf(s.like); ok {
			_ = os.Lchown(s.tmp, uid, gid) // refused unless root or already the owner: then ours
		}
	}
	if fi, err := os.Lstat(s.final); err == nil && fi.IsDir() {
		if err := os.Remove(s.final); err != nil {
			s.kept = true
			return fmt.Errorf("move the complete store into place: %w (it is complete in %s)", err, s.tmp)
		}
	}
	if err := os.Rename(s.tmp, s.final); err != nil {
		s.kept = true
		return fmt.Errorf("move the complete store into place: %w (it is complete in %s)", err, s.tmp)
	}
	d, err := os.Open(filepath.Dir(s.final))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// abandon removes the partial store, after a failure.
func (s *stagedStore) abandon() {
	if s != nil && !s.kept {
		os.RemoveAll(s.tmp)
	}
}
