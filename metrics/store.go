package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/prometheus/client_golang/prometheus"
)

// op is the value of the op label: one method of kv.Store (or of *kv.DB).
type op uint8

const (
	opGet op = iota
	opSet
	opDelete
	opIterate
	opView
	opUpdate
	opWrite
	opDeleteRange
	opDeletePrefix
	opSync
	opCompact
	opBackup
	opVerify
	numOps
)

var opNames = [numOps]string{
	opGet:          "get",
	opSet:          "set",
	opDelete:       "delete",
	opIterate:      "iterate",
	opView:         "view",
	opUpdate:       "update",
	opWrite:        "write",
	opDeleteRange:  "delete_range",
	opDeletePrefix: "delete_prefix",
	opSync:         "sync",
	opCompact:      "compact",
	opBackup:       "backup",
	opVerify:       "verify",
}

// opMetrics are the label children of one op, looked up once by Wrap so
// that recording is a few atomic adds, never a map lookup.
type opMetrics struct {
	// calls counts the calls (polykv_kv_ops_total) and picks those timed.
	calls    atomic.Uint64
	duration prometheus.Observer
	read     prometheus.Counter // bytes read
	readKeys prometheus.Counter
	written  prometheus.Counter // bytes written
	// errs holds the error counters met so far: created on first use, so
	// that a scrape lists only the errors that happened.
	errs [numErrKinds]atomic.Pointer[prometheus.Counter]
	_    [64]byte // keeps calls of two ops off one cache line
}

// Store is a kv.Store that records metrics about every call and passes it
// on to the store it wraps. It also has every method *kv.DB has beyond
// kv.Store (GetAppend, Stats, Compact, Backup, Verify, Engine), forwarded to the
// wrapped store when it has them and otherwise falling back as *kv.DB
// does for an engine without the capability; so code that discovers them
// by type assertion finds them through the wrapper.
//
// Store is safe for concurrent use, as the store it wraps.
type Store struct {
	s    kv.Store
	base time.Time // the origin of now
	// timeMask selects the calls timed: those whose number (from 0) has
	// no bit of it set, one in Options.TimeEvery.
	timeMask uint64
	opsDesc  *prometheus.Desc
	ops      [numOps]opMetrics

	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	read     *prometheus.CounterVec
	readKeys *prometheus.CounterVec
	written  *prometheus.CounterVec
	txnOps   *prometheus.HistogramVec
	txnBytes *prometheus.HistogramVec
	retries  prometheus.Counter

	updateOps, updateBytes, writeOps, writeBytes prometheus.Observer
}

var (
	_ kv.Store             = (*Store)(nil)
	_ prometheus.Collector = (*Store)(nil)
)

// Wrap returns a Store that records metrics about every call to s and
// registers them, with a collector of s's engine figures
// (NewEngineCollector), in reg. opts may be nil.
//
// It fails when s or reg is nil, when Options.ConstLabels names a label
// the metrics use themselves, and when reg refuses a collector (the
// same metrics are already registered: give each store of a registry
// Options.ConstLabels with the same names and other values); nothing is
// then left registered.
func Wrap(s kv.Store, reg prometheus.Registerer, opts *Options) (*Store, error) {
	if s == nil {
		return nil, errors.New("metrics: wrap: nil kv.Store")
	}
	if reg == nil {
		return nil, errors.New("metrics: wrap: nil prometheus.Registerer")
	}
	o := opts.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	w := newStore(s, o)
	if err := reg.Register(w); err != nil {
		return nil, fmt.Errorf("metrics: wrap: register the kv metrics: %w", err)
	}
	if err := reg.Register(NewEngineCollector(s, opts)); err != nil {
		reg.Unregister(w)
		return nil, fmt.Errorf("metrics: wrap: register the engine figures: %w", err)
	}
	return w, nil
}

