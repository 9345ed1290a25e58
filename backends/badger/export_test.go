package badger

import (
	"github.com/polykv/polykv/internal/diskspace"
	"github.com/polykv/polykv/kv"
)

// SetBeforeSync makes the group sync of the engine under db call fn at the
// start of each sync. Call it before the first commit.
func SetBeforeSync(db *kv.DB, fn func()) { db.Engine().(*engine).gs.beforeSync = fn }

// SetBeforeFsync makes the group sync of the engine under db call fn with
// the file name of each log before it fsyncs it. Call it before the first
// commit.
func SetBeforeFsync(db *kv.DB, fn func(name string)) {
	db.Engine().(*engine).gs.beforeFsync = fn
}

// SetSyncFault makes each group sync of the engine under db that succeeded
// return fn's error instead. Call it before the commits it is to fail.
func SetSyncFault(db *kv.DB, fn func() error) {
	g := db.Engine().(*engine).gs
	g.mu.Lock()
	defer g.mu.Unlock()
	g.syncFault = fn
}

// SetFreeSpace makes the engines measure free space with fn until the
// returned function restores the measure. Tests using it must not run in
// parallel.
func SetFreeSpace(fn func(dir string) (int64, error)) (restore func()) {
	freeSpace = fn
	return func() { freeSpace = diskspace.Free }
}
