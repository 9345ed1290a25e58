package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/polykv/polykv/bench"
)

// runScale draws the scale chart of make bench-scale from the reports of
// one workload at several sizes.
func runScale(_ context.Context, s stdio, args []string) error {
	fs := newFlags(s, "scale", "[flags] REPORT.json...", fmt.Sprintf(`
Reads the report.json of bench runs of one workload at several sizes (one
report per --size) and writes scale.txt (throughput per backend and size,
its ratio to the smallest size, peak RSS, and the verdicts: at least %.2f
of the smallest size's throughput, at most 1 GiB of peak RSS) and scale.png
(throughput and peak RSS against the number of nodes). make bench-scale runs
traverse-gen at 100k, 1M and 10M nodes and then this.`, bench.ScaleMinRatio))
	out := fs.String("out", "bench-results", "directory for scale.txt and scale.png")
	workload := fs.String("workload", "traverse-gen", "the workload to chart")
	durability := fs.String("durability", "nosync", "the durability to chart (sync or nosync)")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: want at least one REPORT.json (see --help)", errUsage)
	}
	if *durability != "sync" && *durability != "nosync" {
		return fmt.Errorf("%w: --durability %q: want sync or nosync", errUsage, *durability)
	}
	var reports []*bench.Report
	for _, p := range fs.Args() {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		r, err := bench.ReadReport(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		reports = append(reports, r)
	}
	pts := bench.ScalePoints(reports, *workload, *durability)
	if len(pts) == 0 {
		return fmt.Errorf("no %s run under %s in the reports", *workload, *durability)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	txt := filepath.Join(*out, "scale.txt")
	f, err := os.Create(txt)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s · %s · %s", *workload, *durability, reports[0].Started.Format(time.DateOnly))
	fmt.Fprintf(f, "%s\n%s\n\n", title, reports[0].Machine)
	if err := bench.WriteScaleTable(f, pts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	png := filepath.Join(*out, "scale.png")
	if err := bench.WriteScaleChart(png, title, pts); err != nil {
		return err
	}
	if err := bench.WriteScaleTable(s.out, pts); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "\nwrote:\n  %s\n  %s\n", txt, png)
	return nil
}
