package metrics

import (
	"strings"
	"sync"

	"github.com/polykv/polykv/kv"
	"github.com/prometheus/client_golang/prometheus"
)

// engineCollector exports a store's engine figures (kv.DB.Stats), read on
// each scrape.
type engineCollector struct {
	s      interface{ Stats() (kv.Stats, error) }
	labels prometheus.Labels
	disk   *prometheus.Desc
	memory *prometheus.Desc
	errs   *prometheus.Desc

	mu     sync.Mutex
	failed float64                     // scrapes whose Stats failed
	extra  map[string]*prometheus.Desc // by Extra name
}

// NewEngineCollector returns a collector of s's engine figures, read from
// s's Stats method (*kv.DB has one) on each scrape, never on the path of
// a store call: polykv_engine_disk_bytes, polykv_engine_memory_bytes, and
// one gauge polykv_engine_<name> per figure of kv.EngineStats.Extra (each
// backend documents its own in its Stats). A store without Stats gives no
// figures. Wrap registers one for the store it wraps; this is for a
// program that wants the engine figures without the wrapper.
//
// A scrape during which Stats fails (the store is closed) reports no
// engine figure and counts in polykv_engine_stats_errors_total.
//
// The set of Extra names is the backend's, so the collector is unchecked
// (it describes no metric in advance).
func NewEngineCollector(s kv.Store, opts *Options) prometheus.Collector {
	o := opts.withDefaults()
	c := &engineCollector{labels: o.ConstLabels, extra: map[string]*prometheus.Desc{}}
	if st, ok := s.(interface{ Stats() (kv.Stats, error) }); ok {
		c.s = st
	}
	c.disk = prometheus.NewDesc("polykv_engine_disk_bytes", "Size of the engine's files on disk, in allocated blocks.", []string{"backend"}, c.labels)
	c.memory = prometheus.NewDesc("polykv_engine_memory_bytes", "Memory held by the engine's caches and memtables.", []string{"backend"}, c.labels)
	c.errs = prometheus.NewDesc("polykv_engine_stats_errors_total", "Scrapes whose engine statistics could not be read.", nil, c.labels)
	return c
}

// Describe describes nothing: the collector is unchecked.
func (c *engineCollector) Describe(chan<- *prometheus.Desc) {}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s == nil {
		return
	}
	st, err := c.s.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failed++
	}
	ch <- constMetric(c.errs, prometheus.CounterValue, c.failed)
	if err != nil {
		return
	}
	b := st.Backend
	ch <- constMetric(c.disk, prometheus.GaugeValue, float64(st.Engine.DiskBytes), b)
	ch <- constMetric(c.memory, prometheus.GaugeValue, float64(st.Engine.MemoryBytes), b)
	for name, v := range st.Engine.Extra {
		d := c.extra[name]
		if d == nil {
			mn := "polykv_engine_" + sanitize(name)
			if mn == "polykv_engine_disk_bytes" || mn == "polykv_engine_memory_bytes" || mn == "polykv_engine_stats_errors_total" {
				continue
			}
			d = prometheus.NewDesc(mn, "Engine figure "+name+" of kv.EngineStats.Extra (see the backend's Stats documentation).", []string{"backend"}, c.labels)
			c.extra[name] = d
		}
		ch <- constMetric(d, prometheus.GaugeValue, float64(v), b)
	}
}

// sanitize maps name to the characters a metric name may hold.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, name)
}
