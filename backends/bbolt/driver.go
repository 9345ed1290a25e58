package bbolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/kv"
)

// Name is the backend's registered name.
const Name = "bbolt"

// DataFileName is the bbolt file inside the store directory.
const DataFileName = "data.bolt"

// bucketName is the one bucket that holds every key.
var bucketName = []byte("polykv")

func init() { kv.Register(Name, Driver{}) }

// Driver opens bbolt engines. It is registered as "bbolt"; most programs
// never use it directly and call kv.Open or Open.
type Driver struct{}

var (
	_ kv.Driver          = Driver{}
	_ kv.ConfigValidator = Driver{}
)

// Guarantees: the store is persistent; under kv.NoSync every acknowledged
// commit survives a kill of the process, because bbolt writes every page of
// a transaction with pwrite before Commit returns (it skips only the
// fdatasync), so the pages are in the OS page cache; DeleteRange and
// DeletePrefix run in one bbolt transaction and are atomic; a read-only
// open after a kill reads the last committed meta page, as any open does.
func (Driver) Guarantees() kv.Guarantees {
	return kv.Guarantees{Persistent: true, NoSyncKeepsAckedOnKill: true, AtomicDeleteRange: true, ReadOnlyOpenAfterKill: true, DetectsValueDamage: false}
}

// Open opens (or creates) the bbolt store in a directory: cfg.Path is the
// directory, the data lives in DataFileName inside it. It is kv.Open with
// cfg.Backend set to "bbolt": the same marker check and directory lock.
func Open(ctx context.Context, cfg kv.Config) (*kv.DB, error) {
	cfg.Backend = Name
	return kv.OpenDriver(ctx, cfg, Driver{})
}

// ValidateConfig checks cfg.Options (the keys in options.go) without
// touching the file system, so that a bad option fails before kv creates
// a directory or a marker.
func (Driver) ValidateConfig(cfg *kv.Config) error {
	_, err := parseOptions(cfg.Options)
	return err
}

// Open opens the engine in dir, which kv has created, marked and locked.
func (Driver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := parseOptions(cfg.Options)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DataFileName)
	if cfg.ReadOnly {
		// bbolt would fail with a bare "no such file"; say what it means.
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: bbolt: open %s: no data file (read-only open needs a store written at least once)", kv.ErrNotAStore, path)
		}
	}
	bo := &bolt.Options{
		Timeout:         o.lockTimeout,
		NoSync:          cfg.Durability == kv.NoSync,
		NoFreelistSync:  o.noFreelistSync,
		FreelistType:    o.freelist,
		ReadOnly:        cfg.ReadOnly,
		InitialMmapSize: o.initialMmapSize,
		PageSize:        o.pageSize,
		Logger:          boltLogger(cfg.Logger),
	}
	if !cfg.ReadOnly {
		// A copy left by a Compact that was interrupted; the data file is whole.
		if err := os.Remove(path + compactSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, wrapErr("open", path, err)
		}
	}
	if err := checkTxidRecord(dir, path, !cfg.ReadOnly); err != nil {
		return nil, err
	}
	if err := checkFileSize(path); err != nil {
		return nil, err
	}
	db, err := openFile(path, bo, !o.initialMmapSizeSet, cfg)
	if err != nil {
		return nil, err
	}
	limit := o.residentLimit
	if !o.residentLimitSet {
		limit = cfg.MemoryBudget
		if limit <= 0 {
			limit = kv.DefaultMemoryBudget
		}
	}
	e := &engine{db: db, path: path, readOnly: cfg.ReadOnly, bo: bo, res: newResident(limit, cfg.Logger),
		mapping: newMappingWatch(path, bo, cfg.Logger)}
	if !cfg.ReadOnly {
		if err := e.ensureBucket(); err != nil {
			e.res.close() // its /proc/self/statm descriptor
			db.Close()
			return nil, err
		}
	}
	return e, nil
}

// openFile opens the bbolt file. When the mapping of the default size is
// refused (a virtual-memory limit such as ulimit -v) and the user did not
// choose the size, it retries with smaller mappings, down to bbolt's own
// default, and logs the size it got.
func openFile(path string, bo *bolt.Options, fallback bool, cfg *kv.Config) (db *bolt.DB, err error) {
	// The files bbolt opens, to close them if it panics: a panic inside
	// bolt.Open (a damaged file) leaves its file open and mapped, and with
	// them the lock bbolt holds on it, so that every later open of the
	// store, in this process or another, timed out as if the store were in
	// use.
	var opened []*os.File
	openOS := bo.OpenFile
	bo.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if f != nil {
			opened = append(opened, f)
		}
		return f, err
	}
	defer func() {
		bo.OpenFile = openOS
		if r := recover(); r != nil {
			err = panicErr("open", path, r)
			// bbolt did not close its file, nor unmap it: the mapping
			// keeps the file, and its lock, alive.
			for _, f := range opened {
				f.Close()
			}
			unmapFile(path)
		}
	}()
	for {
		db, err = bolt.Open(path, 0o600, bo)
		if err == nil || !fallback || bo.InitialMmapSize == 0 || !errors.Is(err, syscall.ENOMEM) {
			break
		}
		next := bo.InitialMmapSize / 4
		if next < minFallbackMmapSize {
			next = 0
		}
		cfg.Logger.Warn("bbolt: mapping refused, retrying with a smaller initial mapping",
			"path", path, "refused", bo.InitialMmapSize, "next", next, "err", err)
		bo.InitialMmapSize = next
	}
	if err != nil {
		return nil, wrapErr("open", path, err)
	}
	return db, nil
}

// ensureBucket creates the bucket of a new store; an existing store costs
// only a read transaction.
func (e *engine) ensureBucket() (err error) {
	defer recoverTo(&err, "open", e.path)
	var exists bool
	if err := e.db.View(func(tx *bolt.Tx) error {
		exists = tx.Bucket(bucketName) != nil
		return nil
	}); err != nil {
		return wrapErr("open", e.path, err)
	}
	if exists {
		return nil
	}
	err = e.db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	})
	return wrapErr("create bucket in", e.path, err)
}
