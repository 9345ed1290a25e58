package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
)

const benchDoc = `
Runs workloads on several backends and prints a table; writes report.txt,
report.json, report.csv, report.benchstat and PNG charts (throughput with
min–max bars, latency percentiles) under --out.

Measurement: a fixed, printed seed; a fresh directory per run; the load phase
timed apart from the measured phase; a warm-up; --reps repetitions alternating
backends (A B C A B C ...), reported as median [min–max]; latency p50/p99/p99.9
from an HDR histogram; allocations per operation; peak RSS; bytes on disk in
allocated blocks after Close; write amplification from /proc/self/io. Each run
has its own process (polykv re-executes itself) so peak RSS and written bytes
are per run. Synced and unsynced results are separate tables. Every workload
verifies its own result: a fast wrong answer fails the run, and any failure
makes the exit code non-zero.

Without --sync or --nosync it measures NoSync: under Sync every commit waits
for an fsync and the traversal table measures the disk more than the store
(give --sync, or both flags for two tables).

The default comparison (make bench) is traverse-gen on a generated tree of
200,000 nodes (traversed twice: src, then dst), traverse-dir on the Go source
tree, and logs with 200,000 entries, 3 repetitions on each backend: about
3 minutes on a 2-core machine. --size 1000000 --reps 1 is the million-node
check (about 8 minutes there).

On a cluster: --backends etcd runs each store on an embedded one-member etcd
cluster started in the run's directory (loopback, fsync on), etcd-3 on an
embedded three-member one; --etcd-endpoints host:2379,... runs etcd on an
existing cluster instead (each store under its own prefix /polykv-bench/...,
left behind: remove it with etcdctl del --prefix /polykv-bench/). etcd has no
NoSync: a comparison that includes it measures Sync unless --nosync is given
(then its runs fail, saying so). The embedded members run in the measured
process: CPU, RSS and disk figures include the server's.

--workload takes workload names and groups, comma-separated:
`

func benchHelp() string {
	var b strings.Builder
	b.WriteString(benchDoc)
	groups := bench.GroupDocs()
	var names []string
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		fmt.Fprintf(&b, "  %-16s %s\n", g, groups[g])
	}
	b.WriteString("\nWorkloads (--size is what each one scales):\n")
	for _, w := range bench.Workloads() {
		fmt.Fprintf(&b, "  %-16s %s (default size %d)\n", w.Name, w.Doc, w.DefaultSize)
	}
	b.WriteString(`
Calibration (--workload calibrate) runs each calibrated workload on every
engine twice, through polykv and through the engine's own API configured as the
polykv backend configures it ("raw-<engine>"), and prints the overhead:
(raw throughput / polykv throughput - 1) × 100, from medians.

Examples:
  polykv bench                                  # the default comparison (make bench)
  polykv bench --workload traverse-gen --size 1000000 --reps 5
  polykv bench --workload calibrate --backends badger,pebble,bbolt
  polykv bench --workload ycsb --nosync --format benchstat > ycsb.txt
  polykv bench --workload traverse-gen,logs --size 20000 --ceiling --backends badger,etcd,etcd-3
`)
	return b.String()
}

