package bbolt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/kv"
)

// bbolt keeps two meta pages and opens the file with the valid one of the
// higher transaction id. When the newer one is damaged, it opens the older
// one without an error: the state one commit older (one flipped bit in the
// newer meta page of a store closed cleanly: a scan returned 0 of 3000
// keys). A commit cut short by a crash leaves the same thing, legitimately
// (that commit never returned), so the damage can only be told apart after
// a clean close.
//
// Close therefore records the transaction id of the last commit in
// txidFile, beside the data file; Open, when the record is there, checks
// that bbolt opened that transaction, and fails with kv.ErrCorrupt
// otherwise. A read-write open removes the record before its first write.
const txidFile = "polykv-bbolt-txid"

const txidHeader = "polykv bbolt txid at clean close v1"

// lastTxid returns the id of the transaction db's current meta page
// describes.
func lastTxid(db *bolt.DB) (int, error) {
	tx, err := db.Begin(false)
	if err != nil {
		return 0, err
	}
	id := tx.ID()
	return id, tx.Rollback()
}

// writeTxidRecord writes id into dir's txidFile, atomically and durably.
func writeTxidRecord(dir string, id int) error {
	tmp := filepath.Join(dir, txidFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s\n%d\n", txidHeader, id)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, txidFile))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// checkTxidRecord checks, before bbolt opens the data file at path, that
// the meta page bbolt will use describes the transaction recorded at the
// last clean close of the store in dir, if there is a record; it removes
// the record when remove is set (a read-write open). A record without a
// data file is stale (the file was removed, bbolt creates a new one).
func checkTxidRecord(dir, path string, remove bool) error {
	record := filepath.Join(dir, txidFile)
	data, err := os.ReadFile(record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return wrapErr("open", path, err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if !remove {
			return nil
		}
		return os.Remove(record)
	}
	lines := strings.Split(string(data), "\n")
	var want uint64
	if len(lines) != 3 || lines[0] != txidHeader || lines[2] != "" {
		err = errors.New("bad format")
	} else {
		want, err = strconv.ParseUint(lines[1], 10, 64)
	}
	if err != nil {
		return fmt.Errorf("kv: bbolt: open %s: %w: %s is unreadable (remove it to open the store without this check)", path, kv.ErrCorrupt, txidFile)
	}
	metas, err := readMetas(path)
	if err != nil {
		return wrapErr("open", path, err)
	}
	var got uint64
	valid := false
	for _, m := range metas {
		if m.err == nil && (!valid || m.txid > got) {
			got, valid = m.txid, true
		}
	}
	if valid && got != want {
		return fmt.Errorf("kv: bbolt: open %s: %w: the store was closed cleanly after transaction %d, but bbolt's newest valid meta page describes transaction %d: the newer meta page is damaged (polykv verify names it); nothing was changed",
			path, kv.ErrCorrupt, want, got)
	}
	// No valid meta page: bbolt's own open reports it.
	if !remove {
		return nil
	}
	if err := os.Remove(record); err != nil {
		return wrapErr("open", path, err)
	}
	return syncDir(dir)
}
