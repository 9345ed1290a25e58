package bbolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/kv"
)

var _ kv.Verifier = (*engine)(nil)

// Verify runs bbolt's page consistency check (Tx.Check: every page reached
// once, no page both free and in use, keys in order in every page) on the
// latest committed state, and checks the checksums of both meta pages
// (kv.Verifier). bbolt keeps no checksum of its data pages: a value changed
// in place passes both checks (Guarantees.DetectsValueDamage is false).
//
// A damaged meta page is reported even though bbolt reads the store without
// it: bbolt then silently uses the other meta page, which describes the
// state one commit older (a commit interrupted while writing its meta page
// leaves one damaged too, and that commit was never acknowledged).
func (e *engine) Verify(ctx context.Context) (err error) {
	db, err := e.use()
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "verify", e.path)
	var errs []error
	if err := checkMetaPages(e.path, db.Info().PageSize); err != nil {
		errs = append(errs, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		n := 0
		for cerr := range tx.Check() {
			if n++; n <= 10 {
				errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: %w", e.path, kv.ErrCorrupt, cerr))
			}
			if ctx.Err() != nil {
				for range tx.Check() { //nolint:revive // drain: Check's goroutine sends until done
				}
				return ctx.Err()
			}
		}
		if n > 10 {
			errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: %d more errors", e.path, kv.ErrCorrupt, n-10))
		}
		return nil
	})
	if err != nil {
		return wrapErr("verify", e.path, err)
	}
	return errors.Join(errs...)
}

// VerifyName says what Verify checks.
func (e *engine) VerifyName() string {
	return "bbolt: page consistency (Tx.Check) and meta page checksums"
}

// checkMetaPages reads the two meta pages at the start of the bbolt file
// at path and checks their checksums, as bbolt's meta.validate does: the
// FNV-64a of the meta fields before the checksum. A page is 16 bytes of
// header (id, flags, count, overflow), then the meta: magic, version, page
// size, flags (4 bytes each), the root bucket (root page, sequence), the
// freelist page, the high-water page, the transaction id and the checksum
// (8 bytes each).
func checkMetaPages(path string, pageSize int) error {
	const (
		pageHeader  = 16
		checksumOff = 4*4 + 16 + 8*3
		magic       = 0xED0CDAED
	)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kv: bbolt: verify %s: %w", path, err)
	}
	defer f.Close()
	var errs []error
	for i := range 2 {
		buf := make([]byte, pageHeader+checksumOff+8)
		if _, err := f.ReadAt(buf, int64(i*pageSize)); err != nil {
			return fmt.Errorf("kv: bbolt: verify %s: read meta page %d: %w", path, i, err)
		}
		m := buf[pageHeader:]
		h := fnv.New64a()
		h.Write(m[:checksumOff])
		switch {
		case binary.LittleEndian.Uint32(m) != magic:
			errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: meta page %d has no bbolt magic number", path, kv.ErrCorrupt, i))
		case binary.LittleEndian.Uint64(m[checksumOff:]) != h.Sum64():
			errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: meta page %d fails its checksum (bbolt reads the other one, which may be one commit older)", path, kv.ErrCorrupt, i))
		}
	}
	return errors.Join(errs...)
}
