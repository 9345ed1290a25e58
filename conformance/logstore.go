package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// The golden dump of the scripted logstore input (see logstoreScript): every
// backend must produce these bytes. Set POLYKV_UPDATE_GOLDEN to a directory
// to have a mismatching run write its dump and hash there.
var (
	//go:embed testdata/logstore_dump.golden
	logstoreGoldenDump []byte
	//go:embed testdata/logstore_dump.sha256
	logstoreGoldenSum string
)

// RunLogstore runs the logstore section of the conformance suite against
// stores made by f: key layout, LogBuffer semantics (flush on size and
// interval, transaction limits, backpressure, retries, Stop), queries,
// retention, the slog handler (testing/slogtest) and a golden dump of a
// scripted input that must be byte-identical on every backend.
func RunLogstore(t *testing.T, f Factory) {
	t.Run("KeyGolden", func(t *testing.T) { testLogKeyGolden(t, f) })
	t.Run("Levels", func(t *testing.T) { testLogLevels(t, f) })
	t.Run("SameMillisecondOrder", func(t *testing.T) { testLogSameMillisecond(t, f) })
	t.Run("FlushOnBatchSize", func(t *testing.T) { testLogFlushOnSize(t, f) })
	t.Run("FlushOnInterval", func(t *testing.T) { testLogFlushOnInterval(t, f) })
	t.Run("FlushBelowTxnLimit", func(t *testing.T) { testLogFlushBelowLimit(t, f) })
	t.Run("Backpressure", func(t *testing.T) { testLogBackpressure(t, f) })
	t.Run("RetryAfterFailure", func(t *testing.T) { testLogRetry(t, f) })
	t.Run("StopGivesUp", func(t *testing.T) { testLogStopGivesUp(t, f) })
	t.Run("StopIdempotent", func(t *testing.T) { testLogStopIdempotent(t, f) })
	t.Run("ConcurrentAdd", func(t *testing.T) { testLogConcurrentAdd(t, f) })
	t.Run("ClosedStore", func(t *testing.T) { testLogClosedStore(t, f) })
	t.Run("Queries", func(t *testing.T) { testLogQueries(t, f) })
	t.Run("TailCursor", func(t *testing.T) { testLogTail(t, f) })
	t.Run("Retention", func(t *testing.T) { testLogRetention(t, f) })
	t.Run("Reopen", func(t *testing.T) { testLogReopen(t, f) })
	t.Run("SlogHandler", func(t *testing.T) { testLogSlog(t, f) })
	t.Run("DumpGolden", func(t *testing.T) { testLogDumpGolden(t, f) })
}

// openLogStore opens a fresh store of f and closes it at cleanup.
func openLogStore(t *testing.T, f Factory) (kv.Store, func() (kv.Store, error)) {
	t.Helper()
	open := f(t)
	s, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, open
}

// fakeClock returns start, start+step, start+2*step, ... on successive
// calls.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

var logEpoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fixedIDs returns an ID generator on a fake clock and a seeded random
// source: the same IDs on every run and every backend.
func fixedIDs(seed uint64, step time.Duration) *logstore.IDGenerator {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	c := &fakeClock{t: logEpoch, step: step}
	return logstore.NewIDGenerator(c.Now, rand.NewChaCha8(key))
}

// hookStore wraps a Store to watch and disturb its writes.
type hookStore struct {
	kv.Store
	mu     sync.Mutex
	writes []writeInfo
	before func(b *kv.Batch) error // may block or fail the write
}

// Limits forwards the wrapped store's limits, as every wrapper of a Store
// should (kv.LimitsOf).
func (h *hookStore) Limits() kv.Limits { return kv.LimitsOf(h.Store) }

type writeInfo struct{ ops, size int }

func (h *hookStore) Write(ctx context.Context, b *kv.Batch) error {
	h.mu.Lock()
	before := h.before
	h.mu.Unlock()
	if before != nil {
		if err := before(b); err != nil {
			return err
		}
	}
	err := h.Store.Write(ctx, b)
	if err == nil {
		h.mu.Lock()
		h.writes = append(h.writes, writeInfo{b.Len(), b.Size()})
		h.mu.Unlock()
	}
	return err
}

func (h *hookStore) setBefore(fn func(b *kv.Batch) error) {
	h.mu.Lock()
	h.before = fn
	h.mu.Unlock()
}

func (h *hookStore) writeLog() []writeInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.writes)
}

