package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteCharts draws, for each durability, throughput-<durability>.png (one
// panel per workload: the median throughput of each backend with min–max
// bars) and latency-<durability>.png (p50, p99 and p99.9 per backend on a
// log scale), and returns the paths written.
func (r *Report) WriteCharts(dir string) ([]string, error) {
	var paths []string
	for _, d := range r.Durabilities() {
		var sums []Summary
		for _, s := range r.Summaries {
			if s.Durability == d && s.Reps > 0 {
				sums = append(sums, s)
			}
		}
		if len(sums) == 0 {
			continue
		}
		workloads, backends := axes(sums)
		title := fmt.Sprintf("durability %s · %d reps · seed %d · %s", d, r.Reps, r.Seed, r.Started.Format("2006-01-02"))
		var tput, lat []*plot.Plot
		for _, w := range workloads {
			p, err := throughputPlot(w, backends, sums)
			if err != nil {
				return paths, err
			}
			tput = append(tput, p)
			p, err = latencyPlot(w, backends, sums)
			if err != nil {
				return paths, err
			}
			lat = append(lat, p)
		}
		for _, c := range []struct {
			name  string
			plots []*plot.Plot
		}{{"throughput", tput}, {"latency", lat}} {
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", c.name, d))
			if err := savePanels(path, title+" · "+r.Machine.String(), c.plots); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// axes returns the workloads and backends of sums in first-seen order.
func axes(sums []Summary) (workloads, backends []string) {
	seenW, seenB := map[string]bool{}, map[string]bool{}
	for _, s := range sums {
		if !seenW[s.Workload] {
			seenW[s.Workload] = true
			workloads = append(workloads, s.Workload)
		}
		if !seenB[s.Backend] {
			seenB[s.Backend] = true
			backends = append(backends, s.Backend)
		}
	}
	return workloads, backends
}

func find(sums []Summary, w, b string) (Summary, bool) {
	for _, s := range sums {
		if s.Workload == w && s.Backend == b {
			return s, true
		}
	}
	return Summary{}, false
}

// errBars are min–max bars around medians, for plotter.NewYErrorBars.
type errBars struct{ x, y, lo, hi []float64 }

func (e errBars) Len() int                        { return len(e.x) }
func (e errBars) XY(i int) (float64, float64)     { return e.x[i], e.y[i] }
func (e errBars) YError(i int) (float64, float64) { return e.lo[i], e.hi[i] }

func throughputPlot(w string, backends []string, sums []Summary) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = w
	var names []string
	var vals plotter.Values
	var eb errBars
	unit := "op"
	for _, b := range backends {
		s, ok := find(sums, w, b)
		if !ok {
			continue
		}
		unit = s.Unit
		x := float64(len(names))
		names = append(names, b)
		vals = append(vals, s.Median)
		eb.x = append(eb.x, x)
		eb.y = append(eb.y, s.Median)
		eb.lo = append(eb.lo, s.Median-s.Min)
		eb.hi = append(eb.hi, s.Max-s.Median)
	}
	p.Y.Label.Text = unit + "/s (median, min–max)"
	p.Y.Min = 0
	p.Y.Tick.Marker = rateTicks{}
	// One bar chart per backend, so each backend keeps its colour.
	for i := range vals {
		one := make(plotter.Values, len(vals))
		one[i] = vals[i]
		bars, err := plotter.NewBarChart(one, vg.Points(28))
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(slices.Index(backends, names[i]))
		bars.LineStyle.Width = 0
		p.Add(bars)
	}
	errs, err := plotter.NewYErrorBars(eb)
	if err != nil {
		return nil, err
	}
	p.Add(errs)
	p.NominalX(names...)
	return p, nil
}

func latencyPlot(w string, backends []string, sums []Summary) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = w
	p.Y.Label.Text = "latency (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = latencyTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	drawn := false
	for i, b := range backends {
		s, ok := find(sums, w, b)
		if !ok || s.P50 <= 0 || s.P99 <= 0 || s.P999 <= 0 {
			continue
		}
		pts := plotter.XYs{{X: 0, Y: s.P50}, {X: 1, Y: s.P99}, {X: 2, Y: s.P999}}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		sc.Color = plotutil.Color(i)
		sc.Shape = plotutil.Shape(i)
		p.Add(l, sc)
		p.Legend.Add(b, l, sc)
		drawn = true
	}
	if !drawn {
		// An empty log-scale plot has no range; give it one.
		p.Y.Min, p.Y.Max = 1e3, 1e6
	}
	p.NominalX("p50", "p99", "p99.9")
	return p, nil
}

// latencyTicks labels a log axis of nanoseconds in readable units.
type latencyTicks struct{}

func (latencyTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(math.Max(min, 1))); e <= math.Ceil(math.Log10(math.Max(max, 1))); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			t.Label = formatNs(v)
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// rateTicks labels a throughput axis with k and M suffixes.
type rateTicks struct{}

func (rateTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = formatRate(ticks[i].Value)
		}
	}
	return ticks
}

// savePanels lays plots out in a grid of up to 3 columns under a title and
// writes a PNG.
func savePanels(path, title string, plots []*plot.Plot) error {
	cols := min(3, len(plots))
	rows := (len(plots) + cols - 1) / cols
	width, height := vg.Length(cols)*4*vg.Inch, vg.Length(rows)*3*vg.Inch+0.4*vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))
	dc := draw.New(img)
	titleStyle := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter, YAlign: draw.YTop}
	titleStyle.Font.Size = vg.Points(10)
	dc.FillText(titleStyle, vg.Point{X: width / 2, Y: height - 0.1*vg.Inch}, title)
	body := draw.Crop(dc, 0, 0, 0, -0.4*vg.Inch)
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, p := range plots {
		grid[i/cols][i%cols] = p
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 3, PadY: vg.Millimeter * 3,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, body)
	for j := range grid {
		for i, p := range grid[j] {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return f.Close()
}
