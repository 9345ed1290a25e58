package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// The scale check (make bench-scale): one workload (traverse-gen) at
// several sizes, one report per size. Throughput at the largest size must
// stay at least ScaleMinRatio of the smallest's, and the peak RSS within
// MemoryTargetBytes at every size (disk backends, default memory budget).

// ScaleMinRatio is the least throughput at the largest size of a scale
// run, as a share of the smallest size's.
const ScaleMinRatio = 0.7

// ScalePoint is one backend at one size of a scale run.
type ScalePoint struct {
	Backend   string  `json:"backend"`
	Nodes     int     `json:"nodes"`
	OpsPerSec float64 `json:"ops_per_sec"` // median of the repetitions
	PeakRSS   int64   `json:"peak_rss"`    // Summary.JudgedRSS
}

// ScalePoints collects the points of workload under durability from
// reports (one per size; a report's Size is its number of nodes), sorted
// by backend and size.
func ScalePoints(reports []*Report, workload, durability string) []ScalePoint {
	var pts []ScalePoint
	for _, r := range reports {
		for _, s := range r.Summaries {
			if s.Workload != workload || s.Durability != durability || s.Reps == 0 {
				continue
			}
			pts = append(pts, ScalePoint{Backend: s.Backend, Nodes: r.Size, OpsPerSec: s.Median, PeakRSS: s.JudgedRSS()})
		}
	}
	slices.SortFunc(pts, func(a, b ScalePoint) int {
		if a.Backend != b.Backend {
			if a.Backend < b.Backend {
				return -1
			}
			return 1
		}
		return a.Nodes - b.Nodes
	})
	return pts
}

// WriteScaleTable writes, per backend and size, the throughput, its ratio
// to the backend's smallest size and the peak RSS, with the verdicts.
func WriteScaleTable(w io.Writer, pts []ScalePoint) error {
	rows := [][]string{{"backend", "nodes", "throughput", "vs smallest", "peak RSS (load+run)", "ok"}}
	for i, p := range pts {
		base := p
		for j := i; j >= 0 && pts[j].Backend == p.Backend; j-- {
			base = pts[j]
		}
		ratio := p.OpsPerSec / base.OpsPerSec
		ok := p.PeakRSS <= MemoryTargetBytes && (p.Nodes == base.Nodes || ratio >= ScaleMinRatio)
		verdict := "yes"
		if !ok {
			verdict = fmt.Sprintf("NO (want ≥ %.2f, ≤ %s)", ScaleMinRatio, formatBytes(MemoryTargetBytes))
		}
		rows = append(rows, []string{p.Backend, sizeLabel(p.Nodes), formatRate(p.OpsPerSec) + " node/s",
			strconv.FormatFloat(ratio, 'f', 2, 64), formatBytes(p.PeakRSS), verdict})
	}
	ew := &errWriter{w: w}
	writeAligned(ew, rows)
	return ew.err
}

// WriteScaleChart draws throughput and peak RSS against the number of
// nodes (log scale), one line per backend, into a PNG at path.
func WriteScaleChart(path, title string, pts []ScalePoint) error {
	var backends []string
	var ticks []plot.Tick
	for _, p := range pts {
		if !slices.Contains(backends, p.Backend) {
			backends = append(backends, p.Backend)
		}
		if !slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == float64(p.Nodes) }) {
			ticks = append(ticks, plot.Tick{Value: float64(p.Nodes), Label: sizeLabel(p.Nodes)})
		}
	}
	tput, rss := plot.New(), plot.New()
	tput.Title.Text, rss.Title.Text = "throughput", "peak RSS (load and traversal)"
	tput.Y.Label.Text, rss.Y.Label.Text = "node/s", "MiB"
	for _, p := range []*plot.Plot{tput, rss} {
		p.X.Label.Text = "nodes"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Min = 0
		p.Legend.Left = true
	}
	tput.Y.Tick.Marker = rateTicks{}
	for i, b := range backends {
		var tp, rp plotter.XYs
		for _, p := range pts {
			if p.Backend == b {
				tp = append(tp, plotter.XY{X: float64(p.Nodes), Y: p.OpsPerSec})
				rp = append(rp, plotter.XY{X: float64(p.Nodes), Y: float64(p.PeakRSS) / (1 << 20)})
			}
		}
		for _, c := range []struct {
			p   *plot.Plot
			xys plotter.XYs
		}{{tput, tp}, {rss, rp}} {
			l, s, err := plotter.NewLinePoints(c.xys)
			if err != nil {
				return err
			}
			l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
			s.Shape = plotutil.Shape(i)
			c.p.Add(l, s)
			c.p.Legend.Add(b, l, s)
		}
	}
	limit := plotter.NewFunction(func(float64) float64 { return MemoryTargetBytes / (1 << 20) })
	limit.Dashes = plotutil.Dashes(1)
	rss.Add(limit)
	rss.Legend.Add("1 GiB target", limit)
	rss.Y.Max = math.Max(rss.Y.Max, MemoryTargetBytes/(1<<20)*1.1)
	return savePanels(path, title, []*plot.Plot{tput, rss})
}
