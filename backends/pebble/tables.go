package pebble

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polykv/polykv/kv"
)

// A damaged last record of the MANIFEST is, for Pebble, a write that a
// crash cut short: it reads the MANIFEST up to it and opens the state
// before it. When that record was a flush's, the tables it added are no
// longer listed, a read-write open deletes them as obsolete, and the store
// opens without them and without an error (after 4 KiB of garbage in the
// MANIFEST of a store closed cleanly, a scan returned 0 of 3000 keys).
//
// The clean-close record catches this. Close, once the store is flushed
// and closed, writes into tablesFile the numbers of the tables the MANIFEST
// listed after the flush that are still in the directory after Close (a
// table whose deletion failed on a full disk stays in the directory
// unlisted; one a compaction replaced during Close is gone). Open, when the file is there (the store was closed cleanly
// and nothing ran since), first opens the store read-only (which deletes
// nothing) and checks that every recorded table is still listed; a missing
// one is kv.ErrCorrupt, and nothing is deleted. A read-write open then
// removes the file before Pebble opens the store read-write: after a crash
// there is no record, and no check (a crash may legitimately leave the
// MANIFEST without its last record, and then nothing acknowledged is lost:
// the flush's log is still there).
const tablesFile = "polykv-pebble-tables"

// liveTables returns the numbers of the tables db's current version lists.
func liveTables(db *pebble.DB) ([]uint64, error) {
	levels, err := db.SSTables()
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, level := range levels {
		for _, t := range level {
			nums = append(nums, uint64(t.FileNum))
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// intersect returns the numbers in both sorted a and b.
func intersect(a, b []uint64) []uint64 {
	var both []uint64
	for _, n := range a {
		if _, found := slices.BinarySearch(b, n); found {
			both = append(both, n)
		}
	}
	return both
}

// tablesOnDisk returns the numbers of the tables (NNNNNN.sst) in dir.
func tablesOnDisk(fs vfs.FS, dir string) ([]uint64, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, name := range names {
		if base, ok := strings.CutSuffix(name, ".sst"); ok {
			if n, err := strconv.ParseUint(base, 10, 64); err == nil {
				nums = append(nums, n)
			}
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// writeTablesRecord writes nums into dir's tablesFile atomically (a
// temporary file, synced, renamed, the directory synced).
func writeTablesRecord(fs vfs.FS, dir string, nums []uint64) error {
	var b strings.Builder
	b.WriteString("polykv pebble tables at clean close v1\n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d\n", n)
	}
	tmp := fs.PathJoin(dir, tablesFile+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, fs.PathJoin(dir, tablesFile))
	}
	if err != nil {
		_ = fs.Remove(tmp) // best effort: err is what failed
		return err
	}
	return syncDir(fs, dir)
}

// readTablesRecord returns the table numbers recorded at the last clean
// close, and whether there is a record. A record that cannot be parsed is
// damaged too.
func readTablesRecord(fs vfs.FS, dir string) ([]uint64, bool, error) {
	f, err := fs.Open(fs.PathJoin(dir, tablesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, false, err
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) == 0 || lines[0] != "polykv pebble tables at clean close v1" || !strings.HasSuffix(string(data), "\n") {
		return nil, false, fmt.Errorf("%w: %s is unreadable (remove it to open the store without checking its MANIFEST)", kv.ErrCorrupt, tablesFile)
	}
	nums := make([]uint64, 0, len(lines)-1)
	for _, l := range lines[1:] {
		n, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %s is unreadable at %q (remove it to open the store without checking its MANIFEST)", kv.ErrCorrupt, tablesFile, l)
		}
		nums = append(nums, n)
	}
	return nums, true, nil
}

// removeTablesRecord removes dir's tablesFile, durably.
func removeTablesRecord(fs vfs.FS, dir string) error {
	if err := fs.Remove(fs.PathJoin(dir, tablesFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(fs, dir)
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkTables returns kv.ErrCorrupt naming the recorded tables that db's
// MANIFEST no longer lists.
func checkTables(db *pebble.DB, dir string, recorded []uint64) error {
	live, err := liveTables(db)
	if err != nil {
		return translate("open", dir, err)
	}
	var missing []string
	for _, n := range recorded {
		if _, found := slices.BinarySearch(live, n); !found {
			missing = append(missing, fmt.Sprintf("%06d.sst", n))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("kv: pebble: open %s: %w: the MANIFEST no longer lists %d table(s) the store had when it was last closed cleanly (%s): "+
		"its last record is damaged; nothing was deleted (a read-write open by Pebble alone would delete them)",
		dir, kv.ErrCorrupt, len(missing), strings.Join(missing, ", "))
}
