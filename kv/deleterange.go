package kv

import (
	"bytes"
	"context"
	"fmt"
)

// DeleteRange deletes every key in [start, end). A nil start is the first
// key, a nil end is unbounded. Engines with a native range deletion
// (RangeDeleter) use it; the others delete in chunks of at most one
// transaction each, so a crash may leave the range partly deleted
// (Info().Guarantees.AtomicDeleteRange says which). Made from inside an
// Update of db with its Txn's context, it fails with ErrNestedUpdate, even
// for an empty range.
func (db *DB) DeleteRange(ctx context.Context, start, end []byte) error {
	if err := db.check(ctx, "DeleteRange"); err != nil {
		return err
	}
	if err := db.checkWrite(); err != nil {
		return err
	}
	if len(start) > db.limits.MaxKeySize || len(end) > db.limits.MaxKeySize {
		return fmt.Errorf("%w: DeleteRange bound of %d/%d bytes, limit %d", ErrKeyTooLarge, len(start), len(end), db.limits.MaxKeySize)
	}
	if db.nested(ctx) {
		// Refused even when the range is empty or holds no key, which
		// would take no writer lock: the mistake does not depend on it.
		return db.errNested()
	}
	if len(start) == 0 {
		start = nil
	}
	if len(end) == 0 {
		end = nil
	}
	if start != nil && end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	if rd, ok := db.e.(RangeDeleter); ok {
		if start == nil {
			start = []byte{0} // keys are non-empty: {0} is the smallest
		}
		if err := db.lockEngineWrites(ctx); err != nil {
			return err
		}
		defer db.unlockWrites()
		return rd.DeleteRange(ctx, start, end)
	}
	return db.deleteRangeChunked(ctx, start, end)
}

// DeletePrefix deletes every key starting with prefix.
func (db *DB) DeletePrefix(ctx context.Context, prefix []byte) error {
	if err := db.check(ctx, "DeletePrefix"); err != nil {
		return err
	}
	if len(prefix) == 0 {
		return db.DeleteRange(ctx, nil, nil)
	}
	return db.DeleteRange(ctx, prefix, PrefixEnd(prefix))
}

// deleteRangeChunk is how many keys one chunk of a generic range delete
// removes: well below MaxTxnOps, and small enough not to hold writers back.
const deleteRangeChunk = 4096

// deleteRangeChunked deletes the range in transactions of at most
// deleteRangeChunk keys. Each chunk collects its keys with the iterator
// closed before it writes (bbolt cannot write while a read is open in the
// same goroutine), and other writers may run between chunks.
func (db *DB) deleteRangeChunked(ctx context.Context, start, end []byte) error {
	b := new(Batch)
	from := start
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.Reset()
		var last []byte
		err := iterate(ctx, db.reader(ctx), nil, IterOptions{Start: from, End: end, KeysOnly: true, Limit: min(deleteRangeChunk, db.limits.MaxTxnOps)},
			func(k, _ []byte) error {
				if !b.Fits(k, nil) || b.Size()+EntrySize(k, nil) > db.limits.MaxTxnBytes {
					return SkipAll
				}
				last = append(last[:0], k...)
				return b.Delete(k)
			})
		if err != nil {
			return err
		}
		if b.Len() == 0 {
			return nil
		}
		if err := db.lockEngineWrites(ctx); err != nil {
			return err
		}
		err = db.e.Apply(ctx, b)
		db.unlockWrites()
		if err != nil {
			return err
		}
		from = KeySuccessor(last)
	}
}
