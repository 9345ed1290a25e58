package logstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/all" // the benchmarks run on every backend
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

var benchBackends = []string{"memory", "badger", "pebble", "bbolt"}

// openBench opens a fresh NoSync store of backend: the benchmarks compare
// CPU and engine work, not fsync latency.
func openBench(b *testing.B, backend string) kv.Store {
	b.Helper()
	cfg := kv.Config{Backend: backend, Durability: kv.NoSync}
	if backend != "memory" {
		cfg.Path = b.TempDir()
	}
	s, err := kv.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchEntries returns n entries with IDs and timestamps from a fake clock,
// spread over the six levels, and their keys and values.
func benchEntries(b testing.TB, n int, msgLen int) (es []logstore.LogEntry, keys, values [][]byte) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	ids := logstore.NewIDGenerator(func() time.Time {
		tick++
		return t0.Add(time.Duration(tick) * 50 * time.Microsecond)
	}, rand.NewChaCha8([32]byte{7}))
	r := rand.New(rand.NewPCG(1, 2))
	msg := make([]byte, msgLen)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	levels := logstore.Levels()
	for i := range n {
		id, ts, err := ids.Next()
		if err != nil {
			b.Fatal(err)
		}
		e := logstore.LogEntry{
			ID: id.String(), Timestamp: ts.Format(time.RFC3339Nano),
			Level: levels[r.IntN(6)], Entity: "worker", EntityID: fmt.Sprintf("worker-%d", i%16),
			Queue: "src", Message: string(msg),
		}
		k, err := e.Key()
		if err != nil {
			b.Fatal(err)
		}
		v, err := logstore.EncodeValue(e)
		if err != nil {
			b.Fatal(err)
		}
		es = append(es, e)
		keys = append(keys, k)
		values = append(values, v)
	}
	return es, keys, values
}

