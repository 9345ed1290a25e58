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
//
// On a writable store the check holds bbolt's write transaction: commits
// wait until it ends.
func (e *engine) Verify(ctx context.Context) (err error) {
	db, err := e.use()
	if err != nil {
		return err
	}
	defer e.mu.RUnlock()
	defer recoverTo(&err, "verify", e.path)
	var errs []error
	if err := checkMetaPages(e.path); err != nil {
		errs = append(errs, err)
	}
	check := func(tx *bolt.Tx) error {
		n := 0
		problems := tx.Check()
		for cerr := range problems {
			if n++; n <= 10 {
				errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: %w", e.path, kv.ErrCorrupt, cerr))
			}
			if ctx.Err() != nil {
				// Check's goroutine reads tx until it has sent every
				// problem: let it finish before tx ends.
				for range problems { //nolint:revive // drain
				}
				return ctx.Err()
			}
		}
		if n > 10 {
			errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: %d more errors", e.path, kv.ErrCorrupt, n-10))
		}
		return nil
	}
	if e.readOnly {
		err = db.View(check)
	} else {
		// In a read-write transaction, rolled back: Tx.Check reads the
		// free list that every commit changes, without a lock, so a check
		// in a read transaction beside commits races them and reports
		// pages "reachable freed" or "unreachable unfreed" on an intact
		// store. Commits wait for the check instead.
		err = db.Update(func(tx *bolt.Tx) error {
			if err := check(tx); err != nil {
				return err
			}
			return errRollback
		})
		if errors.Is(err, errRollback) {
			err = nil
		}
	}
	if err != nil {
		return wrapErr("verify", e.path, err)
	}
	return errors.Join(errs...)
}

// errRollback ends a read-write transaction that must change nothing.
var errRollback = errors.New("rollback")

// VerifyName says what Verify checks.
func (e *engine) VerifyName() string {
	return "bbolt: page consistency (Tx.Check) and meta page checksums"
}

// checkMetaPages checks the two meta pages of the bbolt file at path.
func checkMetaPages(path string) error {
	metas, err := readMetas(path)
	if err != nil {
		return fmt.Errorf("kv: bbolt: verify %s: %w", path, err)
	}
	var errs []error
	for i, m := range metas {
		if m.err != nil {
			errs = append(errs, fmt.Errorf("kv: bbolt: verify %s: %w: meta page %d %v", path, kv.ErrCorrupt, i, m.err))
		}
	}
	return errors.Join(errs...)
}

// meta is what readMetas found in one meta page.
type meta struct {
	txid     uint64
	pages    uint64 // the high-water mark: pages 0 to pages-1 are in use
	pageSize uint32
	err      error // why the page is not valid, or nil
}

// readMetas reads the two meta pages at the start of the bbolt file at
// path and checks them as bbolt's meta.validate does: the magic number, and
// the FNV-64a of the meta fields before the checksum. A page is 16 bytes
// of header (id, flags, count, overflow), then the meta: magic, version,
// page size, flags (4 bytes each), the root bucket (root page, sequence),
// the freelist page, the high-water page, the transaction id and the
// checksum (8 bytes each). The second page starts at the page size the
// first one names (the system's page size when the first is damaged, as
// bbolt does).
func readMetas(path string) ([2]meta, error) {
	const (
		pageHeader  = 16
		pageSizeOff = 8
		pgidOff     = 4*4 + 16 + 8
		txidOff     = 4*4 + 16 + 8*2
		checksumOff = txidOff + 8
		magic       = 0xED0CDAED
	)
	var metas [2]meta
	f, err := os.Open(path)
	if err != nil {
		return metas, err
	}
	defer f.Close()
	pageSize := os.Getpagesize()
	for i := range metas {
		buf := make([]byte, pageHeader+checksumOff+8)
		if _, err := f.ReadAt(buf, int64(i*pageSize)); err != nil {
			return metas, fmt.Errorf("read meta page %d: %w", i, err)
		}
		m := buf[pageHeader:]
		h := fnv.New64a()
		h.Write(m[:checksumOff])
		switch {
		case binary.LittleEndian.Uint32(m) != magic:
			metas[i].err = errors.New("has no bbolt magic number")
		case binary.LittleEndian.Uint64(m[checksumOff:]) != h.Sum64():
			metas[i].err = errors.New("fails its checksum (bbolt reads the other one, which may be one commit older)")
		default:
			metas[i].txid = binary.LittleEndian.Uint64(m[txidOff:])
			metas[i].pages = binary.LittleEndian.Uint64(m[pgidOff:])
			metas[i].pageSize = binary.LittleEndian.Uint32(m[pageSizeOff:])
			if i == 0 {
				pageSize = int(binary.LittleEndian.Uint32(m[pageSizeOff:]))
			}
		}
	}
	return metas, nil
}
