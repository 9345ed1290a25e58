package kv

import (
	"context"
	"errors"
	"fmt"
)

// VerifyReport is what DB.Verify read and found.
type VerifyReport struct {
	// EngineCheck names the engine's own verification that ran before the
	// scan (Verifier), or is empty when the engine has none.
	EngineCheck string
	// Keys and Bytes (keys plus values) are what the full scan read intact.
	Keys, Bytes int64
	// LastGoodKey is, when the scan met damage, the last key it read
	// intact (nil: the damage comes before the first key). The damaged
	// range starts after it.
	LastGoodKey []byte
}

// Verify reads every key and value of the store through the engine's own
// checks, to find damage in the stored bytes. It first runs the engine's
// whole-store verification when the engine has one (Verifier: Badger's
// table checksums, Pebble's block checksums and level invariants, bbolt's
// page consistency check), then scans every key and value (the generic
// check every engine gets: a read that fails a checksum, or an iteration
// that cannot go on, is an error).
//
// Damage is reported as an error matching ErrCorrupt; the scan's part says
// after which key it starts (VerifyReport.LastGoodKey). Verify reads the
// whole store: its cost is a full scan, plus the engine's own pass. It does
// not check what the engine keeps no checksum of (see
// Guarantees.DetectsValueDamage): a value changed in place on bbolt reads
// back changed without an error. Errors that are not damage (ErrClosed,
// ctx's) are returned as they are.
//
// On a GroupCommitter engine (bbolt) the engine's check holds the engine's
// write transaction, which an Update's group holds while its function
// runs: made with the context of an Update of db (Txn.Context), Verify
// fails at once with ErrNestedCall; made from inside the function with
// another context, it waits for that Update, for ever. Call it after the
// function returns.
func (db *DB) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	if err := db.check(ctx, "Verify"); err != nil {
		return rep, err
	}
	if db.grouper != nil && db.nested(ctx) {
		// The engine's check (bbolt's) runs in its write transaction,
		// which the open group of this Update holds until its function
		// returns: it would wait for that function, which waits for it.
		return rep, db.errNestedCall("Verify")
	}
	if err := db.enter(); err != nil {
		return rep, err
	}
	defer db.exit()
	var errs []error
	if v, ok := db.e.(Verifier); ok {
		rep.EngineCheck = v.VerifyName()
		if err := v.Verify(ctx); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				return rep, err
			}
			errs = append(errs, err)
		}
	}
	err := iterate(ctx, db.reader(ctx), nil, IterOptions{}, func(k, v []byte) error {
		rep.Keys++
		rep.Bytes += int64(len(k) + len(v))
		rep.LastGoodKey = append(rep.LastGoodKey[:0], k...)
		return nil
	})
	switch {
	case err == nil:
		rep.LastGoodKey = nil
	case errors.Is(err, ErrCorrupt):
		if rep.Keys == 0 {
			rep.LastGoodKey = nil
			err = fmt.Errorf("kv: verify: damaged data before the first key: %w", err)
		} else {
			err = fmt.Errorf("kv: verify: damaged data after key %q (%d keys read intact): %w", rep.LastGoodKey, rep.Keys, err)
		}
		errs = append(errs, err)
	default:
		return rep, err
	}
	return rep, errors.Join(errs...)
}

// Verifier is implemented by engines that can check their whole store with
// their own checksums or consistency checks, beyond what reading every key
// and value checks. DB.Verify runs it before its full scan.
type Verifier interface {
	// Verify checks every stored byte the engine can check. Damage is an
	// error matching ErrCorrupt that keeps the engine's own message (which
	// file, which page or block); any other error means the check could not
	// run.
	Verify(ctx context.Context) error
	// VerifyName says in a few words what Verify checks, for reports
	// ("table checksums", "page consistency").
	VerifyName() string
}
