package bench

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Machine describes where a report was measured. Every output carries it.
type Machine struct {
	OS        string            `json:"os"`
	Arch      string            `json:"arch"`
	CPUs      int               `json:"cpus"`
	CPUModel  string            `json:"cpu_model,omitempty"`
	MemTotal  int64             `json:"mem_total,omitempty"`
	GoVersion string            `json:"go_version"`
	Engines   map[string]string `json:"engines"`
}

// engineModules are the modules whose versions a report prints.
var engineModules = map[string]string{
	"badger": "github.com/dgraph-io/badger/v4",
	"pebble": "github.com/cockroachdb/pebble/v2",
	"bbolt":  "go.etcd.io/bbolt",
}

// ThisMachine describes the running machine and the engine versions linked
// into this binary.
func ThisMachine() Machine {
	m := Machine{
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		CPUModel: cpuModel(), MemTotal: memTotal(), GoVersion: runtime.Version(),
		Engines: map[string]string{},
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			for name, path := range engineModules {
				if d.Path == path {
					m.Engines[name] = d.Version
					if d.Replace != nil {
						m.Engines[name] = d.Replace.Version + " (replaced)"
					}
				}
			}
		}
	}
	return m
}

// String is the machine line of the table.
func (m Machine) String() string {
	var engines []string
	for _, name := range []string{"badger", "pebble", "bbolt"} {
		if v, ok := m.Engines[name]; ok {
			engines = append(engines, name+" "+v)
		}
	}
	s := fmt.Sprintf("%s/%s, %d CPUs", m.OS, m.Arch, m.CPUs)
	if m.CPUModel != "" {
		s += " (" + m.CPUModel + ")"
	}
	if m.MemTotal > 0 {
		s += ", " + formatBytes(m.MemTotal) + " RAM"
	}
	s += ", " + m.GoVersion
	if len(engines) > 0 {
		s += ", " + strings.Join(engines, ", ")
	}
	return s
}

// Summary aggregates the repetitions of one (durability, workload, backend).
type Summary struct {
	Durability string `json:"durability"`
	Workload   string `json:"workload"`
	Backend    string `json:"backend"`
	Unit       string `json:"unit"`
	Reps       int    `json:"reps"`
	Failed     int    `json:"failed"`
	// Median, Min and Max are throughputs in Unit per second.
	Median float64 `json:"median_ops_per_sec"`
	Min    float64 `json:"min_ops_per_sec"`
	Max    float64 `json:"max_ops_per_sec"`
	// Latency percentiles of all repetitions' operations together, in ns.
	P50  float64 `json:"p50_ns"`
	P99  float64 `json:"p99_ns"`
	P999 float64 `json:"p999_ns"`
	// Medians over repetitions, except PeakRSS (the maximum).
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	CPUPerOp    float64 `json:"cpu_ns_per_op"`
	PeakRSS     int64   `json:"peak_rss"`
	PeakRSSWork int64   `json:"peak_rss_work,omitempty"` // the maximum too (Result.PeakRSSWork)
	DiskBytes   int64   `json:"disk_bytes"`
	WriteAmp    float64 `json:"write_amp"`
	LoadSeconds float64 `json:"load_seconds"`
	Verified    string  `json:"verified,omitempty"`
	// Extra are the medians of the runs' workload-specific figures.
	Extra  map[string]float64 `json:"extra,omitempty"`
	Errors []string           `json:"errors,omitempty"`
}

