package bench_test

import (
	"os"
	"testing"

	"github.com/polykv/polykv/bench"
)

// The Go benchmarks run the harness's workloads for benchstat users:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/ | tee new.txt
//
// Each benchmark is one run of a workload (a fresh store, load phase
// untimed) whose measured phase is reported as ns/op per operation of the
// workload's unit (node, entry, record, read, scan, op), plus the
// harness's figures as extra metrics. Sizes are
// small unless POLYKV_STRESS=1; compare two builds with benchstat.

func benchSize(small, large int) int {
	if os.Getenv("POLYKV_STRESS") == "1" {
		return large
	}
	return small
}

func runBench(b *testing.B, workload, backend, durability string, size int) {
	b.Helper()
	var res bench.Result
	for b.Loop() {
		var err error
		res, err = bench.RunOne(b.Context(), bench.Spec{
			Workload: workload, Backend: backend, Durability: durability, Size: size,
			Seed: bench.DefaultSeed, Rep: 1, Dir: b.TempDir(),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// ns/op is replaced by the measured phase's time per operation of the
	// workload's unit (the loop's own time would include the load phase).
	b.ReportMetric(res.Seconds*1e9/float64(res.Ops), "ns/op")
	b.ReportMetric(res.OpsPerSec, res.Unit+"/s")
	b.ReportMetric(res.CPUPerOp, "cpu-ns/op")
	b.ReportMetric(res.P99, "p99-ns")
	b.ReportMetric(res.AllocsPerOp, "run-allocs/op") // the process's, engine included
	b.ReportMetric(float64(res.DiskBytes), "disk-B")
}

var benchBackends = []string{"badger", "pebble", "bbolt", "memory"}

func BenchmarkTraverse(b *testing.B) {
	for _, be := range benchBackends {
		b.Run("gen/backend="+be, func(b *testing.B) { runBench(b, "traverse-gen", be, "nosync", benchSize(20_000, 200_000)) })
		b.Run("gen-folder/backend="+be, func(b *testing.B) {
			runBench(b, "traverse-gen-folder", be, "nosync", benchSize(20_000, 200_000))
		})
		b.Run("gen-workers/backend="+be, func(b *testing.B) {
			runBench(b, "traverse-gen-workers", be, "nosync", benchSize(20_000, 200_000))
		})
	}
}

func BenchmarkLogs(b *testing.B) {
	for _, be := range benchBackends {
		b.Run("backend="+be, func(b *testing.B) { runBench(b, "logs", be, "nosync", benchSize(50_000, 200_000)) })
	}
}

func BenchmarkKV(b *testing.B) {
	for _, w := range []string{"fill-seq-b100", "fill-rand-b1000", "read-uniform", "read-zipf", "scan-100", "scan-100-keys"} {
		for _, be := range append(benchBackends, "raw-badger", "raw-pebble", "raw-bbolt") {
			b.Run(w+"/backend="+be, func(b *testing.B) { runBench(b, w, be, "nosync", benchSize(20_000, 100_000)) })
		}
	}
}

func BenchmarkYCSB(b *testing.B) {
	for _, w := range []string{"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"} {
		for _, be := range benchBackends {
			b.Run(w+"/backend="+be, func(b *testing.B) { runBench(b, w, be, "nosync", benchSize(10_000, 100_000)) })
		}
	}
}

// BenchmarkTraverseEtcd runs traverse-gen on an embedded one-member etcd
// cluster (in the measured process: a CPU profile shows client and
// server), under Sync, the only durability etcd has.
func BenchmarkTraverseEtcd(b *testing.B) {
	runBench(b, "traverse-gen", "etcd", "sync", benchSize(5_000, 50_000))
}

// BenchmarkCopyStatus is copy-status under Sync: 16 copy workers, one
// SetCopyStatus transaction each, sharing commits where the engine can
// (group commit).
func BenchmarkCopyStatus(b *testing.B) {
	for _, be := range []string{"badger", "pebble", "bbolt"} {
		b.Run("backend="+be, func(b *testing.B) { runBench(b, "copy-status", be, "sync", benchSize(10_000, 20_000)) })
	}
}
