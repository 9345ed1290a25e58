package bbolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

func fileBytes(t testing.TB, db *kv.DB) int64 {
	t.Helper()
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Engine.Extra["file_bytes"]
}

// TestCompactShrinks: after deleting most of the data the file keeps its
// size; Compact gives the space back and keeps every live key.
func TestCompactShrinks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir, nil)
	value := bytes.Repeat([]byte("v"), 1000)
	fill(t, db, "k%06d", 0, 20000, value)
	if err := db.DeleteRange(ctx, []byte("k000100"), nil); err != nil {
		t.Fatal(err)
	}
	before := fileBytes(t, db)
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	after := fileBytes(t, db)
	t.Logf("file: %d bytes before Compact, %d after", before, after)
	if after*4 > before {
		t.Fatalf("Compact left %d of %d bytes for 0.5%% of the data", after, before)
	}
	check := func(db *kv.DB) {
		t.Helper()
		if got := count(t, db, kv.IterOptions{}); got != 100 {
			t.Fatalf("%d keys, want 100", got)
		}
		if v, err := db.Get(ctx, []byte("k000099")); err != nil || !bytes.Equal(v, value) {
			t.Fatalf("Get(k000099) = %d bytes, %v", len(v), err)
		}
	}
	check(db)
	// The store keeps working on the new file, and reopens.
	fill(t, db, "n%04d", 0, 1000, value)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, nil)
	if got := count(t, db, kv.IterOptions{Prefix: []byte("n")}); got != 1000 {
		t.Fatalf("%d n-keys after reopen", got)
	}
	if err := db.DeletePrefix(ctx, []byte("n")); err != nil {
		t.Fatal(err)
	}
	check(db)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".compact" {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
}

// TestCompactWaitsForReaders: Compact called from inside an iteration
// waits for it, and gives up when its context ends instead of deadlocking.
func TestCompactWaitsForReaders(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "k%04d", 0, 10, nil)
	within(t, time.Minute, "Compact inside Iterate", func() error {
		return db.Iterate(ctx, kv.IterOptions{Limit: 1}, func(_, _ []byte) error {
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if err := db.Compact(cctx); !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("Compact inside Iterate = %v, want DeadlineExceeded", err)
			}
			return nil
		})
	})
	err := db.View(ctx, func(kv.ReadTxn) error {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := db.Compact(cctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Compact inside View = %v, want Canceled", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatalf("Compact once the readers are gone: %v", err)
	}
	if got := count(t, db, kv.IterOptions{}); got != 10 {
		t.Fatalf("%d keys", got)
	}
}

// TestCompactInsideViewFails: Compact made with the context of a View of
// the same store, which it would wait for, fails at once with
// kv.ErrNestedCall, where it retried until its context ended: for ever
// without a deadline. The View goes on, and Compact works once it has
// returned.
func TestCompactInsideViewFails(t *testing.T) {
	db := open(t, "", nil)
	fill(t, db, "k%04d", 0, 10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // before open's Close: ends a Compact that waits
	within(t, 5*time.Second, "Compact inside View with its context", func() error {
		return db.View(ctx, func(tx kv.ReadTxn) error {
			derived, stop := context.WithCancel(tx.Context())
			defer stop()
			for how, c := range map[string]context.Context{"the ReadTxn's context": tx.Context(), "a context derived from it": derived} {
				if err := db.Compact(c); !errors.Is(err, kv.ErrNestedCall) {
					return fmt.Errorf("Compact inside View with %s = %v, want ErrNestedCall", how, err)
				}
			}
			_, err := tx.Get([]byte("k0001"))
			return err
		})
	})
	if err := db.Compact(ctx); err != nil {
		t.Fatalf("Compact after the View: %v", err)
	}
	if got := count(t, db, kv.IterOptions{}); got != 10 {
		t.Fatalf("%d keys", got)
	}
}

// TestCompactAlongsideWriteInIterate: an iteration whose callback writes
// (allowed on bbolt, TestWriteInsideIterateNoDeadlock) while another
// goroutine compacts. Compact used to wait for the iteration to end while
// holding kv's writer lock, which the callback's write waits for: both
// waited for ever, and every later writer and Close with them. Now Compact
// waits without the lock, and both finish.
func TestCompactAlongsideWriteInIterate(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "k%04d", 0, 20, nil)
	inCallback, compacting := make(chan struct{}), make(chan struct{})
	iterDone, compactDone := make(chan error, 1), make(chan error, 1)
	go func() {
		first := true
		iterDone <- db.Iterate(ctx, kv.IterOptions{Prefix: []byte("k")}, func(k, v []byte) error {
			if first {
				first = false
				close(inCallback)
				<-compacting
				time.Sleep(50 * time.Millisecond) // Compact is waiting for this iteration
			}
			return db.Set(ctx, append([]byte("copy/"), k...), v)
		})
	}()
	<-inCallback
	go func() { close(compacting); compactDone <- db.Compact(ctx) }()
	within(t, 20*time.Second, "Compact alongside a write inside an iteration", func() error {
		return errors.Join(<-iterDone, <-compactDone)
	})
	if got := count(t, db, kv.IterOptions{Prefix: []byte("copy/")}); got != 20 {
		t.Fatalf("%d keys written by the callback, want 20", got)
	}
}

// TestCompactConcurrent: writers, readers and iterations run while the
// store is compacted several times; nothing is lost and nothing fails.
func TestCompactConcurrent(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "base%05d", 0, 5000, bytes.Repeat([]byte("b"), 100))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	written := make([]int, 2)
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					written[w] = i
					return
				default:
				}
				k := fmt.Appendf(nil, "w%d/%06d", w, i)
				if err := db.Set(ctx, k, k); err != nil {
					errs <- fmt.Errorf("Set: %w", err)
					return
				}
				if v, err := db.Get(ctx, k); err != nil || !bytes.Equal(v, k) {
					errs <- fmt.Errorf("Get(%s) = %q, %v", k, v, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := 0
			err := db.Iterate(ctx, kv.IterOptions{Prefix: []byte("base"), KeysOnly: true}, func(_, _ []byte) error { n++; return nil })
			if err != nil || n != 5000 {
				errs <- fmt.Errorf("Iterate: %d keys, %v", n, err)
				return
			}
		}
	})
	for range 3 {
		if err := db.Compact(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w, n := range written {
		if got := count(t, db, kv.IterOptions{Prefix: fmt.Appendf(nil, "w%d/", w)}); got != n {
			t.Errorf("writer %d: %d keys, wrote %d", w, got, n)
		}
	}
}

// TestCompactLeftoverRemoved: a copy left by an interrupted Compact is
// removed by the next open, and the data file is untouched.
func TestCompactLeftoverRemoved(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, nil)
	fill(t, db, "k%04d", 0, 100, nil)
	db.Close()
	leftover := filepath.Join(dir, bbolt.DataFileName+".compact")
	if err := os.WriteFile(leftover, []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, nil)
	if got := count(t, db, kv.IterOptions{}); got != 100 {
		t.Fatalf("%d keys", got)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover copy still there: %v", err)
	}
}

