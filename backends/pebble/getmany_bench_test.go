package pebble_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/polykv/polykv/kv"
)

// BenchmarkGetMany reads groups of keys that are near in key order (a
// folder's children: node keys at one position, sorted by path hash, as
// nodestore asks for them) with one kv.GetMany, and, for comparison, with
// one Get per key in the same View:
//
//	go test -run '^$' -bench GetMany ./backends/pebble
func BenchmarkGetMany(b *testing.B) {
	const n = 200_000
	db := openBenchKV(b)
	ctx := context.Background()
	keys := make([][]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "src:00000003:pending:pending:%016x", r.Uint64())
	}
	slices.SortFunc(keys, bytes.Compare)
	w := kv.NewBulkWriter(ctx, db)
	for i, k := range keys {
		if err := w.Set(k, benchValue(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	for _, where := range []string{"memtable", "tables"} {
		if where == "tables" {
			if err := db.Compact(ctx); err != nil {
				b.Fatal(err)
			}
		}
		for _, group := range []int{2, 4, 6, 10, 100} {
			for _, mode := range []string{"many", "each"} {
				b.Run(fmt.Sprintf("%s/group=%d/%s", where, group, mode), func(b *testing.B) {
					r := rand.New(rand.NewPCG(3, 4))
					found := 0
					for b.Loop() {
						// A group: every 20th key from a random start, as a
						// folder's children are spread among the level's nodes.
						start := r.IntN(n - 20*group)
						g := make([][]byte, group)
						for j := range g {
							g[j] = keys[start+20*j]
						}
						err := db.View(ctx, func(tx kv.ReadTxn) error {
							if mode == "many" {
								return kv.GetMany(tx, g, func(int, []byte) error { found++; return nil })
							}
							for _, k := range g {
								if _, err := tx.Get(k); err != nil {
									return err
								}
								found++
							}
							return nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(found), "ns/key")
				})
			}
		}
	}
}