// waitFor polls cond until it holds; it fails the test after a minute. It
// waits for progress, it does not measure speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// logKeys returns every log key of s, in store order.
func logKeys(t testing.TB, s kv.Store) []string {
	t.Helper()
	var keys []string
	err := s.Iterate(t.Context(), kv.IterOptions{Prefix: logstore.PrefixLogAll(), KeysOnly: true}, func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if err != nil {
		t.Fatalf("iterate log keys: %v", err)
	}
	return keys
}

func stopBuffer(t testing.TB, b *logstore.LogBuffer) {
	t.Helper()
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func testLogKeyGolden(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	ids := fixedIDs(1, 250*time.Microsecond)
	buf := logstore.NewLogBufferOptions(s, logstore.Options{IDs: ids, BatchSize: 4})
	for _, l := range []logstore.Level{logstore.LevelInfo, logstore.LevelError, logstore.LevelInfo, logstore.LevelCritical, logstore.LevelTrace} {
		if err := buf.Add(logstore.LogEntry{Level: l, Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	stopBuffer(t, buf)
	// 2025-01-02T03:04:05Z is 1735787045000 ms = 0x019424f86088; four IDs
	// per millisecond, the counter in the 12 bits after the version nibble,
	// the variant (10) and 62 bits from the seeded ChaCha8 source.
	want := []string{
		"log:critical:019424f8-6088-7003-b2c1-bfc525454add",
		"log:error:019424f8-6088-7001-aeb8-8b73a48ed247",
		"log:info:019424f8-6088-7000-aae6-783f4fbde91b",
		"log:info:019424f8-6088-7002-9be5-882e25796834",
		"log:trace:019424f8-6089-7000-8cd8-7274d67084ca",
	}
	got := logKeys(t, s)
	if !slices.Equal(got, want) {
		t.Errorf("keys = %q\nwant %q", got, want)
	}
	for _, k := range got {
		if _, id, err := logstore.ParseKey([]byte(k)); err != nil || !logstore.ValidID(id) {
			t.Errorf("key %q: ParseKey: %v", k, err)
		}
	}
	k, err := logstore.KeyLog(logstore.LevelInfo, "0190a5f2-7c3e-7b1d-8e4f-123456789abc")
	if err != nil || string(k) != "log:info:0190a5f2-7c3e-7b1d-8e4f-123456789abc" {
		t.Errorf("KeyLog = %q, %v", k, err)
	}
	p, err := logstore.PrefixLogByLevel(logstore.LevelWarning)
	if err != nil || string(p) != "log:warning:" {
		t.Errorf("PrefixLogByLevel = %q, %v", p, err)
	}
	if string(logstore.PrefixLogAll()) != "log:" {
		t.Errorf("PrefixLogAll = %q", logstore.PrefixLogAll())
	}
}

func testLogLevels(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	buf := logstore.NewLogBuffer(s, 10, time.Hour)
	defer stopBuffer(t, buf)
	for _, bad := range []logstore.Level{"", "INFO", "warn", "fatal", "info:"} {
		if err := buf.Add(logstore.LogEntry{Level: bad, Message: "x"}); !errors.Is(err, logstore.ErrInvalidLevel) {
			t.Errorf("Add level %q: %v, want ErrInvalidLevel", bad, err)
		}
		if _, err := logstore.KeyLog(bad, logstore.GenerateLogID()); !errors.Is(err, logstore.ErrInvalidLevel) {
			t.Errorf("KeyLog level %q: %v, want ErrInvalidLevel", bad, err)
		}
		if _, err := logstore.PrefixLogByLevel(bad); !errors.Is(err, logstore.ErrInvalidLevel) {
			t.Errorf("PrefixLogByLevel %q: %v", bad, err)
		}
		if _, _, err := logstore.Find(t.Context(), s, logstore.Query{Levels: []logstore.Level{bad}}); !errors.Is(err, logstore.ErrInvalidLevel) {
			t.Errorf("Find level %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"x", "550e8400-e29b-41d4-a716-446655440000", "0190A5F2-7C3E-7B1D-8E4F-123456789ABC", "{0190a5f2-7c3e-7b1d-8e4f-123456789abc}"} {
		if err := buf.Add(logstore.LogEntry{ID: bad, Level: logstore.LevelInfo}); !errors.Is(err, logstore.ErrInvalidID) {
			t.Errorf("Add id %q: %v, want ErrInvalidID", bad, err)
		}
	}
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: strings.Repeat("x", kv.MaxValueSize)}); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Errorf("Add of a huge message: %v, want kv.ErrValueTooLarge", err)
	}
	for _, l := range logstore.Levels() {
		if p, err := logstore.ParseLevel(string(l)); err != nil || p != l {
			t.Errorf("ParseLevel(%q) = %q, %v", l, p, err)
		}
	}
	if st := buf.Stats(); st.Added != 0 {
		t.Errorf("rejected entries were accepted: %+v", st)
	}
}

func testLogSameMillisecond(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	// A frozen clock: every ID in one millisecond.
	ids := fixedIDs(2, 0)
	buf := logstore.NewLogBufferOptions(s, logstore.Options{IDs: ids, BatchSize: 7})
	const n = 300
	for i := range n {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	stopBuffer(t, buf)
	i := 0
	err := logstore.ByLevel(t.Context(), s, logstore.LevelInfo, func(e logstore.LogEntry) error {
		if e.Message != fmt.Sprint(i) {
			return fmt.Errorf("entry %d has message %q: creation order lost", i, e.Message)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("read %d of %d entries: %v", i, n, err)
	}
}

func testLogFlushOnSize(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	h := &hookStore{Store: s}
	buf := logstore.NewLogBufferOptions(h, logstore.Options{BatchSize: 10, Interval: time.Hour})
	for i := range 25 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelDebug, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two full batches", func() bool { return buf.Stats().Written == 20 })
	if w := h.writeLog(); len(w) != 2 || w[0].ops != 10 || w[1].ops != 10 {
		t.Errorf("writes = %+v, want two transactions of 10", w)
	}
	if got := len(logKeys(t, s)); got != 20 {
		t.Errorf("%d keys before Stop, want 20 (the partial batch waits for the interval)", got)
	}
	stopBuffer(t, buf)
	if w := h.writeLog(); len(w) != 3 || w[2].ops != 5 {
		t.Errorf("writes after Stop = %+v, want a third of 5", w)
	}
	if got := len(logKeys(t, s)); got != 25 {
		t.Errorf("%d keys after Stop, want 25", got)
	}
}

func testLogFlushOnInterval(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	h := &hookStore{Store: s}
	buf := logstore.NewLogBufferOptions(h, logstore.Options{BatchSize: 1000, Interval: 20 * time.Millisecond})
	defer stopBuffer(t, buf)
	for i := range 3 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelWarning, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the interval flush", func() bool { return buf.Stats().Written == 3 })
	if w := h.writeLog(); len(w) != 1 || w[0].ops != 3 {
		t.Errorf("writes = %+v, want one transaction of 3", w)
	}
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelWarning, Message: "late"}); err != nil {
		t.Fatal(err)
	}
	if err := buf.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(logKeys(t, s)); got != 4 {
		t.Errorf("%d keys after Flush, want 4", got)
	}
}

func testLogFlushBelowLimit(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	h := &hookStore{Store: s}
	// A batch setting far above what a transaction holds.
	buf := logstore.NewLogBufferOptions(h, logstore.Options{BatchSize: 10_000_000, MaxPending: 10_000_000, Interval: time.Hour})
	msg := strings.Repeat("m", 2000)
	l := kv.LimitsOf(s)
	n := 2*l.MaxTxnBytes/2100 + 100
	if testing.Short() {
		n = l.MaxTxnBytes/2100 + 100
	}
	for i := range n {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: msg, EntityID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	stopBuffer(t, buf)
	total := 0
	w := h.writeLog()
	for _, x := range w {
		if x.ops > l.MaxTxnOps || x.size > l.MaxTxnBytes {
			t.Errorf("a flush of %d ops and %d bytes exceeds the transaction limit", x.ops, x.size)
		}
		total += x.ops
	}
	if total != n || len(w) < 2 {
		t.Errorf("%d entries in %d transactions, want %d in at least 2", total, len(w), n)
	}
	if got := len(logKeys(t, s)); got != n {
		t.Errorf("%d keys, want %d", got, n)
	}
}

func testLogBackpressure(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	h := &hookStore{Store: s}
	gate := make(chan struct{})
	h.setBefore(func(*kv.Batch) error { <-gate; return nil })
	buf := logstore.NewLogBufferOptions(h, logstore.Options{BatchSize: 5, MaxPending: 10, Interval: time.Hour})
	for i := range 10 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The store is stuck: the buffer is full and Add must wait, or give
	// up with the context's error. Nothing is dropped.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	err := buf.AddContext(ctx, logstore.LogEntry{Level: logstore.LevelInfo, Message: "refused"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AddContext on a full buffer: %v, want context.DeadlineExceeded", err)
	}
	if st := buf.Stats(); st.Added != 10 || st.Pending != 10 {
		t.Errorf("stats %+v, want 10 added and pending", st)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "10"}) }()
	select {
	case err := <-blocked:
		t.Fatalf("Add on a full buffer returned %v instead of waiting", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked Add: %v", err)
	}
	stopBuffer(t, buf)
	var msgs []string
	if err := logstore.ByLevel(t.Context(), s, logstore.LevelInfo, func(e logstore.LogEntry) error {
		msgs = append(msgs, e.Message)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 11 || slices.Contains(msgs, "refused") {
		t.Errorf("stored %q, want the 11 accepted entries", msgs)
	}
}

var errInjected = errors.New("injected write failure")

func testLogRetry(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	h := &hookStore{Store: s}
	var mu sync.Mutex
	fails := 3
	h.setBefore(func(*kv.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return errInjected
		}
		return nil
	})
	var reported []error
	buf := logstore.NewLogBufferOptions(h, logstore.Options{
		BatchSize: 4, Interval: time.Hour, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond,
		OnError: func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
			panic("a panicking OnError must not crash the host")
		},
	})
	for i := range 10 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelError, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the retried flushes", func() bool { return buf.Stats().Written == 8 })
	if err := buf.Err(); err != nil {
		t.Errorf("Err after a successful retry = %v, want nil", err)
	}
	err := buf.Stop()
	if !errors.Is(err, errInjected) || errors.Is(err, logstore.ErrUnwritten) {
		t.Errorf("Stop = %v, want the injected error reported and nothing unwritten", err)
	}
	mu.Lock()
	n := len(reported)
	mu.Unlock()
	if n != 3 || buf.Stats().Failures != 3 {
		t.Errorf("OnError called %d times, Failures %d, want 3", n, buf.Stats().Failures)
	}
	if got := len(logKeys(t, s)); got != 10 {
		t.Errorf("%d keys, want all 10 despite the failures", got)
	}
}

func testLogStopGivesUp(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	h := &hookStore{Store: s}
	h.setBefore(func(*kv.Batch) error { return errInjected })
	buf := logstore.NewLogBufferOptions(h, logstore.Options{BatchSize: 100, Interval: time.Hour, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	for i := range 5 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelCritical, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	fctx, fcancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	if err := buf.Flush(fctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errInjected) {
		t.Errorf("Flush on a failing store = %v, want the deadline and the store's error", err)
	}
	fcancel()
	if !errors.Is(buf.Err(), errInjected) {
		t.Errorf("Err = %v, want the injected error", buf.Err())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	err := buf.StopContext(ctx)
	if !errors.Is(err, logstore.ErrUnwritten) || !errors.Is(err, errInjected) {
		t.Fatalf("StopContext = %v, want ErrUnwritten and the injected error", err)
	}
	un := buf.Unwritten()
	if len(un) != 5 {
		t.Fatalf("Unwritten returned %d entries, want 5", len(un))
	}
	for i, e := range un {
		if e.Message != fmt.Sprint(i) || e.Level != logstore.LevelCritical || !logstore.ValidID(e.ID) || e.Timestamp == "" {
			t.Errorf("unwritten entry %d = %+v", i, e)
		}
	}
}

func testLogStopIdempotent(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	buf := logstore.NewLogBuffer(s, 0, 0)
	if o := buf.Options(); o.BatchSize != 500 || o.Interval != 2*time.Second {
		t.Errorf("defaults = %d, %v, want the seed's 500 and 2s", o.BatchSize, o.Interval)
	}
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "one"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := buf.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	wg.Wait()
	if err := buf.Stop(); err != nil {
		t.Errorf("Stop again: %v", err)
	}
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo}); !errors.Is(err, logstore.ErrStopped) {
		t.Errorf("Add after Stop = %v, want ErrStopped", err)
	}
	if err := buf.Flush(t.Context()); !errors.Is(err, logstore.ErrStopped) {
		t.Errorf("Flush after Stop = %v, want ErrStopped", err)
	}
	if got := len(logKeys(t, s)); got != 1 {
		t.Errorf("%d keys, want 1", got)
	}
}

func testLogConcurrentAdd(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	buf := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 32, Interval: 5 * time.Millisecond})
	const workers, per = 8, 150
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				l := logstore.Levels()[(w+i)%6]
				if err := buf.Add(logstore.LogEntry{Level: l, EntityID: fmt.Sprint(w), Message: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					_ = buf.Flush(t.Context())
				}
			}
		})
	}
	wg.Wait()
	stopBuffer(t, buf)
	// Each worker's entries, in the merged time order, come in the order
	// it added them.
	next := make([]int, workers)
	total := 0
	_, err := logstore.Scan(t.Context(), s, logstore.Query{}, func(e logstore.LogEntry) error {
		var w, i int
		if _, err := fmt.Sscan(e.EntityID, &w); err != nil || w < 0 || w >= workers {
			return fmt.Errorf("entry %s: entity id %q is not a worker number below %d", e.ID, e.EntityID, workers)
		}
		if _, err := fmt.Sscan(e.Message, &i); err != nil {
			return fmt.Errorf("entry %s: message %q is not an entry number", e.ID, e.Message)
		}
		if i != next[w] {
			return fmt.Errorf("worker %d: entry %d after %d", w, i, next[w]-1)
		}
		next[w]++
		total++
		return nil
	})
	if err != nil || total != workers*per {
		t.Fatalf("read %d of %d: %v", total, workers*per, err)
	}
}

