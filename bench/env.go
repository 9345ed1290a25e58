package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// Env is what a workload runs in: a fresh directory, the run's spec, a
// seeded random source, and the timers of the load and measured phases.
// One Env serves one run; it is not safe for concurrent use except for
// Recorder.Record.
type Env struct {
	// Ctx is cancelled when the run must stop.
	Ctx  context.Context
	Spec Spec

	dir     string
	nstores int
	closers []func() error
	cluster *etcdtest.Cluster // the embedded cluster of a cluster backend, once started

	hist      *hdrhistogram.Histogram
	histMu    sync.Mutex
	ops       int64
	measured  time.Duration
	loadOps   int64
	loaded    time.Duration
	cpu       time.Duration
	mallocs   uint64
	allocated uint64
	logical   int64
	verified  string
	unit      string
	extra     map[string]float64
	// workPeak is the highest RSS seen when a measured phase ended
	// (VmHWM: the load and measured phases, not what follows).
	workPeak int64
	// aside is the directory of work that is not the workload's own
	// (asideDir), and unmeasuredWrites what the process wrote during
	// that work (unmeasured): both are left out of the run's figures.
	aside            string
	unmeasuredWrites int64
}

// asideDir returns a directory beside the run's for work that is not the
// workload's own (the ceiling's recorded traversal, its log and its
// replay): the run's disk usage leaves it out. It is removed with the
// run's directory.
func (e *Env) asideDir() (string, error) {
	if e.aside == "" {
		d, err := os.MkdirTemp(filepath.Dir(e.dir), filepath.Base(e.dir)+"-aside-")
		if err != nil {
			return "", fmt.Errorf("bench: directory aside: %w", err)
		}
		e.aside = d
	}
	return e.aside, nil
}

// openAside opens a new store of the run's backend at path (a path in
// asideDir; a cluster backend takes a fresh key prefix instead). The
// caller closes it.
func (e *Env) openAside(path string) (kv.Store, error) {
	cfg, err := e.Config()
	if err != nil {
		return nil, err
	}
	if cfg.Path != "" && !isCluster(cfg.Backend) {
		cfg.Path = path
	}
	db, err := kv.Open(e.Ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: open %s: %w", cfg.Backend, err)
	}
	return db, nil
}

// unmeasured runs fn, work that is not the workload's own, and leaves
// what the process wrote meanwhile out of the run's write
// amplification. (Its stores must be closed inside fn.)
func (e *Env) unmeasured(fn func() error) error {
	wb0, _ := procWriteBytes()
	err := fn()
	wb1, _ := procWriteBytes()
	e.unmeasuredWrites += max(0, wb1-wb0)
	return err
}

// Histogram range: 100 ns to 100 s, 3 significant digits.
const (
	histMin = 100
	histMax = 100 * int64(time.Second)
)

func newEnv(ctx context.Context, spec Spec, dir string) *Env {
	return &Env{Ctx: ctx, Spec: spec, dir: dir, hist: hdrhistogram.New(histMin, histMax, 3), unit: "op"}
}

// Rand returns a random source seeded from the spec's seed and the given
// stream name, so every backend sees the same data and operations.
func (e *Env) Rand(stream string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return rand.New(rand.NewPCG(e.Spec.Seed, h.Sum64()))
}

// Dir returns a fresh subdirectory of the run's directory.
func (e *Env) Dir(name string) string {
	return filepath.Join(e.dir, name)
}

// Config returns the kv.Config of a store of the run's backend in the
// run's directory.
func (e *Env) Config() (kv.Config, error) {
	d, err := e.Spec.durability()
	if err != nil {
		return kv.Config{}, err
	}
	name, _ := e.Spec.engine()
	e.nstores++
	cfg := kv.Config{Backend: name, Durability: d, MemoryBudget: e.Spec.MemoryBudget}
	switch {
	case isCluster(name):
		if err := e.clusterConfig(&cfg, name); err != nil {
			return kv.Config{}, err
		}
	case name != "memory":
		cfg.Path = e.Dir(fmt.Sprintf("store%d", e.nstores))
	}
	return cfg, nil
}

