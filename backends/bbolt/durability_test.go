package bbolt_test

import (
	"context"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// TestDurabilityMapsToNoSync: kv.Sync must leave bbolt's fdatasyncs on
// (a committed transaction survives power loss) and kv.NoSync turn them
// off, also after Compact, which replaces the file and reopens it.
func TestDurabilityMapsToNoSync(t *testing.T) {
	ctx := context.Background()
	for _, d := range []kv.Durability{kv.Sync, kv.NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Durability: d})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			want := d == kv.NoSync
			if got := bbolt.BoltNoSync(db); got != want {
				t.Fatalf("durability %v: bbolt NoSync = %v, want %v", d, got, want)
			}
			if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			if err := db.Compact(ctx); err != nil {
				t.Fatal(err)
			}
			if got := bbolt.BoltNoSync(db); got != want {
				t.Errorf("durability %v, after Compact: bbolt NoSync = %v, want %v", d, got, want)
			}
		})
	}
}
