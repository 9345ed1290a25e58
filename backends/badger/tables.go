package badger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/polykv/polykv/kv"
)

// Badger reads its MANIFEST up to the first record that is cut short (a
// length running past the end of the file), takes it for a write a crash
// interrupted, truncates the MANIFEST there and deletes every table the
// remaining records do not list. When the record was damaged instead, the
// tables it listed are deleted and the store opens without them and
// without an error (one flipped bit in the MANIFEST of a store closed
// cleanly: a scan returned 0 of 3000 keys).
//
// The clean-close record catches this, as the pebble backend's does. Close,
// once Badger has closed (its obsolete tables deleted), writes the numbers
// of the tables in the directory into tablesFile. Open, when the file is
// there (the store was closed cleanly and nothing ran since), replays the
// MANIFEST read-only first (badger.ReplayManifestFile): it must be read to
// its end and list every recorded table, or Open fails with kv.ErrCorrupt
// and touches nothing. A read-write open removes the record before Badger
// opens the store; after a crash there is no record and no check.
const tablesFile = "polykv-badger-tables"

const tablesHeader = "polykv badger tables at clean close v1"

// tablesOnDisk returns the numbers of the tables (NNNNNN.sst) in dir.
func tablesOnDisk(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range entries {
		if base, ok := strings.CutSuffix(e.Name(), ".sst"); ok {
			if n, err := strconv.ParseUint(base, 10, 64); err == nil {
				nums = append(nums, n)
			}
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// writeTablesRecord writes the tables in dir into its tablesFile,
// atomically and durably.
func writeTablesRecord(dir string) error {
	nums, err := tablesOnDisk(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(tablesHeader + "\n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d\n", n)
	}
	tmp := filepath.Join(dir, tablesFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, tablesFile))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return fsyncFile(dir)
}

// checkCleanClose checks the MANIFEST of the store in dir against the
// record of its last clean close, if there is one, and removes the record
// when remove is set (a read-write open). It reads and writes nothing else.
func checkCleanClose(dir string, opts badger.Options, remove bool) error {
	data, err := os.ReadFile(filepath.Join(dir, tablesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kv: badger: open %s: %w", dir, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("kv: badger: open %s: %w: "+format, append([]any{dir, kv.ErrCorrupt}, args...)...)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != tablesHeader || !strings.HasSuffix(string(data), "\n") {
		return bad("%s is unreadable (remove it to open the store without checking its MANIFEST)", tablesFile)
	}
	recorded := make([]uint64, 0, len(lines)-1)
	for _, l := range lines[1:] {
		n, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			return bad("%s is unreadable at %q (remove it to open the store without checking its MANIFEST)", tablesFile, l)
		}
		recorded = append(recorded, n)
	}
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return fmt.Errorf("kv: badger: open %s: %w", dir, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("kv: badger: open %s: %w", dir, err)
	}
	mf, end, err := badger.ReplayManifestFile(f, opts.ExternalMagicVersion, opts)
	if err != nil {
		return wrapErr("open", dir, corrupt(err))
	}
	if end != st.Size() {
		return bad("the MANIFEST of a store closed cleanly ends in a damaged record (at byte %d of %d): Badger would cut it off and delete the tables it lists; nothing was changed", end, st.Size())
	}
	var missing []string
	for _, n := range recorded {
		if _, ok := mf.Tables[n]; !ok {
			missing = append(missing, fmt.Sprintf("%06d.sst", n))
		}
	}
	if len(missing) > 0 {
		return bad("the MANIFEST no longer lists %d table(s) the store had when it was last closed cleanly (%s); nothing was changed",
			len(missing), strings.Join(missing, ", "))
	}
	if !remove {
		return nil
	}
	if err := os.Remove(filepath.Join(dir, tablesFile)); err != nil {
		return fmt.Errorf("kv: badger: open %s: %w", dir, err)
	}
	return fsyncFile(dir)
}
