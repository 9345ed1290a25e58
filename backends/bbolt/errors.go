package bbolt

import (
	"context"
	"errors"
	"fmt"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/polykv/polykv/kv"
)

// Errors are translated at the package boundary: what leaves this package
// is either a kv sentinel (matched with errors.Is) wrapped with the
// operation and the data file, or a bbolt error wrapped the same way. The
// bbolt error stays in the chain too, for logs.

// wrapErr translates err, returned by bbolt during op on the file at path.
func wrapErr(op, path string, err error) error {
	var sentinel error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err

	// These can occur when the store is opened.
	case errors.Is(err, berrors.ErrTimeout):
		// bbolt waited Options.Timeout for its flock on the data file.
		return fmt.Errorf("%w: bbolt: %s %s: another process holds bbolt's lock on the file: %w", kv.ErrLocked, op, path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("%w: bbolt: %s %s: not a readable bbolt file: %w", kv.ErrNotAStore, op, path, err)

	// These can occur when the store is used in the wrong state.
	case errors.Is(err, berrors.ErrDatabaseNotOpen), errors.Is(err, berrors.ErrTxClosed):
		sentinel = kv.ErrClosed
	case errors.Is(err, berrors.ErrDatabaseReadOnly), errors.Is(err, berrors.ErrTxNotWritable):
		sentinel = kv.ErrReadOnly

	// These cannot occur through kv.DB, whose limits are at most bbolt's
	// (kv.MaxKeySize is bbolt's MaxKeySize; kv.MaxValueSize is far below
	// bbolt's), but an Engine used directly could meet them.
	case errors.Is(err, berrors.ErrKeyRequired):
		sentinel = kv.ErrEmptyKey
	case errors.Is(err, berrors.ErrKeyTooLarge):
		sentinel = kv.ErrKeyTooLarge
	case errors.Is(err, berrors.ErrValueTooLarge):
		sentinel = kv.ErrValueTooLarge
	default:
		// A full disk (ENOSPC from a write or from growing the file) or
		// another fault of the medium: kv.ErrNoSpace, kv.ErrIO.
		return fmt.Errorf("kv: bbolt: %s %s: %w", op, path, kv.Fault(err))
	}
	return fmt.Errorf("kv: bbolt: %s %s: %w: %w", op, path, sentinel, err)
}

// recoverTo turns a panic inside bbolt into an error: bbolt asserts its
// invariants with panics (a damaged page, an invalid meta page), and no
// library code may crash its host on bad data. Use it deferred, in the
// function that calls into bbolt, after any deferred rollback.
func recoverTo(errp *error, op, path string) {
	if r := recover(); r != nil {
		*errp = panicErr(op, path, r)
	}
}

// panicErr is the error for a panic of bbolt: kv.ErrCorrupt, since bbolt
// panics on the pages it cannot make sense of ("page expected to be N, but
// self identifies as M", an invalid page type).
func panicErr(op, path string, r any) error {
	return fmt.Errorf("kv: bbolt: %s %s: %w: bbolt panicked (damaged file?): %v", op, path, kv.ErrCorrupt, r)
}
