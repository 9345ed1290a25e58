package pebble

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polykv/polykv/kv"
)

// engineFS is the file system every engine gives Pebble: the real one with
// two changes.
//
//   - A failed write, sync or creation of a WAL file (*.log), and a
//     reservation of WAL space that the disk refuses, are reported to the
//     engine (onWALFault) before Pebble sees them; from then on the engine
//     refuses every write (FatalError, kv.ErrNeedsReopen).
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
//     catches (cockroachdb/pebble#5601, open).
//
//     A full disk does not reach that window: Pebble reserves the WAL's
//     blocks ahead of its end (fallocate of 110% of a memtable, once a log
//     has its first bytes and each time it grows past the reservation) and
//     ignores a refusal. A write inside reserved blocks cannot run out of
//     space, so the engine stops at the first reservation the disk refuses
//     (ENOSPC, EDQUOT: kv.ErrNoSpace), while the writes already made still
//     fit: a store needs 1.1 × its memtable size of free space to take
//     writes (FreeSpaceReserve: 70.4 MiB at the default memory budget).
//     TestWALReserveRefusedBeforeWritesFail, a disk modelled with 1 MiB
//     left for the WAL: the engine that ignored the refusal wrote on until
//     a WAL write failed, and ended the test process in one run of a
//     dozen; now no WAL write fails. A file system without fallocate
//     (EOPNOTSUPP) reserves nothing and keeps the window; so does an I/O
//     error (EIO), which no reservation foresees (TestFaultAtEveryWrite).
//
//   - For a read-only open, Lock takes no lock and creates no LOCK file, so
//     that a read-only store opens on a read-only file system and beside
//     other read-only opens. kv's directory lock (shared for read-only
//     opens, exclusive for writers) already keeps writers out.
type engineFS struct {
	vfs.FS
	readOnly   bool
	onWALFault func(what string, err error)
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
		f.onWALFault("WAL creation failed", err)
		return nil, err
	}
	return &walFile{File: file, fs: f}, nil
}

func (f *engineFS) check(err error) error {
	if err != nil {
		f.onWALFault("WAL write failed", err)
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

// Preallocate reserves the WAL's blocks (see engineFS). Pebble ignores its
// error; a disk too full for the reservation stops the engine's writes.
func (w *walFile) Preallocate(off, length int64) error {
	err := w.File.Preallocate(off, length)
	if err != nil && errors.Is(kv.Fault(err), kv.ErrNoSpace) {
		w.fs.onWALFault(fmt.Sprintf("reserving %d more bytes for the WAL failed (the disk cannot hold the next memtable's log)", length), err)
	}
	return err
}

func (w *walFile) Sync() error     { return w.fs.check(w.File.Sync()) }
func (w *walFile) SyncData() error { return w.fs.check(w.File.SyncData()) }

func (w *walFile) SyncTo(length int64) (bool, error) {
	full, err := w.File.SyncTo(length)
	return full, w.fs.check(err)
}

type noLock struct{}

func (noLock) Close() error { return nil }