func runBench(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "bench", "[flags]", benchHelp())
	backends := fs.String("backends", "badger,pebble,bbolt,memory", "comma-separated backends to compare (registered: "+strings.Join(kv.Backends(), ", ")+")")
	workload := fs.String("workload", "default", "comma-separated workloads and groups (see above)")
	size := fs.Int("size", 0, "scale of every workload (records, nodes, entries); 0: each workload's default")
	reps := fs.Int("reps", 3, "repetitions of each workload on each backend (alternating)")
	syncFlag := fs.Bool("sync", false, "measure with Sync durability (every commit fsynced)")
	nosyncFlag := fs.Bool("nosync", false, "measure with NoSync durability (give both for two tables)")
	out := fs.String("out", "bench-results", "directory for the report files and charts (\"\" for none)")
	format := fs.String("format", "table", "what to print on stdout: table, benchstat, json, csv")
	seed := fs.Uint64("seed", bench.DefaultSeed, "seed of every random choice")
	tree := fs.String("tree", "", "directory traverse-dir walks (default: the Go toolchain's source tree, GOROOT/src)")
	skew := fs.Bool("skew", false, "traverse-gen: skewed fan-out (a few huge directories) instead of uniform")
	ceiling := fs.Bool("ceiling", false, "traverse workloads: record the kv writes and replay them as blind batches on a fresh store (the engine's ceiling; reported as traverse_vs_ceiling)")
	budget := fs.String("memory-budget", "", "kv memory budget per store, like 256MiB (default: kv's default)")
	page := fs.Int("page", 0, "traverse workloads: pending nodes listed, and completed, at a time (default 1000)")
	producers := fs.Int("producers", 0, "logs: goroutines adding entries (default 4); copy-status: copy workers (default 16)")
	workdir := fs.String("workdir", "", "where fresh store directories are created (default: the system temp dir)")
	inProcess := fs.Bool("in-process", false, "run every repetition in this process instead of a child process each")
	quick := fs.Bool("quick", false, "tiny sizes and one repetition: checks that everything runs, measures nothing")
	etcdEndpoints := fs.String("etcd-endpoints", "", "backend etcd: comma-separated client endpoints of an existing cluster (default: an embedded one per run)")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs); err != nil {
		return err
	}
	switch {
	case *size < 0:
		return fmt.Errorf("%w: --size %d: want 0 (each workload's default) or more", errUsage, *size)
	case *reps < 1:
		return fmt.Errorf("%w: --reps %d: want 1 or more", errUsage, *reps)
	case *producers < 0:
		return fmt.Errorf("%w: --producers %d: want 0 (the default) or more", errUsage, *producers)
	case *page < 0 || *page > maxBenchPage:
		return fmt.Errorf("%w: --page %d: want 0 (the default) to %d", errUsage, *page, maxBenchPage)
	}
	names, err := bench.Expand(*workload)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var bs []string
	for b := range strings.SplitSeq(*backends, ",") {
		if b = strings.TrimSpace(b); b != "" && !slices.Contains(bs, b) {
			bs = append(bs, b)
		}
	}
	for _, b := range bs {
		if name, raw := strings.CutPrefix(b, bench.RawPrefix); raw {
			if !slices.Contains(bench.RawEngines(), name) {
				return fmt.Errorf("%w: backend %q: no calibration target for %q (raw targets: %s%s)", errUsage, b, name, bench.RawPrefix, strings.Join(bench.RawEngines(), ", "+bench.RawPrefix))
			}
			continue
		}
		if !slices.Contains(kv.Backends(), b) && !slices.Contains(bench.ClusterBackends(), b) {
			return fmt.Errorf("%w: backend %q is not in this build (registered: %s; on an embedded cluster: %s)", errUsage, b, strings.Join(kv.Backends(), ", "), strings.Join(bench.ClusterBackends(), ", "))
		}
	}
	var endpoints []string
	for ep := range strings.SplitSeq(*etcdEndpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			endpoints = append(endpoints, ep)
		}
	}
	if len(endpoints) > 0 {
		for _, b := range bs {
			if bench.RefusesNoSync(b) && b != "etcd" {
				return fmt.Errorf("%w: backend %s starts its own cluster: with --etcd-endpoints, use backend etcd", errUsage, b)
			}
		}
		if !slices.Contains(bs, "etcd") {
			return fmt.Errorf("%w: --etcd-endpoints is for backend etcd, which --backends does not name", errUsage)
		}
		if err := (kv.Config{Backend: "etcd", Path: "/polykv-bench", Endpoints: endpoints}).Validate(); err != nil {
			return fmt.Errorf("%w: --etcd-endpoints: %v", errUsage, err)
		}
	}
	if len(bs) == 0 {
		return fmt.Errorf("%w: --backends is empty", errUsage)
	}
	var durs []string
	if *syncFlag {
		durs = append(durs, "sync")
	}
	if *nosyncFlag {
		durs = append(durs, "nosync")
	}
	if len(durs) == 0 {
		durs = []string{defaultDurability}
		if slices.ContainsFunc(bs, bench.RefusesNoSync) {
			durs = []string{"sync"}
			fmt.Fprintf(s.err, "polykv bench: etcd has no NoSync: measuring Sync on every backend\n")
		}
	}
	switch *format {
	case "table", "benchstat", "json", "csv":
	default:
		return fmt.Errorf("%w: --format %q: want table, benchstat, json or csv", errUsage, *format)
	}
	o := bench.Options{
		Workloads: names, Backends: bs, Durabilities: durs, Size: *size, Reps: *reps, Seed: *seed,
		Calibrate: slices.Contains(strings.Split(*workload, ","), "calibrate"),
		Template:  bench.Spec{Dir: *workdir, Tree: *tree, Skew: *skew, Ceiling: *ceiling, Producers: *producers, Page: *page, Endpoints: endpoints},
	}
	if *budget != "" {
		n, err := kv.ParseSize(*budget)
		if err != nil {
			return fmt.Errorf("%w: --memory-budget: %v", errUsage, err)
		}
		if n != 0 && n < kv.MinMemoryBudget {
			return fmt.Errorf("%w: --memory-budget %s: want 0 (kv's default) or at least %s", errUsage, *budget, kv.FormatSize(kv.MinMemoryBudget))
		}
		if n != 0 {
			// The rest of kv's rules for a budget (no more than the machine's memory).
			if err := (kv.Config{Backend: "memory", MemoryBudget: n}).Validate(); err != nil {
				return fmt.Errorf("%w: --memory-budget: %v", errUsage, err)
			}
		}
		o.Template.MemoryBudget = n
	}
	// Where the runs make their stores and where the reports go are
	// checked now, not found wrong once every run is done.
	if *workdir != "" {
		if err := checkWorkdir(*workdir); err != nil {
			return fmt.Errorf("%w: --workdir %s: %v", errUsage, *workdir, err)
		}
	}
	if *out != "" {
		if err := checkOut(*out); err != nil {
			return fmt.Errorf("%w: --out %s: %v", errUsage, *out, err)
		}
	}
	if *quick {
		if o.Size == 0 {
			o.Size = quickSize
		}
		o.Reps = 1
	}
	if !*inProcess {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot find this program to run children (use --in-process): %w", err)
		}
		o.Exec = childExec(self, s.err)
	}
	o.Progress = progress(s.err)
	fmt.Fprintf(s.err, "polykv bench: %d workload(s) × %d backend(s) × %d rep(s), durability %s, seed %d\n",
		len(names), len(bs), o.Reps, strings.Join(durs, "+"), o.Seed)
	rep, runErr := bench.Run(ctx, o)
	if rep == nil {
		return runErr
	}
	switch *format {
	case "table":
		err = rep.WriteTable(s.out)
	case "benchstat":
		err = rep.WriteBenchstat(s.out)
	case "json":
		err = rep.WriteJSON(s.out)
	case "csv":
		err = rep.WriteCSV(s.out)
	}
	if err != nil {
		return err
	}
	if *out != "" {
		paths, err := rep.WriteFiles(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.err, "\nwrote:\n")
		for _, p := range paths {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			fmt.Fprintf(s.err, "  %s\n", p)
		}
	}
	return runErr
}

