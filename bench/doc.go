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
//     folder with the source's children. Each page of pending nodes is
//     completed with one nodestore.CompleteBatch; traverse-gen-folder does
//     one CompleteWithChildren per folder instead, for comparison.
//     With Spec.Ceiling (--ceiling), after the measured traversal, a
//     second one runs unmeasured on a store wrapped by a recorder that
//     counts its reads and logs every committed write; the log is then
//     replayed as blind batches (kv.BulkWriter) on a fresh store of the
//     same backend, which must end identical to the recorded one. Those
//     stores and the log live beside the run's directory, outside its
//     disk usage and write amplification (its peak RSS includes them; on
//     a cluster backend the ceiling's stores are key prefixes of the
//     run's own cluster, whose disk is the run's).
//     The extras
//     traverse_vs_ceiling (and _cpu, in CPU time) give the share of the
//     engine's write speed the traversal keeps, kv_*_per_node what the
//     key layout costs per node.
//   - logs: ingestion through logstore.LogBuffer by several producers, then
//     queries by level and newest-first.
//   - copy-status: concurrent copy workers marking files copied through
//     nodestore, one transaction per file; with --sync it measures group
//     commit (kv.SyncDeferrer).
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
// Two targets are judged in the report: the abstraction overhead (see
// Calibration: at most 5% for writes and point reads, 10% for scans) and
// the memory target, traverse-gen of MemoryTargetNodes (1,000,000) nodes
// or more within MemoryTargetBytes (1 GiB) of peak RSS at the default
// memory budget (Report.MemoryChecks). A miss is printed as MISSED; for
// the backends known to miss the memory target (badger, memory) the report
// also prints why, from a declaration in report.go.
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
// The two sides do the same work as a careful user of each API: point
// reads copy the value into the workload's reused buffer (raw: ValueCopy
// or append before the read transaction ends; polykv: DB.GetAppend), scans
// hand the engine's slices to the workload's callback (raw: in place;
// polykv: Iterate's copies, which its contract requires), and each side
// calls the workload's callback straight from its loop. For steadier
// figures than whole runs, the paired benchmarks (overhead_internal_test.go,
// go test -run '^$' -bench OverheadPaired ./bench/) alternate short timed
// blocks of one operation on both sides in one process.
//
// Measured 2026-11-26 on linux/amd64, 2 CPUs (AMD EPYC), go1.26.8, badger
// v4.9.6, pebble v2.1.7, bbolt v1.5.0, a shared machine, quiet at the time;
// NoSync, 100,000 records of 100 B; make calibrate (6 paired runs, the
// median by benchstat; results/calibrate/paired.txt, with the confidence
// intervals; the harness's own table, noisier, is
// results/calibrate/report.txt):
//
//	engine  read   fill-b100  fill-b1000  scan-10  scan-100  scan-1000  scan-10-keys  scan-100-keys  scan-1000-keys
//	badger  +3.5%  +2.3%      -0.5%       +8.2%    +6.8%     +7.2%      +7.4%         +5.8%          +4.5%
//	pebble  +1.0%  +10.5%     +10.4%      +11.5%   +14.8%    +18.5%     +11.6%        +7.5%          +8.7%
//	bbolt   +8.7%  +2.7%      +1.6%       +29.6%   +39.7%    +48.1%     +24.9%        +26.1%         +26.8%
//
// Medians move between runs by a few points where the spread is wide: a
// run of 5 just before gave bbolt read +5.7%, pebble scan-10 +8.7% and
// scan-10-keys +5.9%, the rest within two points of these.
//
// Targets: 5% for reads and batched writes, 10% for scans. Badger meets
// all of them (its raw side has been configured exactly as the backend
// since 2026-11-25; with the older raw configuration, larger caches, its
// short scans looked 5 points cheaper). Where they are missed, the
// measured causes:
//
//   - Scans on pebble (short ones near the line, with values of 100 keys
//     and more above it) and every scan on bbolt: the copy of
//     each key and value the contract requires (slices handed to a
//     callback may be modified by it; Pebble's point into its block cache
//     or memtable, bbolt's into a read-only mmap). Removing the copies (an
//     experiment, not a possible change) brought scan-1000 from +18% to
//     +11% on pebble and from +44% to +22% on bbolt; the rest is one
//     function call per key (kv's Scan.Emit between the engine's loop and
//     the callback, about 2 ns) against raw per-key costs of 11 ns (bbolt)
//     and 28 ns (pebble), and on bbolt a fixed cost of about 200 ns per
//     scan (closed-store guard, pooled scan state and bounds, bbolt
//     engine's compaction lock and reader count, the resident-page
//     policy's size check) against a raw scan-10 of 680 ns. Runs of the
//     bbolt backend before and after resident_limit, alternated, put
//     scan-10 at +25-26% and +30-31%: part of that fixed cost came with
//     it and was not found in a profile (the policy's own work on a store
//     smaller than its limit is one size read).
//   - Point reads on bbolt (+5.7% to +8.7%): about 35-50 ns over a raw
//     Get of 550-600 ns — kv's closed-store guard and the engine's
//     compaction lock (four atomic operations), the argument checks and
//     the recovery of bbolt panics. It was +4.0% in the 2026-11-25 runs;
//     resident_limit's first version read /proc/self/statm with an open,
//     read and close every 256 reads (+12.9%), now one pread on a file
//     kept open, and none while the file is smaller than the limit.
//   - Batched writes on pebble (+10%): a kv.Batch copies every key and
//     value it is given (the caller may reuse its buffers at once), and
//     the engine then copies them again into Pebble's batch; the raw user
//     builds Pebble's batch directly. Building the kv.Batch costs about
//     as much as building Pebble's, about 13 ns per record against a raw
//     total of 110–150 ns.
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
//     the raw kv workloads'. With --ceiling, kv_written_B_per_node is
//     the exact figure.
//   - Workloads run in one goroutine except logs (producers): the figures
//     are for one writer, which is how polykv serializes writes anyway.
package bench