// Overhead compares a workload on an engine through polykv with the same
// workload on the engine's own API.
type Overhead struct {
	Durability string  `json:"durability"`
	Workload   string  `json:"workload"`
	Engine     string  `json:"engine"`
	Polykv     float64 `json:"polykv_ops_per_sec"`
	Raw        float64 `json:"raw_ops_per_sec"`
	// Percent is the extra time per operation through polykv:
	// (raw throughput / polykv throughput - 1) × 100, the median over
	// repetitions of each adjacent (polykv, raw) pair; MinPercent and
	// MaxPercent are the extremes of the pairs.
	Percent    float64 `json:"overhead_percent"`
	MinPercent float64 `json:"min_overhead_percent"`
	MaxPercent float64 `json:"max_overhead_percent"`
	// CPUPercent is the same comparison on CPU time per operation
	// (polykv / raw - 1) × 100, median over pairs: less sensitive to other
	// load on the machine than wall time.
	CPUPercent float64 `json:"cpu_overhead_percent"`
	// Limit is the target for this workload (5% for writes and point
	// reads, 10% for scans).
	Limit float64 `json:"limit_percent"`
}

// The memory target: the traverse workload on a generated tree of at
// least MemoryTargetNodes nodes runs within MemoryTargetBytes of peak RSS
// with the default memory budget.
const (
	MemoryTargetNodes = 1_000_000
	MemoryTargetBytes = 1 << 30
)

// memoryTargetDeclared names the backends known to miss the memory target
// and why; the report prints the reason beside the figure.
// bench/results/README.md ("The million-node traversal") has the runs.
var memoryTargetDeclared = map[string]string{
	"badger": "declared for badger: memory-mapped tables and memtable logs, pooled table-builder buffers and the Go heap's headroom (backends/badger doc)",
	"memory": "declared for memory: the store lives in the Go heap",
	"etcd":   "declared for etcd: the embedded cluster's members run inside the bench process, their index of every key revision in the Go heap and their bbolt files mapped (backends/etcd doc)",
}

// MemoryCheck is the memory target's verdict on one backend.
type MemoryCheck struct {
	Durability string `json:"durability"`
	Workload   string `json:"workload"`
	Backend    string `json:"backend"`
	Nodes      int    `json:"nodes"`
	// PeakRSS is the judged figure: the peak through the load and
	// measured phases (Summary.JudgedRSS).
	PeakRSS int64 `json:"peak_rss"`
	Met     bool  `json:"met"`
	// Declared is why the backend is known to miss the target, if it is.
	Declared string `json:"declared,omitempty"`
}

// Report is a comparison's every figure.
type Report struct {
	Started   time.Time  `json:"started"`
	Finished  time.Time  `json:"finished"`
	Machine   Machine    `json:"machine"`
	Seed      uint64     `json:"seed"`
	Reps      int        `json:"reps"`
	Size      int        `json:"size"`
	Isolated  bool       `json:"isolated"`
	Runs      []Result   `json:"runs"`
	Summaries []Summary  `json:"summaries"`
	Overheads []Overhead `json:"overheads,omitempty"`
	// MemoryChecks judge the runs the memory target applies to.
	MemoryChecks []MemoryCheck `json:"memory_checks,omitempty"`
}

// NewReport starts an empty report for the options.
func NewReport(o Options) *Report {
	o = o.withDefaults()
	return &Report{Started: time.Now().UTC(), Machine: ThisMachine(), Seed: o.Seed, Reps: o.Reps, Size: o.Size}
}

// Add records one run.
func (r *Report) Add(res Result) {
	r.Runs = append(r.Runs, res)
	if res.Isolated {
		r.Isolated = true
	}
}

// Failed returns the runs that failed.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Runs {
		if res.Err != "" {
			out = append(out, res)
		}
	}
	return out
}

