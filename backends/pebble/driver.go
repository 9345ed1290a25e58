package pebble

import (
	"context"

	"github.com/polykv/polykv/kv"
)

// Name is the backend's registered name.
const Name = "pebble"

func init() { kv.Register(Name, Driver{}) }

// Driver opens Pebble engines. It is registered as "pebble"; programs use it
// through kv.Open or this package's Open, never directly.
type Driver struct{}

var (
	_ kv.Driver          = Driver{}
	_ kv.ConfigValidator = Driver{}
)

// Guarantees are Pebble's promises:
//
//   - Persistent: yes.
//   - NoSyncKeepsAckedOnKill: no. Under kv.NoSync a commit returns once its
//     batch is in Pebble's WAL block buffer in user space
//     (record.LogWriter); a flusher goroutine hands it to the kernel later.
//     A kill -9 can therefore lose a tail of acknowledged commits (at least
//     the current partial 32 KiB WAL block). Recovery stops at the first
//     incomplete WAL record, so no commit is ever half applied and what
//     survives is a prefix of the commits.
//   - AtomicDeleteRange: yes. DeleteRange is one range tombstone in one
//     batch, one WAL record.
//   - ReadOnlyOpenAfterKill: yes. A read-only open replays the WAL into
//     memory without writing anything.
func (Driver) Guarantees() kv.Guarantees {
	return kv.Guarantees{Persistent: true, NoSyncKeepsAckedOnKill: false, AtomicDeleteRange: true, ReadOnlyOpenAfterKill: true, DetectsValueDamage: true}
}

// Open opens (creating it if needed) the Pebble store in dir, which kv has
// already created, marked and locked. It implements kv.Driver.
func (Driver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return openEngine(dir, cfg)
}

// ValidateConfig checks cfg.Options before anything touches the directory.
// It implements kv.ConfigValidator.
func (Driver) ValidateConfig(cfg *kv.Config) error {
	_, err := parseSettings(cfg.Options)
	return err
}

// Open opens the Pebble store cfg describes, with every check of kv.Open
// (marker, lock, config validation). cfg.Backend is set to "pebble".
// Config.Options is validated before anything touches the directory.
func Open(ctx context.Context, cfg kv.Config) (*kv.DB, error) {
	cfg.Backend = Name
	return kv.OpenDriver(ctx, cfg, Driver{})
}