// checkWorkdir checks that each run can make its store directory in dir,
// as bench does (os.MkdirTemp): dir exists, is a directory, and is
// writable.
func checkWorkdir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("does not exist")
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	d, err := os.MkdirTemp(dir, ".polykv-bench-check-")
	if err != nil {
		return err
	}
	return os.Remove(d)
}

// checkOut checks that the reports can be written into dir: it makes dir
// (as Report.WriteFiles does, which keeps it) and a file in it, removed
// at once.
func checkOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".polykv-bench-check-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// defaultDurability is what polykv bench measures without --sync or
// --nosync.
const defaultDurability = "nosync"

// maxBenchPage bounds --page: a page is held in memory and completed with
// one CompleteBatch (which commits it in chunks within the store's limits).
const maxBenchPage = 100_000

// quickSize is the size of every workload under --quick.
const quickSize = 2000

// progress returns the progress reporter: one line redrawn in place on a
// terminal, plain lines otherwise; failures always get a line of their own.
func progress(w io.Writer) func(i, n int, s bench.Spec, res *bench.Result) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start := time.Now()
	return func(i, n int, s bench.Spec, res *bench.Result) {
		el := time.Since(start).Round(time.Second)
		switch {
		case res == nil && tty:
			fmt.Fprintf(w, "\r\033[K[%d/%d %s] %s ...", i+1, n, el, s)
		case res == nil:
		case res.Err != "":
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			fmt.Fprintf(w, "[%d/%d %s] %s FAILED: %s\n", i+1, n, el, s, res.Err)
		case tty && i+1 == n:
			fmt.Fprintf(w, "\r\033[K%d runs in %s\n", n, el)
		case !tty:
			fmt.Fprintf(w, "[%d/%d %s] %s: %.0f %s/s\n", i+1, n, el, s, res.OpsPerSec, res.Unit)
		}
	}
}

