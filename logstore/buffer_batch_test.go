package logstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

func memoryStore(t *testing.T) kv.Store {
	t.Helper()
	s, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func waitWritten(t *testing.T, b *logstore.LogBuffer, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for b.Stats().Written < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d entries written: %+v", n, b.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// BatchSize entries make a flush by themselves, also when MaxPending
// leaves room for more (no backpressure forces the flush) and the
// interval is far away.
func TestFlushOnBatchSizeWithRoom(t *testing.T) {
	s := memoryStore(t)
	b := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 10, MaxPending: 1000, Interval: time.Hour})
	for i := range 10 {
		if err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitWritten(t, b, 10)
	if st := b.Stats(); st.Flushes != 1 || st.Pending != 0 {
		t.Errorf("after BatchSize entries: %+v, want one flush of 10", st)
	}
	for i := range 5 {
		if err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(10 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Written != 15 || st.Flushes != 2 {
		t.Errorf("after Stop: %+v, want 15 written in 2 flushes", st)
	}
}

// An Add waiting for space makes the flusher write the partial batch at
// once (MaxPending below BatchSize), without waiting for the interval.
func TestAddWaitingForSpaceFlushesPartialBatch(t *testing.T) {
	s := memoryStore(t)
	b := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 100, MaxPending: 5, Interval: time.Hour})
	defer b.Stop()
	for i := range 5 {
		if err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.AddContext(ctx, logstore.LogEntry{Level: logstore.LevelInfo, Message: "5"}); err != nil {
		t.Fatalf("Add on a full buffer over a working store: %v", err)
	}
	if st := b.Stats(); st.Written < 5 {
		t.Errorf("stats %+v, want the first 5 written", st)
	}
}

// A Stop that gives up returns every entry held, from every pending
// batch, in order.
func TestUnwrittenKeepsEveryBatch(t *testing.T) {
	injected := errors.New("injected")
	b := logstore.NewLogBufferOptions(kv.FailingStore(injected), logstore.Options{
		BatchSize: 2, MaxPending: 10, Interval: time.Hour, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	for i := range 5 {
		if err := b.Add(logstore.LogEntry{Level: logstore.LevelWarning, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.StopContext(ctx); !errors.Is(err, logstore.ErrUnwritten) || !errors.Is(err, injected) {
		t.Fatalf("StopContext = %v, want ErrUnwritten and the store's error", err)
	}
	un := b.Unwritten()
	var got []string
	for _, e := range un {
		got = append(got, e.Message)
	}
	if fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Errorf("Unwritten messages = %q, want the 5 entries of the 3 batches in order", got)
	}
}

// An entry added with an ID but no Timestamp gets the time of its ID.
func TestTimestampFilledFromGivenID(t *testing.T) {
	s := memoryStore(t)
	b := logstore.NewLogBuffer(s, 10, time.Hour)
	id := logstore.GenerateLogID()
	if err := b.Add(logstore.LogEntry{ID: id, Level: logstore.LevelDebug, Message: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	got, _, err := logstore.Find(context.Background(), s, logstore.Query{})
	if err != nil || len(got) != 1 {
		t.Fatalf("Find = %v, %v", got, err)
	}
	want, _ := logstore.IDTime(id)
	ts, err := time.Parse(time.RFC3339Nano, got[0].Timestamp)
	if err != nil || !ts.Equal(want) {
		t.Errorf("Timestamp = %q (%v), want the ID's time %v", got[0].Timestamp, err, want)
	}
}

// A key or cursor of an unknown level is refused, even with a valid ID.
func TestParseKeyChecksLevel(t *testing.T) {
	id := logstore.GenerateLogID()
	if _, _, err := logstore.ParseKey([]byte("log:bogus:" + id)); !errors.Is(err, logstore.ErrInvalidLevel) {
		t.Errorf("ParseKey of an unknown level: %v, want ErrInvalidLevel", err)
	}
	if _, err := logstore.DecodeEntry([]byte("log:bogus:"+id), []byte(`{"v":1,"msg":"m"}`)); err == nil {
		t.Error("DecodeEntry of a key of an unknown level succeeded")
	}
	s := memoryStore(t)
	if _, _, err := logstore.Find(context.Background(), s, logstore.Query{After: logstore.Cursor("log:bogus:" + id)}); !errors.Is(err, logstore.ErrInvalidCursor) {
		t.Errorf("Find after a cursor of an unknown level: %v, want ErrInvalidCursor", err)
	}
}

// A level listed twice in a query is read once: no entry comes back twice.
func TestQueryRepeatedLevel(t *testing.T) {
	s := memoryStore(t)
	b := logstore.NewLogBuffer(s, 10, time.Hour)
	for i := range 3 {
		if err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(logstore.LogEntry{Level: logstore.LevelError, Message: "e"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	q := logstore.Query{Levels: []logstore.Level{logstore.LevelInfo, logstore.LevelError, logstore.LevelInfo}}
	for _, newest := range []bool{false, true} {
		q.Newest = newest
		got, _, err := logstore.Find(context.Background(), s, q)
		if err != nil || len(got) != 4 {
			t.Errorf("Find with info listed twice (newest %v) = %d entries, %v; want 4", newest, len(got), err)
		}
	}
}

// A store that needs reopening after a fault (kv.ErrNeedsReopen: Pebble
// after a failed log write, any backend after a failed sync) refuses every
// later write, so retrying is futile, as for a closed or read-only store:
// Stop returns at once with the entries unwritten, not after StopTimeout.
func TestNeedsReopenIsPermanent(t *testing.T) {
	fault := fmt.Errorf("kv: pebble: fatal engine failure: %w", kv.ErrNeedsReopen)
	b := logstore.NewLogBufferOptions(kv.FailingStore(fault), logstore.Options{
		BatchSize: 2, MaxPending: 4, Interval: time.Millisecond, StopTimeout: time.Hour})
	for i := range 3 {
		if err := b.Add(logstore.LogEntry{Level: logstore.LevelError, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.Stop() }()
	select {
	case err := <-done:
		if !errors.Is(err, logstore.ErrUnwritten) || !errors.Is(err, kv.ErrNeedsReopen) {
			t.Fatalf("Stop = %v, want ErrUnwritten and ErrNeedsReopen", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Stop still retrying a store that needs reopening after 20 s (StopTimeout 1 h)")
	}
	if got := len(b.Unwritten()); got != 3 {
		t.Errorf("Unwritten = %d entries, want 3", got)
	}
}
