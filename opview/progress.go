package opview

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/polykv/polykv/nodestore"
)

// Progress is the progress page's data (progress.json).
type Progress struct {
	Time   time.Time       `json:"time"`
	Queues []QueueProgress `json:"queues"`
	// Counts are the raw counters: nodes per (queue, level, traversal,
	// copy) status.
	Counts []Count `json:"counts"`
	// SampleInterval and SampleWindow say how throughput is measured;
	// Samples is the number of samples held (2 or more for a rate).
	SampleInterval time.Duration `json:"sample_interval_ns"`
	SampleWindow   time.Duration `json:"sample_window_ns"`
	Samples        int           `json:"samples"`
	// SampleError is the last sampling failure, if the last sample failed.
	SampleError string `json:"sample_error,omitempty"`
	// ExpectedNodes is Options.ExpectedNodes (0: unknown).
	ExpectedNodes int64 `json:"expected_nodes,omitempty"`
	Chart         Chart `json:"-"`
}

// Count is one counter of nodestore (nodestore.CountEntry).
type Count struct {
	Queue     string `json:"queue"`
	Level     int    `json:"level"`
	Traversal string `json:"traversal"`
	Copy      string `json:"copy,omitempty"`
	N         int64  `json:"n"`
}

// QueueProgress is one queue (src or dst) of the progress page.
type QueueProgress struct {
	Queue  string     `json:"queue"`
	Levels []LevelRow `json:"levels"`
	Total  LevelRow   `json:"total"`
	// LowestPendingLevel is the lowest level with a node pending
	// traversal (nodestore.Store.LowestPendingLevel); null when none.
	LowestPendingLevel *int `json:"lowest_pending_level"`
	// TraversedPerSecond and CopiedPerSecond are measured over the sample
	// window; null until there are two samples. Copy is src only.
	TraversedPerSecond *float64 `json:"traversed_per_second"`
	CopiedPerSecond    *float64 `json:"copied_per_second,omitempty"`
	// TraversalETA and CopyETA are the time left at the measured rate for
	// ExpectedNodes source nodes (src only); null when unknown.
	TraversalETA *Duration `json:"traversal_eta,omitempty"`
	CopyETA      *Duration `json:"copy_eta,omitempty"`
}

// IsSrc reports whether this is the source queue (it has copy columns).
func (q QueueProgress) IsSrc() bool { return q.Queue == string(nodestore.QueueSrc) }

// LevelRow counts the nodes of one level (or of all, in Total) by
// traversal status and, for src, by copy status.
type LevelRow struct {
	Level            int     `json:"level"` // -1 in Total
	Nodes            int64   `json:"nodes"`
	Pending          int64   `json:"pending"`
	Successful       int64   `json:"successful"`
	Failed           int64   `json:"failed"`
	NotOnSrc         int64   `json:"not_on_src,omitempty"`
	CopyPending      int64   `json:"copy_pending,omitempty"`
	CopySuccessful   int64   `json:"copy_successful,omitempty"`
	CopyFailed       int64   `json:"copy_failed,omitempty"`
	PercentTraversed float64 `json:"percent_traversed"`
	PercentCopied    float64 `json:"percent_copied,omitempty"`
}

// Duration is a time.Duration that reads as text ("1h2m3s") in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).Round(time.Second).String() }

// MarshalText writes the duration rounded to the second.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText wrote (time.ParseDuration).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("opview: duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

func (r *LevelRow) add(e nodestore.CountEntry) {
	r.Nodes += e.N
	switch e.Traversal {
	case nodestore.TraversalStatusPending:
		r.Pending += e.N
	case nodestore.TraversalStatusSuccessful:
		r.Successful += e.N
	case nodestore.TraversalStatusFailed:
		r.Failed += e.N
	case nodestore.TraversalStatusNotOnSrc:
		r.NotOnSrc += e.N
	}
	switch e.Copy {
	case nodestore.CopyStatusPending:
		r.CopyPending += e.N
	case nodestore.CopyStatusSuccessful:
		r.CopySuccessful += e.N
	case nodestore.CopyStatusFailed:
		r.CopyFailed += e.N
	}
}

func (r *LevelRow) percents() {
	if r.Nodes > 0 {
		r.PercentTraversed = percent(r.Nodes-r.Pending, r.Nodes)
		r.PercentCopied = percent(r.CopySuccessful+r.CopyFailed, r.Nodes)
	}
}

// percent is a/b in percent, rounded down to 0.1: 100 only when all are.
func percent(a, b int64) float64 { return math.Floor(1000*float64(a)/float64(b)) / 10 }

