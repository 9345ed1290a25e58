package kv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/polykv/polykv/internal/dirlock"
)

// Open opens the store cfg describes, creating it if the directory does not
// exist or is empty (unless cfg.ReadOnly or cfg.Backend is "auto", which
// need an existing store). A directory holding only a lock file or the
// temporary file of a marker write (what a first open killed early leaves)
// counts as empty.
//
// Before anything in the directory is created or changed, Open reads its
// marker file: a marker naming another backend fails with
// ErrBackendMismatch naming both, and a non-empty directory without a marker
// fails with ErrNotAStore; in both cases no file is touched. "auto" opens
// the backend the marker names. Open then locks the directory, without
// waiting: a second open of the same directory, from this process or
// another, fails at once with ErrLocked. Read-only opens share the lock with
// each other, never with a writer. The lock dies with its holder, so a store
// left by a killed process opens normally. For a new store Open writes the
// marker atomically (temporary file, fsync, rename, fsync of the directory)
// before the engine first opens the directory.
//
// The returned *DB is safe for concurrent use; Close it to release the
// engine and the lock.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cfg.Backend
	if name == AutoBackend {
		m, err := ReadMarker(cfg.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: backend \"auto\" needs an existing store (no %s)", ErrNotAStore, cfg.Path, MarkerFileName)
		}
		if err != nil {
			return nil, err
		}
		name = m.Backend
	}
	d, ok := lookupDriver(name)
	if !ok {
		return nil, unknownBackendError(name)
	}
	if cfg.Backend == AutoBackend {
		// Only a directory backend's marker belongs in a directory. Opening
		// the backend another one names would ignore the directory: memory
		// would hand back an empty store whose writes are lost at Close,
		// a networked one would dial a cluster with the path as its prefix.
		_, network := d.(NetworkDriver)
		if network || !d.Guarantees().Persistent {
			return nil, fmt.Errorf("%w: %s: marker names backend %q, which keeps no store in a directory",
				ErrNotAStore, cfg.Path, name)
		}
	}
	cfg.Backend = name
	return openDriver(ctx, cfg, d)
}

// OpenDriver opens a store with the given driver, registered or not, with
// the same checks as Open; cfg.Backend must be the driver's name (it is
// written into the marker). Backend packages use it for their explicit Open.
func OpenDriver(ctx context.Context, cfg Config, d Driver) (*DB, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil driver", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	if cfg.Backend == AutoBackend {
		return nil, fmt.Errorf("%w: backend: OpenDriver needs the driver's own name, not %q", ErrInvalidConfig, AutoBackend)
	}
	// The driver is given, so its name need not be registered.
	if err := cfg.checkBackendName(); err != nil {
		return nil, err
	}
	_, network := d.(NetworkDriver)
	if err := cfg.checkFieldsFor(network); err != nil {
		return nil, err
	}
	return openDriver(ctx, cfg, d)
}

func openDriver(ctx context.Context, cfg Config, d Driver) (*DB, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: Open with a nil context", ErrInvalidConfig)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateWith(d, &cfg); err != nil {
		return nil, err
	}
	info := Info{
		Backend:      cfg.Backend,
		Path:         cfg.Path,
		Durability:   cfg.Durability,
		ReadOnly:     cfg.ReadOnly,
		MemoryBudget: cfg.MemoryBudget,
		Guarantees:   d.Guarantees(),
	}
	if nd, ok := d.(NetworkDriver); ok {
		return openNetwork(ctx, cfg, nd, info)
	}
	if !info.Guarantees.Persistent {
		e, err := d.Open(ctx, "", &cfg)
		if err != nil {
			return nil, err
		}
		return NewDB(e, info, nil), nil
	}

	dir := cfg.Path
	created, err := prepareDir(dir, cfg)
	if err != nil {
		return nil, err
	}
	lock, err := dirlock.Acquire(dir, cfg.ReadOnly)
	if err != nil {
		if errors.Is(err, dirlock.ErrLocked) {
			// dirlock's message names the directory and the last holder.
			detail := strings.TrimPrefix(err.Error(), dirlock.ErrLocked.Error()+": ")
			return nil, fmt.Errorf("%w: %s: %s", ErrLocked, cfg.Backend, detail)
		}
		return nil, fmt.Errorf("kv: %s: open %s: %w%s", cfg.Backend, dir, Fault(err), readOnlyHint(err))
	}
	if !cfg.ReadOnly {
		removeStaleMarkerTemps(dir)
	}
	if created {
		// Re-check under the lock: another opener may have marked it.
		if m, err := ReadMarker(dir); err == nil && m.Backend != cfg.Backend {
			_ = lock.Release() // the open failed: nothing to report beyond its error
			return nil, mismatch(dir, m.Backend, cfg.Backend)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = lock.Release() // the open failed: nothing to report beyond its error
			return nil, err
		} else if err != nil {
			m := Marker{Backend: cfg.Backend, Format: FormatVersion, Created: time.Now().UTC()}
			if err := writeMarker(dir, m); err != nil {
				_ = lock.Release() // the open failed: nothing to report beyond its error
				return nil, fmt.Errorf("kv: %s: write marker in %s: %w", cfg.Backend, dir, Fault(err))
			}
		}
	}
	e, err := d.Open(ctx, dir, &cfg)
	if err != nil {
		_ = lock.Release() // the open failed: its error is the one to report
		return nil, err
	}
	return NewDB(e, info, lock.Release), nil
}