// Finish computes the summaries and overheads from the runs.
func (r *Report) Finish() {
	r.Finished = time.Now().UTC()
	type key struct{ d, w, b string }
	var order []key
	by := map[key][]Result{}
	for _, res := range r.Runs {
		k := key{res.Durability, res.Workload, res.Backend}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], res)
	}
	r.Summaries = r.Summaries[:0]
	for _, k := range order {
		r.Summaries = append(r.Summaries, summarize(k.d, k.w, k.b, by[k]))
	}
	r.MemoryChecks = r.MemoryChecks[:0]
	for _, s := range r.Summaries {
		if c, ok := memoryCheck(s, by[key{s.Durability, s.Workload, s.Backend}]); ok {
			r.MemoryChecks = append(r.MemoryChecks, c)
		}
	}
	r.Overheads = r.Overheads[:0]
	for _, s := range r.Summaries {
		engine, raw := strings.CutPrefix(s.Backend, RawPrefix)
		if !raw || s.Median == 0 {
			continue
		}
		for _, p := range r.Summaries {
			if p.Durability != s.Durability || p.Workload != s.Workload || p.Backend != engine || p.Median == 0 {
				continue
			}
			o := Overhead{Durability: s.Durability, Workload: s.Workload, Engine: engine,
				Polykv: p.Median, Raw: s.Median, Limit: 5}
			if strings.HasPrefix(s.Workload, "scan") {
				o.Limit = 10
			}
			// Pair the repetitions: run i through polykv ran right
			// before run i on the raw engine, so slow phases of a noisy
			// machine hit both.
			var pairs, cpuPairs []float64
			for _, rawRun := range by[key{s.Durability, s.Workload, s.Backend}] {
				for _, kvRun := range by[key{s.Durability, s.Workload, engine}] {
					if kvRun.Rep == rawRun.Rep && kvRun.Err == "" && rawRun.Err == "" && kvRun.OpsPerSec > 0 {
						pairs = append(pairs, (rawRun.OpsPerSec/kvRun.OpsPerSec-1)*100)
						if rawRun.CPUPerOp > 0 {
							cpuPairs = append(cpuPairs, (kvRun.CPUPerOp/rawRun.CPUPerOp-1)*100)
						}
					}
				}
			}
			o.CPUPercent = median(cpuPairs)
			if len(pairs) > 0 {
				o.Percent = median(pairs)
				o.MinPercent, o.MaxPercent = slices.Min(pairs), slices.Max(pairs)
			} else {
				o.Percent = (s.Median/p.Median - 1) * 100
			}
			r.Overheads = append(r.Overheads, o)
		}
	}
}

// memoryCheck judges s by the memory target when its runs are traverse
// runs on a generated tree of at least MemoryTargetNodes nodes with the
// default memory budget, all of them successful.
func memoryCheck(s Summary, runs []Result) (MemoryCheck, bool) {
	if s.Workload != "traverse-gen" || s.Reps == 0 || s.Failed > 0 || strings.HasPrefix(s.Backend, RawPrefix) {
		return MemoryCheck{}, false
	}
	nodes := runs[0].Size
	for _, run := range runs {
		if run.Size < MemoryTargetNodes || run.MemoryBudget != 0 {
			return MemoryCheck{}, false
		}
		nodes = min(nodes, run.Size)
	}
	c := MemoryCheck{Durability: s.Durability, Workload: s.Workload, Backend: s.Backend, Nodes: nodes,
		PeakRSS: s.JudgedRSS(), Met: s.JudgedRSS() <= MemoryTargetBytes}
	if !c.Met {
		c.Declared = memoryTargetDeclared[s.Backend]
	}
	return c, true
}

// JudgedRSS is the peak RSS the memory target judges: through the load and
// measured phases when the runs recorded it, else the whole run's.
func (s Summary) JudgedRSS() int64 {
	if s.PeakRSSWork > 0 {
		return s.PeakRSSWork
	}
	return s.PeakRSS
}

