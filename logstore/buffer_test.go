package logstore_test

import (
	"context"
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
