package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

// A failing WAL makes Pebble call Logger.Fatalf in the commit path, after
// which its commit returns as if it had succeeded. The write must fail
// with a *FatalError instead (never a false success), the process must
// live on, later writes must be refused, reads must still work, and the
// store must close and reopen with every acknowledged write.
func TestWALFailureIsReportedNotHidden(t *testing.T) {
	ctx := context.Background()
	failWAL, restore := failingWAL()
	defer restore()

	logged := new(lockedBuffer)
	cfg := kv.Config{Path: t.TempDir(), Durability: kv.Sync,
		Logger: slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelError}))}
	db, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, db.Set(ctx, []byte("before"), []byte("1")))

	failWAL.Store(true)
	err = db.Set(ctx, []byte("during"), []byte("2"))
	require.Error(t, err, "a commit whose WAL write failed was reported as a success")
	var fe *pebble.FatalError
	require.True(t, errors.As(err, &fe), "want a *pebble.FatalError, got %T: %v", err, err)
	require.Equal(t, cfg.Path, fe.Path)
	require.ErrorIs(t, err, kv.ErrNeedsReopen)
	require.Contains(t, err.Error(), "reopen")
	failWAL.Store(false)
	// "An error from a commit means nothing was applied", unless it says
	// the outcome is unknown: then it may be either.
	duringFailed := !errors.Is(err, kv.ErrOutcomeUnknown)
	if duringFailed {
		_, gerr := db.Get(ctx, []byte("during"))
		require.ErrorIs(t, gerr, kv.ErrNotFound, "a commit reported failed (%v) is visible", err)
	}

	// The engine is poisoned for writes; reads still work.
	require.ErrorAs(t, db.Set(ctx, []byte("after"), []byte("3")), &fe)
	require.ErrorAs(t, db.Sync(), &fe)
	v, err := db.Get(ctx, []byte("before"))
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
	require.Contains(t, logged.String(), "fatal")

	db.Close() // may report the WAL failure; must not hang or panic
	restore()
	db, err = pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer db.Close()
	v, err = db.Get(ctx, []byte("before"))
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
	_, err = db.Get(ctx, []byte("after"))
	require.ErrorIs(t, err, kv.ErrNotFound)
	if duringFailed {
		_, err = db.Get(ctx, []byte("during"))
		require.ErrorIs(t, err, kv.ErrNotFound, "a commit reported failed is there after a reopen")
	}
	require.NoError(t, db.Set(ctx, []byte("again"), nil))
}

