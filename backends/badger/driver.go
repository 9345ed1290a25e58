package badger

import (
	"context"
	"fmt"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
)

// Name is the backend name under which the package registers its Driver.
const Name = "badger"

func init() { kv.Register(Name, Driver{}) }

// Open opens (or creates) the Badger store in cfg.Path. It is
// kv.OpenDriver with cfg.Backend set to "badger": the directory is created,
// its marker checked or written and the directory locked before Badger
// touches it. Use kv.Open with Backend "badger" (the default) when the
// backend is chosen by configuration.
func Open(ctx context.Context, cfg kv.Config) (*kv.DB, error) {
	cfg.Backend = Name
	return kv.OpenDriver(ctx, cfg, Driver{})
}

// Driver opens Badger engines. It is registered as "badger".
type Driver struct{}

var (
	_ kv.Driver          = Driver{}
	_ kv.ConfigValidator = Driver{}
)

// Guarantees: Badger is persistent. Under NoSync every acknowledged commit
// survives a kill -9: a commit returns after its entries were copied into
// the memtable's write-ahead log, a MAP_SHARED memory mapping of the .mem
// file (and large values into the value log, mapped the same way), so they
// are in the kernel's page cache, which outlives the process. A power loss
// may lose them until Sync. Range deletes are not atomic: Badger has no
// transactional range deletion (DropPrefix blocks writes and is not
// transactional), so kv deletes ranges in chunks. A read-only open after a
// kill fails with kv.ErrNeedsRecovery: Badger must truncate the memtable
// log the killed process left, which only a read-write open does.
func (Driver) Guarantees() kv.Guarantees {
	return kv.Guarantees{Persistent: true, NoSyncKeepsAckedOnKill: true, AtomicDeleteRange: false, ReadOnlyOpenAfterKill: false, DetectsValueDamage: true}
}

// ValidateConfig checks cfg.Options and the memory budget without touching
// the file system, so kv.Open rejects a bad option before it creates or
// marks the directory. It implements kv.ConfigValidator.
func (Driver) ValidateConfig(cfg *kv.Config) error {
	c := *cfg
	if c.MemoryBudget == 0 {
		c.MemoryBudget = kv.DefaultMemoryBudget
	}
	_, err := buildSettings(c.Path, &c)
	return err
}

// Open opens the Badger database in dir, which kv has created, marked and
// locked. cfg.Options are validated first (see the package documentation
// for the accepted keys); an unknown key is kv.ErrInvalidConfig naming it.
func (Driver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &kv.Config{}
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: badger: path: the badger backend needs a directory", kv.ErrInvalidConfig)
	}
	c := *cfg
	if c.MemoryBudget == 0 {
		c.MemoryBudget = kv.DefaultMemoryBudget
	}
	s, err := buildSettings(dir, &c)
	if err != nil {
		return nil, err
	}
	if err := probeLock(dir, c.ReadOnly); err != nil {
		return nil, err
	}
	if !c.ReadOnly {
		if err := removeEmptyLogs(dir, c.Logger); err != nil {
			return nil, fmt.Errorf("kv: badger: open %s: %w", dir, err)
		}
		if err := checkOpenSpace(dir, s.freeSpaceReserve); err != nil {
			return nil, err
		}
	} else {
		name, err := uncleanLog(dir)
		if err != nil {
			return nil, fmt.Errorf("kv: badger: open %s: %w", dir, err)
		}
		if name != "" {
			return nil, fmt.Errorf("%w: badger: open %s read-only: the log %s was left by a process that did not close the store (killed or crashed); Badger replays and truncates it on a read-write open, which a read-only open cannot do",
				kv.ErrNeedsRecovery, dir, name)
		}
	}
	if err := checkCleanClose(dir, s.opts, !c.ReadOnly); err != nil {
		return nil, err
	}
	db, err := badger.Open(s.opts)
	if err != nil {
		if c.ReadOnly && strings.Contains(err.Error(), "Log truncate required") {
			return nil, fmt.Errorf("%w: badger: open %s read-only: %v", kv.ErrNeedsRecovery, dir, err)
		}
		return nil, wrapErr("open", dir, err)
	}
	e := &engine{
		db:       db,
		dir:      dir,
		sync:     c.Durability == kv.Sync,
		readOnly: s.opts.ReadOnly,
		prefetch: s.prefetchSize,
		space:    diskspace.Guard{Dir: dir, Reserve: s.freeSpaceReserve, Free: freeSpace},
	}
	if s.verifyOnOpen {
		if err := e.Verify(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if e.sync && !e.readOnly {
		e.gs = newGroupSync(e)
	}
	return e, nil
}