func testLogClosedStore(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	buf := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 4, MaxPending: 4, Interval: time.Hour, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)})
	}
	if !errors.Is(err, logstore.ErrFull) || !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Add to a buffer over a closed store: %v, want ErrFull wrapping kv.ErrClosed", err)
	}
	err = buf.Stop()
	if !errors.Is(err, logstore.ErrUnwritten) || !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Stop = %v, want ErrUnwritten and kv.ErrClosed", err)
	}
	if n := len(buf.Unwritten()); n != 4 {
		t.Errorf("Unwritten: %d entries, want the 4 accepted", n)
	}
}

// loadEntries writes n scripted entries with known IDs through a LogBuffer
// and returns them in the merged time order (by ID, then key).
func loadEntries(t testing.TB, s kv.Store, n int, step time.Duration) []logstore.LogEntry {
	t.Helper()
	ids := fixedIDs(3, step)
	buf := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 64, IDs: ids})
	entities := []string{"worker", "scheduler", "copier"}
	queues := []string{"src", "dst", ""}
	var all []logstore.LogEntry
	for i := range n {
		e := logstore.LogEntry{
			Level:    logstore.Levels()[(i*7+i/5)%6],
			Entity:   entities[i%3],
			EntityID: fmt.Sprintf("%s-%d", entities[i%3], i%4),
			Queue:    queues[(i/3)%3],
			Message:  fmt.Sprintf("task %d", i),
		}
		id, ts, err := ids.Next()
		if err != nil {
			t.Fatal(err)
		}
		e.ID = id.String()
		e.Timestamp = ts.Format(time.RFC3339Nano)
		if err := buf.Add(e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}
	sortEntries(all)
	return all
}

