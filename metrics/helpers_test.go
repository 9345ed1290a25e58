package metrics_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// openWrapped opens a memory store, wraps it and registers its metrics in
// a fresh registry.
func openWrapped(tb testing.TB) (*metrics.Store, *kv.DB, *prometheus.Registry) {
	tb.Helper()
	db, err := memory.Open(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	reg := prometheus.NewPedanticRegistry()
	w, err := metrics.Wrap(db, reg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return w, db, reg
}

// gather returns every sample reg gathers by its name and labels, as
// name{l1="v1",l2="v2"} (labels sorted by name; histograms as _count and
// _sum samples, and _bucket with an le label).
func gather(tb testing.TB, g prometheus.Gatherer) map[string]float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			slices.Sort(ls)
			key := func(suffix string, extra ...string) string {
				all := append(slices.Clone(ls), extra...)
				slices.Sort(all)
				return mf.GetName() + suffix + "{" + strings.Join(all, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key("")] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key("")] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key("_count")] = float64(m.Histogram.GetSampleCount())
				out[key("_sum")] = m.Histogram.GetSampleSum()
				for _, b := range m.Histogram.GetBucket() {
					out[key("_bucket", fmt.Sprintf("le=%q", fmt.Sprint(b.GetUpperBound())))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

// want checks that every sample of want has its value in got.
func wantSamples(tb testing.TB, got map[string]float64, want map[string]float64) {
	tb.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v, ok := got[k]
		if !ok {
			tb.Errorf("no sample %s (want %v)", k, want[k])
			continue
		}
		if v != want[k] {
			tb.Errorf("%s = %v, want %v", k, v, want[k])
		}
	}
}
