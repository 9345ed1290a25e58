package logstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// Log through slog into a Badger store, then read the last errors back.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "logstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := kv.Open(ctx, kv.Config{Backend: badger.Name, Path: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	buf := logstore.NewLogBuffer(store, 500, 2*time.Second)
	log := slog.New(logstore.NewHandler(buf, &logstore.HandlerOptions{Entity: "worker"}))
	log.Info("task started", "entity_id", "worker-1", "queue", "src")
	log.Error("copy failed", "entity_id", "worker-1", "queue", "src", "path", "/data/a.txt")
	log.Error("copy failed", "entity_id", "worker-2", "queue", "src", "path", "/data/b.txt")
	if err := buf.Stop(); err != nil { // writes what is pending
		fmt.Println(err)
		return
	}

	last, err := logstore.Newest(ctx, store, 10, logstore.LevelError)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range last {
		fmt.Println(e.Level, e.Entity, e.EntityID, e.Message, e.Attrs["path"])
	}
	counts, _ := logstore.Count(ctx, store, logstore.Query{})
	fmt.Println("info:", counts[logstore.LevelInfo], "error:", counts[logstore.LevelError])
	// Output:
	// error worker worker-2 copy failed /data/b.txt
	// error worker worker-1 copy failed /data/a.txt
	// info: 1 error: 2
}

// The seed's usage: a LogBuffer, entries with IDs from GenerateLogID.
func ExampleNewLogBuffer() {
	ctx := context.Background()
	store, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	logBuffer := logstore.NewLogBuffer(store, 500, 2*time.Second)
	err = logBuffer.Add(logstore.LogEntry{
		ID:        logstore.GenerateLogID(),
		Timestamp: time.Now().Format(time.RFC3339Nano),
		Level:     "info",
		Entity:    "worker",
		EntityID:  "worker-1",
		Message:   "Task completed",
		Queue:     "src",
	})
	if err != nil {
		fmt.Println(err)
	}
	if err := logBuffer.Stop(); err != nil {
		fmt.Println(err)
	}
	_ = logstore.ByLevel(ctx, store, logstore.LevelInfo, func(e logstore.LogEntry) error {
		fmt.Println(e.Level, e.Entity, e.Message)
		return nil
	})
	// Output: info worker Task completed
}

// A UI tails the logs: each poll returns what is new since the last one.
func ExampleTail() {
	ctx := context.Background()
	store, _ := kv.Open(ctx, kv.Config{Backend: "memory"})
	defer store.Close()
	buf := logstore.NewLogBuffer(store, 100, time.Second)
	defer buf.Stop()

	var cursor logstore.Cursor // empty: from the beginning
	for poll := range 3 {
		_ = buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: fmt.Sprint("step ", poll)})
		_ = buf.Add(logstore.LogEntry{Level: logstore.LevelWarning, Message: fmt.Sprint("slow ", poll)})
		_ = buf.Flush(ctx)
		var page []logstore.LogEntry
		page, cursor, _ = logstore.Tail(ctx, store, cursor, 100)
		for _, e := range page {
			fmt.Println(poll, e.Level, e.Message)
		}
	}
	// Output:
	// 0 info step 0
	// 0 warning slow 0
	// 1 info step 1
	// 1 warning slow 1
	// 2 info step 2
	// 2 warning slow 2
}

// Retention: delete what is older than a cut-off, level by level, as range
// deletes.
func ExampleDeleteBefore() {
	ctx := context.Background()
	store, _ := kv.Open(ctx, kv.Config{Backend: "memory"})
	defer store.Close()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := now.Add(-48 * time.Hour)
	ids := logstore.NewIDGenerator(func() time.Time { clock = clock.Add(time.Hour); return clock }, nil)
	buf := logstore.NewLogBufferOptions(store, logstore.Options{IDs: ids})
	for range 48 {
		_ = buf.Add(logstore.LogEntry{Level: logstore.LevelDebug, Message: "tick"})
	}
	_ = buf.Stop()

	if err := logstore.DeleteBefore(ctx, store, now.Add(-24*time.Hour)); err != nil {
		fmt.Println(err)
	}
	counts, _ := logstore.Count(ctx, store, logstore.Query{Levels: []logstore.Level{logstore.LevelDebug}})
	fmt.Println(counts[logstore.LevelDebug])
	// Output: 25
}