func entryKey(e logstore.LogEntry) string { return "log:" + string(e.Level) + ":" + e.ID }

func sortEntries(es []logstore.LogEntry) {
	slices.SortFunc(es, func(a, b logstore.LogEntry) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(entryKey(a), entryKey(b))
	})
}

func messages(es []logstore.LogEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func sameEntries(t testing.TB, what string, got, want []logstore.LogEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d\n got %q\nwant %q", what, len(got), len(want), messages(got), messages(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Level != w.Level || g.Message != w.Message || g.Entity != w.Entity ||
			g.EntityID != w.EntityID || g.Queue != w.Queue || g.Timestamp != w.Timestamp {
			t.Errorf("%s: entry %d = %+v, want %+v", what, i, g, w)
			return
		}
	}
}

func filterEntries(es []logstore.LogEntry, keep func(logstore.LogEntry) bool) []logstore.LogEntry {
	var out []logstore.LogEntry
	for _, e := range es {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func idMs(t testing.TB, e logstore.LogEntry) int64 {
	tm, err := logstore.IDTime(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMilli()
}

func testLogQueries(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	all := loadEntries(t, s, 600, 700*time.Microsecond)
	ctx := t.Context()
	find := func(q logstore.Query) []logstore.LogEntry {
		t.Helper()
		got, _, err := logstore.Find(ctx, s, q)
		if err != nil {
			t.Fatalf("Find(%+v): %v", q, err)
		}
		return got
	}
	reversed := func(es []logstore.LogEntry) []logstore.LogEntry {
		es = slices.Clone(es)
		slices.Reverse(es)
		return es
	}

	sameEntries(t, "all levels merged", find(logstore.Query{}), all)
	for _, l := range logstore.Levels() {
		want := filterEntries(all, func(e logstore.LogEntry) bool { return e.Level == l })
		sameEntries(t, "level "+string(l), find(logstore.Query{Levels: []logstore.Level{l}}), want)
		var got []logstore.LogEntry
		if err := logstore.ByLevel(ctx, s, l, func(e logstore.LogEntry) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		sameEntries(t, "ByLevel "+string(l), got, want)
	}
	two := []logstore.Level{logstore.LevelError, logstore.LevelInfo}
	sameEntries(t, "two levels", find(logstore.Query{Levels: two}),
		filterEntries(all, func(e logstore.LogEntry) bool { return slices.Contains(two, e.Level) }))

	// Time ranges across levels, at millisecond precision.
	lo, hi := idMs(t, all[100]), idMs(t, all[400])
	since, until := time.UnixMilli(lo).Add(300*time.Microsecond), time.UnixMilli(hi).Add(999*time.Microsecond)
	inRange := filterEntries(all, func(e logstore.LogEntry) bool { m := idMs(t, e); return lo <= m && m < hi })
	sameEntries(t, "time range", find(logstore.Query{Since: since, Until: until}), inRange)
	sameEntries(t, "time range newest first", find(logstore.Query{Since: since, Until: until, Newest: true}), reversed(inRange))
	sameEntries(t, "until only", find(logstore.Query{Until: until}),
		filterEntries(all, func(e logstore.LogEntry) bool { return idMs(t, e) < hi }))
	sameEntries(t, "empty range", find(logstore.Query{Since: until, Until: since}), nil)

	// Newest first with a limit.
	sameEntries(t, "newest 25", find(logstore.Query{Newest: true, Limit: 25}), reversed(all)[:25])
	got, err := logstore.Newest(ctx, s, 10, logstore.LevelError)
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, "Newest(10, error)", got, reversed(filterEntries(all, func(e logstore.LogEntry) bool { return e.Level == logstore.LevelError }))[:10])
	sameEntries(t, "oldest 7", find(logstore.Query{Limit: 7}), all[:7])

	// Filters.
	sameEntries(t, "entity", find(logstore.Query{Entity: "copier"}),
		filterEntries(all, func(e logstore.LogEntry) bool { return e.Entity == "copier" }))
	sameEntries(t, "entity id + queue, newest 5", find(logstore.Query{EntityID: "worker-0", Queue: "src", Newest: true, Limit: 5}),
		reversed(filterEntries(all, func(e logstore.LogEntry) bool { return e.EntityID == "worker-0" && e.Queue == "src" }))[:5])
	sameEntries(t, "no match", find(logstore.Query{Entity: "nobody"}), nil)

	// Counts.
	counts, err := logstore.Count(ctx, s, logstore.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logstore.Levels() {
		if want := len(filterEntries(all, func(e logstore.LogEntry) bool { return e.Level == l })); counts[l] != want {
			t.Errorf("Count[%s] = %d, want %d", l, counts[l], want)
		}
	}
	counts, err = logstore.Count(ctx, s, logstore.Query{Since: since, Until: until, Queue: "dst", Levels: two})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range two {
		want := len(filterEntries(inRange, func(e logstore.LogEntry) bool { return e.Level == l && e.Queue == "dst" }))
		if counts[l] != want {
			t.Errorf("Count[%s] in range on dst = %d, want %d", l, counts[l], want)
		}
	}

	// Paging with cursors, both directions, matches one scan.
	for _, newest := range []bool{false, true} {
		var paged []logstore.LogEntry
		var cur logstore.Cursor
		for range 200 {
			page, next, err := logstore.Find(ctx, s, logstore.Query{Newest: newest, Limit: 37, After: cur})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				if next != cur {
					t.Errorf("an empty page moved the cursor from %q to %q", cur, next)
				}
				break
			}
			paged = append(paged, page...)
			cur = next
		}
		want := all
		if newest {
			want = reversed(all)
		}
		sameEntries(t, fmt.Sprintf("paged (newest=%v)", newest), paged, want)
	}
	if _, _, err := logstore.Find(ctx, s, logstore.Query{After: "log:info:nope"}); !errors.Is(err, logstore.ErrInvalidCursor) {
		t.Errorf("bad cursor: %v, want ErrInvalidCursor", err)
	}
}

func testLogTail(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	ctx := t.Context()
	buf := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 8, Interval: time.Hour})
	defer stopBuffer(t, buf)
	cur, err := logstore.Latest(ctx, s)
	if err != nil || cur != "" {
		t.Fatalf("Latest on an empty store = %q, %v", cur, err)
	}
	// The same ID in two levels is ordered by level name and the cursor
	// keeps them apart.
	twin := logstore.GenerateLogID()
	if err := buf.Add(logstore.LogEntry{ID: twin, Level: logstore.LevelInfo, Message: "twin-info"}); err != nil {
		t.Fatal(err)
	}
	if err := buf.Add(logstore.LogEntry{ID: twin, Level: logstore.LevelError, Message: "twin-error"}); err != nil {
		t.Fatal(err)
	}
	if err := buf.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, cur, err := logstore.Tail(ctx, s, "", 1)
	if err != nil || len(page) != 1 || page[0].Message != "twin-error" {
		t.Fatalf("first tail page = %q, %v", messages(page), err)
	}
	page, cur, err = logstore.Tail(ctx, s, cur, 0)
	if err != nil || len(page) != 1 || page[0].Message != "twin-info" {
		t.Fatalf("second tail page = %q, %v", messages(page), err)
	}
	var seen []string
	for round := range 5 {
		for i := range 11 {
			l := logstore.Levels()[(round+i)%6]
			if err := buf.Add(logstore.LogEntry{Level: l, Message: fmt.Sprintf("%d.%d", round, i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := buf.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for {
			page, next, err := logstore.Tail(ctx, s, cur, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			seen = append(seen, messages(page)...)
			cur = next
		}
	}
	var want []string
	for round := range 5 {
		for i := range 11 {
			want = append(want, fmt.Sprintf("%d.%d", round, i))
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("tail saw %q\nwant %q", seen, want)
	}
	latest, err := logstore.Latest(ctx, s)
	if err != nil || latest != cur {
		t.Errorf("Latest = %q, %v, want the tail's cursor %q", latest, err, cur)
	}
}

func testLogRetention(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	ctx := t.Context()
	all := loadEntries(t, s, 400, 900*time.Microsecond)
	cut := time.UnixMilli(idMs(t, all[150])).Add(500 * time.Microsecond)
	cutMs := cut.UnixMilli()
	if err := logstore.DeleteBefore(ctx, s, cut, logstore.LevelInfo); err != nil {
		t.Fatal(err)
	}
	want := filterEntries(all, func(e logstore.LogEntry) bool { return e.Level != logstore.LevelInfo || idMs(t, e) >= cutMs })
	got, _, err := logstore.Find(ctx, s, logstore.Query{})
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, "after deleting old info entries", got, want)
	if err := logstore.DeleteBefore(ctx, s, cut); err != nil {
		t.Fatal(err)
	}
	want = filterEntries(all, func(e logstore.LogEntry) bool { return idMs(t, e) >= cutMs })
	got, _, err = logstore.Find(ctx, s, logstore.Query{})
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, "after deleting every old entry", got, want)
	if err := logstore.DeleteBefore(ctx, s, cut, "nope"); !errors.Is(err, logstore.ErrInvalidLevel) {
		t.Errorf("DeleteBefore unknown level: %v", err)
	}
	// Keys outside the log family are never touched.
	if err := s.Set(ctx, []byte("log"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, []byte("lof:z"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := logstore.DeleteBefore(ctx, s, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if keys := logKeys(t, s); len(keys) != 0 {
		t.Errorf("%d log keys left after deleting everything", len(keys))
	}
	for _, k := range []string{"log", "lof:z"} {
		if _, err := s.Get(ctx, []byte(k)); err != nil {
			t.Errorf("key %q outside the log family: %v", k, err)
		}
	}
}

func testLogReopen(t *testing.T, f Factory) {
	s, open := openLogStore(t, f)
	if !s.Info().Guarantees.Persistent {
		t.Skip("backend is not persistent")
	}
	all := loadEntries(t, s, 200, time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, _, err := logstore.Find(t.Context(), s2, logstore.Query{})
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, "after reopen", got, all)
}

func testLogSlog(t *testing.T, f Factory) {
	var s kv.Store
	var buf *logstore.LogBuffer
	newHandler := func(t *testing.T) slog.Handler {
		s, _ = openLogStore(t, f)
		buf = logstore.NewLogBuffer(s, 100, time.Hour)
		t.Cleanup(func() { _ = buf.Stop() })
		return logstore.NewHandler(buf, &logstore.HandlerOptions{Level: logstore.LevelTrace.Slog()})
	}
	result := func(t *testing.T) map[string]any {
		if err := buf.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		got, _, err := logstore.Find(t.Context(), s, logstore.Query{})
		if err != nil || len(got) != 1 {
			t.Fatalf("read back %d entries: %v", len(got), err)
		}
		return slogResult(t, got[0])
	}
	slogtest.Run(t, newHandler, result)

	t.Run("Mapping", func(t *testing.T) {
		s, _ := openLogStore(t, f)
		buf := logstore.NewLogBuffer(s, 100, time.Hour)
		log := slog.New(logstore.NewHandler(buf, &logstore.HandlerOptions{Level: logstore.LevelTrace.Slog(), Entity: "engine"}))
		log.Log(t.Context(), slog.LevelDebug-4, "t")
		log.Debug("d")
		log.Info("i", "queue", "src", "entity_id", "w-1", "n", 42)
		log.Warn("w", slog.Group("g", "d", time.Second))
		log.Error("e", "err", errInjected)
		log.Log(t.Context(), slog.LevelError+4, "c", "entity", "copier")
		stopBuffer(t, buf)
		got, _, err := logstore.Find(t.Context(), s, logstore.Query{})
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			level                    logstore.Level
			msg, ent, entID, q, attr string
		}{
			{logstore.LevelTrace, "t", "engine", "", "", ""},
			{logstore.LevelDebug, "d", "engine", "", "", ""},
			{logstore.LevelInfo, "i", "engine", "w-1", "src", `{"n":42}`},
			{logstore.LevelWarning, "w", "engine", "", "", `{"g":{"d":"1s"}}`},
			{logstore.LevelError, "e", "engine", "", "", `{"err":"injected write failure"}`},
			{logstore.LevelCritical, "c", "copier", "", "", ""},
		}
		if len(got) != len(want) {
			t.Fatalf("%d entries, want %d", len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			attr := ""
			if g.Attrs != nil {
				attr = fmt.Sprint(mustJSON(t, g.Attrs))
			}
			if g.Level != w.level || g.Message != w.msg || g.Entity != w.ent || g.EntityID != w.entID || g.Queue != w.q || attr != w.attr {
				t.Errorf("entry %d = %+v (attrs %s), want %+v", i, g, attr, w)
			}
			if _, err := time.Parse(time.RFC3339Nano, g.Timestamp); err != nil {
				t.Errorf("entry %d: timestamp %q: %v", i, g.Timestamp, err)
			}
		}
	})
}

// slogResult turns a stored entry back into the map slogtest checks.
func slogResult(t *testing.T, e logstore.LogEntry) map[string]any {
	m := map[string]any{}
	for k, v := range e.Attrs {
		m[k] = v
	}
	if e.Timestamp != "" {
		tm, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		if err != nil {
			t.Fatalf("timestamp %q: %v", e.Timestamp, err)
		}
		m[slog.TimeKey] = tm
	}
	m[slog.LevelKey] = e.Level.Slog()
	m[slog.MessageKey] = e.Message
	return m
}

// logstoreScript is the scripted input of the golden dump: a fixed clock
// and ID source, every level, every field, attributes, unicode and escapes,
// explicit timestamps and IDs, a retention cut.
func logstoreScript(t testing.TB, s kv.Store) {
	ids := fixedIDs(42, 333*time.Microsecond)
	buf := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 50, IDs: ids})
	entities := []string{"worker", "scheduler", "copier", ""}
	for i := range 240 {
		e := logstore.LogEntry{
			Level:    logstore.Levels()[(i*5+i/7)%6],
			Entity:   entities[i%4],
			EntityID: fmt.Sprintf("id-%d", i%5),
			Queue:    []string{"src", "dst", ""}[i%3],
			Message:  fmt.Sprintf("task %d done", i),
		}
		switch i % 9 {
		case 1:
			e.Attrs = map[string]any{"bytes": i * 1000, "path": fmt.Sprintf("/data/%d/ä ö.txt", i), "ok": i%2 == 0}
		case 2:
			e.Message = "line\nbreak \"quoted\" \t tab \\ back \x01 ctl \u2028 ls é 日本 \xff bad"
		case 3:
			e.Timestamp = "2024-12-31T23:59:59.999999999+01:00"
		case 4:
			e.Attrs = map[string]any{"g": map[string]any{"nested": []any{1, "two", 3.5}}}
		}
		if err := buf.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}
	cut := logEpoch.Add(10 * time.Millisecond)
	if err := logstore.DeleteBefore(t.Context(), s, cut, logstore.LevelTrace, logstore.LevelDebug); err != nil {
		t.Fatal(err)
	}
}

// logDump returns every log key and value of s in order, one
// "key<TAB>value" line each (values are JSON: no raw newlines).
func logDump(t testing.TB, s kv.Store) []byte {
	var out bytes.Buffer
	err := s.Iterate(t.Context(), kv.IterOptions{Prefix: logstore.PrefixLogAll()}, func(k, v []byte) error {
		out.Write(k)
		out.WriteByte('\t')
		out.Write(v)
		out.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func testLogDumpGolden(t *testing.T, f Factory) {
	s, _ := openLogStore(t, f)
	logstoreScript(t, s)
	dump := logDump(t, s)
	sum := sha256.Sum256(dump)
	got := hex.EncodeToString(sum[:])
	want := strings.TrimSpace(logstoreGoldenSum)
	if got == want {
		return
	}
	if dir := os.Getenv("POLYKV_UPDATE_GOLDEN"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "logstore_dump.golden"), dump, 0o644)
		_ = os.WriteFile(filepath.Join(dir, "logstore_dump.sha256"), []byte(got+"\n"), 0o644)
		t.Logf("wrote the dump and its hash to %s", dir)
	}
	gl, wl := strings.Split(string(dump), "\n"), strings.Split(string(logstoreGoldenDump), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("log dump sha256 %s, want %s; first difference at line %d:\n got %q\nwant %q", got, want, i+1, g, w)
		}
	}
	t.Fatalf("log dump sha256 %s, want %s (golden dump and hash disagree)", got, want)
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
