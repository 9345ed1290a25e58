package bbolt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/polykv/polykv/kv"
)

// checkFileSize refuses a data file shorter than the pages its newest
// valid meta page says are in use. bbolt maps the file and reads those
// pages through the mapping: past the end of the file a read is a SIGBUS,
// which ends the process (no recover catches it). A file cut short (a
// copy that stopped, a full disk, a truncate) is kv.ErrCorrupt instead.
// A file with no valid meta page is left to bbolt's own open, which says
// so.
func checkFileSize(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return wrapErr("open", path, err)
	}
	metas, err := readMetas(path)
	if err != nil {
		return nil // too short for two meta pages: bbolt's open reports it
	}
	var newest *meta
	for i := range metas {
		if m := &metas[i]; m.err == nil && (newest == nil || m.txid > newest.txid) {
			newest = m
		}
	}
	if newest == nil {
		return nil
	}
	if need := newest.pages * uint64(newest.pageSize); uint64(fi.Size()) < need {
		return fmt.Errorf("kv: bbolt: open %s: %w: the file is %d bytes, but its meta page (transaction %d) uses %d pages of %d bytes (%d bytes): it was cut short",
			path, kv.ErrCorrupt, fi.Size(), newest.txid, newest.pages, newest.pageSize, need)
	}
	return nil
}
