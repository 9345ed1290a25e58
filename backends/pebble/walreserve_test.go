package pebble_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

// On a nearly full disk the store refuses writes as soon as the engine
// cannot reserve WAL space ahead of the log's end (walreserve.go), before
// any WAL write fails: a failed write that Pebble first meets when it
// closes the log to rotate it ends the process (see engineFS). Modelled by
// walBudgetFS: a file system with only a budget of bytes left for WAL
// files, where fallocate reserves blocks and a write inside reserved blocks
// needs no more. With a 16 MiB memory budget (4 MiB memtables, Pebble's
// own reservations 4.4 MiB), two budgets: 1 MiB, less than any
// reservation but room for many small commits (an engine that ignored
// refused reservations went on committing into it until a WAL write
// failed), and 40 MiB, where the first reservations succeed and the log
// is rotated before one is refused. Either way the engine must stop at the
// refused reservation, report kv.ErrNoSpace, and reopen with every
// acknowledged write.
func TestWALReserveRefusedBeforeWritesFail(t *testing.T) {
	ctx := context.Background()
	for _, budget := range []int64{1 << 20, 40 << 20} {
		for _, d := range []kv.Durability{kv.Sync, kv.NoSync} {
			t.Run(fmt.Sprintf("%dMiB/%s", budget>>20, d), func(t *testing.T) {
				walReserveCase(t, ctx, budget, d)
			})
		}
	}
}

func walReserveCase(t *testing.T, ctx context.Context, budget int64, d kv.Durability) {
	bfs := &walBudgetFS{}
	restore := pebble.SetWrapFS(func(inner vfs.FS) vfs.FS { bfs.FS = inner; return bfs })
	defer restore()
	cfg := kv.Config{Path: t.TempDir(), Durability: d, MemoryBudget: 16 << 20}
	db, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	bfs.limit(budget)
	value := make([]byte, 1024)
	var acked int
	var werr error
	for ; acked < 100_000; acked++ { // 100 MiB: many memtables
		if werr = db.Set(ctx, fmt.Appendf(nil, "k%06d", acked), value); werr != nil {
			break
		}
	}
	require.Error(t, werr, "100 MiB committed with %d MiB left for the WAL", budget>>20)
	require.ErrorIs(t, werr, kv.ErrNoSpace)
	require.ErrorIs(t, werr, kv.ErrNeedsReopen)
	require.Contains(t, werr.Error(), "reserving")
	require.Positive(t, bfs.refusedReserves.Load(), "no WAL reservation was refused")
	require.Zero(t, bfs.failedWrites.Load(), "a WAL write failed before the engine refused commits (%d acknowledged)", acked)
	t.Logf("%d commits acknowledged, %d WAL files, then: %v", acked, bfs.files.Load(), werr)

	bfs.limit(-1) // space is back
	require.NoError(t, db.Close())
	db, err = pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer db.Close()
	for i := range acked {
		_, err := db.Get(ctx, fmt.Appendf(nil, "k%06d", i))
		require.NoError(t, err, "acknowledged write %d", i)
	}
	require.NoError(t, db.Set(ctx, []byte("again"), nil))
}

// A reservation that fails because the medium does (EIO, a file system
// gone read-only) stops the writes too, typed kv.ErrIO, before any log
// write fails; other fallocate errors (EOPNOTSUPP: a file system that
// cannot reserve) stop nothing.
func TestWALReserveFailingMediumStopsWrites(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		errno syscall.Errno
		stops bool
	}{{syscall.EIO, true}, {syscall.EROFS, true}, {syscall.EOPNOTSUPP, false}} {
		t.Run(c.errno.Error(), func(t *testing.T) {
			bfs := &walBudgetFS{}
			restore := pebble.SetWrapFS(func(inner vfs.FS) vfs.FS { bfs.FS = inner; return bfs })
			defer restore()
			db, err := pebble.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.Sync, MemoryBudget: 16 << 20})
			require.NoError(t, err)
			defer db.Close()
			bfs.failReserves(c.errno)
			var werr error
			for i := 0; i < 1000 && werr == nil; i++ {
				werr = db.Set(ctx, fmt.Appendf(nil, "k%04d", i), make([]byte, 1024))
			}
			require.Zero(t, bfs.failedWrites.Load())
			if !c.stops {
				require.NoError(t, werr, "a file system without fallocate stopped the writes")
				return
			}
			require.ErrorIs(t, werr, kv.ErrIO)
			require.ErrorIs(t, werr, kv.ErrNeedsReopen)
			require.ErrorIs(t, werr, c.errno)
		})
	}
}

// walBudgetFS models the space left on a disk for the WAL files (*.log)
// of the file system it wraps; other files are not counted. Unlimited
// until limit. A WAL file's blocks up to its reserved size are allocated
// (its size when reused, what Preallocate reserved); a Preallocate or a
// write beyond them takes the rest from the budget or fails with ENOSPC.
type walBudgetFS struct {
	vfs.FS
	mu              sync.Mutex
	limited         bool
	free            int64
	refusedReserves atomic.Int64
	failedWrites    atomic.Int64
	reserveErrno    atomic.Int64 // when not 0, every Preallocate fails with it
	files           atomic.Int64 // WAL files opened for writing
}

// limit leaves free bytes for WAL growth; a negative free lifts the limit.
func (b *walBudgetFS) limit(free int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limited, b.free = free >= 0, free
}

// failReserves makes every later Preallocate fail with errno.
func (b *walBudgetFS) failReserves(errno syscall.Errno) { b.reserveErrno.Store(int64(errno)) }

// take allocates n more bytes, reporting whether they were there.
func (b *walBudgetFS) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.limited {
		return true
	}
	if n > b.free {
		return false
	}
	b.free -= n
	return true
}

func (b *walBudgetFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := b.FS.Create(name, c)
	return b.wrap(name, f, err, 0)
}

func (b *walBudgetFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	var size int64
	if fi, err := b.FS.Stat(oldname); err == nil {
		size = fi.Size()
	}
	f, err := b.FS.ReuseForWrite(oldname, newname, c)
	return b.wrap(newname, f, err, size)
}

func (b *walBudgetFS) wrap(name string, f vfs.File, err error, allocated int64) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	b.files.Add(1)
	return &walBudgetFile{File: f, fs: b, name: name, allocated: allocated}, nil
}

type walBudgetFile struct {
	vfs.File
	fs   *walBudgetFS
	name string
	// off is where the next Write goes; allocated is the end of the
	// file's allocated blocks.
	mu             sync.Mutex
	off, allocated int64
}

// grow allocates the file's blocks up to end, or fails with ENOSPC. The
// caller holds f.mu.
func (f *walBudgetFile) grow(end int64) bool {
	if end <= f.allocated {
		return true
	}
	if !f.fs.take(end - f.allocated) {
		return false
	}
	f.allocated = end
	return true
}

func (f *walBudgetFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.grow(f.off + int64(len(p))) {
		f.fs.failedWrites.Add(1)
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	n, err := f.File.Write(p)
	f.off += int64(n)
	return n, err
}

func (f *walBudgetFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.grow(off + int64(len(p))) {
		f.fs.failedWrites.Add(1)
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}

func (f *walBudgetFile) Preallocate(off, n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := syscall.Errno(f.fs.reserveErrno.Load()); errno != 0 {
		return &fs.PathError{Op: "fallocate", Path: f.name, Err: errno}
	}
	if !f.grow(off + n) {
		f.fs.refusedReserves.Add(1)
		return &fs.PathError{Op: "fallocate", Path: f.name, Err: syscall.ENOSPC}
	}
	return f.File.Preallocate(off, n)
}
