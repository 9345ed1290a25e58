package pebble

import (
	"errors"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
)

// A failed WAL rotation.
//
// Pebble rotates its write-ahead log whenever the memtable is flushed
// (DB.Compact, DB.Flush, a full memtable): DB.rotateWAL closes the current
// log, which writes an end-of-log trailer and syncs, and panics with the
// error if that fails (pebble v2.1, db.go: "If we failed to close the
// previous log it is possible we lost a write"). Where that panic starts
// decides what is left:
//
//   - From DB.Flush, DB.AsyncFlush or a commit, a deferred unlock of a
//     mutex rotateWAL had already released runs while the panic unwinds:
//     "fatal error: sync: unlock of unlocked mutex", which no recover
//     catches. The process ends. polykv cannot prevent this; see the
//     durability table in the README.
//   - From DB.Compact (its flush of an overlapping memtable) the panic
//     reaches the engine's guard, which turns it into a FatalError. The
//     DB still holds the closed log writer, and DB.Close closes it a second
//     time. record.LogWriter.Close hands its free blocks to a process-wide
//     sync.Pool each time it runs, so the second close puts blocks that a
//     newer writer already uses into the pool again: two writers then share
//     a block, and a store opened later in the same process writes a log
//     whose chunks do not line up with its blocks. Replayed, that log ends
//     at its first record: every transaction since the last flush is gone,
//     with no error (TestFaultAtEveryWrite: 41 acknowledged, 0 present).
//
// The engine therefore notes a recovered rotateWAL panic (walClosedByPanic)
// and, before DB.Close, clears the DB's reference to the closed writer
// (detachClosedWAL), so that Close does not close it again. Everything the
// writer had acknowledged was synced before the rotation started (kv runs
// Compact with no commit in flight); the log file stays on disk and the
// next Open replays it.

// panicInRotateWAL reports whether the panic being recovered started in
// DB.rotateWAL. Called from a deferred recover, the stack still holds the
// panicking frames.
func panicInRotateWAL() bool {
	return strings.Contains(string(debug.Stack()), "pebble/v2.(*DB).rotateWAL(")
}

var errNoWALField = errors.New("pebble.DB has no field mu.log.writer of interface type (Pebble's layout changed)")

// detachClosedWAL sets db.mu.log.writer to nil under db.mu, so that
// DB.Close skips the writer that a failed rotation already closed.
func detachClosedWAL(db *pebble.DB) error {
	mu := reflect.ValueOf(db).Elem().FieldByName("mu")
	if !mu.IsValid() || mu.Kind() != reflect.Struct || mu.NumField() == 0 || mu.Field(0).Type() != reflect.TypeFor[sync.Mutex]() {
		return errNoWALField
	}
	log := mu.FieldByName("log")
	if !log.IsValid() || log.Kind() != reflect.Struct {
		return errNoWALField
	}
	w := log.FieldByName("writer")
	if !w.IsValid() || w.Kind() != reflect.Interface {
		return errNoWALField
	}
	lock := (*sync.Mutex)(unsafe.Pointer(mu.Field(0).UnsafeAddr()))
	lock.Lock()
	defer lock.Unlock()
	writable := reflect.NewAt(w.Type(), unsafe.Pointer(w.UnsafeAddr())).Elem()
	writable.Set(reflect.Zero(w.Type()))
	return nil
}
