package logstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// From inside an Update, with its Txn's context, Flush and an AddContext
// on a full buffer fail at once with kv.ErrNestedUpdate instead of
// waiting for the flusher, which waits for the Update's writer lock (lock
// engines) or commits apart from it (optimistic ones). Before, both
// waited until their context ended. The Update itself commits, and the
// entries are written once it has.
func TestLogBufferInsideUpdate(t *testing.T) {
	for name, cfg := range map[string]kv.Config{
		"lock":       {Backend: "memory"},
		"optimistic": {Backend: "memory", Options: map[string]string{"txn": "optimistic"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := kv.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			buf := logstore.NewLogBufferOptions(db, logstore.Options{BatchSize: 2, MaxPending: 2, Interval: time.Hour})
			defer buf.Stop()
			var flushErr, addErr error
			accepted := 0 // adds of "b" accepted
			err = db.Update(ctx, func(tx kv.Txn) error {
				if err := buf.AddContext(tx.Context(), logstore.LogEntry{Level: logstore.LevelInfo, Message: "a"}); err != nil {
					return err
				}
				// Bounded, so that the old behaviour fails the test rather
				// than hanging it.
				c, cancel := context.WithTimeout(tx.Context(), 10*time.Second)
				defer cancel()
				flushErr = buf.Flush(c)
				for i := 0; i < 3 && addErr == nil; i++ {
					if addErr = buf.AddContext(c, logstore.LogEntry{Level: logstore.LevelInfo, Message: "b"}); addErr == nil {
						accepted++
					}
				}
				return tx.Set([]byte("x"), nil)
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if !errors.Is(flushErr, kv.ErrNestedUpdate) {
				t.Errorf("Flush with the Txn's context = %v, want kv.ErrNestedUpdate", flushErr)
			}
			// On the lock engine the flusher waits for the Update's writer
			// lock, so the buffer stays full and the adds must fail. On the
			// optimistic one the flusher may commit meanwhile and make room:
			// an add may then be accepted, but none may wait or fail
			// otherwise.
			if addErr != nil && !errors.Is(addErr, kv.ErrNestedUpdate) || name == "lock" && !errors.Is(addErr, kv.ErrNestedUpdate) {
				t.Errorf("AddContext on a full buffer with the Txn's context = %v, want kv.ErrNestedUpdate", addErr)
			}
			if err := buf.Flush(ctx); err != nil {
				t.Fatalf("Flush after the Update: %v", err)
			}
			n, err := logstore.Count(ctx, db, logstore.Query{})
			if want := 1 + accepted; err != nil || n[logstore.LevelInfo] != want {
				t.Errorf("Count = %v, %v; want the %d entries accepted", n, err, want)
			}
		})
	}
}
