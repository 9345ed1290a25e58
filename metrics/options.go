package metrics

import (
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure the wrapper and the collectors. A nil *Options, and
// the zero value of every field, take the defaults.
type Options struct {
	// ConstLabels are added to every metric, for a program that exposes
	// several stores in one registry: give each the same label names with
	// other values (say {"store": "state"} and {"store": "logs"}); a
	// registry refuses one metric name with different label names. They
	// must not be names the metrics use themselves (op, error, backend,
	// queue, level, traversal, copy).
	ConstLabels prometheus.Labels
	// DurationBuckets are the upper bounds, in seconds, of the
	// polykv_kv_op_duration_seconds buckets (default DefaultDurationBuckets).
	DurationBuckets []float64
	// TimeEvery is how many calls of each operation there are per call
	// timed into polykv_kv_op_duration_seconds (default 8; rounded up to
	// a power of two). Reading the clock twice costs more than the rest of
	// the recording; timing a uniform sample keeps the wrapper's cost on a
	// point read small while the histogram's quantiles stay those of every
	// call. polykv_kv_ops_total counts every call. 1 times every call.
	TimeEvery int
	// Timeout bounds the store reads the nodestore and logstore
	// collectors make on each scrape (default 10s). An engine's Stats
	// takes no context: it is not bounded.
	Timeout time.Duration
	// MaxLevels bounds the level label of the nodestore metrics: levels at
	// or past it are added up under the level ">=MaxLevels" (default 256).
	MaxLevels int
	// LogCountInterval is how long the log entry counts of
	// NewLogstoreCollector are reused before the next scrape counts again:
	// counting is a scan of every log key (default 1 minute).
	LogCountInterval time.Duration
}

// DefaultDurationBuckets are the default latency buckets: 19 buckets from
// 1 µs to about 15 s, each 2.5 times the one before.
var DefaultDurationBuckets = prometheus.ExponentialBuckets(1e-6, 2.5, 19)

const (
	defaultTimeEvery        = 8
	defaultTimeout          = 10 * time.Second
	defaultMaxLevels        = 256
	defaultLogCountInterval = time.Minute
)

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if len(out.DurationBuckets) == 0 {
		out.DurationBuckets = DefaultDurationBuckets
	}
	if out.TimeEvery <= 0 {
		out.TimeEvery = defaultTimeEvery
	}
	out.TimeEvery = 1 << bits.Len(uint(out.TimeEvery-1))
	if out.Timeout <= 0 {
		out.Timeout = defaultTimeout
	}
	if out.MaxLevels <= 0 {
		out.MaxLevels = defaultMaxLevels
	}
	if out.LogCountInterval <= 0 {
		out.LogCountInterval = defaultLogCountInterval
	}
	return out
}

// reservedLabels are the label names the metrics use themselves.
var reservedLabels = []string{"op", "error", "backend", "queue", "level", "traversal", "copy"}

// check reports a ConstLabels name that a metric uses itself.
func (o *Options) check() error {
	for _, name := range reservedLabels {
		if _, ok := o.ConstLabels[name]; ok {
			return fmt.Errorf("metrics: Options.ConstLabels: %q is a label name of the metrics themselves (reserved: %s)", name, strings.Join(reservedLabels, ", "))
		}
	}
	return nil
}

// constMetric is prometheus.MustNewConstMetric that reports an invalid
// metric (a Gather error) instead of panicking in the scrape.
func constMetric(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}
