package badger

import "github.com/polykv/polykv/kv"

// SetBeforeSync makes the group sync of the engine under db call fn at the
// start of each sync. Call it before the first commit.
func SetBeforeSync(db *kv.DB, fn func()) { db.Engine().(*engine).gs.beforeSync = fn }

// SetBeforeFsync makes the group sync of the engine under db call fn with
// the file name of each log before it fsyncs it. Call it before the first
// commit.
func SetBeforeFsync(db *kv.DB, fn func(name string)) {
	db.Engine().(*engine).gs.beforeFsync = fn
}
