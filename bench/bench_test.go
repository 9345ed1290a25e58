package bench_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
)

// lossy is a backend that silently drops one write in every 97: a fast
// wrong answer every workload must catch.
type lossyDriver struct{ memory.Driver }

type lossyEngine struct {
	kv.Engine
	n int
}

func (d lossyDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	e, err := d.Driver.Open(ctx, dir, cfg)
	return &lossyEngine{Engine: e}, err
}

func (e *lossyEngine) Apply(ctx context.Context, b *kv.Batch) error {
	var kept kv.Batch
	for i := range b.Len() {
		kind, k, v := b.Op(i)
		e.n++
		if e.n%97 == 0 {
			continue
		}
		var err error
		if kind == kv.OpSet {
			err = kept.Set(k, v)
		} else {
			err = kept.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return e.Engine.Apply(ctx, &kept)
}

func init() { kv.Register("lossy-test", lossyDriver{}) }

// quick is a spec small enough for the default test run.
func quick(t testing.TB, workload, backend string) bench.Spec {
	return bench.Spec{Workload: workload, Backend: backend, Durability: "nosync", Size: 2000, Ops: 2000, Seed: 7, Rep: 1, Dir: t.TempDir()}
}

func TestEveryWorkloadRunsAndVerifies(t *testing.T) {
	for _, w := range bench.Workloads() {
		if w.Group == "traverse" && testing.Short() {
			continue
		}
		t.Run(w.Name, func(t *testing.T) {
			res, err := bench.RunOne(t.Context(), quick(t, w.Name, "memory"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops <= 0 || res.Seconds <= 0 || res.OpsPerSec <= 0 {
				t.Errorf("no measurement: %+v", res)
			}
			if res.Verified == "" {
				t.Error("no verification recorded")
			}
			if res.P50 <= 0 || res.P99 < res.P50 || res.P999 < res.P99 {
				t.Errorf("latency percentiles p50=%v p99=%v p99.9=%v", res.P50, res.P99, res.P999)
			}
		})
	}
}

func TestTraverseSkewed(t *testing.T) {
	s := quick(t, "traverse-gen", "memory")
	s.Size, s.Skew = 30000, true
	res, err := bench.RunOne(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	// src: every node; dst: every node but every 25th file.
	if res.Ops <= 2*30000-30000/25-1 || res.Ops >= 2*30000 || !strings.Contains(res.Verified, "30000 src + ") {
		t.Errorf("%d nodes traversed (src+dst): %s", res.Ops, res.Verified)
	}
}

// With Ceiling, the traversal's writes are replayed on a fresh store that
// must end identical, and the run reports the ceiling and the kv
// operations per node.
func TestTraverseCeiling(t *testing.T) {
	for _, be := range []string{"memory", "badger"} {
		t.Run(be, func(t *testing.T) {
			s := quick(t, "traverse-gen", be)
			s.Ceiling = true
			res, err := bench.RunOne(t.Context(), s)
			if err != nil {
				t.Fatal(err)
			}
			x := res.Extra
			if x["ceiling_node_per_s"] <= 0 || x["traverse_vs_ceiling"] <= 0 {
				t.Errorf("no ceiling: %v", x)
			}
			// Every node is inserted (node key, index entry, path key) and
			// moved once (new node key, path key; the old node key deleted).
			if x["kv_sets_per_node"] < 4 || x["kv_deletes_per_node"] < 0.9 || x["kv_gets_per_node"] <= 0 {
				t.Errorf("kv operations per node: %v", x)
			}
			if !strings.Contains(res.Verified, "identical") {
				t.Errorf("verified: %s", res.Verified)
			}
		})
	}
}

func TestLossyBackendFailsVerification(t *testing.T) {
	for _, w := range []string{"fill-rand-b100", "fill-seq-b1", "read-uniform", "scan-100", "ycsb-a", "logs"} {
		t.Run(w, func(t *testing.T) {
			res, err := bench.RunOne(t.Context(), quick(t, w, "lossy-test"))
			if err == nil {
				t.Fatalf("a backend losing writes passed: %s", res.Verified)
			}
			if res.Err == "" {
				t.Error("Result.Err is empty")
			}
			t.Log(err)
		})
	}
}

func TestPersistentBackendsAndCalibration(t *testing.T) {
	for _, b := range []string{"badger", "pebble", "bbolt", "raw-badger", "raw-pebble", "raw-bbolt"} {
		t.Run(b, func(t *testing.T) {
			s := quick(t, "fill-rand-b100", b)
			res, err := bench.RunOne(t.Context(), s)
			if err != nil {
				t.Fatal(err)
			}
			if res.DiskBytes <= 0 {
				t.Errorf("disk bytes %d after Close", res.DiskBytes)
			}
			if res.LogicalBytes != int64(s.Size)*(16+100) {
				t.Errorf("logical bytes %d, want %d", res.LogicalBytes, s.Size*(16+100))
			}
			entries, err := os.ReadDir(s.Dir)
			if err != nil || len(entries) != 0 {
				t.Errorf("run directory not removed: %v %v", entries, err)
			}
		})
	}
}

func TestRawBackendRefusedByUncalibratedWorkload(t *testing.T) {
	if _, err := bench.RunOne(t.Context(), quick(t, "logs", "raw-badger")); err == nil {
		t.Fatal("logs ran on a raw engine")
	}
}

func TestRunOneErrors(t *testing.T) {
	for _, s := range []bench.Spec{
		{Workload: "nope", Backend: "memory"},
		{Workload: "fill-seq-b100", Backend: "memory", Durability: "sometimes"},
		{Workload: "fill-seq-b100", Backend: "unknown-backend", Size: 1000},
	} {
		s.Dir = t.TempDir()
		if _, err := bench.RunOne(t.Context(), s); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

func TestPlanAlternatesBackends(t *testing.T) {
	plan := bench.Plan(bench.Options{
		Workloads: []string{"read-uniform", "logs"}, Backends: []string{"a", "b"},
		Durabilities: []string{"sync", "nosync"}, Reps: 2, Calibrate: true,
	})
	var got []string
	for _, s := range plan {
		got = append(got, s.Durability+"/"+s.Workload+"/"+s.Backend+"/"+string(rune('0'+s.Rep)))
	}
	want := []string{
		"sync/read-uniform/a/1", "sync/read-uniform/b/1", "sync/read-uniform/a/2", "sync/read-uniform/b/2",
		"sync/logs/a/1", "sync/logs/b/1", "sync/logs/a/2", "sync/logs/b/2",
		"nosync/read-uniform/a/1", "nosync/read-uniform/b/1", "nosync/read-uniform/a/2", "nosync/read-uniform/b/2",
		"nosync/logs/a/1", "nosync/logs/b/1", "nosync/logs/a/2", "nosync/logs/b/2",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("plan:\n got %v\nwant %v", got, want)
	}
	plan = bench.Plan(bench.Options{Workloads: []string{"read-uniform", "logs"}, Backends: []string{"badger", "memory"}, Reps: 1, Calibrate: true})
	got = got[:0]
	for _, s := range plan {
		got = append(got, s.Workload+"/"+s.Backend)
	}
	want = []string{"read-uniform/badger", "read-uniform/raw-badger", "read-uniform/memory", "logs/badger", "logs/memory"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("calibration plan:\n got %v\nwant %v", got, want)
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // first names, or "error"
		wantLen int
	}{
		{in: "logs", want: "logs", wantLen: 1},
		{in: "ycsb", want: "ycsb-a", wantLen: 6},
		{in: "logs, logs ,ycsb-c", want: "logs", wantLen: 2},
		{in: "nope", want: "error"},
		{in: "", want: "error"},
		{in: "calibrate", want: "fill-seq-b100"},
	} {
		got, err := bench.Expand(tc.in)
		if tc.want == "error" {
			if err == nil {
				t.Errorf("Expand(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || len(got) == 0 || got[0] != tc.want || (tc.wantLen > 0 && len(got) != tc.wantLen) {
			t.Errorf("Expand(%q) = %v, %v; want %s first, %d names", tc.in, got, err, tc.want, tc.wantLen)
		}
	}
}

func TestReportOutputs(t *testing.T) {
	rep, err := bench.Run(t.Context(), bench.Options{
		Workloads: []string{"fill-seq-b100", "read-zipf"}, Backends: []string{"memory", "bbolt"},
		Durabilities: []string{"sync", "nosync"}, Size: 2000, Reps: 3, Calibrate: true,
		Template: bench.Spec{Dir: t.TempDir(), Ops: 2000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2*2*3*3 { // durabilities × workloads × reps × (memory, bbolt, raw-bbolt)
		t.Errorf("%d runs", len(rep.Runs))
	}
	if len(rep.Overheads) != 4 {
		t.Errorf("%d overheads, want 4 (2 workloads × 2 durabilities on bbolt)", len(rep.Overheads))
	}
	for _, s := range rep.Summaries {
		if s.Reps != 3 || s.Min > s.Median || s.Median > s.Max || s.Median <= 0 {
			t.Errorf("summary %s/%s/%s: reps %d, min %v median %v max %v", s.Durability, s.Workload, s.Backend, s.Reps, s.Min, s.Median, s.Max)
		}
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	syncAt, nosyncAt := strings.Index(out, "durability: sync"), strings.Index(out, "durability: nosync")
	if syncAt < 0 || nosyncAt < 0 || !strings.Contains(out, "machine: ") || !strings.Contains(out, "abstraction overhead") {
		t.Errorf("table lacks a section:\n%s", out)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := bench.ReadReport(&js)
	if err != nil || len(back.Runs) != len(rep.Runs) || back.Machine.CPUs == 0 {
		t.Errorf("JSON round trip: %v, %d runs", err, len(back.Runs))
	}
	var bs bytes.Buffer
	if err := rep.WriteBenchstat(&bs); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, l := range strings.Split(bs.String(), "\n") {
		if strings.HasPrefix(l, "BenchmarkFillSeqB100/backend=memory/durability=sync-") {
			lines++
			if !strings.Contains(l, " ns/op") || !strings.Contains(l, " allocs/op") {
				t.Errorf("benchstat line %q", l)
			}
		}
	}
	if lines != 3 {
		t.Errorf("%d benchstat lines for one (workload, backend, durability), want 3 (one per rep)", lines)
	}
	dir := t.TempDir()
	paths, err := rep.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4+4 {
		t.Errorf("wrote %v", paths)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v", p, err)
		}
		if strings.HasSuffix(p, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG", p)
		}
	}
	var csvOut bytes.Buffer
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll() // fails on a row of another width
	if err != nil {
		t.Fatalf("the CSV does not parse as a table: %v", err)
	}
	if len(rows) != len(rep.Runs)+1 {
		t.Errorf("CSV has %d rows, want %d", len(rows), len(rep.Runs)+1)
	}
	// Each figure under its own column.
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for i, res := range rep.Runs {
		row := rows[i+1]
		for name, want := range map[string]string{
			"cpu_ns_per_op": strconv.FormatFloat(res.CPUPerOp, 'g', 6, 64),
			"peak_rss":      strconv.FormatInt(res.PeakRSS, 10),
			"disk_bytes":    strconv.FormatInt(res.DiskBytes, 10),
			"verified":      res.Verified,
			"error":         res.Err,
		} {
			if j, ok := col[name]; !ok || row[j] != want {
				t.Errorf("CSV row %d, column %s: want %q (header %v, row %v)", i+1, name, want, rows[0], row)
			}
		}
	}
	_ = json.Valid
}

func TestDiskUsageCountsAllocatedBlocks(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(dir + "/sparse")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // 64 MiB apparent, no blocks
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(dir+"/dense", make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := bench.DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1<<20 || n > 2<<20 {
		t.Errorf("DiskUsage = %d, want about 1 MiB (the sparse file takes no blocks)", n)
	}
}

// TestMemoryTarget checks the report's verdict on the memory target: only
// traverse-gen runs of 1,000,000 nodes or more at the default budget are
// judged, a miss is flagged, a declared miss says why, and the peak judged
// is the one through the load and measured phases when a run recorded it.
func TestMemoryTarget(t *testing.T) {
	run := func(backend string, size int, budget int64, rss int64) bench.Result {
		return bench.Result{
			Spec: bench.Spec{Workload: "traverse-gen", Backend: backend, Durability: "nosync", Size: size, MemoryBudget: budget, Rep: 1},
			Unit: "node", Ops: 1000, Seconds: 1, OpsPerSec: 1000, PeakRSS: rss,
		}
	}
	// pebble's whole run peaked over the target in its verification, after
	// the measured phase: the load and measured phases are what is judged.
	pebble := run("pebble", 1_000_000, 0, 3<<30)
	pebble.PeakRSSWork = 900 << 20
	rep := &bench.Report{Runs: []bench.Result{
		pebble,
		run("bbolt", 1_000_000, 0, 1100<<20),
		run("badger", 1_000_000, 0, 2<<30),
		run("memory", 200_000, 0, 2<<30),            // too small to judge
		run("lossy-test", 1_000_000, 64<<20, 3<<30), // not the default budget
	}}
	rep.Finish()
	got := map[string]bench.MemoryCheck{}
	for _, c := range rep.MemoryChecks {
		got[c.Backend] = c
	}
	if len(got) != 3 || !got["pebble"].Met || got["bbolt"].Met || got["badger"].Met {
		t.Fatalf("memory checks = %+v, want pebble met, bbolt and badger missed, no others", rep.MemoryChecks)
	}
	if got["pebble"].PeakRSS != 900<<20 {
		t.Errorf("pebble judged at %d bytes, want the load and measured phases' %d", got["pebble"].PeakRSS, 900<<20)
	}
	if got["bbolt"].Declared != "" || !strings.Contains(got["badger"].Declared, "badger") {
		t.Errorf("declared: bbolt %q (want none), badger %q (want a reason)", got["bbolt"].Declared, got["badger"].Declared)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, want := range []string{"== memory target", "≤1.00 GiB ok", "≤1.00 GiB MISSED (declared for badger"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
