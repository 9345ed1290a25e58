package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestStats(t *testing.T) {
	dsn := "pebble://" + t.TempDir() + "/s?sync=false"
	fill(t, dsn, 500)
	code, out, errOut := polykv(t, nil, "stats", dsn)
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errOut)
	}
	for _, want := range []string{`(?m)^backend: +pebble$`, `(?m)^durability: +nosync$`, `(?m)^read-only: +true$`,
		`(?m)^guarantees: +atomic_delete_range, detects_value_damage, persistent, read_only_open_after_kill$`, `(?m)^on disk: +[1-9]\d* bytes`,
		`(?m)^engine disk: +[1-9]\d* bytes$`, `(?m)^pebble figures:$`, `(?m)^  table_count +1$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stats output does not match %s:\n%s", want, out)
		}
	}
	code, out, errOut = polykv(t, nil, "stats", dsn, "--json")
	var rep statsReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("stats --json: exit %d, %v: %s%s", code, err, out, errOut)
	}
	if rep.Backend != "pebble" || !rep.Guarantees["persistent"] || !rep.Guarantees["detects_value_damage"] || rep.DiskBytes <= 0 || rep.Engine.DiskBytes <= 0 ||
		len(rep.Engine.Extra) == 0 || rep.MemoryBudget != kv.DefaultMemoryBudget {
		t.Errorf("stats --json: %+v", rep)
	}

	// memory: a fresh store, no path, no size on disk.
	code, out, _ = polykv(t, nil, "stats", "--json", "memory:")
	rep = statsReport{}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Backend != "memory" || rep.Path != "" ||
		rep.Guarantees["persistent"] || rep.Engine.Extra["keys"] != 0 {
		t.Errorf("stats memory: exit %d, %v, %+v", code, err, rep)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"stats", "nosuch:///x"}, 2},
		{[]string{"stats", dsn, "--bogus"}, 2},
		{[]string{"stats", "badger://" + filepath.Join(t.TempDir(), "none")}, 1},
	} {
		if code, _, errOut := polykv(t, nil, tc.args...); code != tc.code {
			t.Errorf("polykv %q: exit %d, want %d: %s", tc.args, code, tc.code, errOut)
		}
	}
}

var compacted = regexp.MustCompile(`^compacted (\w+) store (.+): (\d+) bytes on disk before, (\d+) after \([-+]\d+\.\d%\)\n$`)

// TestCompact: after most keys are deleted, compact gives the space back
// on bbolt (live pages copied into a new file) and leaves Pebble compacted
// (a manual compaction drops them, if a background one has not yet), and runs on Badger (whose value-log GC only reclaims
// large values; its LSM tree compacts in the background); the sizes it
// prints are the directory's before and after.
func TestCompact(t *testing.T) {
	for _, backend := range []string{"pebble", "bbolt"} {
		t.Run(backend, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s")
			dsn := backend + "://" + dir
			cfg, _ := kv.ParseDSN(dsn)
			db, err := kv.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := kv.NewBulkWriter(t.Context(), db)
			rnd := rand.New(rand.NewPCG(1, 2))
			val := make([]byte, 1000) // random: the engines' compression keeps its size
			for i := range 4000 {
				for j := range val {
					val[j] = byte(rnd.Uint32())
				}
				if err := w.Set(fmt.Appendf(nil, "k%06d", i), val); err != nil {
					t.Fatal(err)
				}
			}
			if err := errors.Join(w.Close(), db.Close()); err != nil {
				t.Fatal(err)
			}
			// Reopened, and point deletions: Pebble drops the data in the
			// flush itself when the deletions share its memtable, or at
			// once for a range deletion covering whole tables.
			if db, err = kv.Open(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			w = kv.NewBulkWriter(t.Context(), db)
			for i := 100; i < 4000; i++ {
				if err := w.Delete(fmt.Appendf(nil, "k%06d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := polykv(t, nil, "compact", dsn)
			m := compacted.FindStringSubmatch(out)
			if code != 0 || m == nil || m[1] != backend || m[2] != dir {
				t.Fatalf("compact: exit %d, %q: %s", code, out, errOut)
			}
			before, _ := strconv.ParseInt(m[3], 10, 64)
			after, _ := strconv.ParseInt(m[4], 10, 64)
			t.Logf("%s: %d bytes before, %d after", backend, before, after)
			// 3.9 MB of values were deleted: after compact the space is
			// back. bbolt never shrinks its file by itself; Pebble may
			// have compacted the deletions in the background already.
			if after > 1<<20 || backend == "bbolt" && before < 4<<20 {
				t.Errorf("%s: %d bytes before compact, %d after: want the 3.9 MB of deleted values reclaimed by compact", backend, before, after)
			}
			if got := len(contents(t, dsn)); got != 100 {
				t.Errorf("after compact: %d keys, want 100", got)
			}
		})
	}
	t.Run("badger", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "s")
		want := fill(t, "badger://"+dir, 300)
		code, out, errOut := polykv(t, nil, "compact", "badger://"+dir)
		if m := compacted.FindStringSubmatch(out); code != 0 || m == nil || m[1] != "badger" || m[2] != dir {
			t.Fatalf("compact: exit %d, %q: %s", code, out, errOut)
		}
		sameContents(t, contents(t, "badger://"+dir), want)
	})
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compact", "memory:"}, 2, "nothing on disk"},
		{[]string{"compact", "bbolt://" + missing + "?readonly=true"}, 2, "read-write"},
		{[]string{"compact", "nosuch://" + missing}, 2, "unknown backend"},
		{[]string{"compact", "bbolt://" + missing}, 1, "not a polykv store"},
		{[]string{"compact", "auto://" + missing}, 1, "not a polykv store"},
	} {
		if code, _, errOut := polykv(t, nil, tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("polykv %q: exit %d, want %d and %q: %s", tc.args, code, tc.code, tc.want, errOut)
		}
	}
	if _, err := kv.ReadMarker(missing); err == nil {
		t.Error("compact created a store")
	}
}
