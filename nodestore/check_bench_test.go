package nodestore_test

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/nodestore"
)

// BenchmarkCheck measures Store.Check on a store of one big level
// (levelOps: a tenth folders, the rest files; POLYKV_CHECK_NODES nodes,
// 200,000 by default) per backend, with the peak of the Go heap above
// what it held before Check, per node (peak_heap_B/node: sampled every
// millisecond from runtime/metrics). A Check whose memory grows with the
// store shows a constant per node here at every size; one whose memory is
// bounded shows a figure that falls as the store grows.
func BenchmarkCheck(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("POLYKV_CHECK_NODES")); err == nil && v >= 1000 {
		n = v
	}
	for _, backend := range selectedBackends() {
		b.Run(backend, func(b *testing.B) {
			s, cfg := openBenchCfg(b, b, backend)
			loadLevel(b, s, n)
			ns := nodestore.New(settle(b, b, s, cfg))
			nodes := float64(n + n/10 + 1)
			b.ResetTimer()
			var peak int64
			for range b.N {
				p, err := peakHeapDuring(func() error {
					rep, err := ns.Check(context.Background())
					if err == nil && !rep.OK() {
						b.Fatalf("check: %q", rep.Problems)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, p)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nodes, "ns/node")
			b.ReportMetric(float64(peak)/nodes, "peak_heap_B/node")
			b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
		})
	}
}

// peakHeapDuring runs fn and returns the highest heap (live and not yet
// swept objects) seen while it ran, above the heap after a collection
// just before it.
func peakHeapDuring(fn func() error) (int64, error) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	runtime.GC()
	base := read()
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := read(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := fn()
	close(stop)
	<-done
	return max(0, peak.Load()-base), err
}
