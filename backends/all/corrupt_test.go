package all_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// The corruption matrix: for each backend, damage each kind of file it
// writes, reopen, scan everything and run DB.Verify. What the caller may see
// is either every key and value intact, or an error (from Open, or an
// ErrCorrupt from the scan) — never a silently shorter or different answer,
// on every backend that declares Guarantees.DetectsValueDamage. bbolt does
// not (it keeps no checksums of its pages): a silent wrong answer there is
// logged, not failed, and Verify must still report what bbolt's own check
// sees.

// corruptKeys is how many keys a damaged store holds: enough for several
// blocks in every engine's data file.
const corruptKeys = 3000

func corruptKey(i int) []byte { return fmt.Appendf(nil, "damage/%06d", i) }
func corruptValue(i int) []byte {
	return fmt.Appendf(nil, "value-%d-%s", i, bytes.Repeat([]byte{byte('a' + i%26)}, 40+i%160))
}

// fileKind names the role of a file of backend b in its store directory,
// or "" for files the matrix leaves alone (locks, empty pebble markers,
// badger's DISCARD statistics).
func fileKind(b, name string) string {
	switch {
	case name == kv.MarkerFileName:
		return "polykv marker"
	case strings.HasSuffix(name, ".lock"), name == "LOCK":
		return ""
	}
	switch b {
	case "badger":
		switch {
		case strings.HasSuffix(name, ".sst"):
			return "data table"
		case strings.HasSuffix(name, ".vlog"):
			return "value log"
		case strings.HasSuffix(name, ".mem"):
			return "memtable log"
		case name == "MANIFEST":
			return "manifest"
		case name == "KEYREGISTRY":
			return "key registry"
		case name == "polykv-badger-tables":
			return "clean-close record"
		}
	case "pebble":
		switch {
		case strings.HasSuffix(name, ".sst"):
			return "data table"
		case strings.HasSuffix(name, ".log"):
			return "wal"
		case strings.HasPrefix(name, "MANIFEST-"):
			return "manifest"
		case strings.HasPrefix(name, "OPTIONS-"):
			return "options"
		case name == "polykv-pebble-tables":
			return "clean-close record"
		}
	case "bbolt":
		if strings.HasSuffix(name, ".bolt") {
			return "data file"
		}
		if name == "polykv-bbolt-txid" {
			return "clean-close record"
		}
	}
	return ""
}

// damage is one way of damaging a file.
type damage struct {
	name string
	// apply damages data in place, choosing where with rng.
	apply func(rng *rand.Rand, data []byte)
}

// region is where damage lands in a file of size n: bbolt's data file is
// mostly preallocated free space, so its damage goes to the pages in use
// (the two meta pages, then the pages written).
func damages(b, kind string) []damage {
	garbage := func(lo, hi int) func(*rand.Rand, []byte) {
		return func(rng *rand.Rand, data []byte) {
			h := min(hi, len(data))
			n := min(4096, max(1, (h-lo)/3))
			off := lo + rng.IntN(max(1, h-lo-n+1))
			for i := off; i < off+n && i < len(data); i++ {
				data[i] = byte(rng.UintN(256))
			}
		}
	}
	flip := func(lo, hi int) func(*rand.Rand, []byte) {
		return func(rng *rand.Rand, data []byte) {
			h := min(hi, len(data))
			off := lo + rng.IntN(max(1, h-lo))
			data[off] ^= 1 << rng.UintN(8)
		}
	}
	const all = 1 << 62
	if b == "bbolt" && kind == "data file" {
		const page = 4096
		used := 2*page + corruptKeys*200 // the meta pages and about what was written
		return []damage{
			{"meta page garbage", garbage(0, 2*page)},
			{"meta page bit flip", func(rng *rand.Rand, data []byte) {
				// in the 80 bytes of a meta page that hold its fields
				data[rng.IntN(2)*page+rng.IntN(80)] ^= 1 << rng.UintN(8)
			}},
			{"data page garbage", garbage(2*page, used)},
			{"data page bit flip", flip(2*page, used)},
		}
	}
	return []damage{{"garbage", garbage(0, all)}, {"bit flip", flip(0, all)}}
}

// outcome is what the caller saw after one damage.
type outcome string

const (
	outIntact      outcome = "every key intact"
	outOpenErr     outcome = "open error"
	outOpenCorrupt outcome = "open: ErrCorrupt"
	outScanCorrupt outcome = "scan: ErrCorrupt"
	outScanOther   outcome = "scan: other error"
	outSilent      outcome = "SILENT wrong or short scan"
)

