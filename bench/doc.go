// Package bench compares polykv's backends on workloads written once
// against kv, nodestore and logstore, and measures what the kv abstraction
// costs against each engine's own API.
//
// # Where to start
//
// Most people run it through the command line: `make bench` (the default
// comparison) or `polykv bench --help` (every workload and flag). From Go:
//
//	rep, err := bench.Run(ctx, bench.Options{
//		Workloads: []string{"traverse-gen", "logs"},
//		Backends:  []string{"badger", "pebble", "bbolt", "memory"},
//	})
//	rep.WriteTable(os.Stdout)
//	rep.WriteFiles("bench-results") // report.{txt,json,csv,benchstat}, PNG charts
//
// The backends must be linked in (import _ "github.com/polykv/polykv/backends/all").
// RunOne runs a single Spec; the Go benchmarks in this package
// (go test -bench . ./bench/) wrap it for benchstat users.
//
// # Workloads
//
//   - traverse-gen, traverse-dir: the migration engine's breadth-first
//     traversal through nodestore, on a generated tree or a real directory
//     (GOROOT/src by default), then a destination pass that compares each
//     folder with the source's children.
//   - logs: ingestion through logstore.LogBuffer by several producers, then
//     queries by level and newest-first.
//   - fill-{seq,rand}-b{1,100,1000}, read-{uniform,zipf}, scan-{10,100,1000}[-keys]:
//     raw kv workloads.
//   - ycsb-a … ycsb-f: the YCSB core workloads on 1 KB records.
//
// Every workload verifies its own result (every node traversed exactly once,
// every log entry read back, every record present): a run that is fast but
// wrong fails, and Run reports the failure.
//
// # Measurement
//
// A fixed seed (printed) drives every random choice, so every backend sees
// the same data and operations. Each run gets a fresh directory, removed
// afterwards. The load phase is timed apart from the measured phase, which
// starts after a warm-up. Repetitions alternate backends (A B C A B C …) and
// are summarized as the median with min–max. Latency percentiles come from
// an HDR histogram (github.com/HdrHistogram/hdrhistogram-go) merged over
// repetitions; allocations per operation from runtime.MemStats; CPU time per
// operation from getrusage; peak RSS from VmHWM (reset before each run, and
// per process when Options.Exec runs each spec in a child process, as the
// polykv command does); bytes on disk as allocated blocks after Close; write
// amplification as /proc/self/io write_bytes over the bytes the workload
// asked to write. Synced and NoSync results never share a table. Every
// output carries the machine line (CPUs, Go and engine versions).
//
// # Calibration
//
// The calibrated kv workloads also run on "raw-badger", "raw-pebble" and
// "raw-bbolt": the same workload code driving the engine's own API,
// configured as the polykv backend configures it (calibrate_*.go, the only
// files that import the engines). Report.Overheads gives, per engine and
// workload, the extra time per operation through polykv, from adjacent
// (polykv, raw) pairs of repetitions, on wall time and on CPU time.
//
// # Caveats
//
//   - On a shared or busy machine, wall-time figures swing widely; CPU time
//     per operation is steadier. Compare runs from one invocation only.
//   - Write amplification is zero on file systems without block I/O
//     accounting (tmpfs): point Spec.Dir (--workdir) at a real disk.
//   - The traverse workloads cannot see the bytes nodestore writes: their
//     write amplification divides by an estimate (150 bytes per node:
//     key, value, index entry), so compare it across backends, not with
//     the raw kv workloads'.
//   - Workloads run in one goroutine except logs (producers): the figures
//     are for one writer, which is how polykv serializes writes anyway.
package bench
