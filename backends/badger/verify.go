package badger

import (
	"context"
	"fmt"

	"github.com/polykv/polykv/kv"
)

var _ kv.Verifier = (*engine)(nil)

// Verify checks the checksum of every block of every LSM table
// (kv.Verifier): Badger's DB.VerifyChecksum, run in the caller's goroutine.
// Badger's iterators end early without an error at a damaged block (its
// table iterator keeps the error to itself), so a table must be checked as a
// whole to know that an iteration over it is complete; Open does it too
// (verify_on_open). Damage is kv.ErrCorrupt naming the table and block.
//
// Badger 4.9's VerifyChecksum dereferences a nil block when a block fails
// its check (table.go, VerifyChecksum), and its block decoding indexes into
// the block with sizes read from it before checking them: both panic, and
// the panic is turned into kv.ErrCorrupt here. The value log is not checked
// (values of at least value_threshold bytes: see verify_value_checksum).
func (e *engine) Verify(ctx context.Context) (err error) {
	if e.closed.Load() {
		return errClosed("verify", e.dir)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kv: badger: verify %s: %w: a table failed its checksum verification (badger panicked reporting it: %v)", e.dir, kv.ErrCorrupt, r)
		}
	}()
	if err := e.db.VerifyChecksum(); err != nil {
		return wrapErr("verify", e.dir, corrupt(err))
	}
	return nil
}

// VerifyName says what Verify checks.
func (e *engine) VerifyName() string { return "badger: checksums of every LSM table block" }
