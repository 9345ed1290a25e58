//go:build linux

package bbolt_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// TestFailedOpenReleasesResident: an Open that fails after the bbolt file
// was opened (here: the root page is damaged, so creating the bucket
// fails) releases everything it took, the resident-page policy's
// /proc/self/statm descriptor included.
func TestFailedOpenReleasesResident(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeKV(t, dir)
	// Damage the type of the root bucket's page (named by the meta page
	// with the highest transaction id): bbolt opens the file, which only
	// checks the meta pages, and panics at the first read of the bucket.
	path := filepath.Join(dir, bbolt.DataFileName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 4096)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	pageSize := int64(binary.LittleEndian.Uint32(hdr[16+8:]))
	var root uint64
	var txid uint64
	for m := int64(0); m < 2; m++ {
		meta := make([]byte, 80)
		if _, err := f.ReadAt(meta, m*pageSize); err != nil {
			t.Fatal(err)
		}
		if id := binary.LittleEndian.Uint64(meta[16+48:]); m == 0 || id > txid {
			txid, root = id, binary.LittleEndian.Uint64(meta[16+16:])
		}
	}
	if _, err := f.WriteAt([]byte{0xff, 0xff}, int64(root)*pageSize+8); err != nil {
		t.Fatal(err)
	}

	before := openStatm(t)
	db, err := bbolt.Open(ctx, kv.Config{Path: dir})
	if err == nil {
		db.Close()
		t.Fatal("Open of a store whose root page is damaged succeeded")
	}
	if after := openStatm(t); after != before {
		t.Errorf("failed Open (%v) left %d descriptor(s) of /proc/self/statm open", err, after-before)
	}
}
