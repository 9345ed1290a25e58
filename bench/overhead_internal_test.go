package bench

// The paired overhead benchmarks live inside the package (not bench_test)
// because the raw-engine targets they compare with are unexported: they
// are calibration code, not API.
//
//	go test -run '^$' -bench OverheadPaired -benchtime 200x ./bench/
//
// BenchmarkOverheadPaired measures one operation of a calibrated workload
// (point read, batch fill, prefix scan) through polykv and through the
// engine's own API in one process, on two stores loaded alike, alternating
// short timed blocks of each; the reported ratio of their fast (10th
// percentile) and median blocks is steadier on a shared machine than
// comparing whole runs. BenchmarkOverheadSide runs one side alone, for CPU
// profiles and allocation counts (-benchmem).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// openSide opens a NoSync store of engine in a temporary directory:
// through polykv, or raw as the calibration opens it.
func openSide(b *testing.B, engine string, raw bool) target {
	ctx := context.Background()
	cfg := kv.Config{Backend: engine, Durability: kv.NoSync, Path: b.TempDir()}
	if raw {
		t, closeFn, err := rawEngines[engine](ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { closeFn() })
		return t
	}
	db, err := kv.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return newStoreTarget(ctx, db)
}

// ovN is the number of records each store is loaded with.
const ovN = 100_000

// loadSide writes records [0, ovN) to t in batches of 1000.
func loadSide(b *testing.B, t target, vals *values) {
	var wb writeBatch
	var key []byte
	for j := 0; j < ovN; j += 1000 {
		wb.reset()
		for i := j; i < j+1000; i++ {
			key = appendKey(key[:0], uint64(i))
			wb.add(key, vals.of(uint64(i)))
		}
		if err := t.write(&wb); err != nil {
			b.Fatal(err)
		}
	}
}

// ovOp returns a function doing one operation of kind w on t, each call
// on other keys.
func ovOp(b *testing.B, w string, t target, vals *values) func() {
	var key, v []byte
	var first, prefix, upper []byte
	var wb writeBatch
	i := uint64(0)
	sum := 0
	switch w {
	case "get":
		return func() {
			i = (i*7919 + 13) % ovN
			key = appendKey(key[:0], i)
			var err error
			if v, _, err = t.get(key, v[:0]); err != nil {
				b.Fatal(err)
			}
		}
	case "fill-b100", "fill-b1000":
		bs := 100
		if w == "fill-b1000" {
			bs = 1000
		}
		next := uint64(ovN)
		return func() {
			wb.reset()
			for range bs {
				key = appendKey(key[:0], next)
				wb.add(key, vals.of(next))
				next++
			}
			if err := t.write(&wb); err != nil {
				b.Fatal(err)
			}
		}
	}
	var l, digits int
	var ko bool
	fmt.Sscanf(w, "scan-%d", &l)
	ko = len(w) > 5 && w[len(w)-5:] == "-keys"
	for x := l; x > 1; x /= 10 {
		digits++
	}
	groups := uint64(ovN / l)
	return func() {
		i = (i*7919 + 13) % groups
		first = appendKey(first[:0], i*uint64(l))
		prefix = append(prefix[:0], first[:len(first)-digits]...)
		upper = prefixEnd(upper[:0], prefix)
		n := 0
		err := t.scan(prefix, upper, 0, ko, func(k, v []byte) error { n++; sum += len(k) + len(v); return nil })
		if err != nil || n != l {
			b.Fatal(err, n)
		}
	}
}

// BenchmarkOverheadPaired alternates short blocks of one operation on kv
// and on the raw engine and reports the ratio of the fastest blocks.
func BenchmarkOverheadPaired(b *testing.B) {
	for _, eng := range []string{"badger", "pebble", "bbolt"} {
		for _, w := range []string{"get", "fill-b100", "fill-b1000", "scan-10", "scan-100", "scan-1000", "scan-10-keys", "scan-100-keys", "scan-1000-keys"} {
			b.Run(eng+"/"+w, func(b *testing.B) {
				vals := newValues(&Env{Spec: Spec{Seed: 1}}, kvValue)
				sides := [2]target{openSide(b, eng, false), openSide(b, eng, true)}
				var ops [2]func()
				for s := range sides {
					if !strings.HasPrefix(w, "fill") {
						loadSide(b, sides[s], vals)
					}
					ops[s] = ovOp(b, w, sides[s], vals)
				}
				block := 200
				switch w {
				case "fill-b1000", "scan-1000", "scan-1000-keys":
					block = 5
				case "fill-b100", "scan-100", "scan-100-keys":
					block = 30
				}
				d := pairedBlocks(b, ops, block)
				q := quantile
				b.ReportMetric(q(d[0], 0.1), "kv-ns/op")
				b.ReportMetric(q(d[1], 0.1), "raw-ns/op")
				b.ReportMetric(100*(q(d[0], 0.1)/q(d[1], 0.1)-1), "overhead-p10-%")
				b.ReportMetric(100*(q(d[0], 0.5)/q(d[1], 0.5)-1), "overhead-p50-%")
			})
		}
	}
}