// A WAL write that fails with ENOSPC (disk full) is reported as
// kv.ErrNoSpace, matching syscall.ENOSPC, and kv.ErrNeedsReopen: every
// later write fails the same way until the store is reopened, after which
// it takes writes again with every acknowledged one there.
func TestWALNoSpaceIsTyped(t *testing.T) {
	ctx := context.Background()
	for _, d := range []kv.Durability{kv.Sync, kv.NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			var full atomic.Bool
			inject := errorfs.InjectorFunc(func(op errorfs.Op) error {
				if !full.Load() {
					return nil
				}
				switch op.Kind {
				case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpCreate, errorfs.OpFilePreallocate:
					return &fs.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
				}
				return nil
			})
			restore := pebble.SetWrapFS(func(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, inject) })
			defer restore()
			cfg := kv.Config{Path: t.TempDir(), Durability: d}
			db, err := pebble.Open(ctx, cfg)
			require.NoError(t, err)
			require.NoError(t, db.Set(ctx, []byte("before"), []byte("1")))
			require.NoError(t, db.Sync()) // NoSync may lose an unsynced tail
			full.Store(true)
			var werr error
			var failedKey []byte
			// Under NoSync the WAL is written by a flusher goroutine: the
			// failure surfaces on a later commit (Pebble itself would
			// panic in that commit, holding its commit lock). Each write
			// leaves the flusher time to run: a failure first met by the
			// commit that fills the memtable, when Pebble closes the WAL
			// to start the next one, ends the process instead (a panic
			// with Pebble's mutex released: see engineFS), which on a
			// loaded machine a tight loop reached before the flusher ran.
			for i := 0; i < 10000 && werr == nil; i++ {
				failedKey = []byte(fmt.Sprintf("during-%05d", i))
				werr = db.Set(ctx, failedKey, bytes.Repeat([]byte{'x'}, 100))
				time.Sleep(50 * time.Microsecond)
			}
			require.Error(t, werr, "no write failed on a full disk")
			require.ErrorIs(t, werr, kv.ErrNoSpace)
			require.ErrorIs(t, werr, syscall.ENOSPC)
			require.ErrorIs(t, werr, kv.ErrNeedsReopen)
			full.Store(false)
			// The write that failed must not be visible unless its error
			// says the outcome is unknown.
			if !errors.Is(werr, kv.ErrOutcomeUnknown) {
				_, err := db.Get(ctx, failedKey)
				require.ErrorIs(t, err, kv.ErrNotFound, "the commit reported failed (%v) is visible", werr)
			}
			// Space is back, but the engine stays failed until reopened.
			err = db.Set(ctx, []byte("after"), []byte("3"))
			require.ErrorIs(t, err, kv.ErrNeedsReopen)
			require.ErrorIs(t, err, kv.ErrNoSpace)
			v, err := db.Get(ctx, []byte("before"))
			require.NoError(t, err)
			require.Equal(t, "1", string(v))
			_ = db.Close() // may repeat the failure
			db, err = pebble.Open(ctx, cfg)
			require.NoError(t, err)
			defer db.Close()
			v, err = db.Get(ctx, []byte("before"))
			require.NoError(t, err)
			require.Equal(t, "1", string(v))
			if !errors.Is(werr, kv.ErrOutcomeUnknown) {
				_, err = db.Get(ctx, failedKey)
				require.ErrorIs(t, err, kv.ErrNotFound, "the commit reported failed is there after a reopen")
			}
			require.NoError(t, db.Set(ctx, []byte("again"), nil))
		})
	}
}

// failingWAL makes the engines opened next write their WAL through errorfs:
// while the returned flag is set, every write and sync of a WAL file fails
// with errorfs.ErrInjected. restore puts the plain file system back.
func failingWAL() (fail *atomic.Bool, restore func()) {
	fail = new(atomic.Bool)
	inject := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !fail.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return errorfs.ErrInjected
		}
		return nil
	})
	return fail, pebble.SetWrapFS(func(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, inject) })
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWALFailureDuringDeleteRange: DeleteRange commits its range tombstone
// itself (not through kv's group commit); when the WAL fails under it, the
// error must say the outcome is unknown unless the keys are all still
// there, in the process and after the reopen.
func TestWALFailureDuringDeleteRange(t *testing.T) {
	ctx := context.Background()
	failWAL, restore := failingWAL()
	defer restore()
	cfg := kv.Config{Path: t.TempDir(), Durability: kv.Sync}
	db, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, db.Set(ctx, []byte("a"), []byte("1")))
	failWAL.Store(true)
	err = db.DeleteRange(ctx, nil, nil)
	require.Error(t, err, "a DeleteRange whose WAL write failed was reported as a success")
	require.ErrorIs(t, err, kv.ErrNeedsReopen)
	unknown := errors.Is(err, kv.ErrOutcomeUnknown)
	failWAL.Store(false)
	if !unknown {
		_, gerr := db.Get(ctx, []byte("a"))
		require.NoError(t, gerr, "a DeleteRange reported failed (%v) is visible", err)
	}
	_ = db.Close()
	restore()
	db, err = pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer db.Close()
	if !unknown {
		_, err = db.Get(ctx, []byte("a"))
		require.NoError(t, err, "a DeleteRange reported failed is applied after the reopen")
	}
}