// settle opens a fresh store of backend, loads it with load and brings it
// to a steady state, that of a store that has been running a while: a
// manual compaction where the engine offers one, then a close and reopen
// (Badger and Pebble flush their memtables). Without it the large store's
// queries would run beside the compactions its bulk load started. Both
// sizes are settled the same way.
func settle(b *testing.B, backend string, load func(kv.Store)) kv.Store {
	b.Helper()
	cfg := kv.Config{Backend: backend, Durability: kv.NoSync}
	if backend != "memory" {
		cfg.Path = b.TempDir()
	}
	s, err := kv.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	load(s)
	if backend == "memory" {
		return s
	}
	if err := s.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = kv.Open(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	return s
}

func bulkLoad(b testing.TB, s kv.Store, keys, values [][]byte) {
	bulkLoadChunks(b, s, keys, values, 0)
}

// bulkLoadChunks writes keys and values with a kv.BulkWriter in chunks of
// chunkBytes (0: kv.MaxTxnBytes).
func bulkLoadChunks(b testing.TB, s kv.Store, keys, values [][]byte, chunkBytes int) {
	w := kv.NewBulkWriterSize(context.Background(), s, chunkBytes)
	for i := range keys {
		if err := w.Set(keys[i], values[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIngest compares, on each backend and in one run, writing the
// same entries through a LogBuffer (encoding included) with writing their
// pre-encoded keys and values with the raw kv API. Runs alternate. Cases:
//
//   - default: a LogBuffer with the default options (batches of 500, the
//     seed's NewLogBuffer) against kv's raw bulk write, kv.BulkWriter, in
//     chunks of 512 KiB: the comparison. 512 KiB is the fastest
//     chunk size measured for these keys on every backend (chunks of 8 MiB,
//     kv.MaxTxnBytes, were 1.1 to 1.9 times slower);
//   - batch=500: the same LogBuffer against Store.Write of kv.Batches of
//     500, the same transactions as the buffer's (a stricter comparison);
//   - batch=max: BatchSize 1<<20 (flushes capped by the transaction
//     limits) against kv.BulkWriter in chunks of kv.MaxTxnBytes.
//
// Metrics: raw-MB/s and buf-MB/s of key+value bytes, buf/raw, the ratio of
// the two throughputs (the target is at least 0.70), and buf/raw-cpu, the
// same ratio on process CPU time.
func BenchmarkIngest(b *testing.B) {
	const n = 50_000
	es, keys, values := benchEntries(b, n, 120)
	var bytes int
	for i := range keys {
		bytes += len(keys[i]) + len(values[i])
	}
	cases := []struct {
		name     string
		batch    int // the LogBuffer's BatchSize; 0 takes the default
		rawBatch int // the raw side's kv.Batch size; 0: kv.BulkWriter
		rawChunk int // the BulkWriter's chunk bytes; 0: kv.MaxTxnBytes
	}{
		{"default", 0, 0, 512 << 10},
		{"batch=500", 500, 500, 0},
		{"batch=max", 1 << 20, 0, 0},
	}
	for _, backend := range benchBackends {
		for _, tc := range cases {
			batch, rawBatch, rawChunk := tc.batch, tc.rawBatch, tc.rawChunk
			b.Run(backend+"/"+tc.name, func(b *testing.B) {
				var raw, buf, rawCPU, bufCPU time.Duration
				rawRun := func() {
					s := openBench(b, backend)
					defer s.Close()
					runtime.GC()
					c0 := cpuTime()
					start := time.Now()
					if rawBatch == 0 {
						bulkLoadChunks(b, s, keys, values, rawChunk)
					} else {
						var kb kv.Batch
						for j := 0; j < n; j += rawBatch {
							kb.Reset()
							for k := j; k < min(j+rawBatch, n); k++ {
								if err := kb.Set(keys[k], values[k]); err != nil {
									b.Fatal(err)
								}
							}
							if err := s.Write(context.Background(), &kb); err != nil {
								b.Fatal(err)
							}
						}
					}
					raw += time.Since(start)
					rawCPU += cpuTime() - c0
				}
				bufRun := func() {
					s := openBench(b, backend)
					defer s.Close()
					runtime.GC()
					c0 := cpuTime()
					start := time.Now()
					lb := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: batch, Interval: time.Hour})
					for _, e := range es {
						if err := lb.Add(e); err != nil {
							b.Fatal(err)
						}
					}
					if err := lb.Stop(); err != nil {
						b.Fatal(err)
					}
					buf += time.Since(start)
					bufCPU += cpuTime() - c0
				}
				for i := 0; i < b.N; i++ {
					if i%2 == 0 {
						rawRun()
						bufRun()
					} else {
						bufRun()
						rawRun()
					}
				}
				mb := float64(bytes) * float64(b.N) / 1e6
				b.ReportMetric(mb/raw.Seconds(), "raw-MB/s")
				b.ReportMetric(mb/buf.Seconds(), "buf-MB/s")
				b.ReportMetric(raw.Seconds()/buf.Seconds(), "buf/raw")
				b.ReportMetric(rawCPU.Seconds()/bufCPU.Seconds(), "buf/raw-cpu")
			})
		}
	}
}

// BenchmarkNewest compares, on each backend and in one run, the newest-first
// query of 100 entries of all levels in a store of 10,000 entries and in
// one of 1,000,000 (set POLYKV_BENCH_LARGE to change the large size). Runs
// alternate. Metrics: small-us and large-us per query, and large/small (the
// target is at most 2).
func BenchmarkNewest(b *testing.B) {
	const small, limit = 10_000, 100
	large := 1_000_000
	if v := benchLarge(); v > 0 {
		large = v
	}
	for _, backend := range benchBackends {
		b.Run(backend, func(b *testing.B) {
			b.StopTimer()
			_, keys, values := benchEntries(b, large, 40)
			ss := settle(b, backend, func(s kv.Store) { bulkLoad(b, s, keys[large-small:], values[large-small:]) })
			defer ss.Close()
			sl := settle(b, backend, func(s kv.Store) { bulkLoad(b, s, keys, values) })
			defer sl.Close()
			ctx := context.Background()
			query := func(s kv.Store) time.Duration {
				start := time.Now()
				got, err := logstore.Newest(ctx, s, limit)
				d := time.Since(start)
				if err != nil || len(got) != limit {
					b.Fatalf("Newest: %d entries, %v", len(got), err)
				}
				return d
			}
			for range 20 { // warm up both
				query(ss)
				query(sl)
			}
			var ds, dl time.Duration
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				ds += query(ss)
				dl += query(sl)
			}
			b.StopTimer()
			b.ReportMetric(float64(ds.Microseconds())/float64(b.N), "small-us")
			b.ReportMetric(float64(dl.Microseconds())/float64(b.N), "large-us")
			b.ReportMetric(dl.Seconds()/ds.Seconds(), "large/small")
		})
	}
}

func benchLarge() int {
	var n int
	fmt.Sscan(getenv("POLYKV_BENCH_LARGE"), &n)
	return n
}

var getenv = os.Getenv

// cpuTime returns the CPU time (user + system) the process has used: on a
// shared machine it measures the work done, where wall time measures the
// neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