// OpenStore opens a new store of the run's backend in a fresh directory.
// The run closes it when the workload returns (closing it earlier is fine).
func (e *Env) OpenStore() (kv.Store, error) {
	if _, raw := e.Spec.engine(); raw {
		return nil, fmt.Errorf("bench: workload %s has no raw-engine variant (backend %s)", e.Spec.Workload, e.Spec.Backend)
	}
	cfg, err := e.Config()
	if err != nil {
		return nil, err
	}
	db, err := kv.Open(e.Ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: open %s: %w", cfg.Backend, err)
	}
	e.OnClose(db.Close)
	if isCluster(e.Spec.Backend) && e.nstores == 1 {
		e.watchClusterSpace(db)
	}
	return db, nil
}

// OnClose registers fn to run when the workload returns, before the disk
// usage is measured.
func (e *Env) OnClose(fn func() error) { e.closers = append(e.closers, fn) }

// SetUnit names what one operation is ("record", "node", "entry").
func (e *Env) SetUnit(u string) { e.unit = u }

// Wrote adds n bytes to what the workload asked to write, for the write
// amplification.
func (e *Env) Wrote(n int64) { e.logical += n }

// Extra records a workload-specific figure (a secondary timing, say),
// reported beside the main ones. Names are lowercase_with_underscores and
// end with their unit.
func (e *Env) Extra(name string, v float64) {
	if e.extra == nil {
		e.extra = map[string]float64{}
	}
	e.extra[name] = v
}

// Verified records what the workload checked of its own result.
func (e *Env) Verified(what string) { e.verified = what }

// Load runs fn as the load phase, timed apart from the measured phase.
func (e *Env) Load(ops int64, fn func() error) error {
	start := time.Now()
	err := fn()
	e.loaded += time.Since(start)
	e.loadOps += ops
	return err
}

// Measure runs op for i in [0, warm) untimed (warm-up), then for i in
// [warm, warm+n) as the measured phase, recording each call's latency.
func (e *Env) Measure(warm, n int, op func(i int) error) error {
	for i := 0; i < warm; i++ {
		if err := op(i); err != nil {
			return fmt.Errorf("warm-up op %d: %w", i, err)
		}
	}
	e.beginMeasure()
	start := time.Now()
	last := start
	for i := warm; i < warm+n; i++ {
		if i&1023 == 0 {
			if err := e.Ctx.Err(); err != nil {
				return err
			}
		}
		if err := op(i); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
		now := time.Now()
		e.record(now.Sub(last))
		last = now
	}
	e.endMeasure(start, int64(n))
	return nil
}

// MeasureFunc times fn as the measured phase; fn reports how many
// operations it did and may record per-operation latencies with Record,
// concurrently.
func (e *Env) MeasureFunc(fn func() (ops int64, err error)) error {
	e.beginMeasure()
	start := time.Now()
	n, err := fn()
	e.endMeasure(start, n)
	return err
}

// Record adds one operation's latency to the run's histogram. It is safe
// for concurrent use.
func (e *Env) Record(d time.Duration) {
	e.histMu.Lock()
	e.record(d)
	e.histMu.Unlock()
}

// record adds one latency to the histogram, clamping what lies past its
// highest trackable value (RecordValue refuses it) so that a pathological
// stall still counts in the percentiles.
func (e *Env) record(d time.Duration) {
	if err := e.hist.RecordValue(int64(d)); err != nil {
		_ = e.hist.RecordValue(e.hist.HighestTrackableValue())
	}
}

func (e *Env) beginMeasure() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	e.mallocs -= ms.Mallocs
	e.allocated -= ms.TotalAlloc
	e.cpu -= cpuTime()
}

