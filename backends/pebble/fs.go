package pebble

import (
	"io"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// engineFS is the file system every engine gives Pebble: the real one with
// two changes.
//
//   - A failed write, sync or creation of a WAL file (*.log) is reported to
//     the engine (onWALFault) before Pebble sees it, and so is a
//     reservation of WAL space that the disk refuses (walreserve.go); from
//     then on the engine refuses every write (FatalError,
//     kv.ErrNeedsReopen).
//
//     Pebble keeps a failed WAL write in its WAL writer and hands it to the
//     next commit that fills a WAL block, which panics with it while
//     holding the commit pipeline's lock. kv runs one commit at a time, and
//     a commit that reads the failure from the WAL writer was preceded by
//     one that stored it there, after the failed write: by then the engine
//     refuses writes. One window is left, and it is Pebble's: when the
//     commit that fills the memtable closes the WAL (rotateWAL) and that
//     close is the first to meet the failure (its flush of the tail the
//     flusher goroutine had not written yet), Pebble panics with its mutex
//     released, a fatal error that ends the process and that no recover
//     catches (cockroachdb/pebble#5601, open). A full disk does not reach
//     it: the engine stops while the log's writes still fit in space
//     reserved for them (walreserve.go). A medium that fails a
//     reservation (EIO, read-only) stops the writes there too; an I/O
//     error first met by a write still can (TestFaultAtEveryWrite).
//
//   - For a read-only open, Lock takes no lock and creates no LOCK file, so
//     that a read-only store opens on a read-only file system and beside
//     other read-only opens. kv's directory lock (shared for read-only
//     opens, exclusive for writers) already keeps writers out.
type engineFS struct {
	vfs.FS
	readOnly   bool
	onWALFault func(what string, err error)
	// onReserved is told of each reservation of log space the engine
	// makes (walreserve.go).
	onReserved func()
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (f *engineFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, c)
	return f.wal(name, file, err, 0)
}

// ReuseForWrite renames an old WAL for a new one: its blocks, up to its
// old size, are allocated already.
func (f *engineFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	var allocated int64
	if isWAL(newname) {
		if fi, err := f.FS.Stat(oldname); err == nil {
			allocated = fi.Size()
		}
	}
	file, err := f.FS.ReuseForWrite(oldname, newname, c)
	return f.wal(newname, file, err, allocated)
}

func (f *engineFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := f.FS.OpenReadWrite(name, c, opts...)
	var allocated int64
	if err == nil && isWAL(name) {
		if fi, serr := file.Stat(); serr == nil {
			allocated = fi.Size()
		}
	}
	return f.wal(name, file, err, allocated)
}

func (f *engineFS) Lock(name string) (io.Closer, error) {
	if f.readOnly {
		return noLock{}, nil
	}
	return f.FS.Lock(name)
}

// Unwrap returns the wrapped file system.
func (f *engineFS) Unwrap() vfs.FS { return f.FS }

// wal wraps a WAL file opened for writing, whose blocks are allocated up
// to allocated bytes.
func (f *engineFS) wal(name string, file vfs.File, err error, allocated int64) (vfs.File, error) {
	if !isWAL(name) {
		return file, err
	}
	if err != nil {
		f.onWALFault("WAL creation failed", err)
		return nil, err
	}
	return &walFile{File: file, fs: f, res: walReservation{reserved: allocated}}, nil
}

func (f *engineFS) check(err error) error {
	if err != nil {
		f.onWALFault("WAL write failed", err)
	}
	return err
}

// walFile is a WAL file whose write failures are reported (engineFS) and
// whose writes go to space reserved ahead of them (walreserve.go).
type walFile struct {
	vfs.File
	fs  *engineFS
	res walReservation
}

func (w *walFile) Write(p []byte) (int, error) {
	w.res.mu.Lock()
	defer w.res.mu.Unlock()
	w.reserveAhead(w.res.off + int64(len(p)))
	n, err := w.File.Write(p)
	w.res.off += int64(n)
	return n, w.fs.check(err)
}

func (w *walFile) WriteAt(p []byte, off int64) (int, error) {
	w.res.mu.Lock()
	defer w.res.mu.Unlock()
	w.reserveAhead(off + int64(len(p)))
	n, err := w.File.WriteAt(p, off)
	return n, w.fs.check(err)
}

func (w *walFile) Sync() error     { return w.fs.check(w.File.Sync()) }
func (w *walFile) SyncData() error { return w.fs.check(w.File.SyncData()) }

func (w *walFile) SyncTo(length int64) (bool, error) {
	full, err := w.File.SyncTo(length)
	return full, w.fs.check(err)
}

type noLock struct{}

func (noLock) Close() error { return nil }
