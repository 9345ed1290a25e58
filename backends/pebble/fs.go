package pebble

import (
	"io"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// engineFS is the file system every engine gives Pebble: the real one with
// two changes.
//
//   - A failed write, sync or creation of a WAL file (*.log)
//     is reported to the engine (onWALFault) before Pebble sees it. Pebble
//     keeps such a failure in its WAL writer and hands it to the next commit
//     that fills a WAL block, which panics with it while holding the commit
//     pipeline's lock; the engine refuses every write from the first
//     failure on instead (FatalError), so that no commit reaches that panic.
//     kv runs one commit at a time, and a commit that reads the failure from
//     the WAL writer was preceded by one that stored it there, after the
//     failed write: by then the engine refuses writes.
//     One window is left, and it is Pebble's: when the commit that fills
//     the memtable closes the WAL (rotateWAL) and that close is the first
//     to meet the failure (its flush of the tail the flusher goroutine had
//     not written yet), Pebble panics with its mutex released, a fatal
//     error that ends the process. Under NoSync on a machine too busy to
//     run the flusher, a test that failed every WAL write met it (the
//     test now leaves the flusher time to run); on a real disk the WAL is
//     preallocated ahead (110% of a memtable), so a full disk seldom fails
//     a WAL write at all (the tmpfs disk-full runs never met the window).
//   - For a read-only open, Lock takes no lock and creates no LOCK file, so
//     that a read-only store opens on a read-only file system and beside
//     other read-only opens. kv's directory lock (shared for read-only
//     opens, exclusive for writers) already keeps writers out.
type engineFS struct {
	vfs.FS
	readOnly   bool
	onWALFault func(error)
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (f *engineFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, c)
	return f.wal(name, file, err)
}

func (f *engineFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.ReuseForWrite(oldname, newname, c)
	return f.wal(newname, file, err)
}

func (f *engineFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := f.FS.OpenReadWrite(name, c, opts...)
	return f.wal(name, file, err)
}

func (f *engineFS) Lock(name string) (io.Closer, error) {
	if f.readOnly {
		return noLock{}, nil
	}
	return f.FS.Lock(name)
}

// Unwrap returns the wrapped file system.
func (f *engineFS) Unwrap() vfs.FS { return f.FS }

func (f *engineFS) wal(name string, file vfs.File, err error) (vfs.File, error) {
	if !isWAL(name) {
		return file, err
	}
	if err != nil {
		f.onWALFault(err)
		return nil, err
	}
	return &walFile{File: file, fs: f}, nil
}

func (f *engineFS) check(err error) error {
	if err != nil {
		f.onWALFault(err)
	}
	return err
}

// walFile is a WAL file whose write failures are reported (engineFS).
type walFile struct {
	vfs.File
	fs *engineFS
}

func (w *walFile) Write(p []byte) (int, error) {
	n, err := w.File.Write(p)
	return n, w.fs.check(err)
}

func (w *walFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.File.WriteAt(p, off)
	return n, w.fs.check(err)
}

// Preallocate is not watched: Pebble ignores its failure (the WAL is
// preallocated 110% of a memtable ahead, which a nearly full disk refuses
// while the writes themselves still fit).

func (w *walFile) Sync() error     { return w.fs.check(w.File.Sync()) }
func (w *walFile) SyncData() error { return w.fs.check(w.File.SyncData()) }

func (w *walFile) SyncTo(length int64) (bool, error) {
	full, err := w.File.SyncTo(length)
	return full, w.fs.check(err)
}

type noLock struct{}

func (noLock) Close() error { return nil }