// prepareDir checks dir before anything is written: it returns created=true
// when the store is new (directory missing or empty, and now created).
func prepareDir(dir string, cfg Config) (created bool, err error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if cfg.ReadOnly {
			return false, fmt.Errorf("%w: %s: does not exist (read-only open needs an existing store)", ErrNotAStore, dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("kv: %s: create %s: %w", cfg.Backend, dir, Fault(err))
		}
		// Make the new directory's entry durable, so that a power loss
		// cannot lose the store with its marker.
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return false, fmt.Errorf("kv: %s: create %s: sync parent: %w", cfg.Backend, dir, Fault(err))
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("kv: %s: open %s: %w", cfg.Backend, dir, Fault(err))
	case !st.IsDir():
		return false, fmt.Errorf("%w: %s: path is a file; Path must be a directory (bbolt too)", ErrNotAStore, dir)
	}
	// List the directory before reading the marker: the marker is in
	// place before an engine writes its first file, so an engine file seen
	// in the listing means the marker read after it exists. (The other
	// order races with a concurrent first open: no marker yet, then the
	// engine's files.)
	empty, err := dirIsEmpty(dir)
	if err != nil {
		return false, fmt.Errorf("kv: %s: read %s: %w", cfg.Backend, dir, Fault(err))
	}
	m, err := ReadMarker(dir)
	if err == nil {
		if m.Backend != cfg.Backend {
			return false, mismatch(dir, m.Backend, cfg.Backend)
		}
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if !empty {
		return false, fmt.Errorf("%w: %s: directory is not empty and has no %s", ErrNotAStore, dir, MarkerFileName)
	}
	if cfg.ReadOnly {
		return false, fmt.Errorf("%w: %s: empty directory (read-only open needs an existing store)", ErrNotAStore, dir)
	}
	return true, nil
}

func mismatch(dir, have, want string) error {
	return fmt.Errorf("%w: %s holds a %s store, not %s (open it with backend %q or \"auto\")",
		ErrBackendMismatch, dir, have, want, have)
}

// openNetwork opens a store that is not a directory (NetworkDriver): no
// directory to create or lock; the marker is checked and written through
// the engine, with the same rules as a directory's marker file.
func openNetwork(ctx context.Context, cfg Config, d NetworkDriver, info Info) (*DB, error) {
	e, err := d.OpenNetwork(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	if err := checkNetworkMarker(ctx, e, cfg); err != nil {
		_ = e.Close() // the open failed: its error is the one to report
		return nil, err
	}
	info.Guarantees.Shared = true
	return NewDB(e, info, nil), nil
}

// checkNetworkMarker is prepareDir's marker rules for a NetworkEngine.
func checkNetworkMarker(ctx context.Context, e NetworkEngine, cfg Config) error {
	where := cfg.Backend + " store " + cfg.Path
	m, err := e.ReadMarker(ctx)
	if err == nil {
		if m.Backend != cfg.Backend {
			return mismatch(where, m.Backend, cfg.Backend)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	empty, err := e.Empty(ctx)
	if err != nil {
		return err
	}
	if !empty {
		// The keys may be the marker of an open in another process that
		// created the store since ReadMarker: read it again.
		if m, err := e.ReadMarker(ctx); err == nil {
			if m.Backend != cfg.Backend {
				return mismatch(where, m.Backend, cfg.Backend)
			}
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fmt.Errorf("%w: %s: holds keys but no polykv marker", ErrNotAStore, where)
	}
	if cfg.ReadOnly {
		return fmt.Errorf("%w: %s: empty (read-only open needs an existing store)", ErrNotAStore, where)
	}
	m, err = e.CreateMarker(ctx, Marker{Backend: cfg.Backend, Format: FormatVersion, Created: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("kv: %s: write marker: %w", where, err)
	}
	if m.Backend != cfg.Backend {
		return mismatch(where, m.Backend, cfg.Backend)
	}
	return nil
}
