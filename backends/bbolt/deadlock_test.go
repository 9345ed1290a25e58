package bbolt_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// bboltDefaultMapping is the mapping bbolt itself would start a new file
// with (its smallest mmap step, 32 KiB): with it, the first growth of the
// file needs a remap.
const bboltDefaultMapping = 32 << 10

// TestWriteInsideIterateNoDeadlock: a Store.Set from inside an Iterate
// callback (the migration engine does this) while the file grows to
// hundreds of times bbolt's default mapping. bbolt would remap, waiting for
// the iteration's read transaction, which waits for the write: a deadlock.
// The large initial mapping avoids the remap.
func TestWriteInsideIterateNoDeadlock(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "src%04d", 0, 200, []byte("x"))
	value := bytes.Repeat([]byte("v"), 64<<10)
	within(t, 2*time.Minute, "Set inside Iterate", func() error {
		return db.Iterate(ctx, kv.IterOptions{Prefix: []byte("src")}, func(k, _ []byte) error {
			return db.Set(ctx, append([]byte("dst"), k...), value)
		})
	})
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	grown := st.Engine.Extra["file_bytes"]
	if grown < 100*bboltDefaultMapping {
		t.Fatalf("file grew only to %d bytes: the test proves nothing", grown)
	}
	t.Logf("file grew to %d bytes (%dx bbolt's default mapping) with writes inside an iteration", grown, grown/bboltDefaultMapping)
	if n := keys(t, db, kv.IterOptions{Prefix: []byte("dst"), KeysOnly: true}); len(n) == 0 {
		t.Fatal("no key written")
	}
}

// TestWriteInsideIterateConcurrent: several goroutines iterate and write
// from their callbacks at once; each writer waits for kv's writer lock
// while holding its own read transaction, so a remap would deadlock them
// all.
func TestWriteInsideIterateConcurrent(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "src%04d", 0, 64, []byte("x"))
	value := bytes.Repeat([]byte("v"), 32<<10)
	within(t, 2*time.Minute, "concurrent Set inside Iterate", func() error {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				errs <- db.Iterate(ctx, kv.IterOptions{Prefix: []byte("src")}, func(k, _ []byte) error {
					return db.Set(ctx, fmt.Appendf(nil, "dst%d/%s", g, k), value)
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if got := keys(t, db, kv.IterOptions{Prefix: []byte("dst"), KeysOnly: true}); len(got) == 0 {
		t.Fatal("no key written")
	}
}

// TestWriteInsideIterateSmallMapping documents the limit: with the mapping
// set below what the file grows to, the same pattern deadlocks inside
// bbolt's remap. It runs in a child process with a watchdog that, if the
// iteration has not finished after a few seconds, prints every goroutine's
// stack and exits; the test expects the write stuck in bbolt's mmap.
func TestWriteInsideIterateSmallMapping(t *testing.T) {
	var stderr syncBuffer
	cmd, _, _ := startChildStderr(t, "iterate-write-small", t.TempDir(), &stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		out := stderr.String()
		stuck := strings.Contains(out, "all goroutines are asleep - deadlock") || strings.Contains(out, "watchdog: stuck")
		if stuck && strings.Contains(out, "bbolt.(*DB).mmap") {
			t.Log("as documented: a write inside an iteration deadlocks in bbolt's remap once the file outgrows initial_mmap_size")
			return
		}
		t.Fatalf("child finished (%v, stderr %.500q): bbolt no longer deadlocks on a remap under a reader; update the package documentation", err, out)
	case <-time.After(2 * time.Minute):
		t.Fatal("child neither finished nor reported by its watchdog")
	}
}

// syncBuffer is a bytes.Buffer safe for the goroutine exec copies the
// child's stderr from.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// iterateWriteSmall is the child of TestWriteInsideIterateSmallMapping.
func iterateWriteSmall(dir string) error {
	ctx := context.Background()
	db, err := bbolt.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync,
		Options: map[string]string{bbolt.OptInitialMmapSize: "0"}})
	if err != nil {
		return err
	}
	for i := range 10 {
		if err := db.Set(ctx, fmt.Appendf(nil, "src%d", i), nil); err != nil {
			return err
		}
	}
	value := bytes.Repeat([]byte("v"), 1<<20)
	watchdog := time.AfterFunc(5*time.Second, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		fmt.Fprintf(os.Stderr, "watchdog: stuck after 5s\n%s", buf[:n])
		os.Exit(3)
	})
	defer watchdog.Stop()
	err = db.Iterate(ctx, kv.IterOptions{Prefix: []byte("src")}, func(k, _ []byte) error {
		return db.Set(ctx, append([]byte("dst"), k...), value)
	})
	fmt.Println("finished", err)
	return err
}

// TestMappingHalfFullWarns: once the data file passes half of the mapping
// made at open, a write logs one warning naming initial_mmap_size, so that
// an operator hears of the remap (and the deadlock of writes inside
// iterations it brings) before it happens.
func TestMappingHalfFullWarns(t *testing.T) {
	ctx := context.Background()
	var logged syncBuffer
	logger := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.NoSync, Logger: logger,
		Options: map[string]string{bbolt.OptInitialMmapSize: "4MiB"}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const warning = "past half of its mapping"
	value := bytes.Repeat([]byte("v"), 64<<10)
	for i := range 16 { // 1 MiB: a quarter of the mapping
		if err := db.Set(ctx, fmt.Appendf(nil, "a%03d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(logged.String(), warning) {
		t.Fatalf("warned with a quarter of the mapping used: %s", logged.String())
	}
	for i := range 48 { // 3 MiB more
		if err := db.Set(ctx, fmt.Appendf(nil, "b%03d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	out := logged.String()
	if n := strings.Count(out, warning); n != 1 {
		t.Fatalf("%d warnings, want 1: %s", n, out)
	}
	if !strings.Contains(out, bbolt.OptInitialMmapSize) {
		t.Fatalf("the warning does not name %s: %s", bbolt.OptInitialMmapSize, out)
	}
}