func newStore(s kv.Store, o Options) *Store {
	cl := o.ConstLabels
	w := &Store{
		s:        s,
		base:     time.Now(),
		timeMask: uint64(o.TimeEvery - 1),
		opsDesc:  prometheus.NewDesc("polykv_kv_ops_total", "kv.Store calls, by operation, errors included.", []string{"op"}, cl),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "polykv_kv_op_duration_seconds",
			Help:        "Time taken by kv.Store calls, by operation, errors included; one call in Options.TimeEvery is timed.",
			ConstLabels: cl, Buckets: o.DurationBuckets,
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "polykv_kv_op_errors_total",
			Help:        "kv.Store calls that returned an error, by operation and by the kv sentinel the error matches.",
			ConstLabels: cl,
		}, []string{"op", "error"}),
		read: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "polykv_kv_read_bytes_total",
			Help:        "Bytes of keys and values handed to the caller by reads (values of Get; keys and values of iterations; reads inside transactions count under view or update).",
			ConstLabels: cl,
		}, []string{"op"}),
		readKeys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "polykv_kv_read_keys_total",
			Help:        "Keys handed to the caller by reads (one per found Get, one per iterated key).",
			ConstLabels: cl,
		}, []string{"op"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "polykv_kv_written_bytes_total",
			Help:        "Bytes of keys and values of the writes committed (the range bounds of range deletes are not counted).",
			ConstLabels: cl,
		}, []string{"op"}),
		txnOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "polykv_kv_txn_writes",
			Help:        "Writes (sets and deletes) per committed Update or Write.",
			ConstLabels: cl, Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"op"}),
		txnBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "polykv_kv_txn_size_bytes",
			Help:        "Size per committed Update or Write, as counted against kv.MaxTxnBytes.",
			ConstLabels: cl, Buckets: prometheus.ExponentialBuckets(64, 4, 10),
		}, []string{"op"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "polykv_kv_update_retries_total",
			Help:        "Runs of an Update function beyond the first: retries after an engine conflict.",
			ConstLabels: cl,
		}),
	}
	for i := range w.ops {
		m := &w.ops[i]
		name := opNames[i]
		m.duration = w.duration.WithLabelValues(name)
		m.read = w.read.WithLabelValues(name)
		m.readKeys = w.readKeys.WithLabelValues(name)
		m.written = w.written.WithLabelValues(name)
	}
	w.updateOps = w.txnOps.WithLabelValues(opNames[opUpdate])
	w.updateBytes = w.txnBytes.WithLabelValues(opNames[opUpdate])
	w.writeOps = w.txnOps.WithLabelValues(opNames[opWrite])
	w.writeBytes = w.txnBytes.WithLabelValues(opNames[opWrite])
	return w
}

