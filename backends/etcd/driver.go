package etcd

import (
	"context"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Name is the backend's registered name.
const Name = "etcd"

func init() { kv.Register(Name, Driver{}) }

// Driver opens stores on an etcd cluster. It is registered as "etcd";
// programs use it through kv.Open or this package's Open.
type Driver struct{}

var (
	_ kv.NetworkDriver   = Driver{}
	_ kv.ConfigValidator = Driver{}
)

// Guarantees are etcd's promises:
//
//   - Persistent: yes. A commit returns once a majority of the members
//     have it in their Raft log, fsynced.
//   - NoSyncKeepsAckedOnKill: not applicable: kv.NoSync is refused (etcd
//     has no unsynced commit), and every acknowledged commit survives a
//     kill -9 of the writer, and of any minority of the members.
//   - AtomicDeleteRange: yes. DeleteRange is one ranged delete in one Txn.
//   - ReadOnlyOpenAfterKill: yes. Nothing to recover on the client side.
//   - Shared: yes (kv.Open sets it for every NetworkDriver).
func (Driver) Guarantees() kv.Guarantees {
	return kv.Guarantees{Persistent: true, AtomicDeleteRange: true, ReadOnlyOpenAfterKill: true}
}

// Open is the directory face of kv.Driver; an etcd store is never a
// directory, and kv.Open calls OpenNetwork instead.
func (Driver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	return nil, fmt.Errorf("%w: etcd: a store is a key prefix on a cluster, not a directory", kv.ErrInvalidConfig)
}

// OpenNetwork connects to the cluster cfg.Endpoints names; the store is
// the key prefix cfg.Path. It implements kv.NetworkDriver.
func (Driver) OpenNetwork(ctx context.Context, cfg *kv.Config) (kv.NetworkEngine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := check(cfg)
	if err != nil {
		return nil, err
	}
	return openEngine(ctx, cfg, s)
}

// ValidateConfig checks cfg.Options and the durability before anything
// connects. It implements kv.ConfigValidator.
func (Driver) ValidateConfig(cfg *kv.Config) error {
	_, err := check(cfg)
	return err
}

func check(cfg *kv.Config) (settings, error) {
	if cfg.Durability == kv.NoSync {
		return settings{}, fmt.Errorf("%w: durability nosync: etcd commits every write through Raft with fsync on a majority of its members; there is no unsynced mode (use sync, the default)", kv.ErrInvalidConfig)
	}
	if _, err := ancestorsOf(cfg.Path); err != nil {
		return settings{}, err
	}
	s, err := parseSettings(cfg.Options)
	if err != nil {
		return s, err
	}
	return s, s.checkPrefixRoom(cfg.Path, cfg.Username)
}

// Open opens the etcd store cfg describes (cfg.Endpoints, cfg.Path the key
// prefix), with every check of kv.Open. cfg.Backend is set to "etcd".
func Open(ctx context.Context, cfg kv.Config) (*kv.DB, error) {
	cfg.Backend = Name
	return kv.OpenDriver(ctx, cfg, Driver{})
}