func TestCorruptionMatrix(t *testing.T) {
	seeds := 2
	if stress() {
		seeds = 25
	} else if testing.Short() {
		seeds = 1
	}
	for _, b := range persistent {
		t.Run(b, func(t *testing.T) {
			pristine := newCorruptStore(t, b)
			names := storeFiles(t, b, pristine)
			seen := map[string]map[outcome]int{}
			var guarantees kv.Guarantees
			for _, name := range names {
				kind := fileKind(b, name)
				for _, d := range damages(b, kind) {
					for seed := range seeds {
						label := fmt.Sprintf("%s/%s/%s/seed%d", kind, name, d.name, seed)
						dir := copyStore(t, pristine)
						path := filepath.Join(dir, name)
						data, err := os.ReadFile(path)
						if err != nil {
							t.Fatal(err)
						}
						if len(data) == 0 {
							continue
						}
						d.apply(rand.New(rand.NewPCG(uint64(seed), uint64(len(name)))), data)
						if err := os.WriteFile(path, data, 0o644); err != nil {
							t.Fatal(err)
						}
						out, g := readDamaged(t, b, dir, label)
						if g != nil {
							guarantees = *g
						}
						row := kind + " — " + d.name
						if seen[row] == nil {
							seen[row] = map[outcome]int{}
						}
						seen[row][out]++
						if strings.HasPrefix(string(out), string(outSilent)) && (guarantees.DetectsValueDamage || b != "bbolt") {
							t.Errorf("%s: %s on a backend that declares DetectsValueDamage", label, out)
						}
					}
				}
			}
			rows := make([]string, 0, len(seen))
			for row := range seen {
				rows = append(rows, row)
			}
			sort.Strings(rows)
			for _, row := range rows {
				t.Logf("%-40s %v", row, seen[row])
			}
		})
	}
}

// cleanMessage fails the test when err's message carries an engine's
// internal marker rather than words for the user: Pebble joins its
// corruption errors with one whose text is "<corruption detail carrier>".
func cleanMessage(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "<corruption detail carrier>") {
		t.Errorf("%s: the error's message holds Pebble's detail carrier: %q", what, err)
	}
}

// readDamaged opens the damaged store in dir, scans it and verifies it,
// and returns what the caller saw, failing the test on anything the
// contract forbids: an error that is not ErrCorrupt from a scan, a Verify
// that finds nothing where the scan failed.
func readDamaged(t *testing.T, b, dir, label string) (outcome, *kv.Guarantees) {
	t.Helper()
	db, err := openWithin(t, kv.Config{Backend: b, Path: dir})
	cleanMessage(t, label+": open", err)
	if err != nil {
		if errors.Is(err, kv.ErrCorrupt) {
			return outOpenCorrupt, nil
		}
		t.Logf("%s: open: %v", label, err)
		return outOpenErr, nil
	}
	defer db.Close()
	g := db.Info().Guarantees
	n, bad := 0, -1
	scanErr := db.Iterate(t.Context(), kv.IterOptions{}, func(k, v []byte) error {
		if n < corruptKeys && bad < 0 && (!bytes.Equal(k, corruptKey(n)) || !bytes.Equal(v, corruptValue(n))) {
			bad = n
		}
		n++
		return nil
	})
	rep, verr := db.Verify(t.Context())
	cleanMessage(t, label+": scan", scanErr)
	cleanMessage(t, label+": verify", verr)
	var out outcome
	switch {
	case scanErr != nil && errors.Is(scanErr, kv.ErrCorrupt):
		out = outScanCorrupt
	case scanErr != nil:
		t.Errorf("%s: scan error does not match kv.ErrCorrupt: %v", label, scanErr)
		out = outScanOther
	case n != corruptKeys || bad >= 0:
		t.Logf("%s: scan returned %d keys (want %d), first wrong entry %d, nil error; verify: %v", label, n, corruptKeys, bad, verr)
		out = outSilent
	default:
		out = outIntact
	}
	if out != outIntact && out != outSilent && !errors.Is(verr, kv.ErrCorrupt) {
		t.Errorf("%s: the scan failed (%v) but Verify reports %v (%+v)", label, scanErr, verr, rep)
	}
	if out == outIntact && verr != nil && !errors.Is(verr, kv.ErrCorrupt) {
		t.Errorf("%s: Verify failed without reporting damage: %v", label, verr)
	}
	if (out == outIntact || out == outSilent) && errors.Is(verr, kv.ErrCorrupt) {
		out += " (Verify: ErrCorrupt)"
	}
	return out, &g
}

// newCorruptStore writes corruptKeys keys into a new store of backend b
// and closes it.
func newCorruptStore(t *testing.T, b string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pristine")
	db, err := kv.Open(t.Context(), kv.Config{Backend: b, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	var batch kv.Batch
	for i := range corruptKeys {
		batch.Set(corruptKey(i), corruptValue(i))
	}
	if err := db.Write(t.Context(), &batch); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// storeFiles lists the files of the store in dir that the matrix damages.
func storeFiles(t *testing.T, b, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && fileKind(b, e.Name()) != "" {
			names = append(names, e.Name())
		}
	}
	if len(names) < 2 {
		t.Fatalf("store %s has only %v", dir, names)
	}
	return names
}

// copyStore copies the store in src (a flat directory) into a new
// directory.
func copyStore(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "store")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func stress() bool { return os.Getenv("POLYKV_STRESS") == "1" }