// Describe implements prometheus.Collector (Wrap registers the Store).
func (w *Store) Describe(ch chan<- *prometheus.Desc) {
	ch <- w.opsDesc
	for _, c := range w.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (w *Store) Collect(ch chan<- prometheus.Metric) {
	for i := range w.ops {
		ch <- constMetric(w.opsDesc, prometheus.CounterValue, float64(w.ops[i].calls.Load()), opNames[i])
	}
	for _, c := range w.collectors() {
		c.Collect(ch)
	}
}

func (w *Store) collectors() []prometheus.Collector {
	return []prometheus.Collector{w.duration, w.errors, w.read, w.readKeys, w.written, w.txnOps, w.txnBytes, w.retries}
}

// Unwrap returns the store w wraps.
func (w *Store) Unwrap() kv.Store { return w.s }

// now returns the monotonic time since w was made. It reads one clock
// (time.Now reads two: the wall clock too), which halves what timing a
// call costs.
func (w *Store) now() time.Duration { return time.Since(w.base) }

// start counts a call of o and returns the time it starts (from now) when
// it is one of those timed, and -1 otherwise.
func (w *Store) start(o op) time.Duration {
	if (w.ops[o].calls.Add(1)-1)&w.timeMask != 0 {
		return -1
	}
	return w.now()
}

// done records a call of o that started at t0 (from start) and ended with
// err.
func (w *Store) done(o op, t0 time.Duration, err error) {
	m := &w.ops[o]
	if t0 >= 0 {
		m.duration.Observe((w.now() - t0).Seconds())
	}
	if err != nil {
		w.countErr(m, o, err)
	}
}

func (w *Store) countErr(m *opMetrics, o op, err error) {
	k := kindOf(err)
	c := m.errs[k].Load()
	if c == nil {
		// WithLabelValues returns the same child to every caller: a race
		// here stores the same counter twice.
		cnt := w.errors.WithLabelValues(opNames[o], errKindNames[k])
		c = &cnt
		m.errs[k].Store(c)
	}
	(*c).Inc()
}

func (w *Store) addRead(o op, keys, bytes int) {
	m := &w.ops[o]
	if keys > 0 {
		m.readKeys.Add(float64(keys))
	}
	if bytes > 0 {
		m.read.Add(float64(bytes))
	}
}

// Get implements kv.Store.
func (w *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	t0 := w.start(opGet)
	v, err := w.s.Get(ctx, key)
	w.done(opGet, t0, err)
	if err == nil {
		w.addRead(opGet, 1, len(v))
	}
	return v, err
}

// appendGetter is implemented by *kv.DB.
type appendGetter interface {
	GetAppend(ctx context.Context, dst, key []byte) ([]byte, error)
}

// GetAppend is *kv.DB's GetAppend, recorded as a get. When the wrapped
// store has no GetAppend it appends what Get returns.
func (w *Store) GetAppend(ctx context.Context, dst, key []byte) ([]byte, error) {
	t0 := w.start(opGet)
	var v []byte
	var err error
	if ga, ok := w.s.(appendGetter); ok {
		v, err = ga.GetAppend(ctx, dst, key)
	} else {
		v, err = w.s.Get(ctx, key)
		if err == nil {
			v = append(dst, v...)
		} else {
			v = dst
		}
	}
	w.done(opGet, t0, err)
	if err == nil {
		w.addRead(opGet, 1, len(v)-len(dst))
	}
	return v, err
}

// Set implements kv.Store.
func (w *Store) Set(ctx context.Context, key, value []byte) error {
	t0 := w.start(opSet)
	err := w.s.Set(ctx, key, value)
	w.done(opSet, t0, err)
	if err == nil {
		w.ops[opSet].written.Add(float64(len(key) + len(value)))
	}
	return err
}

// Delete implements kv.Store.
func (w *Store) Delete(ctx context.Context, key []byte) error {
	t0 := w.start(opDelete)
	err := w.s.Delete(ctx, key)
	w.done(opDelete, t0, err)
	if err == nil {
		w.ops[opDelete].written.Add(float64(len(key)))
	}
	return err
}

// Iterate implements kv.Store.
func (w *Store) Iterate(ctx context.Context, opts kv.IterOptions, fn func(key, value []byte) error) error {
	if fn == nil { // the wrapped store refuses it
		return w.s.Iterate(ctx, opts, fn)
	}
	t0 := w.start(opIterate)
	var keys, bytes int
	err := w.s.Iterate(ctx, opts, func(k, v []byte) error {
		keys++
		bytes += len(k) + len(v)
		return fn(k, v)
	})
	w.done(opIterate, t0, err)
	w.addRead(opIterate, keys, bytes)
	return err
}

// View implements kv.Store.
func (w *Store) View(ctx context.Context, fn func(tx kv.ReadTxn) error) error {
	if fn == nil {
		return w.s.View(ctx, fn)
	}
	t0 := w.start(opView)
	var tr readTxn
	err := w.s.View(ctx, func(tx kv.ReadTxn) error {
		tr = readTxn{ReadTxn: tx}
		return fn(&tr)
	})
	w.done(opView, t0, err)
	w.addRead(opView, tr.keys, tr.bytes)
	return err
}

// Update implements kv.Store. Runs of fn beyond the first (the wrapped
// store retrying after a conflict) count in polykv_kv_update_retries_total;
// the writes and bytes of the run that committed go to the transaction
// size histograms.
func (w *Store) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	if fn == nil {
		return w.s.Update(ctx, fn)
	}
	t0 := w.start(opUpdate)
	runs := 0
	var tw txn
	var reads, readBytes int
	err := w.s.Update(ctx, func(tx kv.Txn) error {
		runs++
		reads, readBytes = reads+tw.keys, readBytes+tw.bytes
		tw = txn{readTxn: readTxn{ReadTxn: tx}, Txn: tx}
		return fn(&tw)
	})
	w.done(opUpdate, t0, err)
	if runs > 1 {
		w.retries.Add(float64(runs - 1))
	}
	w.addRead(opUpdate, reads+tw.keys, readBytes+tw.bytes)
	if err == nil && tw.writes > 0 {
		w.ops[opUpdate].written.Add(float64(tw.payload))
		w.updateOps.Observe(float64(tw.writes))
		w.updateBytes.Observe(float64(tw.size))
	}
	return err
}

