package badger

import "github.com/polykv/polykv/kv"

// SetBeforeSync makes the group sync of the engine under db call fn at the
// start of each sync. Call it before the first commit.
func SetBeforeSync(db *kv.DB, fn func()) { db.Engine().(*engine).gs.beforeSync = fn }
