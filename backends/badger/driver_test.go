package badger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	rawbadger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/skl"
	"golang.org/x/sys/unix"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
)

// captureStderr runs fn with file descriptor 2 (and os.Stderr) redirected
// to a file, and returns what was written there.
func captureStderr(tb testing.TB, fn func()) string {
	tb.Helper()
	f, err := os.CreateTemp(tb.TempDir(), "stderr")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	saved, err := unix.Dup(2)
	if err != nil {
		tb.Fatal(err)
	}
	savedFile := os.Stderr
	if err := unix.Dup2(int(f.Fd()), 2); err != nil {
		tb.Fatal(err)
	}
	os.Stderr = f
	func() {
		defer func() {
			os.Stderr = savedFile
			unix.Dup2(saved, 2)
			unix.Close(saved)
		}()
		fn()
	}()
	out, err := os.ReadFile(f.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

// TestQuiet opens, writes, reopens (replaying the log) and closes a store
// with nothing on stderr, while a logger given in the config receives
// Badger's lines.
func TestQuiet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logged bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	out := captureStderr(t, func() {
		for i := range 2 {
			cfg := kv.Config{Path: dir, Durability: kv.NoSync}
			if i == 1 {
				cfg.Logger = logger
			}
			db, err := badger.Open(ctx, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			for j := range 100 {
				if err := db.Set(ctx, fmt.Appendf(nil, "k%d", j), []byte("v")); err != nil {
					t.Error(err)
				}
			}
			if err := db.Sync(); err != nil {
				t.Error(err)
			}
			if err := db.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	if out != "" {
		t.Errorf("badger wrote to stderr:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "engine=badger") {
		t.Errorf("the configured logger received nothing from badger:\n%s", logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func TestOptions(t *testing.T) {
	ok := []map[string]string{
		{"compression": "none", "block_cache_size": "0"},
		{"compression": "zstd", "zstd_level": "3"},
		{"compression": "SNAPPY"},
		{"value_threshold": "1KiB", "num_memtables": "2", "index_cache_size": "0"},
		{"memtable_size": "128MiB", "num_compactors": "2", "value_log_file_size": "64MiB"},
		{"verify_value_checksum": "true", "compact_l0_on_close": "true", "prefetch_size": "100"},
	}
	for _, opts := range ok {
		t.Run(fmt.Sprint(opts), func(t *testing.T) {
			db := openStore(t, "", opts)
			if err := db.Set(context.Background(), []byte("k"), []byte("v")); err != nil {
				t.Fatal(err)
			}
		})
	}
	bad := []struct {
		opts map[string]string
		want []string // substrings of the message
	}{
		{map[string]string{"cache": "1"}, []string{`"cache"`, "accepted:", "block_cache_size", "value_threshold"}},
		{map[string]string{"compression": "lz4"}, []string{"compression", "lz4", "zstd"}},
		{map[string]string{"block_cache_size": "0"}, []string{"block_cache_size=0", "compression=none"}},
		{map[string]string{"zstd_level": "3"}, []string{"zstd_level", "compression=zstd"}},
		{map[string]string{"value_threshold": "2MiB"}, []string{"value_threshold"}},
		{map[string]string{"value_threshold": "big"}, []string{"value_threshold", "size"}},
		{map[string]string{"num_compactors": "1"}, []string{"num_compactors"}},
		{map[string]string{"memtable_size": "16MiB"}, []string{"memtable_size"}},
		{map[string]string{"num_memtables": "0"}, []string{"num_memtables"}},
		{map[string]string{"value_log_file_size": "2GiB"}, []string{"value_log_file_size"}},
		{map[string]string{"prefetch_size": "-1"}, []string{"prefetch_size"}},
	}
	for _, c := range bad {
		t.Run(fmt.Sprint(c.opts), func(t *testing.T) {
			dir := t.TempDir()
			db, err := badger.Open(context.Background(), kv.Config{Path: dir, Options: c.opts})
			if err == nil {
				db.Close()
				t.Fatal("open succeeded")
			}
			if !errors.Is(err, kv.ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// Nothing of Badger's was created.
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".vlog") || e.Name() == "MANIFEST" {
					t.Errorf("refused open left %s", e.Name())
				}
			}
		})
	}
}

// arenaSize is the memory Badger allocates up front for one memtable
// (badger db.go, arenaSize), computed here from Badger's own constant.
func arenaSize(memTableSize int64) int64 {
	maxBatchSize := 15 * memTableSize / 100
	return memTableSize + maxBatchSize + maxBatchSize/int64(skl.MaxNodeSize)*int64(skl.MaxNodeSize)
}

// TestMemorySplit checks the default split against the memory Badger
// really holds: NumMemtables+2 memtable arenas (the one taking writes,
// those queued, the one being flushed), the level-0 table the flush builds
// in memory (uncompressed blocks and their compressed copies, a memtable's
// worth each) and the two caches. From the smallest budget that holds the
// fixed part and an eighth for the caches, the total stays within the
// budget; below it the split is the smallest Badger works with.
func TestMemorySplit(t *testing.T) {
	const mib = 1 << 20
	fixed := 3*arenaSize(badger.DefaultMemTableSize) + 2*badger.DefaultMemTableSize
	floor := fixed * 8 / 7 // the caches' eighth on top of the fixed part
	cases := []struct {
		budget       int64
		numMemtables int
		caches       int64 // block + index cache, to the MiB
	}{
		{0, 1, 32 * mib}, // kv.DefaultMemoryBudget
		{16 * mib, 1, 2 * mib},
		{128 * mib, 1, 16 * mib},
		{256 * mib, 1, 32 * mib},
		{floor - mib, 1, (floor - mib) / 8},
		{floor + mib, 1, floor + mib - fixed},
		{512 * mib, 2, 512*mib - 4*arenaSize(badger.DefaultMemTableSize) - 2*badger.DefaultMemTableSize},
		{1 << 30, 5, 1<<30 - 7*arenaSize(badger.DefaultMemTableSize) - 2*badger.DefaultMemTableSize},
		{8 << 30, 5, 8<<30 - 7*arenaSize(badger.DefaultMemTableSize) - 2*badger.DefaultMemTableSize},
	}
	for _, c := range cases {
		n, mt, bc, ic := badger.MemorySplit(c.budget)
		if n != c.numMemtables {
			t.Errorf("budget %d MiB: %d memtables, want %d", c.budget/mib, n, c.numMemtables)
		}
		if mt != badger.DefaultMemTableSize || bc <= 0 || ic <= 0 || bc < ic {
			t.Errorf("budget %d MiB: memtable %d, caches %d+%d", c.budget/mib, mt, bc, ic)
		}
		if got := bc + ic; got/mib != c.caches/mib {
			t.Errorf("budget %d MiB: caches %d MiB, want %d MiB", c.budget/mib, got/mib, c.caches/mib)
		}
		budget := c.budget
		if budget == 0 {
			budget = kv.DefaultMemoryBudget
		}
		total := int64(n+2)*arenaSize(mt) + 2*mt + bc + ic
		if budget >= floor && total > budget {
			t.Errorf("budget %d MiB: split holds %d MiB", budget/mib, total/mib)
		}
		if budget < floor && n != 1 {
			t.Errorf("budget %d MiB below the %d MiB floor: %d memtables queued, want 1", budget/mib, floor/mib, n)
		}
	}
	// The floor is where the fixed part meets the budget: 56 MiB
	// memtables of 72.8 MiB arenas and a 112 MiB flush make 330.4 MiB,
	// 377.6 MiB with the caches' eighth.
	if floor/mib != 377 {
		t.Errorf("floor %d MiB, want 377 MiB", floor/mib)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t, dir, nil)
	if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Two read-only opens at once share the directory.
	var ros []*kv.DB
	for range 2 {
		ro, err := badger.Open(ctx, kv.Config{Path: dir, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		ros = append(ros, ro)
	}
	for _, ro := range ros {
		if v, err := ro.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
			t.Fatalf("read-only get: %q, %v", v, err)
		}
		if err := ro.Set(ctx, []byte("k"), nil); !errors.Is(err, kv.ErrReadOnly) {
			t.Fatalf("read-only set: %v, want ErrReadOnly", err)
		}
		if err := ro.Compact(ctx); !errors.Is(err, kv.ErrReadOnly) {
			t.Fatalf("read-only compact: %v, want ErrReadOnly", err)
		}
		if err := ro.Sync(); err != nil {
			t.Fatalf("read-only sync: %v", err)
		}
	}
}

func TestLocked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t, dir, nil)
	if _, err := badger.Open(ctx, kv.Config{Path: dir}); !errors.Is(err, kv.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A program using Badger directly holds the directory.
	opts := rawbadger.DefaultOptions(dir).WithLogger(nil)
	raw, err := rawbadger.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := badger.Open(ctx, kv.Config{Path: dir}); !errors.Is(err, kv.ErrLocked) {
		t.Fatalf("open while raw badger holds the directory: %v, want ErrLocked", err)
	}
}

func TestAfterClose(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, "", nil)
	if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	e := db.Engine()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := db.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	// The engine itself refuses too (Badger would panic on an iterator).
	if _, err := e.Get([]byte("k"), nil); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("engine get after close: %v", err)
	}
	if _, err := e.NewIter(kv.IterRange{}); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("engine iterator after close: %v", err)
	}
	if _, err := e.NewSnapshot(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("engine snapshot after close: %v", err)
	}
	if err := e.Apply(ctx, new(kv.Batch)); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("engine apply after close: %v", err)
	}
	if err := e.Sync(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("engine sync after close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("engine close twice: %v", err)
	}
}

// TestCounter runs concurrent read-increment-write Updates on one key:
// with conflict detection off, kv's writer lock alone keeps it exact, and
// no Update fails with a conflict.
func TestCounter(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, "", nil)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := db.Update(ctx, func(tx kv.Txn) error {
					n := 0
					v, err := tx.Get([]byte("n"))
					if err == nil {
						fmt.Sscan(string(v), &n)
					} else if !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					return tx.Set([]byte("n"), fmt.Append(nil, n+1))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	v, err := db.Get(ctx, []byte("n"))
	if err != nil || string(v) != fmt.Sprint(workers*each) {
		t.Fatalf("counter %q, %v; want %d", v, err, workers*each)
	}
}

// TestSyncReopen writes under NoSync, syncs, and finds everything after a
// reopen, including writes spread over several memtables.
func TestSyncReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t, dir, map[string]string{"memtable_size": "56MiB", "num_memtables": "2"})
	val := bytes.Repeat([]byte("x"), 512<<10)
	w := kv.NewBulkWriter(ctx, db)
	const n = 150 // about 75 MiB: more than one memtable
	for i := range n {
		if err := w.Set(fmt.Appendf(nil, "k%04d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats()
	if err != nil || st.Engine.DiskBytes < n*int64(len(val))/2 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openStore(t, dir, nil)
	got := 0
	err = db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
		if !bytes.Equal(v, val) {
			return fmt.Errorf("value of %q has %d bytes", k, len(v))
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("after reopen: %d keys, %v; want %d", got, err, n)
	}
}