// Write implements kv.Store.
func (w *Store) Write(ctx context.Context, b *kv.Batch) error {
	t0 := w.start(opWrite)
	err := w.s.Write(ctx, b)
	w.done(opWrite, t0, err)
	if err == nil && b != nil && b.Len() > 0 {
		w.ops[opWrite].written.Add(float64(b.Size() - b.Len()*kv.TxnEntryOverhead))
		w.writeOps.Observe(float64(b.Len()))
		w.writeBytes.Observe(float64(b.Size()))
	}
	return err
}

// DeleteRange implements kv.Store.
func (w *Store) DeleteRange(ctx context.Context, start, end []byte) error {
	t0 := w.start(opDeleteRange)
	err := w.s.DeleteRange(ctx, start, end)
	w.done(opDeleteRange, t0, err)
	return err
}

// DeletePrefix implements kv.Store.
func (w *Store) DeletePrefix(ctx context.Context, prefix []byte) error {
	t0 := w.start(opDeletePrefix)
	err := w.s.DeletePrefix(ctx, prefix)
	w.done(opDeletePrefix, t0, err)
	return err
}

// Sync implements kv.Store.
func (w *Store) Sync() error {
	t0 := w.start(opSync)
	err := w.s.Sync()
	w.done(opSync, t0, err)
	return err
}

// Close closes the wrapped store. The metrics stay registered (a registry
// keeps the final figures); unregister them if the registry outlives the
// store and another store takes its labels.
func (w *Store) Close() error { return w.s.Close() }

// CloseContext closes the wrapped store with its CloseContext
// (kv.DB.CloseContext: it fails at once with kv.ErrNestedCall from inside
// one of the store's transactions, and gives up when ctx ends), or with
// Close when it has none.
func (w *Store) CloseContext(ctx context.Context) error {
	if c, ok := w.s.(contextCloser); ok {
		return c.CloseContext(ctx)
	}
	if ctx == nil {
		return fmt.Errorf("%w: metrics: CloseContext with a nil context", kv.ErrInvalidConfig)
	}
	return w.s.Close()
}

// Info implements kv.Store.
func (w *Store) Info() kv.Info { return w.s.Info() }

// Limits returns the wrapped store's limits (kv.LimitsOf), so that
// BulkWriter, nodestore and logstore size their transactions by them
// through the wrapper too.
func (w *Store) Limits() kv.Limits { return kv.LimitsOf(w.s) }

// stater, compacter, backuper, verifier, enginer and contextCloser are the
// capabilities of *kv.DB beyond kv.Store that the wrapper forwards.
type (
	stater    interface{ Stats() (kv.Stats, error) }
	compacter interface {
		Compact(ctx context.Context) error
	}
	backuper interface {
		Backup(ctx context.Context, w io.Writer) error
	}
	verifier interface {
		Verify(ctx context.Context) (kv.VerifyReport, error)
	}
	enginer       interface{ Engine() kv.Engine }
	contextCloser interface {
		CloseContext(ctx context.Context) error
	}
)

// Stats returns the wrapped store's Stats, or empty engine figures when it
// has none (as *kv.DB does for an engine without statistics).
func (w *Store) Stats() (kv.Stats, error) {
	if s, ok := w.s.(stater); ok {
		return s.Stats()
	}
	return kv.Stats{Backend: w.s.Info().Backend}, nil
}

// Compact asks the wrapped store to reclaim space; a store without Compact
// has nothing to do and Compact returns nil (as *kv.DB does).
func (w *Store) Compact(ctx context.Context) error {
	t0 := w.start(opCompact)
	var err error
	if c, ok := w.s.(compacter); ok {
		err = c.Compact(ctx)
	}
	w.done(opCompact, t0, err)
	return err
}

// Backup writes a consistent snapshot of the store to out: the wrapped
// store's Backup, or kv.Dump's format when it has none (as *kv.DB does for
// an engine without a native backup).
func (w *Store) Backup(ctx context.Context, out io.Writer) error {
	t0 := w.start(opBackup)
	var err error
	if b, ok := w.s.(backuper); ok {
		err = b.Backup(ctx, out)
	} else {
		_, err = kv.Dump(ctx, w.s, out)
	}
	w.done(opBackup, t0, err)
	return err
}

