package logstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// Found by an audit of LogBuffer under faults: a panicking clock left the
// buffer locked for good; entries were sized before escaping, so on a
// store with smaller limits (etcd) one escaped entry blocked the buffer
// for good, and MaxPendingBytes could be passed.

// memoryWithPanickingClock returns a memory store and a clock that panics
// ("clock bug") at its call number panicAt.
func memoryWithPanickingClock(t *testing.T, panicAt int64) (kv.Store, func() time.Time) {
	t.Helper()
	s, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var calls atomic.Int64
	return s, func() time.Time {
		if calls.Add(1) == panicAt {
			panic("clock bug")
		}
		return time.Now()
	}
}

// A clock that panics once (an injected clock with a bug, a test double)
// panics out of Add while LogBuffer.mu is held. Callers that recover the
// panic (net/http, a worker pool) keep running, but the buffer is wedged:
// the entries it already accepted are never written and Stop never returns.
func TestBufferSurvivesPanickingClock(t *testing.T) {
	s, clock := memoryWithPanickingClock(t, 2)
	lb := logstore.NewLogBufferOptions(s, logstore.Options{
		BatchSize: 100, Interval: 20 * time.Millisecond,
		IDs: logstore.NewIDGenerator(clock, nil), StopTimeout: 2 * time.Second})
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "accepted before the panic"}); err != nil {
		t.Fatal(err)
	}
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "the clock panics"}); err == nil || !strings.Contains(err.Error(), "clock bug") {
		t.Errorf("Add while the clock panics: %v, want an error naming the panic", err)
	}
	done := make(chan error, 1)
	go func() { done <- lb.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop has not returned 5 s after the clock panicked (StopTimeout 2 s)")
	}
	if n, err := logstore.Count(context.Background(), s, logstore.Query{}); err != nil || n[logstore.LevelInfo] != 1 {
		t.Errorf("entries stored: %v, %v; want the 1 accepted", n, err)
	}
}

// The same through the slog handler: one panic of the clock during a log
// call wedges every later log call of the process (Handle blocks forever,
// even with a deadline in its context).
func TestHandlerSurvivesPanickingClock(t *testing.T) {
	s, clock := memoryWithPanickingClock(t, 1)
	lb := logstore.NewLogBufferOptions(s, logstore.Options{IDs: logstore.NewIDGenerator(clock, nil)})
	h := logstore.NewHandler(lb, nil)
	func() {
		defer func() { _ = recover() }()
		_ = h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "first", 0))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Handle(ctx, slog.NewRecord(time.Now(), slog.LevelInfo, "second", 0)) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("Handle = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Handle with a 1 s deadline still blocked after 5 s: the buffer's mutex was left locked by the panic")
	}
}

// limitedEngine is the memory engine declaring smaller limits, as the etcd
// backend does (its limits follow the server's max_request_bytes).
type limitedEngine struct {
	kv.Engine
	lim kv.Limits
}

func (e limitedEngine) Limits() kv.Limits { return e.lim }

