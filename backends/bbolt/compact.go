package bbolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/polykv/polykv/kv"
)

// compactSuffix names the file Compact writes before it replaces the data
// file; one left by a crash is removed by the next Compact or Open.
const compactSuffix = ".compact"

// compactTxBytes is how much Compact copies per transaction of the new
// file: its memory bound.
const compactTxBytes = 32 << 20

// Compact rewrites the store into a new file holding only live data, with
// full pages, and replaces the data file with it: bbolt reuses freed pages
// but never shrinks its file, so this is how space comes back after large
// deletions.
//
// It runs only when no iteration, View or snapshot is open: otherwise it
// returns kv.ErrReadsOpen at once, and kv.DB.Compact waits, as long as ctx
// allows, and calls it again. Called from inside a View with its context
// (kv.ReadTxn.Context), DB.Compact fails at once with kv.ErrNestedCall;
// from inside a View or an iteration with another context, it waits until
// ctx ends. It blocks every other call on the store while it copies, so its duration is
// that of reading and writing the live data once. The new file is synced
// before it atomically replaces the old one, so a crash at any point leaves
// either the old store or the new one, whole; a file left half-written is
// removed later. If ctx ends during the copy, the old file stays as it was.
func (e *engine) Compact(ctx context.Context) (err error) {
	if e.readOnly {
		return wrapErr("compact", e.path, berrors.ErrDatabaseReadOnly)
	}
	if err := e.checkWrites(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	if e.readers.count() > 0 {
		e.mu.Unlock()
		return kv.ErrReadsOpen // kv waits without its writer lock, and calls again
	}
	defer e.mu.Unlock()
	if e.broken != nil {
		return e.broken
	}
	defer recoverTo(&err, "compact", e.path)

	tmp := e.path + compactSuffix
	if err := copyLive(ctx, e.db, tmp, e.bo, e.res); err != nil {
		os.Remove(tmp)
		return err
	}
	// Nothing uses the old file now: close it, put the new one in its
	// place, reopen. From here on a failure must not leave db closed
	// without saying so.
	if err := e.db.Close(); err != nil {
		os.Remove(tmp)
		// reopen records its own failure in e.broken; report both.
		return errors.Join(wrapErr("compact: close", e.path, err), e.reopen())
	}
	renameErr := os.Rename(tmp, e.path)
	if renameErr == nil {
		renameErr = syncDir(filepath.Dir(e.path))
	} else {
		os.Remove(tmp)
	}
	if err := e.reopen(); err != nil {
		return err
	}
	if renameErr != nil {
		return wrapErr("compact: replace", e.path, renameErr)
	}
	return nil
}

// reopen opens the data file again after Compact closed it. On failure the
// engine is broken: every later call returns the error.
func (e *engine) reopen() error {
	db, err := bolt.Open(e.path, 0o600, e.bo)
	if err != nil {
		e.broken = fmt.Errorf("kv: bbolt: reopen %s after compaction failed, close and reopen the store: %w", e.path, err)
		return e.broken
	}
	e.db = db
	return nil
}

// copyLive copies every key of src's bucket into a new file at path,
// written with full pages and synced before it is closed. It reads the
// whole of src through the mapping, so res may drop it between chunks.
func copyLive(ctx context.Context, src *bolt.DB, path string, bo *bolt.Options, res *resident) (err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return wrapErr("compact", path, err)
	}
	o := *bo
	o.NoSync = true // one fdatasync at the end instead of two per commit
	o.NoFreelistSync = false
	o.InitialMmapSize = 0
	o.PageSize = src.Info().PageSize
	dst, err := bolt.Open(path, 0o600, &o)
	if err != nil {
		return wrapErr("compact: create", path, err)
	}
	defer func() {
		if cerr := dst.Close(); err == nil && cerr != nil {
			err = wrapErr("compact: close", path, cerr)
		}
	}()
	err = src.View(func(stx *bolt.Tx) error {
		c := stx.Bucket(bucketName).Cursor()
		k, v := c.First()
		for first := true; first || k != nil; first = false {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := dst.Update(func(dtx *bolt.Tx) error {
				b, err := dtx.CreateBucketIfNotExists(bucketName)
				if err != nil {
					return err
				}
				b.FillPercent = 1.0 // keys arrive in order: fill every page
				for size := 0; k != nil && size < compactTxBytes; k, v = c.Next() {
					if err := b.Put(k, v); err != nil {
						return err
					}
					size += len(k) + len(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			res.note(stx, residentCheckEvery)
		}
		return nil
	})
	if err != nil {
		return wrapErr("compact: copy to", path, err)
	}
	return wrapErr("compact: sync", path, dst.Sync())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
