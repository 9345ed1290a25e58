package logstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/polykv/polykv/logstore"
)

// Query.MaxScanned bounds one call of a filtered query: it stops after
// reading that many entries, says so (ErrScanBounded), and a query
// resumed from its cursor goes on where it stopped, so that a filter that
// matches one old entry among many is found in bounded calls.
func TestQueryMaxScanned(t *testing.T) {
	ctx := t.Context()
	s := memStore(t)
	buf := logstore.NewLogBuffer(s, 100, time.Second)
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelError, Entity: "rare", Message: "the one"}); err != nil {
		t.Fatal(err)
	}
	for range 45 {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Entity: "common", Message: "noise"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}

	q := logstore.Query{Newest: true, Entity: "rare", Limit: 10, MaxScanned: 10}
	calls := 0
	var found []logstore.LogEntry
	for {
		calls++
		got, cur, err := logstore.Find(ctx, s, q)
		found = append(found, got...)
		if errors.Is(err, logstore.ErrScanBounded) {
			if cur == q.After {
				t.Fatalf("call %d: bounded with no progress (cursor %q)", calls, cur)
			}
			q.After = cur
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(found) != 1 || found[0].Message != "the one" {
		t.Errorf("found %d entries (%v), want the rare one", len(found), found)
	}
	if calls != 5 {
		t.Errorf("%d calls for 46 entries read 10 at a time, want 5", calls)
	}

	// A query that fills its Limit first, or reaches the end, is not
	// bounded.
	if got, _, err := logstore.Find(ctx, s, logstore.Query{Limit: 5, MaxScanned: 5}); err != nil || len(got) != 5 {
		t.Errorf("Limit 5, MaxScanned 5: %d entries, %v", len(got), err)
	}
	if got, _, err := logstore.Find(ctx, s, logstore.Query{MaxScanned: 46}); err != nil || len(got) != 46 {
		t.Errorf("MaxScanned 46 of 46 entries: %d entries, %v", len(got), err)
	}
	if _, _, err := logstore.Find(ctx, s, logstore.Query{MaxScanned: -1}); err == nil {
		t.Error("MaxScanned -1 accepted")
	}
}
