package badger_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestEmptyLogAfterKill reproduces what a kill during Badger's creation of
// a log file leaves (a zero-length .vlog or .mem, the highest of its kind)
// and checks the store still opens with its data. Badger alone refuses to
// open such a directory ("Open existing file: ... Create a new file").
func TestEmptyLogAfterKill(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"000099.vlog", "00099.mem"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := openStore(t, dir, nil)
			if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			db = openStore(t, dir, nil)
			if v, err := db.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
				t.Fatalf("get after reopen: %q, %v", v, err)
			}
			if err := db.Set(ctx, []byte("k2"), []byte("v2")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
