package metrics_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkGet measures a point read of the memory backend (the fastest
// store, so the wrapper's share is the largest) plain and wrapped, in
// alternating blocks; the difference is what the wrapper adds to a call:
// with the default sampling of timings, and timing every call. The paired
// benchmarks on badger are bench's BenchmarkOverheadPairedMetrics (make
// calibrate).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key := []byte("key")
	if err := db.Set(ctx, key, make([]byte, 100)); err != nil {
		b.Fatal(err)
	}
	var v []byte
	get := func(s interface {
		GetAppend(ctx context.Context, dst, key []byte) ([]byte, error)
	}) func() {
		return func() {
			if v, err = s.GetAppend(ctx, v[:0], key); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name  string
		every int
	}{{"sampled", 0}, {"every-call", 1}} {
		b.Run(c.name, func(b *testing.B) {
			w, err := metrics.Wrap(db, prometheus.NewRegistry(), &metrics.Options{TimeEvery: c.every})
			if err != nil {
				b.Fatal(err)
			}
			paired(b, [2]func(){get(db), get(w)}, 1000)
		})
	}
}

// paired runs the two ops in alternating timed blocks of block calls until
// b.Loop ends, and reports each side's fast (10th percentile) and median
// block time per call, and their differences: on a shared machine this is
// steadier than timing each side in a benchmark of its own.
func paired(b *testing.B, ops [2]func(), block int) {
	var d [2][]float64
	for r := 0; b.Loop(); r++ {
		for s := range 2 {
			s := (s + r) % 2
			t0 := time.Now()
			for range block {
				ops[s]()
			}
			d[s] = append(d[s], float64(time.Since(t0).Nanoseconds())/float64(block))
		}
	}
	slices.Sort(d[0])
	slices.Sort(d[1])
	q := func(x []float64, f float64) float64 { return x[int(f*float64(len(x)-1))] }
	b.ReportMetric(q(d[0], 0.1), "plain-ns/op")
	b.ReportMetric(q(d[1], 0.1), "wrapped-ns/op")
	b.ReportMetric(q(d[1], 0.1)-q(d[0], 0.1), "added-p10-ns/op")
	b.ReportMetric(q(d[1], 0.5)-q(d[0], 0.5), "added-p50-ns/op")
}

// BenchmarkWrite measures a Write of a 100-write batch on the memory
// backend, plain and wrapped, in alternating blocks.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	w, err := metrics.Wrap(db, prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var batch kv.Batch
	for i := range 100 {
		if err := batch.Set([]byte{'k', byte(i)}, make([]byte, 100)); err != nil {
			b.Fatal(err)
		}
	}
	write := func(s kv.Store) func() {
		return func() {
			if err := s.Write(ctx, &batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	paired(b, [2]func(){write(db), write(w)}, 10)
}
