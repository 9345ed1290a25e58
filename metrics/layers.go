package metrics

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
	"github.com/polykv/polykv/nodestore"
	"github.com/prometheus/client_golang/prometheus"
)

// nodestoreCollector exports a nodestore's counters, read on each scrape.
type nodestoreCollector struct {
	ns        *nodestore.Store
	o         Options
	nodes     *prometheus.Desc
	pending   *prometheus.Desc
	lowest    *prometheus.Desc
	errsDesc  *prometheus.Desc
	mu        sync.Mutex
	errsTotal float64
}

// NewNodestoreCollector returns a collector of ns's node counts, read on
// each scrape from nodestore's counters (Counts and LowestPendingLevel:
// reads of the small counter families, whatever the number of nodes):
//
//	polykv_nodestore_nodes{queue,level,traversal,copy}   nodes in each position
//	polykv_nodestore_pending_nodes{queue,level}          nodes pending traversal per level
//	polykv_nodestore_lowest_pending_level{queue}         -1 when none is pending
//
// Levels at or past Options.MaxLevels are added up under one level label
// ">=MaxLevels", which bounds the number of series. A scrape whose reads
// fail (the store is closed) reports none of them and counts in
// polykv_nodestore_collect_errors_total.
//
// Give it a nodestore over the store itself rather than over a Wrap of it
// when its scrape reads should stay out of the kv metrics.
func NewNodestoreCollector(ns *nodestore.Store, opts *Options) prometheus.Collector {
	o := opts.withDefaults()
	cl := o.ConstLabels
	return &nodestoreCollector{
		ns: ns, o: o,
		nodes:    prometheus.NewDesc("polykv_nodestore_nodes", "Nodes of a queue at a level in a traversal and copy status (copy is empty for dst).", []string{"queue", "level", "traversal", "copy"}, cl),
		pending:  prometheus.NewDesc("polykv_nodestore_pending_nodes", "Nodes of a queue at a level whose traversal is pending.", []string{"queue", "level"}, cl),
		lowest:   prometheus.NewDesc("polykv_nodestore_lowest_pending_level", "Lowest level of a queue with a node pending traversal; -1 when there is none.", []string{"queue"}, cl),
		errsDesc: prometheus.NewDesc("polykv_nodestore_collect_errors_total", "Scrapes whose nodestore counts could not be read.", nil, cl),
	}
}

func (c *nodestoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.nodes
	ch <- c.pending
	ch <- c.lowest
	ch <- c.errsDesc
}

func (c *nodestoreCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	counts, lowest, err := c.read(ctx)
	if err != nil {
		c.errsTotal++
	}
	ch <- constMetric(c.errsDesc, prometheus.CounterValue, c.errsTotal)
	if err != nil {
		return
	}
	type nodeKey struct {
		q     nodestore.QueueType
		level string
		ts    nodestore.TraversalStatus
		cs    nodestore.CopyStatus
	}
	type levelKey struct {
		q     nodestore.QueueType
		level string
	}
	nodes := map[nodeKey]int64{}
	pending := map[levelKey]int64{}
	var order []nodeKey // counts come sorted: keep their order
	for _, e := range counts {
		k := nodeKey{e.Queue, c.levelLabel(e.Level), e.Traversal, e.Copy}
		if _, ok := nodes[k]; !ok {
			order = append(order, k)
		}
		nodes[k] += e.N
		if e.Traversal == nodestore.TraversalStatusPending {
			pending[levelKey{e.Queue, k.level}] += e.N
		}
	}
	for _, k := range order {
		ch <- constMetric(c.nodes, prometheus.GaugeValue, float64(nodes[k]), string(k.q), k.level, string(k.ts), string(k.cs))
	}
	for k, n := range pending {
		ch <- constMetric(c.pending, prometheus.GaugeValue, float64(n), string(k.q), k.level)
	}
	for i, q := range nodestore.Queues {
		ch <- constMetric(c.lowest, prometheus.GaugeValue, float64(lowest[i]), string(q))
	}
}

func (c *nodestoreCollector) read(ctx context.Context) ([]nodestore.CountEntry, [len(nodestore.Queues)]int, error) {
	var lowest [len(nodestore.Queues)]int
	if c.ns == nil {
		return nil, lowest, errors.New("metrics: nodestore collector of a nil *nodestore.Store")
	}
	counts, err := c.ns.Counts(ctx)
	if err != nil {
		return nil, lowest, err
	}
	for i, q := range nodestore.Queues {
		l, ok, err := c.ns.LowestPendingLevel(ctx, q)
		if err != nil {
			return nil, lowest, err
		}
		if !ok {
			l = -1
		}
		lowest[i] = l
	}
	return counts, lowest, nil
}

func (c *nodestoreCollector) levelLabel(level int) string {
	if level >= c.o.MaxLevels {
		return ">=" + strconv.Itoa(c.o.MaxLevels)
	}
	return strconv.Itoa(level)
}

// logstoreCollector exports the number of log entries per level.
type logstoreCollector struct {
	s          kv.Store
	o          Options
	entries    *prometheus.Desc
	unreadDesc *prometheus.Desc
	errsDesc   *prometheus.Desc
	mu         sync.Mutex
	counted    time.Time // when counts were read; zero before the first
	counts     map[logstore.Level]int
	unreadable int // keys under the log prefix that hold no readable entry
	errsTotal  float64
}