// progress reads the counters (one snapshot) and the lowest pending level
// of each queue, and adds the throughput the sampler measured.
func (h *Handler) progress(ctx context.Context) (*Progress, error) {
	entries, err := h.ns.Counts(ctx)
	if err != nil {
		return nil, err
	}
	ss, serr := h.sampler.samples()
	p := &Progress{Time: h.now().UTC(), Samples: len(ss), ExpectedNodes: h.opts.ExpectedNodes, Counts: []Count{}}
	if h.opts.SampleInterval > 0 {
		p.SampleInterval, p.SampleWindow = h.opts.SampleInterval, h.opts.SampleWindow
	}
	if serr != nil {
		p.SampleError = serr.Error()
	}
	for _, e := range entries {
		p.Counts = append(p.Counts, Count{Queue: string(e.Queue), Level: e.Level, Traversal: string(e.Traversal), Copy: string(e.Copy), N: e.N})
	}
	// The source first: it is what an operator watches.
	for _, q := range []nodestore.QueueType{nodestore.QueueSrc, nodestore.QueueDst} {
		qp := QueueProgress{Queue: string(q), Levels: []LevelRow{}, Total: LevelRow{Level: -1}}
		for _, e := range entries {
			if e.Queue != q {
				continue
			}
			if n := len(qp.Levels); n == 0 || qp.Levels[n-1].Level != e.Level {
				qp.Levels = append(qp.Levels, LevelRow{Level: e.Level})
			}
			qp.Levels[len(qp.Levels)-1].add(e)
			qp.Total.add(e)
		}
		for i := range qp.Levels {
			qp.Levels[i].percents()
		}
		qp.Total.percents()
		level, ok, err := h.ns.LowestPendingLevel(ctx, q)
		if err != nil {
			return nil, err
		}
		if ok {
			qp.LowestPendingLevel = &level
		}
		qi := queueIndex(q)
		if r, ok := rate(ss, func(s sample) int64 { return s.traversed[qi] }); ok {
			qp.TraversedPerSecond = &r
			if q == nodestore.QueueSrc && h.opts.ExpectedNodes > 0 {
				qp.TraversalETA = eta(h.opts.ExpectedNodes-qp.Total.Successful-qp.Total.Failed, r)
			}
		}
		if q == nodestore.QueueSrc {
			if r, ok := rate(ss, func(s sample) int64 { return s.copied }); ok {
				qp.CopiedPerSecond = &r
				if h.opts.ExpectedNodes > 0 {
					qp.CopyETA = eta(h.opts.ExpectedNodes-qp.Total.CopySuccessful-qp.Total.CopyFailed, r)
				}
			}
		}
		p.Queues = append(p.Queues, qp)
	}
	p.Chart = chartOf(ss)
	return p, nil
}

// eta is the time left to do left items at perSec; nil when it cannot be
// told (no progress measured). Nothing left is zero.
func eta(left int64, perSec float64) *Duration {
	if left <= 0 {
		d := Duration(0)
		return &d
	}
	if perSec <= 0 {
		return nil
	}
	secs := float64(left) / perSec
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return nil
	}
	d := Duration(time.Duration(secs * float64(time.Second)))
	return &d
}

// Chart is the throughput chart: a small inline SVG drawn by the template.
type Chart struct {
	Width, Height int // the plot area
	BoxW, BoxH    int // the picture: the plot area and room for the labels
	Series        []Series
	Max           float64 // the top of the y axis, per second
	Span          string  // the time the x axis covers
}

// Series is one line of the chart.
type Series struct {
	Name, Color string
	Points      string // SVG polyline points
	Last        float64
}

// chartOf draws the rate between consecutive samples of each series.
func chartOf(ss []sample) Chart {
	c := Chart{Width: 600, Height: 120, BoxW: 660, BoxH: 134}
	if len(ss) < 2 {
		return c
	}
	defs := []struct {
		name, color string
		f           func(sample) int64
	}{
		{"src traversed/s", "#1f77b4", func(s sample) int64 { return s.traversed[1] }},
		{"src copied/s", "#2ca02c", func(s sample) int64 { return s.copied }},
		{"dst traversed/s", "#ff7f0e", func(s sample) int64 { return s.traversed[0] }},
	}
	t0, t1 := ss[0].t, ss[len(ss)-1].t
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		return c
	}
	c.Span = time.Duration(span * float64(time.Second)).Round(time.Second).String()
	rates := make([][]float64, len(defs))
	for i, d := range defs {
		for j := 1; j < len(ss); j++ {
			r, _ := rate(ss[j-1:j+1], d.f)
			rates[i] = append(rates[i], r)
			c.Max = max(c.Max, r)
		}
	}
	if c.Max == 0 {
		c.Max = 1
	}
	for i, d := range defs {
		var b strings.Builder
		for j, r := range rates[i] {
			x := float64(c.Width) * ss[j+1].t.Sub(t0).Seconds() / span
			y := float64(c.Height) * (1 - r/c.Max)
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
			b.WriteByte(',')
			b.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
		}
		if len(rates[i]) == 1 { // one rate: a flat line across
			fmt.Fprintf(&b, " 0,%.1f", float64(c.Height)*(1-rates[i][0]/c.Max))
		}
		c.Series = append(c.Series, Series{Name: d.name, Color: d.color, Points: b.String(), Last: rates[i][len(rates[i])-1]})
	}
	return c
}