func (e *Env) endMeasure(start time.Time, n int64) {
	e.measured += time.Since(start)
	e.cpu += cpuTime()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	e.mallocs += ms.Mallocs
	e.allocated += ms.TotalAlloc
	e.ops += n
	e.workPeak = max(e.workPeak, peakRSS())
}

// RunOne runs one spec in this process and returns its figures. The
// store directory is fresh (created under spec.Dir) and removed afterwards
// unless spec.KeepDir. A failing run returns its partial figures with Err
// set and the error.
func RunOne(ctx context.Context, spec Spec) (Result, error) {
	res := Result{Spec: spec}
	w, ok := Lookup(spec.Workload)
	if !ok {
		err := fmt.Errorf("bench: unknown workload %q (known: %s)", spec.Workload, knownWorkloads())
		res.Err = err.Error()
		return res, err
	}
	if _, err := spec.durability(); err != nil {
		res.Err = err.Error()
		return res, err
	}
	dir, err := os.MkdirTemp(spec.Dir, "polykv-bench-*")
	if err != nil {
		err = fmt.Errorf("bench: fresh directory: %w", err)
		res.Err = err.Error()
		return res, err
	}
	if !spec.KeepDir {
		defer os.RemoveAll(dir)
	}
	runtime.GC()
	resetPeakRSS()
	wb0, _ := procWriteBytes()

	e := newEnv(ctx, spec, dir)
	runErr := safeRun(w, e)
	for i := len(e.closers) - 1; i >= 0; i-- {
		if cerr := e.closers[i](); cerr != nil && runErr == nil {
			runErr = fmt.Errorf("close: %w", cerr)
		}
	}
	wb1, _ := procWriteBytes()
	res.PeakRSS = peakRSS()
	res.PeakRSSWork = e.workPeak
	res.DiskBytes, _ = DiskUsage(dir)
	res.WriteBytes = wb1 - wb0 - e.unmeasuredWrites
	if e.aside != "" && !spec.KeepDir {
		os.RemoveAll(e.aside)
	}
	res.LogicalBytes = e.logical
	if e.logical > 0 && res.WriteBytes > 0 {
		res.WriteAmp = float64(res.WriteBytes) / float64(e.logical)
	}
	res.Unit = e.unit
	res.Ops = e.ops
	res.Seconds = e.measured.Seconds()
	if res.Seconds > 0 {
		res.OpsPerSec = float64(e.ops) / res.Seconds
	}
	res.LoadOps = e.loadOps
	res.LoadSeconds = e.loaded.Seconds()
	res.CPUSeconds = e.cpu.Seconds()
	if e.ops > 0 {
		res.CPUPerOp = e.cpu.Seconds() * 1e9 / float64(e.ops)
		res.AllocsPerOp = float64(e.mallocs) / float64(e.ops)
		res.BytesPerOp = float64(e.allocated) / float64(e.ops)
	}
	if e.hist.TotalCount() > 0 {
		res.P50 = float64(e.hist.ValueAtQuantile(50))
		res.P99 = float64(e.hist.ValueAtQuantile(99))
		res.P999 = float64(e.hist.ValueAtQuantile(99.9))
		res.Hist, _ = e.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	}
	res.Verified = e.verified
	res.Extra = e.extra
	if runErr != nil {
		runErr = fmt.Errorf("bench: %s: %w", spec, runErr)
		res.Err = runErr.Error()
		return res, runErr
	}
	if e.ops == 0 {
		err := fmt.Errorf("bench: %s: the workload measured no operation", spec)
		res.Err = err.Error()
		return res, err
	}
	return res, nil
}

// safeRun runs the workload, turning a panic (of an engine, say) into an
// error so that one broken backend does not end the whole comparison.
func safeRun(w Workload, e *Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	err = w.Run(e)
	if err == nil && e.verified == "" {
		err = errors.New("the workload did not verify its result")
	}
	return err
}
