package badger_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
)

// openStore opens a NoSync Badger store in dir (a fresh temporary
// directory when dir is empty) and closes it at the end of the test.
func openStore(tb testing.TB, dir string, opts map[string]string) *kv.DB {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	db, err := badger.Open(context.Background(), kv.Config{Path: dir, Durability: kv.NoSync, Options: opts})
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// collect returns the keys an iteration visits, copied.
func collect(tb testing.TB, s kv.Store, opts kv.IterOptions) [][]byte {
	tb.Helper()
	var out [][]byte
	err := s.Iterate(context.Background(), opts, func(k, _ []byte) error {
		out = append(out, bytes.Clone(k))
		return nil
	})
	if err != nil {
		tb.Fatalf("iterate %+v: %v", opts, err)
	}
	return out
}

// model returns the keys of sorted (ascending, distinct) that opts selects,
// computed independently of kv.Bounds.
func model(sorted [][]byte, opts kv.IterOptions) [][]byte {
	var out [][]byte
	for _, k := range sorted {
		if !bytes.HasPrefix(k, opts.Prefix) {
			continue
		}
		if len(opts.Start) > 0 && bytes.Compare(k, opts.Start) < 0 {
			continue
		}
		if len(opts.End) > 0 && bytes.Compare(k, opts.End) >= 0 {
			continue
		}
		out = append(out, k)
	}
	if opts.Reverse {
		slices.Reverse(out)
	}
	if opts.Limit > 0 && len(out) > opts.Limit {
		out = out[:opts.Limit]
	}
	return out
}

func sortedKeys(keys [][]byte) [][]byte {
	out := slices.Clone(keys)
	slices.SortFunc(out, bytes.Compare)
	return slices.CompactFunc(out, bytes.Equal)
}