// NewLogstoreCollector returns a collector of the number of log entries
// per level in s, polykv_logstore_entries{level}. Counting is a scan of
// every log key (logstore.Count, keys only), so a count is reused for
// Options.LogCountInterval (default 1 minute) before a scrape counts
// again. A scrape whose count fails reports the previous one, if any, and
// counts in polykv_logstore_collect_errors_total. The count reads keys,
// not values: a key in a level's range that is not a log key (another
// program's, or a damaged key) is no entry, and
// polykv_logstore_unreadable_keys counts it; a log key whose value is
// damaged counts as an entry.
func NewLogstoreCollector(s kv.Store, opts *Options) prometheus.Collector {
	o := opts.withDefaults()
	return &logstoreCollector{
		s: s, o: o,
		entries:    prometheus.NewDesc("polykv_logstore_entries", "Log entries stored, by level (counted at most once per Options.LogCountInterval).", []string{"level"}, o.ConstLabels),
		unreadDesc: prometheus.NewDesc("polykv_logstore_unreadable_keys", "Keys in a log level's range that are not log keys (counted with the entries, from the keys alone).", nil, o.ConstLabels),
		errsDesc:   prometheus.NewDesc("polykv_logstore_collect_errors_total", "Scrapes whose log entry count failed.", nil, o.ConstLabels),
	}
}

func (c *logstoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.unreadDesc
	ch <- c.errsDesc
}

func (c *logstoreCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil || time.Since(c.counted) >= c.o.LogCountInterval {
		counts, unreadable, err := c.count()
		if err != nil {
			c.errsTotal++
		} else {
			c.counts, c.unreadable, c.counted = counts, unreadable, time.Now()
		}
	}
	ch <- constMetric(c.errsDesc, prometheus.CounterValue, c.errsTotal)
	if c.counts != nil {
		ch <- constMetric(c.unreadDesc, prometheus.GaugeValue, float64(c.unreadable))
	}
	for _, l := range logstore.Levels() {
		if n, ok := c.counts[l]; ok {
			ch <- constMetric(c.entries, prometheus.GaugeValue, float64(n), string(l))
		}
	}
}

func (c *logstoreCollector) count() (counts map[logstore.Level]int, unreadable int, err error) {
	if c.s == nil {
		return nil, 0, errors.New("metrics: logstore collector of a nil kv.Store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	counts, err = logstore.Count(ctx, c.s, logstore.Query{Unreadable: func([]byte, error) error {
		unreadable++
		return nil
	}})
	return counts, unreadable, err
}

// bufferCollector exports a LogBuffer's Stats.
type bufferCollector struct {
	b                                          *logstore.LogBuffer
	pending, pendingBytes, waiting             *prometheus.Desc
	added, written, flushes, failures, refused *prometheus.Desc
}

// NewLogBufferCollector returns a collector of b's Stats, read on each
// scrape (a nil b gives none):
//
//	polykv_logbuffer_pending_entries        entries held, not yet written (the backlog)
//	polykv_logbuffer_pending_bytes          their size, against Options.MaxPendingBytes
//	polykv_logbuffer_waiting_adds           Adds blocked now on a full buffer
//	polykv_logbuffer_added_entries_total    entries accepted
//	polykv_logbuffer_written_entries_total  entries written
//	polykv_logbuffer_flushes_total          flushes (transactions) written
//	polykv_logbuffer_flush_failures_total   failed flush attempts (retried)
//	polykv_logbuffer_refused_entries_total  entries refused with logstore.ErrFull (the drops)
func NewLogBufferCollector(b *logstore.LogBuffer, opts *Options) prometheus.Collector {
	cl := opts.withDefaults().ConstLabels
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("polykv_logbuffer_"+name, help, nil, cl)
	}
	return &bufferCollector{
		b:            b,
		pending:      d("pending_entries", "Log entries held by the LogBuffer, not yet written."),
		pendingBytes: d("pending_bytes", "Size of the log entries held, as counted against MaxPendingBytes."),
		waiting:      d("waiting_adds", "Adds blocked now because the LogBuffer is full."),
		added:        d("added_entries_total", "Log entries accepted by the LogBuffer."),
		written:      d("written_entries_total", "Log entries the LogBuffer wrote to the store."),
		flushes:      d("flushes_total", "Flushes (transactions) the LogBuffer wrote."),
		failures:     d("flush_failures_total", "Failed flush attempts (the entries stay held and the flush is retried)."),
		refused:      d("refused_entries_total", "Log entries refused with ErrFull: the buffer was full and the store could no longer be written."),
	}
}

func (c *bufferCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.pendingBytes, c.waiting, c.added, c.written, c.flushes, c.failures, c.refused} {
		ch <- d
	}
}

func (c *bufferCollector) Collect(ch chan<- prometheus.Metric) {
	if c.b == nil {
		return
	}
	st := c.b.Stats()
	g := func(d *prometheus.Desc, v float64) { ch <- constMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v uint64) {
		ch <- constMetric(d, prometheus.CounterValue, float64(v))
	}
	g(c.pending, float64(st.Pending))
	g(c.pendingBytes, float64(st.PendingBytes))
	g(c.waiting, float64(st.Waiting))
	n(c.added, st.Added)
	n(c.written, st.Written)
	n(c.flushes, st.Flushes)
	n(c.failures, st.Failures)
	n(c.refused, st.Refused)
}