// childStopDelay is how long a cancelled child may take to stop and remove
// its store before it is killed.
const childStopDelay = 30 * time.Second

// childCommand is the hidden subcommand that runs one spec: it reads the
// spec as JSON on stdin and writes the result as JSON on stdout.
const childCommand = "bench-child"

// childExec runs each spec in a new process of this program.
func childExec(self string, stderr io.Writer) func(ctx context.Context, s bench.Spec) (bench.Result, error) {
	return func(ctx context.Context, s bench.Spec) (bench.Result, error) {
		in, err := json.Marshal(s)
		if err != nil {
			return bench.Result{Spec: s}, err
		}
		cmd := exec.CommandContext(ctx, self, childCommand)
		// On cancellation (Ctrl-C, SIGTERM), ask the child to stop so that
		// it removes its store directory; kill it only if it does not.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = childStopDelay
		cmd.Stdin = bytes.NewReader(in)
		var out, errOut bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &errOut
		runErr := cmd.Run()
		var res bench.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			msg := strings.TrimSpace(errOut.String())
			if len(msg) > 2000 {
				msg = msg[len(msg)-2000:]
			}
			return bench.Result{Spec: s}, fmt.Errorf("child process for %s: %v (%v); its stderr: %s", s, runErr, err, msg)
		}
		res.Isolated = true
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && runtime.GOOS == "linux" {
			// ru_maxrss is in KiB on Linux: the child's peak, whole life.
			res.PeakRSS = max(res.PeakRSS, ru.Maxrss<<10)
		}
		if res.Err != "" {
			return res, errors.New(res.Err)
		}
		if runErr != nil {
			return res, fmt.Errorf("child process for %s: %w", s, runErr)
		}
		return res, nil
	}
}

// runBenchChild is the child side of childExec.
func runBenchChild(ctx context.Context, s stdio, args []string) error {
	var spec bench.Spec
	if err := json.NewDecoder(s.in).Decode(&spec); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	// The run's process is a polykv command like any other: it applies
	// the suggested memory limit of its store (none on memory), unless it
	// also runs the cluster's members (bench.EmbedsServer).
	var limit int64
	if !bench.EmbedsServer(spec) {
		engine := strings.TrimPrefix(spec.Backend, bench.RawPrefix)
		limit = applyMemoryLimit(kv.Config{Backend: engine, MemoryBudget: spec.MemoryBudget})
	}
	res, _ := bench.RunOne(ctx, spec) // a failed run is reported in res.Err
	res.Isolated = true
	if limit > 0 {
		if res.Extra == nil {
			res.Extra = map[string]float64{}
		}
		res.Extra["memory_limit_MiB"] = float64(limit >> 20)
	}
	return json.NewEncoder(s.out).Encode(res)
}
