package logstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/polykv/polykv/logstore"
)

// A query bounded by MaxScanned whose Unreadable callback skips the keys
// it cannot read (the seed's version 4 entries, here more of them in a
// row than MaxScanned) must still make progress from call to call: an
// unreadable key is never a cursor, so a call that stopped among them
// returned the cursor it started from, and a pager resuming from it read
// the same keys for ever (newest first: without finding anything).
func TestMaxScannedProgressesPastUnreadable(t *testing.T) {
	for _, newest := range []bool{false, true} {
		t.Run(fmt.Sprint("newest=", newest), func(t *testing.T) {
			ctx := t.Context()
			s := memStore(t)
			buf := logstore.NewLogBuffer(s, 100, time.Second)
			for i := range 5 {
				if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := buf.Stop(); err != nil {
				t.Fatal(err)
			}
			v, err := logstore.EncodeValue(logstore.LogEntry{Level: logstore.LevelInfo, ID: logstore.GenerateLogID(), Message: "seed"})
			if err != nil {
				t.Fatal(err)
			}
			// Version 4 IDs beginning with "f": after every version 7 ID.
			for range 50 {
				id := uuid.NewString()
				if err := s.Set(ctx, []byte("log:info:f"+id[1:]), v); err != nil {
					t.Fatal(err)
				}
			}
			q := logstore.Query{Newest: newest, MaxScanned: 10, Unreadable: func([]byte, error) error { return nil }}
			var found []logstore.LogEntry
			for calls := 0; ; calls++ {
				if calls == 100 {
					t.Fatalf("no end after %d calls (%d found, cursor %q)", calls, len(found), q.After)
				}
				got, cur, err := logstore.Find(ctx, s, q)
				found = append(found, got...)
				if errors.Is(err, logstore.ErrScanBounded) {
					if cur == q.After {
						t.Fatalf("call %d: bounded with no progress (cursor %q), %d found", calls, cur, len(found))
					}
					q.After = cur
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				break
			}
			if len(found) != 5 {
				t.Errorf("found %d entries, want 5", len(found))
			}
		})
	}
}