// Verify runs the wrapped store's Verify (kv.DB.Verify: the engine's own
// check, then a full scan). A store without Verify gets the generic scan
// alone. Either way it counts as one verify call; its reads are not
// counted as reads.
func (w *Store) Verify(ctx context.Context) (kv.VerifyReport, error) {
	t0 := w.start(opVerify)
	var rep kv.VerifyReport
	var err error
	if v, ok := w.s.(verifier); ok {
		rep, err = v.Verify(ctx)
	} else {
		err = w.s.View(ctx, func(tx kv.ReadTxn) error {
			return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error {
				rep.Keys++
				rep.Bytes += int64(len(k) + len(v))
				return nil
			})
		})
	}
	w.done(opVerify, t0, err)
	return rep, err
}

// Engine returns the wrapped store's engine, or nil when it has none.
// Calls made on it bypass the wrapper and are not recorded.
func (w *Store) Engine() kv.Engine {
	if e, ok := w.s.(enginer); ok {
		return e.Engine()
	}
	return nil
}

// readTxn counts what a transaction's reads hand out.
type readTxn struct {
	kv.ReadTxn
	keys, bytes int
}

func (t *readTxn) Get(key []byte) ([]byte, error) {
	v, err := t.ReadTxn.Get(key)
	if err == nil {
		t.keys++
		t.bytes += len(v)
	}
	return v, err
}

func (t *readTxn) GetMany(keys [][]byte, fn func(i int, value []byte) error) error {
	if fn == nil {
		return kv.GetMany(t.ReadTxn, keys, fn)
	}
	return kv.GetMany(t.ReadTxn, keys, func(i int, v []byte) error {
		t.keys++
		t.bytes += len(v)
		return fn(i, v)
	})
}

func (t *readTxn) Iterate(opts kv.IterOptions, fn func(key, value []byte) error) error {
	if fn == nil {
		return t.ReadTxn.Iterate(opts, fn)
	}
	return t.ReadTxn.Iterate(opts, func(k, v []byte) error {
		t.keys++
		t.bytes += len(k) + len(v)
		return fn(k, v)
	})
}

// IterateMany hands kv.IterateMany on to the wrapped transaction, as
// GetMany does: without it kv.IterateMany would fall back to one Iterate
// per range, and a View of an engine that reads many ranges in one
// request (kv.MultiScanner: one round trip on etcd) would lose that
// through the wrapper.
func (t *readTxn) IterateMany(opts []kv.IterOptions, fn func(i int, key, value []byte) error) error {
	if fn == nil {
		return kv.IterateMany(t.ReadTxn, opts, fn)
	}
	return kv.IterateMany(t.ReadTxn, opts, func(i int, k, v []byte) error {
		t.keys++
		t.bytes += len(k) + len(v)
		return fn(i, k, v)
	})
}

// txn counts a transaction's reads and writes.
type txn struct {
	readTxn
	kv.Txn
	writes, size, payload int
}

func (t *txn) Get(key []byte) ([]byte, error) { return t.readTxn.Get(key) }

func (t *txn) Iterate(opts kv.IterOptions, fn func(key, value []byte) error) error {
	return t.readTxn.Iterate(opts, fn)
}

func (t *txn) GetMany(keys [][]byte, fn func(i int, value []byte) error) error {
	return t.readTxn.GetMany(keys, fn)
}

func (t *txn) IterateMany(opts []kv.IterOptions, fn func(i int, key, value []byte) error) error {
	return t.readTxn.IterateMany(opts, fn)
}

func (t *txn) Set(key, value []byte) error {
	err := t.Txn.Set(key, value)
	if err == nil {
		t.writes++
		t.size += kv.EntrySize(key, value)
		t.payload += len(key) + len(value)
	}
	return err
}

func (t *txn) Delete(key []byte) error {
	err := t.Txn.Delete(key)
	if err == nil {
		t.writes++
		t.size += kv.EntrySize(key, nil)
		t.payload += len(key)
	}
	return err
}
