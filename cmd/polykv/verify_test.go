package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// TestVerify: verify passes an intact store on every persistent backend,
// and fails with the damage named on a store whose data file has 4 KiB of
// garbage in its middle (bbolt included: the garbage lands on pages its
// consistency check reads).
func TestVerify(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt"} {
		t.Run(b, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s")
			dsn := b + "://" + dir
			db, err := kv.Open(t.Context(), kv.Config{Backend: b, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			var batch kv.Batch
			for i := range 3000 {
				batch.Set(fmt.Appendf(nil, "k/%06d", i), []byte(strings.Repeat("v", 100+i%50)))
			}
			if err := db.Write(t.Context(), &batch); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := polykv(t, nil, "verify", dsn)
			if code != 0 || !strings.Contains(out, "scan: 3000 keys") || !strings.Contains(out, "ok:") {
				t.Fatalf("verify of an intact store: exit %d\n%s%s", code, out, stderr)
			}
			if b == "bbolt" && !strings.Contains(out, "keeps no checksum") {
				t.Errorf("verify on bbolt does not say what it cannot see:\n%s", out)
			}

			damageDataFile(t, b, dir)
			code, out, stderr = polykv(t, nil, "verify", dsn)
			if code != 1 || !strings.Contains(stderr, "damaged") {
				t.Fatalf("verify of a damaged store: exit %d, want 1 naming the damage\n%s%s", code, out, stderr)
			}
			if b == "pebble" && !strings.Contains(stderr, "after key") {
				t.Errorf("verify does not name the affected key range:\n%s", stderr)
			}
		})
	}
}

// damageDataFile writes 4 KiB of garbage into the middle of the written
// part of the store's data file (badger and pebble: the first table).
func damageDataFile(t *testing.T, b, dir string) {
	t.Helper()
	pattern := map[string]string{"badger": "*.sst", "pebble": "*.sst", "bbolt": "*.bolt"}[b]
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s in %s: %v", pattern, dir, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	mid := len(data) / 2
	if b == "bbolt" {
		mid = 100 << 10 // a leaf page, among the pages written
	}
	for i := mid; i < mid+4096 && i < len(data); i++ {
		data[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(files[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckSaysWhatItChecks: check's help and its output say that it
// checks nodestore's bookkeeping, not the stored bytes.
func TestCheckSaysWhatItChecks(t *testing.T) {
	_, out, stderr := polykv(t, nil, "check", "--help")
	if !strings.Contains(out+stderr, "not the") || !strings.Contains(out+stderr, "polykv verify") {
		t.Errorf("check --help does not send to verify:\n%s%s", out, stderr)
	}
}