func summarize(d, w, b string, runs []Result) Summary {
	s := Summary{Durability: d, Workload: w, Backend: b}
	var tput, allocs, bytesOp, disk, wamp, load, cpu []float64
	var hist *hdrhistogram.Histogram
	extra := map[string][]float64{}
	for _, res := range runs {
		if res.Err != "" {
			s.Failed++
			s.Errors = append(s.Errors, res.Err)
			continue
		}
		s.Reps++
		s.Unit = res.Unit
		if s.Verified == "" {
			s.Verified = res.Verified
		}
		tput = append(tput, res.OpsPerSec)
		allocs = append(allocs, res.AllocsPerOp)
		cpu = append(cpu, res.CPUPerOp)
		bytesOp = append(bytesOp, res.BytesPerOp)
		disk = append(disk, float64(res.DiskBytes))
		wamp = append(wamp, res.WriteAmp)
		load = append(load, res.LoadSeconds)
		s.PeakRSS = max(s.PeakRSS, res.PeakRSS)
		s.PeakRSSWork = max(s.PeakRSSWork, res.PeakRSSWork)
		for k, v := range res.Extra {
			extra[k] = append(extra[k], v)
		}
		if len(res.Hist) > 0 {
			if h, err := hdrhistogram.Decode(res.Hist); err == nil {
				if hist == nil {
					hist = h
				} else {
					hist.Merge(h)
				}
			}
		}
	}
	if s.Reps == 0 {
		return s
	}
	s.Median, s.Min, s.Max = median(tput), slices.Min(tput), slices.Max(tput)
	s.AllocsPerOp, s.BytesPerOp, s.CPUPerOp = median(allocs), median(bytesOp), median(cpu)
	s.DiskBytes = int64(median(disk))
	s.WriteAmp = median(wamp)
	s.LoadSeconds = median(load)
	for k, vs := range extra {
		if s.Extra == nil {
			s.Extra = map[string]float64{}
		}
		s.Extra[k] = median(vs)
	}
	if hist != nil {
		s.P50 = float64(hist.ValueAtQuantile(50))
		s.P99 = float64(hist.ValueAtQuantile(99))
		s.P999 = float64(hist.ValueAtQuantile(99.9))
	}
	return s
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is sorted in place.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// Durabilities returns the durabilities present, sync first.
func (r *Report) Durabilities() []string {
	var out []string
	for _, s := range r.Summaries {
		if !slices.Contains(out, s.Durability) {
			out = append(out, s.Durability)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(b, a) }) // "sync" > "nosync"
	return out
}

// WriteTable writes the human-readable report: the machine line, then one
// table per durability (synced and unsynced results never share a table),
// then the calibration overheads.
func (r *Report) WriteTable(w io.Writer) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "polykv bench  %s  seed=%d  reps=%d  size=%s  (median ops/s of alternating reps, [min–max])\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Seed, r.Reps, sizeLabel(r.Size))
	fmt.Fprintf(bw, "machine: %s\n", r.Machine)
	if !r.Isolated {
		fmt.Fprintf(bw, "note: runs shared one process; peak RSS was reset before each run (clear_refs)\n")
	}
	for _, d := range r.Durabilities() {
		fmt.Fprintf(bw, "\n== durability: %s ==\n", d)
		rows := [][]string{{"workload", "backend", "throughput", "[min–max]", "p50", "p99", "p99.9", "CPU/op", "allocs/op", "peak RSS", "disk", "write-amp", "ok"}}
		for _, s := range r.Summaries {
			if s.Durability != d {
				continue
			}
			ok := "yes"
			if s.Failed > 0 {
				ok = fmt.Sprintf("FAILED %d/%d", s.Failed, s.Failed+s.Reps)
			}
			if s.Reps == 0 {
				rows = append(rows, []string{s.Workload, s.Backend, "-", "", "", "", "", "", "", "", "", "", ok})
				continue
			}
			rows = append(rows, []string{
				s.Workload, s.Backend,
				formatRate(s.Median) + " " + s.Unit + "/s",
				"[" + formatRate(s.Min) + "–" + formatRate(s.Max) + "]",
				formatNs(s.P50), formatNs(s.P99), formatNs(s.P999), formatNs(s.CPUPerOp),
				strconv.FormatFloat(s.AllocsPerOp, 'f', 1, 64),
				formatBytes(s.PeakRSS), formatBytes(s.DiskBytes), formatAmp(s.WriteAmp), ok,
			})
		}
		writeAligned(bw, rows)
		var notes []string
		for _, s := range r.Summaries {
			if s.Durability != d || len(s.Extra) == 0 {
				continue
			}
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(s.Extra)) {
				kv = append(kv, k+"="+strconv.FormatFloat(s.Extra[k], 'g', 4, 64))
			}
			notes = append(notes, fmt.Sprintf("  %s/%s: %s", s.Workload, s.Backend, strings.Join(kv, " ")))
		}
		if len(notes) > 0 {
			fmt.Fprintf(bw, "workload figures (medians):\n%s\n", strings.Join(notes, "\n"))
		}
	}
	if len(r.Overheads) > 0 {
		fmt.Fprintf(bw, "\n== abstraction overhead: polykv vs the engine's own API (median over reps of adjacent pairs) ==\n")
		rows := [][]string{{"durability", "workload", "engine", "polykv", "raw", "overhead", "[min–max of pairs]", "CPU/op overhead", "target"}}
		for _, o := range r.Overheads {
			verdict := "ok"
			if o.Percent > o.Limit {
				verdict = "MISSED"
			}
			rows = append(rows, []string{o.Durability, o.Workload, o.Engine, formatRate(o.Polykv) + "/s", formatRate(o.Raw) + "/s",
				fmt.Sprintf("%+.1f%%", o.Percent), fmt.Sprintf("[%+.1f%% %+.1f%%]", o.MinPercent, o.MaxPercent),
				fmt.Sprintf("%+.1f%%", o.CPUPercent),
				fmt.Sprintf("≤%.0f%% %s", o.Limit, verdict)})
		}
		writeAligned(bw, rows)
	}
	if len(r.MemoryChecks) > 0 {
		fmt.Fprintf(bw, "\n== memory target: traverse-gen of %d nodes or more within %s peak RSS at the default memory budget ==\n",
			MemoryTargetNodes, formatBytes(MemoryTargetBytes))
		fmt.Fprintf(bw, "(peak RSS through the load and measured phases; the verification after them is not counted)\n")
		rows := [][]string{{"durability", "workload", "backend", "nodes", "peak RSS", "target"}}
		for _, c := range r.MemoryChecks {
			verdict := "ok"
			if !c.Met {
				verdict = "MISSED"
				if c.Declared != "" {
					verdict += " (" + c.Declared + ")"
				}
			}
			rows = append(rows, []string{c.Durability, c.Workload, c.Backend, strconv.Itoa(c.Nodes), formatBytes(c.PeakRSS),
				"≤" + formatBytes(MemoryTargetBytes) + " " + verdict})
		}
		writeAligned(bw, rows)
	}
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Fprintf(bw, "\n%d run(s) FAILED:\n", len(failed))
		for _, f := range failed {
			fmt.Fprintf(bw, "  %s\n", f.Err)
		}
	}
	return bw.err
}

