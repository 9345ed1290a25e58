package logstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// TestBufferEscapedValuesSplitChunks adds entries whose messages grow
// sixfold when escaped, so the size Add plans with is far below the real
// one: the third no longer fits the transaction of the first two and must
// start the next flush, not fail and not exceed kv's limits.
func TestBufferEscapedValuesSplitChunks(t *testing.T) {
	ctx := context.Background()
	s, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lb := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 1000, Interval: time.Hour})
	msg := strings.Repeat("\x01", 600<<10) // escaped as \u0001: 3.6 MiB
	for i := range 3 {
		if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: msg}); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	st := lb.Stats()
	if st.Written != 3 || st.Flushes != 2 || st.Failures != 0 {
		t.Fatalf("stats %+v, want 3 entries written in 2 flushes, no failure", st)
	}
	var got []logstore.LogEntry
	if err := logstore.ByLevel(ctx, s, logstore.LevelInfo, func(e logstore.LogEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d entries read back, want 3", len(got))
	}
	for i, e := range got {
		if e.Message != msg {
			t.Fatalf("entry %d: message of %d bytes read back, want %d", i, len(e.Message), len(msg))
		}
	}
}

// Scan and ByLevel with a nil function report an invalid argument, as
// kv.Store.Iterate does, instead of panicking at the first entry.
func TestScanNilFunction(t *testing.T) {
	ctx := context.Background()
	s, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lb := logstore.NewLogBuffer(s, 1, time.Hour)
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "one"}); err != nil {
		t.Fatal(err)
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Scan":    func() error { _, err := logstore.Scan(ctx, s, logstore.Query{}, nil); return err },
		"ByLevel": func() error { return logstore.ByLevel(ctx, s, logstore.LevelInfo, nil) },
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s with a nil function: panic %v", name, p)
				}
			}()
			if err := call(); !errors.Is(err, kv.ErrInvalidConfig) {
				t.Errorf("%s with a nil function: %v, want kv.ErrInvalidConfig", name, err)
			}
		}()
	}
}

// A buffer over a nil store stops at once with its entries unwritten and
// an error saying why; a Handler over a nil buffer returns an error.
func TestNilStoreAndBuffer(t *testing.T) {
	b := logstore.NewLogBuffer(nil, 10, time.Millisecond)
	if err := b.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := b.Stop()
	if !errors.Is(err, logstore.ErrUnwritten) || !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "nil kv.Store") {
		t.Fatalf("Stop = %v, want ErrUnwritten and the nil store named", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Stop took %v: it retried an error no retry fixes", d)
	}
	if got := b.Unwritten(); len(got) != 1 {
		t.Errorf("Unwritten = %d entries, want 1", len(got))
	}
	h := logstore.NewHandler(nil, nil)
	if err := h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("Handle with a nil buffer = %v, want kv.ErrInvalidConfig", err)
	}
}

// stuckStore is a store whose Write waits until release is closed.
type stuckStore struct {
	kv.Store
	entered chan struct{}
	release chan struct{}
}

func (s *stuckStore) Write(ctx context.Context, b *kv.Batch) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.Store.Write(ctx, b)
}

// TestStopContextHonoursDeadlineWhileWriteHangs: a write that hangs in the
// store (a stalled disk) does not hold StopContext past its deadline (and
// a short grace): it returns the context's error, and a later Stop waits
// for the write and reports the outcome.
func TestStopContextHonoursDeadlineWhileWriteHangs(t *testing.T) {
	mem, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	s := &stuckStore{Store: mem, entered: make(chan struct{}, 1), release: make(chan struct{})}
	lb := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: 1, Interval: time.Hour})
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}); err != nil {
		t.Fatal(err)
	}
	<-s.entered // the flusher is inside Write
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- lb.StopContext(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("StopContext = %v, want context.DeadlineExceeded", err)
		}
		t.Logf("StopContext returned after %v", time.Since(start))
	case <-time.After(10 * time.Second):
		close(s.release)
		t.Fatal("StopContext still waiting 10 s after its deadline, for a write that hangs")
	}
	close(s.release)
	if err := lb.Stop(); err != nil {
		t.Fatalf("Stop after the write finished = %v, want nil", err)
	}
	if st := lb.Stats(); st.Written != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v, want the entry written", st)
	}
}

// TestBufferStatsBackpressure: Stats shows the bytes held, the Adds blocked
// on a full buffer, and the entries refused once the store cannot be
// written.
func TestBufferStatsBackpressure(t *testing.T) {
	ctx := context.Background()
	s, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stuck := &stuckStore{Store: s, entered: make(chan struct{}, 1), release: make(chan struct{})}
	lb := logstore.NewLogBufferOptions(stuck, logstore.Options{BatchSize: 2, MaxPending: 2, Interval: time.Hour})
	for range 2 {
		if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	<-stuck.entered // the flush of both hangs in Write
	if st := lb.Stats(); st.Pending != 2 || st.PendingBytes <= 0 || st.Waiting != 0 {
		t.Fatalf("stats %+v, want 2 entries pending, their bytes, nobody waiting", st)
	}
	added := make(chan error)
	go func() { added <- lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "third"}) }()
	deadline := time.Now().Add(10 * time.Second)
	for lb.Stats().Waiting != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: the third Add is not counted as waiting", lb.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	close(stuck.release)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := lb.Stats(); st.Waiting != 0 || st.Pending != 0 || st.PendingBytes != 0 || st.Refused != 0 || st.Written != 3 {
		t.Errorf("stats after Stop %+v, want 3 written, nothing held, waiting or refused", st)
	}

	// Over a closed store the buffer fills and then refuses entries.
	s2, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	lb = logstore.NewLogBufferOptions(s2, logstore.Options{BatchSize: 2, MaxPending: 2, Interval: time.Hour, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	s2.Close()
	refused := 0
	for i := 0; i < 100 && refused < 3; i++ {
		if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}); errors.Is(err, logstore.ErrFull) {
			refused++
		}
	}
	if st := lb.Stats(); refused != 3 || st.Refused != 3 {
		t.Errorf("Stats().Refused = %d after %d Adds refused with ErrFull", st.Refused, refused)
	}
	lb.Stop()
}