// BenchmarkOverheadPairedMetrics alternates short blocks of one operation
// on a store wrapped by metrics.Wrap and on the same engine's store
// unwrapped (two stores loaded alike), and reports what the wrapper costs:
// wrapped/unwrapped of the fastest and of the median blocks. The control
// runs have both sides unwrapped: their ratio is the noise floor of the
// pairing (two Badger stores differ by when each flushes and compacts),
// against which to read the others. make calibrate runs it with
// BenchmarkOverheadPaired.
func BenchmarkOverheadPairedMetrics(b *testing.B) {
	for _, w := range []string{"get", "fill-b100", "fill-b1000", "control/get", "control/fill-b100", "control/fill-b1000"} {
		b.Run("badger/"+w, func(b *testing.B) {
			control := strings.HasPrefix(w, "control/")
			w := strings.TrimPrefix(w, "control/")
			vals := newValues(&Env{Spec: Spec{Seed: 1}}, kvValue)
			sides := [2]target{nil, openSide(b, "badger", false)}
			if control {
				sides[0] = openSide(b, "badger", false)
			} else {
				sides[0] = openWrapped(b, "badger")
			}
			var ops [2]func()
			for s := range sides {
				if !strings.HasPrefix(w, "fill") {
					loadSide(b, sides[s], vals)
				}
				ops[s] = ovOp(b, w, sides[s], vals)
			}
			block := map[string]int{"get": 200, "fill-b100": 30, "fill-b1000": 5}[w]
			d := pairedBlocks(b, ops, block)
			b.ReportMetric(quantile(d[0], 0.1), "wrapped-ns/op")
			b.ReportMetric(quantile(d[1], 0.1), "kv-ns/op")
			b.ReportMetric(100*(quantile(d[0], 0.1)/quantile(d[1], 0.1)-1), "overhead-p10-%")
			b.ReportMetric(100*(quantile(d[0], 0.5)/quantile(d[1], 0.5)-1), "overhead-p50-%")
		})
	}
}

// openWrapped opens a NoSync store of engine, wrapped by metrics.Wrap
// with a registry of its own.
func openWrapped(b *testing.B, engine string) target {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: engine, Durability: kv.NoSync, Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	w, err := metrics.Wrap(db, prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return newStoreTarget(ctx, w)
}

// pairedBlocks runs the two ops in alternating timed blocks of block
// calls each until b.Loop ends, and returns each side's nanoseconds per
// call of every block, sorted.
func pairedBlocks(b *testing.B, ops [2]func(), block int) [2][]float64 {
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
	return d
}

// quantile returns the f quantile of sorted x.
func quantile(x []float64, f float64) float64 { return x[int(f*float64(len(x)-1))] }

func BenchmarkOverheadSide(b *testing.B) {
	for _, eng := range []string{"badger", "pebble", "bbolt"} {
		for _, w := range []string{"get", "fill-b100", "scan-10", "scan-10-keys"} {
			for _, raw := range []bool{false, true} {
				name := eng + "/" + w + "/kv"
				if raw {
					name = eng + "/" + w + "/raw"
				}
				b.Run(name, func(b *testing.B) {
					vals := newValues(&Env{Spec: Spec{Seed: 1}}, kvValue)
					t := openSide(b, eng, raw)
					if !strings.HasPrefix(w, "fill") {
						loadSide(b, t, vals)
					}
					op := ovOp(b, w, t, vals)
					b.ReportAllocs()
					for b.Loop() {
						op()
					}
				})
			}
		}
	}
}