func limitedStore(t *testing.T, lim kv.Limits) *kv.DB {
	t.Helper()
	mem, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	db := kv.NewDB(limitedEngine{Engine: mem.Engine(), lim: lim}, mem.Info(), nil)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fastRetryBuffer is a LogBuffer on s flushing every batch entries or
// 10 ms, retrying a failed flush within milliseconds, giving up at Stop
// after a second.
func fastRetryBuffer(s kv.Store, batch int) *logstore.LogBuffer {
	return logstore.NewLogBufferOptions(s, logstore.Options{
		BatchSize: batch, Interval: 10 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, StopTimeout: time.Second,
	})
}

// An entry whose message needs escaping is sized by Add before escaping.
// On a store with a smaller MaxValueSize (etcd), an entry under the limit
// before escaping and over it after is accepted (Add's doc promises
// kv.ErrValueTooLarge "for an entry too large to store"); its flush then
// fails with ErrValueTooLarge on every retry, forever, and takes the valid
// entries of the same transaction with it; once the buffer is full every
// Add blocks for good.
func TestBufferRefusesEntryOverStoreValueLimitOnceEscaped(t *testing.T) {
	lim := kv.DefaultLimits()
	lim.MaxValueSize = 64 << 10
	lim.MaxTxnBytes = 256 << 10
	s := limitedStore(t, lim)
	lb := fastRetryBuffer(s, 4)
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "good 1"}); err != nil {
		t.Fatal(err)
	}
	poison := strings.Repeat("\x01", 20<<10) // 20 KiB, 120 KiB once escaped
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: poison}); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Errorf("Add of an entry of %d bytes, %d escaped, on a store whose MaxValueSize is %d: %v, want kv.ErrValueTooLarge",
			len(poison), 6*len(poison), lim.MaxValueSize, err)
	}
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "good 2"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	ferr := lb.Flush(ctx)
	cancel()
	t.Logf("Flush = %v", ferr)
	st := lb.Stats()
	t.Logf("stats after 2 s: %+v", st)
	// With the buffer full (MaxPending = BatchSize = 4), the next Adds block.
	_ = lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "good 3"})
	actx, acancel := context.WithTimeout(context.Background(), time.Second)
	aerr := lb.AddContext(actx, logstore.LogEntry{Level: logstore.LevelInfo, Message: "good 4"})
	acancel()
	t.Logf("AddContext on the full buffer = %v", aerr)
	serr := lb.Stop()
	t.Logf("Stop = %v", serr)
	n, _ := logstore.Count(context.Background(), s, logstore.Query{})
	t.Logf("entries in the store: %v; Unwritten: %d", n, len(lb.Unwritten()))
	if ferr != nil || st.Written < 2 {
		t.Fatalf("the valid entries were never written: one entry too large for the store blocks the buffer (%d failed attempts, errors like %v)", st.Failures, lb.Err())
	}
}

// Entries whose values are each within the store's limits but escape to
// more than the hint: the chunk is cut with the hinted sizes against the
// store's MaxTxnBytes, so its real size is over it and the store refuses
// the transaction forever.
func TestBufferChunksByEscapedSizeOnSmallerStoreLimits(t *testing.T) {
	lim := kv.DefaultLimits()
	lim.MaxTxnBytes = 256 << 10
	lim.MaxValueSize = 200 << 10
	s := limitedStore(t, lim)
	lb := fastRetryBuffer(s, 1000)
	msg := strings.Repeat("\x01", 10<<10) // 10 KiB, 60 KiB escaped: each value fits
	for i := range 10 {
		if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: msg}); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	ferr := lb.Flush(ctx)
	cancel()
	st := lb.Stats()
	serr := lb.Stop()
	t.Logf("Flush = %v\nstats %+v\nStop = %v", ferr, st, serr)
	if ferr != nil {
		t.Fatalf("10 valid entries (each value %d bytes, under the store's MaxValueSize %d) never written", 6*len(msg)+20, lim.MaxValueSize)
	}
}

// MaxPendingBytes: Add checks the hinted (unescaped) size; escaping can
// make the held bytes exceed the bound by up to about six times the room
// left.
func TestBufferMaxPendingBytesCountsEscapes(t *testing.T) {
	s, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stuck := &stuckStore{Store: s, entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer func() {
		select {
		case <-stuck.release:
		default:
			close(stuck.release)
		}
	}()
	const bound = 1 << 20
	lb := logstore.NewLogBufferOptions(stuck, logstore.Options{BatchSize: 1000, Interval: time.Hour, MaxPendingBytes: bound})
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: strings.Repeat("a", 900<<10)}); err != nil {
		t.Fatal(err)
	}
	msg := strings.Repeat("\x01", 120<<10) // hint 120 KiB fits in the ~124 KiB of room; 720 KiB escaped
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := range 4 {
		if err := lb.AddContext(ctx, logstore.LogEntry{Level: logstore.LevelInfo, Message: msg}); err != nil {
			t.Logf("Add %d: %v", i, err)
			break
		}
	}
	st := lb.Stats()
	t.Logf("MaxPendingBytes %d, PendingBytes %d (%.1fx), Pending %d", bound, st.PendingBytes, float64(st.PendingBytes)/bound, st.Pending)
	if st.PendingBytes > bound {
		t.Errorf("held %d bytes with MaxPendingBytes %d and more than one entry held", st.PendingBytes, bound)
	}
	close(stuck.release)
	_ = lb.Stop()
}
