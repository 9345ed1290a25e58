package badger_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// TestEmptyLogAfterKill reproduces what a kill during Badger's creation of
// a log file leaves (a zero-length .vlog or .mem, the highest of its kind)
// and checks the store still opens with its data. Badger alone refuses to
// open such a directory ("Open existing file: ... Create a new file").
func TestEmptyLogAfterKill(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"000099.vlog", "00099.mem"} {
		t.Run(name, func(t *testing.T) {
			dir := storeWithEmptyLog(t, name)
			db := openStore(t, dir, nil)
			if v, err := db.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
				t.Fatalf("get after reopen: %q, %v", v, err)
			}
			if err := db.Set(ctx, []byte("k2"), []byte("v2")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReadOnlyOpenNeedsRecovery: a read-only open of a store a killed
// process left (here: the empty log of a kill during its creation) is
// refused with kv.ErrNeedsRecovery naming the file, before Badger starts
// anything; after a read-write open and close it works, with the data.
// The crash tests check the same after real kills (a memtable log Badger
// must truncate).
func TestReadOnlyOpenNeedsRecovery(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"000099.vlog", "00099.mem"} {
		t.Run(name, func(t *testing.T) {
			dir := storeWithEmptyLog(t, name)
			before := runtime.NumGoroutine()
			_, err := kv.Open(ctx, kv.Config{Backend: "badger", Path: dir, ReadOnly: true})
			if !errors.Is(err, kv.ErrNeedsRecovery) || !strings.Contains(err.Error(), name) {
				t.Fatalf("read-only open = %v, want kv.ErrNeedsRecovery naming %s", err, name)
			}
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Fatalf("the refused read-only open touched the store: %v", err)
			}
			if after := runtime.NumGoroutine(); after > before {
				t.Errorf("%d goroutines before the refused open, %d after", before, after)
			}
			if err := openStore(t, dir, nil).Close(); err != nil {
				t.Fatal(err)
			}
			ro, err := kv.Open(ctx, kv.Config{Backend: "badger", Path: dir, ReadOnly: true})
			if err != nil {
				t.Fatalf("read-only open after recovery: %v", err)
			}
			defer ro.Close()
			if v, err := ro.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
				t.Fatalf("get after recovery: %q, %v", v, err)
			}
		})
	}
}

// storeWithEmptyLog returns a store holding k=v, closed, with an empty log
// file called name added: what a kill during Badger's creation of that log
// leaves.
func storeWithEmptyLog(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	db := openStore(t, dir, nil)
	if err := db.Set(context.Background(), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