func TestCompactReadOnly(t *testing.T) {
	dir := newStoreDir(t)
	db, err := bbolt.Open(context.Background(), kv.Config{Path: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Compact(context.Background()); !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("Compact of a read-only store: %v", err)
	}
	if err := db.Engine().(kv.Compacter).Compact(context.Background()); !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("engine Compact of a read-only store: %v", err)
	}
}

// TestCompactKilled: a child compacts in a loop, with a write between
// compactions, and is killed at random moments; the store must always
// reopen with every base key and every acknowledged write.
func TestCompactKilled(t *testing.T) {
	cycles := 3
	if stress() {
		cycles = 50
	}
	dir := t.TempDir()
	db := open(t, dir, nil)
	fill(t, db, "base%05d", 0, 20000, bytes.Repeat([]byte("b"), 100))
	db.Close()
	rng := rand.New(rand.NewPCG(3, 5))
	for cycle := range cycles {
		cmd, _, stdout := startChild(t, "compactor", dir)
		killAt := rng.IntN(5)
		acked := -1
		for acked < killAt {
			line, err := stdout.ReadString('\n')
			if err != nil {
				t.Fatalf("cycle %d: child stopped after ack %d: %v", cycle, acked, err)
			}
			if acked, err = strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "ack ")); err != nil {
				t.Fatalf("cycle %d: child said %q", cycle, line)
			}
		}
		// Kill somewhere inside the compaction that follows the ack.
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		db, err := bbolt.Open(context.Background(), kv.Config{Path: dir})
		if err != nil {
			t.Fatalf("cycle %d: reopen after kill during compaction: %v", cycle, err)
		}
		if got := count(t, db, kv.IterOptions{Prefix: []byte("base")}); got != 20000 {
			t.Fatalf("cycle %d: %d base keys, want 20000", cycle, got)
		}
		for i := 0; i <= acked; i++ {
			if _, err := db.Get(context.Background(), fmt.Appendf(nil, "c%08d", i)); err != nil {
				t.Fatalf("cycle %d: acked write %d: %v", cycle, i, err)
			}
		}
		db.Close()
	}
}
