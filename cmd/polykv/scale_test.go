package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polykv/polykv/bench"
)

// scale reads one report per size and judges each backend against its
// smallest size: a throughput that falls below ScaleMinRatio or a peak RSS
// past 1 GiB is a NO.
func TestScaleChart(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, r := range []struct {
		size         int
		flat, sloped float64
		rss          int64
	}{{1000, 100, 100, 100 << 20}, {10000, 95, 60, 2 << 30}} {
		rep := bench.Report{Size: r.size, Summaries: []bench.Summary{
			{Durability: "nosync", Workload: "traverse-gen", Backend: "flat", Reps: 1, Median: r.flat, PeakRSS: 100 << 20},
			{Durability: "nosync", Workload: "traverse-gen", Backend: "sloped", Reps: 1, Median: r.sloped, PeakRSS: r.rss},
			{Durability: "nosync", Workload: "logs", Backend: "flat", Reps: 1, Median: 1},
		}}
		p := filepath.Join(dir, "r"+strings.Repeat("0", r.size/1000)+".json")
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := polykv(t, nil, append([]string{"scale", "--out", out}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var verdicts []string
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 2 && (f[0] == "flat" || f[0] == "sloped") {
			verdicts = append(verdicts, f[0]+" "+f[1]+" "+f[len(f)-1])
		}
	}
	want := []string{"flat 1000 yes", "flat 10000 yes", "sloped 1000 yes", "sloped 10000 GiB)"}
	if strings.Join(verdicts, ",") != strings.Join(want, ",") {
		t.Errorf("verdicts %q, want %q\n%s", verdicts, want, stdout)
	}
	for _, f := range []string{"scale.txt", "scale.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if code, _, _ := polykv(t, nil, "scale", "--out", out); code != 2 {
		t.Errorf("scale without reports: exit %d, want 2", code)
	}
}

// TestScaleRejectsUnknownDurability: --durability other than sync or
// nosync is a usage error naming it, before any report is read; it used
// to read the reports and find no run "under maybe".
func TestScaleRejectsUnknownDurability(t *testing.T) {
	p := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(p, []byte(`{"size":1000}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := polykv(t, nil, "scale", "--durability", "maybe", "--out", out, p)
	if code != 2 || !strings.Contains(stderr, `--durability "maybe"`) || !strings.Contains(stderr, "sync or nosync") {
		t.Errorf("scale --durability maybe: exit %d, want 2 naming it:\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("scale --durability maybe created %s", out)
	}
}
