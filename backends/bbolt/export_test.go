package bbolt

import (
	"bytes"
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/kv"
)

// RewriteThenDeleteRange rewrites every key in [start, end) and then
// deletes the range, in one bbolt transaction: the rewrite leaves bbolt's
// in-memory nodes under the cursor, the state in which a cursor that
// deletes and steps with Next skips keys. It lets the external tests reach
// deleteRange in that state.
func RewriteThenDeleteRange(e kv.Engine, start, end []byte) error {
	eng := e.(*engine)
	return eng.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		var ks, vs [][]byte
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
			ks = append(ks, bytes.Clone(k))
			vs = append(vs, bytes.Clone(v))
		}
		for i := range ks {
			if err := b.Put(ks[i], vs[i]); err != nil {
				return err
			}
		}
		return deleteRange(context.Background(), b.Cursor(), start, end)
	})
}

// ResidentSupported reports whether this platform keeps the mapping within
// OptResidentLimit.
const ResidentSupported = residentSupported

// SetAfterCommit makes every commit of the engine under db return fn's
// result in place of its own. Call it before the commits it is to change.
func SetAfterCommit(db *kv.DB, fn func(err error) error) {
	db.Engine().(*engine).afterCommit = fn
}

// BoltNoSync reports whether the bbolt DB under db skips fdatasync.
func BoltNoSync(db *kv.DB) bool {
	e := db.Engine().(*engine)
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.db.NoSync
}