func sizeLabel(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

// writeAligned writes rows as columns separated by two spaces, text left
// aligned and figures right aligned.
func writeAligned(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for ri, row := range rows {
		var b strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if i > 1 && ri > 0 && i < len(row)-1 {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func formatRate(x float64) string {
	switch {
	case x >= 1e6:
		return strconv.FormatFloat(x/1e6, 'f', 2, 64) + "M"
	case x >= 1e4:
		return strconv.FormatFloat(x/1e3, 'f', 1, 64) + "k"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	default:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
}

func formatNs(ns float64) string {
	switch {
	case ns == 0:
		return "-"
	case ns >= 1e9:
		return strconv.FormatFloat(ns/1e9, 'f', 2, 64) + "s"
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'f', 2, 64) + "ms"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'f', 1, 64) + "µs"
	default:
		return strconv.FormatFloat(ns, 'f', 0, 64) + "ns"
	}
}

func formatBytes(n int64) string {
	f := float64(n)
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(f/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(f/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(f/(1<<10), 'f', 0, 64) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " B"
	}
}

func formatAmp(x float64) string {
	if x == 0 || math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "x"
}

// WriteJSON writes the whole report (runs with their histograms,
// summaries, overheads, machine) as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: read report: %w", err)
	}
	return &r, nil
}

// csvHeader are the columns of WriteCSV: one row per run.
var csvHeader = []string{"durability", "workload", "backend", "rep", "seed", "size", "unit", "ops", "seconds", "ops_per_sec",
	"load_ops", "load_seconds", "p50_ns", "p99_ns", "p999_ns", "cpu_ns_per_op", "allocs_per_op", "bytes_per_op", "peak_rss", "disk_bytes",
	"write_bytes", "logical_bytes", "write_amp", "isolated", "verified", "error",
	"machine", "started"}

// WriteCSV writes one row per run with every figure, and the machine line
// on every row.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	i := func(x int64) string { return strconv.FormatInt(x, 10) }
	for _, res := range r.Runs {
		row := []string{res.Durability, res.Workload, res.Backend, strconv.Itoa(res.Rep), strconv.FormatUint(res.Seed, 10),
			strconv.Itoa(res.Size), res.Unit, i(res.Ops), f(res.Seconds), f(res.OpsPerSec), i(res.LoadOps), f(res.LoadSeconds),
			f(res.P50), f(res.P99), f(res.P999), f(res.CPUPerOp), f(res.AllocsPerOp), f(res.BytesPerOp), i(res.PeakRSS), i(res.DiskBytes),
			i(res.WriteBytes), i(res.LogicalBytes), f(res.WriteAmp), strconv.FormatBool(res.Isolated), res.Verified, res.Err,
			r.Machine.String(), r.Started.Format(time.RFC3339)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteBenchstat writes the runs in the Go benchmark format, one line per
// repetition, for benchstat: ns/op of the measured phase and the other
// figures as extra units. Durability is part of the benchmark name, so
// benchstat never pools synced and unsynced runs.
func (r *Report) WriteBenchstat(w io.Writer) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "goos: %s\ngoarch: %s\npkg: github.com/polykv/polykv/bench\n", r.Machine.OS, r.Machine.Arch)
	if r.Machine.CPUModel != "" {
		fmt.Fprintf(bw, "cpu: %s\n", r.Machine.CPUModel)
	}
	fmt.Fprintf(bw, "machine: %s\nseed: %d\n", r.Machine, r.Seed)
	for _, res := range r.Runs {
		if res.Err != "" || res.Ops == 0 {
			continue
		}
		name := benchName(res.Workload)
		fmt.Fprintf(bw, "Benchmark%s/backend=%s/durability=%s-%d\t%d\t%.1f ns/op\t%.0f %s/s\t%.0f p50-ns\t%.0f p99-ns\t%.0f p99.9-ns\t%.0f cpu-ns/op\t%.1f allocs/op\t%.0f B/op\t%d peak-RSS-B\t%d disk-B",
			name, res.Backend, res.Durability, r.Machine.CPUs, res.Ops, res.Seconds*1e9/float64(res.Ops),
			res.OpsPerSec, res.Unit, res.P50, res.P99, res.P999, res.CPUPerOp, res.AllocsPerOp, res.BytesPerOp, res.PeakRSS, res.DiskBytes)
		if res.WriteAmp > 0 {
			fmt.Fprintf(bw, "\t%.3f write-amp", res.WriteAmp)
		}
		fmt.Fprintln(bw)
	}
	return bw.err
}

// benchName turns "fill-rand-b100" into "FillRandB100".
func benchName(w string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(w, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// WriteFiles writes report.txt, report.json, report.csv, report.benchstat
// and the charts into dir, and returns the paths written.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, fn func(io.Writer) error) error {
		p := dir + string(os.PathSeparator) + name
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("bench: write %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}
	for _, out := range []struct {
		name string
		fn   func(io.Writer) error
	}{{"report.txt", r.WriteTable}, {"report.json", r.WriteJSON}, {"report.csv", r.WriteCSV}, {"report.benchstat", r.WriteBenchstat}} {
		if err := write(out.name, out.fn); err != nil {
			return paths, err
		}
	}
	charts, err := r.WriteCharts(dir)
	paths = append(paths, charts...)
	return paths, err
}
