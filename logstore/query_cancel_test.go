package logstore_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// TestScanCancelledResumes: a Scan whose context ends while it runs passes
// fn a prefix of the merged order, and resuming from the cursor it returns
// gives the rest, nothing skipped. Each level's iteration checks the
// context on its own count of keys: one level stopped while the merge
// went on with the others, so fn got a sequence with a gap and the cursor
// skipped it (200 of 2,200 entries lost in an audit).
func TestScanCancelledResumes(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	clock := time.UnixMilli(1_700_000_000_000)
	g := logstore.NewIDGenerator(func() time.Time { return clock }, bytes.NewReader(make([]byte, 1<<20)))
	var b kv.Batch
	put := func(l logstore.Level) {
		clock = clock.Add(time.Millisecond)
		id, _, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		e := logstore.LogEntry{ID: id.String(), Level: l, Message: "m"}
		k, _ := e.Key()
		v, _ := logstore.EncodeValue(e)
		if err := b.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	// 200 info entries, then info and error alternating: the info level
	// reaches its context check 200 entries before the error level.
	for range 200 {
		put(logstore.LevelInfo)
	}
	for range 1000 {
		put(logstore.LevelInfo)
		put(logstore.LevelError)
	}
	if err := s.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	key := func(e logstore.LogEntry) string { return string(e.Level) + ":" + e.ID }
	all, _, err := logstore.Find(ctx, s, logstore.Query{})
	if err != nil || len(all) != 2200 {
		t.Fatalf("Find: %d entries, %v", len(all), err)
	}
	var want []string
	for _, e := range all {
		want = append(want, key(e))
	}
	for _, cancelAt := range []int{100, 250, 300, 500, 700} {
		cctx, cancel := context.WithCancel(ctx)
		var got []string
		c, err := logstore.Scan(cctx, s, logstore.Query{}, func(e logstore.LogEntry) error {
			if got = append(got, key(e)); len(got) == cancelAt {
				cancel()
			}
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Scan cancelled after %d: %v", cancelAt, err)
		}
		rest, _, err := logstore.Find(ctx, s, logstore.Query{After: c})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rest {
			got = append(got, key(e))
		}
		if !slices.Equal(got, want) {
			t.Errorf("Scan cancelled after %d, then resumed from its cursor: %d entries, want %d in order", cancelAt, len(got), len(want))
		}
	}
}
