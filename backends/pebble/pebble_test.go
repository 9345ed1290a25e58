package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

// open opens a fresh store in a temporary directory (NoSync: the tests that
// need Sync say so) and closes it at the end of the test.
func open(t testing.TB, mod ...func(*kv.Config)) (*kv.DB, kv.Config) {
	t.Helper()
	cfg := kv.Config{Path: t.TempDir(), Durability: kv.NoSync}
	for _, m := range mod {
		m(&cfg)
	}
	db, err := pebble.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, cfg
}

func reopen(t testing.TB, db *kv.DB, cfg kv.Config) *kv.DB {
	t.Helper()
	require.NoError(t, db.Close())
	db2, err := pebble.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { db2.Close() })
	return db2
}

func key(i int) []byte { return fmt.Appendf(nil, "k%08d", i) }

func fill(t testing.TB, db kv.Store, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	w := kv.NewBulkWriter(ctx, db)
	for i := range n {
		require.NoError(t, w.Set(fmt.Appendf(nil, "%s%08d", prefix, i), fmt.Appendf(nil, "value-%d", i)))
	}
	require.NoError(t, w.Close())
}

// count counts the keys with prefix in r, a kv.ReadTxn or a kv.Store.
func count(t testing.TB, r any, prefix string) int {
	t.Helper()
	if s, ok := r.(kv.Store); ok {
		var n int
		require.NoError(t, s.View(context.Background(), func(tx kv.ReadTxn) error {
			n = count(t, tx, prefix)
			return nil
		}))
		return n
	}
	n := 0
	require.NoError(t, r.(kv.ReadTxn).Iterate(kv.IterOptions{Prefix: []byte(prefix), KeysOnly: true}, func(k, v []byte) error {
		n++
		return nil
	}))
	return n
}

func TestGuaranteesAndInfo(t *testing.T) {
	db, cfg := open(t)
	info := db.Info()
	require.Equal(t, "pebble", info.Backend)
	require.Equal(t, cfg.Path, info.Path)
	require.Equal(t, kv.Guarantees{Persistent: true, NoSyncKeepsAckedOnKill: false, AtomicDeleteRange: true, ReadOnlyOpenAfterKill: true, DetectsValueDamage: true}, info.Guarantees)
	require.Contains(t, kv.Backends(), "pebble")
}

// Pebble's Get returns a slice valid only until its closer runs; the
// engine must copy it. Mutating what Get returned must not change the
// store, on the latest state and in a snapshot.
func TestGetReturnsACopy(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	k, want := []byte("key"), []byte("the value")
	require.NoError(t, db.Set(ctx, k, want))
	for range 3 {
		v, err := db.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, want, v)
		for i := range v {
			v[i] = 'X'
		}
	}
	require.NoError(t, db.View(ctx, func(tx kv.ReadTxn) error {
		v, err := tx.Get(k)
		require.NoError(t, err)
		clear(v)
		v, err = tx.Get(k)
		require.NoError(t, err)
		require.Equal(t, want, v)
		return nil
	}))
	// Through the engine directly, with a dst to append to.
	e := db.Engine()
	dst := []byte("prefix:")
	v, err := e.Get(k, dst)
	require.NoError(t, err)
	require.Equal(t, "prefix:the value", string(v))
	// Many Gets of other keys in between reuse Pebble's buffers: the values
	// handed out earlier must not change.
	var held [][]byte
	for i := range 100 {
		require.NoError(t, db.Set(ctx, key(i), bytes.Repeat([]byte{byte(i)}, 100)))
	}
	for i := range 100 {
		v, err := db.Get(ctx, key(i))
		require.NoError(t, err)
		held = append(held, v)
	}
	for i, v := range held {
		require.Equal(t, bytes.Repeat([]byte{byte(i)}, 100), v, "value %d changed after later reads", i)
	}
}

func TestNotFoundAndEmptyValue(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	_, err := db.Get(ctx, []byte("missing"))
	require.ErrorIs(t, err, kv.ErrNotFound)
	_, err = db.Engine().Get([]byte("missing"), nil)
	require.ErrorIs(t, err, kv.ErrNotFound)
	require.NoError(t, db.Set(ctx, []byte("empty"), nil))
	v, err := db.Get(ctx, []byte("empty"))
	require.NoError(t, err)
	require.NotNil(t, v)
	require.Empty(t, v)
}

// A committed batch is visible to the next read as soon as Commit returns,
// which is what makes Update (latest state + buffered writes, writers
// serialized) serializable.
func TestReadsSeeCommitAtOnce(t *testing.T) {
	ctx := context.Background()
	for _, d := range []kv.Durability{kv.Sync, kv.NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			db, _ := open(t, func(c *kv.Config) { c.Durability = d })
			n := 200
			if d == kv.Sync {
				n = 20
			}
			for i := range n {
				v := fmt.Appendf(nil, "%d", i)
				require.NoError(t, db.Set(ctx, []byte("c"), v))
				got, err := db.Get(ctx, []byte("c"))
				require.NoError(t, err)
				require.Equal(t, v, got)
			}
			// Concurrent read-increment-write ends exact.
			const workers, incs = 4, 25
			require.NoError(t, db.Set(ctx, []byte("n"), []byte("0")))
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range incs {
						err := db.Update(ctx, func(tx kv.Txn) error {
							v, err := tx.Get([]byte("n"))
							if err != nil {
								return err
							}
							var x int
							fmt.Sscan(string(v), &x)
							return tx.Set([]byte("n"), fmt.Appendf(nil, "%d", x+1))
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
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(workers*incs), string(v))
		})
	}
}

func TestIterateBoundsAndReverse(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	for _, k := range []string{"a", "a\x00", "ab", "b", "b\xff", "b\xff\xff", "c", "\xff", "\xff\xff"} {
		require.NoError(t, db.Set(ctx, []byte(k), []byte("v:"+k)))
	}
	scan := func(o kv.IterOptions) string {
		var out []string
		require.NoError(t, db.Iterate(ctx, o, func(k, v []byte) error {
			if !o.KeysOnly {
				require.Equal(t, "v:"+string(k), string(v))
			}
			out = append(out, fmt.Sprintf("%q", k))
			return nil
		}))
		return strings.Join(out, " ")
	}
	tests := []struct {
		name string
		o    kv.IterOptions
		want string
	}{
		{"all", kv.IterOptions{}, `"a" "a\x00" "ab" "b" "b\xff" "b\xff\xff" "c" "\xff" "\xff\xff"`},
		{"all reverse", kv.IterOptions{Reverse: true}, `"\xff\xff" "\xff" "c" "b\xff\xff" "b\xff" "b" "ab" "a\x00" "a"`},
		{"prefix a", kv.IterOptions{Prefix: []byte("a")}, `"a" "a\x00" "ab"`},
		{"prefix b reverse", kv.IterOptions{Prefix: []byte("b"), Reverse: true}, `"b\xff\xff" "b\xff" "b"`},
		{"prefix ff", kv.IterOptions{Prefix: []byte("\xff")}, `"\xff" "\xff\xff"`},
		{"prefix ff reverse", kv.IterOptions{Prefix: []byte("\xff"), Reverse: true, KeysOnly: true}, `"\xff\xff" "\xff"`},
		{"start end", kv.IterOptions{Start: []byte("ab"), End: []byte("c")}, `"ab" "b" "b\xff" "b\xff\xff"`},
		{"start end reverse", kv.IterOptions{Start: []byte("ab"), End: []byte("c"), Reverse: true}, `"b\xff\xff" "b\xff" "b" "ab"`},
		{"limit", kv.IterOptions{Limit: 2, Reverse: true}, `"\xff\xff" "\xff"`},
		{"empty range", kv.IterOptions{Start: []byte("c"), End: []byte("b")}, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, scan(tc.o))
		})
	}
}

// Pebble keeps an iterator's bounds; a caller that reuses its Start buffer
// inside the callback (a common paging pattern) must not disturb the
// running iteration.
func TestIterateBoundsCopied(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	fill(t, db, "p", 50)
	for _, rev := range []bool{false, true} {
		start := []byte("p00000010")
		end := []byte("p00000040")
		n := 0
		require.NoError(t, db.Iterate(ctx, kv.IterOptions{Start: start, End: end, Reverse: rev}, func(k, v []byte) error {
			n++
			copy(start, "p99999999")
			copy(end, "p00000000")
			return nil
		}))
		require.Equal(t, 30, n)
	}
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	db, cfg := open(t)
	fill(t, db, "x", 1000)
	require.NoError(t, db.DeletePrefix(ctx, []byte("x000001")))
	db = reopen(t, db, cfg)
	require.NoError(t, db.View(ctx, func(tx kv.ReadTxn) error {
		require.Equal(t, 900, count(t, tx, "x"))
		return nil
	}))
	v, err := db.Get(ctx, []byte("x00000999"))
	require.NoError(t, err)
	require.Equal(t, "value-999", string(v))
}

// A range deletion is one tombstone: a reader sees all the range or none of
// it, never a part.
func TestDeleteRangeAtomicForReaders(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	const n = 10000 // more than kv's chunk of a generic range delete
	fill(t, db, "r", n)
	var stop atomic.Bool
	var wg sync.WaitGroup
	seen := map[int]bool{}
	var mu sync.Mutex
	wg.Go(func() {
		for !stop.Load() {
			var c int
			err := db.View(ctx, func(tx kv.ReadTxn) error {
				c = count(t, tx, "r")
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[c] = true
			mu.Unlock()
			if c == 0 {
				return
			}
		}
	})
	require.NoError(t, db.DeletePrefix(ctx, []byte("r")))
	wg.Wait()
	stop.Store(true)
	for c := range seen {
		require.Contains(t, []int{0, n}, c, "a reader saw %d keys of a range being deleted", c)
	}
	require.Equal(t, 0, count(t, db, "r"))
}

func TestDeleteRangeBounds(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	keys := []string{"\x00", "\x00\x00", "a", "b", "c", "\xff", "\xff\xff\xff"}
	reset := func() {
		require.NoError(t, db.DeleteRange(ctx, nil, nil))
		for _, k := range keys {
			require.NoError(t, db.Set(ctx, []byte(k), nil))
		}
	}
	left := func() string {
		var out []string
		require.NoError(t, db.Iterate(ctx, kv.IterOptions{KeysOnly: true}, func(k, _ []byte) error {
			out = append(out, fmt.Sprintf("%q", k))
			return nil
		}))
		return strings.Join(out, " ")
	}
	tests := []struct {
		start, end string
		want       string
	}{
		{"", "", ``},
		{"", "b", `"b" "c" "\xff" "\xff\xff\xff"`},
		{"b", "", `"\x00" "\x00\x00" "a"`},
		{"a", "c", `"\x00" "\x00\x00" "c" "\xff" "\xff\xff\xff"`},
		{"c", "a", `"\x00" "\x00\x00" "a" "b" "c" "\xff" "\xff\xff\xff"`},
		{"\xff", "", `"\x00" "\x00\x00" "a" "b" "c"`},
	}
	for _, tc := range tests {
		reset()
		var s, e []byte
		if tc.start != "" {
			s = []byte(tc.start)
		}
		if tc.end != "" {
			e = []byte(tc.end)
		}
		require.NoError(t, db.DeleteRange(ctx, s, e))
		require.Equal(t, tc.want, left(), "DeleteRange(%q, %q)", tc.start, tc.end)
	}
	// The largest key is deleted by an unbounded range too.
	reset()
	big := bytes.Repeat([]byte{0xff}, kv.MaxKeySize)
	require.NoError(t, db.Set(ctx, big, []byte("v")))
	require.NoError(t, db.DeletePrefix(ctx, []byte{0xff}))
	_, err := db.Get(ctx, big)
	require.ErrorIs(t, err, kv.ErrNotFound)
}

// The largest transaction kv allows commits, with the smallest budget (the
// batch is larger than half a memtable: Pebble's flushable-batch path) and
// the default one; one byte more is refused before Pebble sees it.
func TestLargestBatch(t *testing.T) {
	ctx := context.Background()
	for _, budget := range []int64{kv.MinMemoryBudget, kv.DefaultMemoryBudget} {
		t.Run(fmt.Sprint(budget>>20, "MiB"), func(t *testing.T) {
			db, cfg := open(t, func(c *kv.Config) { c.MemoryBudget = budget })
			var b kv.Batch
			val := bytes.Repeat([]byte("v"), 64<<10)
			i := 0
			for {
				k := key(i)
				if !b.Fits(k, val) {
					break
				}
				require.NoError(t, b.Set(k, val))
				i++
			}
			// Top up to the exact limit with a smaller value.
			rest := kv.MaxTxnBytes - b.Size() - kv.EntrySize(key(i), nil)
			if rest >= 0 {
				require.NoError(t, b.Set(key(i), bytes.Repeat([]byte("w"), rest)))
				i++
			}
			require.Equal(t, kv.MaxTxnBytes, b.Size())
			require.ErrorIs(t, b.Set([]byte("one more"), nil), kv.ErrTxnTooLarge)
			require.NoError(t, db.Write(ctx, &b))
			db = reopen(t, db, cfg)
			require.Equal(t, i, count(t, db, "k"))
			err := db.Update(ctx, func(tx kv.Txn) error {
				for j := 0; ; j++ {
					if err := tx.Set(fmt.Appendf(nil, "u%08d", j), val); err != nil {
						return err
					}
				}
			})
			require.ErrorIs(t, err, kv.ErrTxnTooLarge)
			require.Equal(t, 0, count(t, db, "u"))
		})
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	db, cfg := open(t)
	require.NoError(t, db.Set(ctx, []byte("k"), []byte("v")))
	require.NoError(t, db.Close())
	cfg.ReadOnly = true
	ro, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer ro.Close()
	v, err := ro.Get(ctx, []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.ErrorIs(t, ro.Set(ctx, []byte("k"), nil), kv.ErrReadOnly)
	require.ErrorIs(t, ro.DeletePrefix(ctx, nil), kv.ErrReadOnly)
	require.ErrorIs(t, ro.Compact(ctx), kv.ErrReadOnly)
	require.NoError(t, ro.Sync())
	// Through the engine too (bypassing kv's checks): Pebble's read-only
	// error is translated.
	require.ErrorIs(t, ro.Engine().(kv.RangeDeleter).DeleteRange(ctx, []byte("a"), nil), kv.ErrReadOnly)
}

func TestLocked(t *testing.T) {
	ctx := context.Background()
	db, cfg := open(t)
	_, err := pebble.Open(ctx, cfg)
	require.ErrorIs(t, err, kv.ErrLocked)
	// Pebble's own LOCK, met when kv's lock is bypassed (a driver used
	// directly): kv.ErrLocked too, not an opaque error.
	_, err = pebble.Driver{}.Open(ctx, cfg.Path, &cfg)
	require.ErrorIs(t, err, kv.ErrLocked)
	require.NoError(t, db.Close())
	// Read-only Stores share the directory (Pebble's own LOCK is not taken
	// for them); a writer is refused while one is open.
	cfg.ReadOnly = true
	ro, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer ro.Close()
	ro2, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, ro2.Close())
	cfg.ReadOnly = false
	_, err = pebble.Open(ctx, cfg)
	require.ErrorIs(t, err, kv.ErrLocked)
}

func TestFormatMajorVersionPinned(t *testing.T) {
	db, cfg := open(t)
	require.NoError(t, db.Set(context.Background(), []byte("k"), nil))
	require.NoError(t, db.Close())
	desc, err := cpebble.Peek(cfg.Path, vfs.Default)
	require.NoError(t, err)
	require.True(t, desc.Exists)
	require.Equal(t, pebble.FormatMajorVersion, desc.FormatMajorVersion)
	require.LessOrEqual(t, pebble.FormatMajorVersion, cpebble.FormatNewest)
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	bad := []struct {
		opts map[string]string
		want []string
	}{
		{map[string]string{"cache_size": "1"}, []string{`"cache_size"`, "compression", "bloom_bits_per_key", "max_open_files"}},
		{map[string]string{"compression": "lz4"}, []string{"compression", `"lz4"`, "snappy", "zstd"}},
		{map[string]string{"free_space_reserve": "lots"}, []string{"free_space_reserve", `"lots"`, "size"}},
		{map[string]string{"bloom_bits_per_key": "-1"}, []string{"bloom_bits_per_key", "0 to 32"}},
		{map[string]string{"bytes_per_sync": "lots"}, []string{"bytes_per_sync"}},
		{map[string]string{"l0_compaction_threshold": "8", "l0_stop_writes_threshold": "4"}, []string{"l0_stop_writes_threshold=4", "l0_compaction_threshold=8"}},
	}
	for _, tc := range bad {
		dir := t.TempDir()
		_, err := pebble.Open(ctx, kv.Config{Path: dir, Options: tc.opts})
		require.ErrorIs(t, err, kv.ErrInvalidConfig)
		for _, w := range tc.want {
			require.Contains(t, err.Error(), w)
		}
		require.True(t, strings.HasPrefix(err.Error(), "kv: invalid config: pebble"), err.Error())
		// Through kv.Open the driver refuses it too.
		_, err = kv.Open(ctx, kv.Config{Backend: "pebble", Path: dir, Options: tc.opts})
		require.ErrorIs(t, err, kv.ErrInvalidConfig)
	}
	good := map[string]string{
		"compression": "ZSTD", "bloom_bits_per_key": "0", "bytes_per_sync": "1048576",
		"wal_bytes_per_sync": "65536", "l0_compaction_threshold": "2", "l0_stop_writes_threshold": "20",
		"max_concurrent_compactions": "2", "max_open_files": "500", "free_space_reserve": "64MiB",
	}
	require.ElementsMatch(t, pebble.OptionKeys(), func() []string {
		var ks []string
		for k := range good {
			ks = append(ks, k)
		}
		return ks
	}())
	db, _ := open(t, func(c *kv.Config) { c.Options = good })
	fill(t, db, "o", 1000)
	require.NoError(t, db.Compact(ctx))
	require.Equal(t, 1000, count(t, db, "o"))
}

func TestCompactAndStats(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	val := bytes.Repeat([]byte("incompressible?"), 1)
	w := kv.NewBulkWriter(ctx, db)
	for i := range 20000 {
		v := fmt.Appendf(append([]byte{}, val...), "%d-%x", i, i*7919)
		require.NoError(t, w.Set(key(i), bytes.Repeat(v, 10)))
	}
	require.NoError(t, w.Close())
	require.NoError(t, db.Compact(ctx)) // flushes the memtable into tables
	st, err := db.Stats()
	require.NoError(t, err)
	require.Equal(t, "pebble", st.Backend)
	full := st.Engine.Extra["table_bytes"]
	require.Greater(t, full, int64(256<<10))
	require.Greater(t, st.Engine.DiskBytes, full)
	require.Positive(t, st.Engine.Extra["table_count"])
	require.LessOrEqual(t, st.Engine.MemoryBytes, db.Info().MemoryBudget)

	require.NoError(t, db.DeletePrefix(ctx, []byte("k")))
	require.NoError(t, db.Compact(ctx))
	st, err = db.Stats()
	require.NoError(t, err)
	require.Less(t, st.Engine.Extra["table_bytes"], full/100, "compaction after a range delete should reclaim space")
	require.Equal(t, 0, count(t, db, "k"))

	ctxc, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, db.Compact(ctxc), context.Canceled)
}

// A small budget bounds the block cache and memtables together, even after
// more data than the budget went through them.
func TestMemoryBudgetRespected(t *testing.T) {
	ctx := context.Background()
	const budget = kv.MinMemoryBudget
	db, _ := open(t, func(c *kv.Config) { c.MemoryBudget = budget })
	n := 20000
	if testing.Short() {
		n = 5000
	}
	val := bytes.Repeat([]byte("m"), 2000)
	w := kv.NewBulkWriter(ctx, db)
	for i := range n {
		require.NoError(t, w.Set(key(i), val))
	}
	require.NoError(t, w.Close())
	for i := 0; i < n; i += 7 {
		_, err := db.Get(ctx, key(i))
		require.NoError(t, err)
	}
	st, err := db.Stats()
	require.NoError(t, err)
	t.Logf("after %d MiB written and read: cache %d KiB, memtables %d KiB (budget %d KiB)",
		n*len(val)>>20, st.Engine.Extra["block_cache_bytes"]>>10, st.Engine.Extra["memtable_bytes"]>>10, budget>>10)
	require.Positive(t, st.Engine.Extra["block_cache_bytes"])
	require.LessOrEqual(t, st.Engine.MemoryBytes, int64(budget))
}

func TestCloseIdempotentAndErrClosed(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	require.NoError(t, db.Set(ctx, []byte("k"), []byte("v")))
	e := db.Engine()
	require.NoError(t, db.Close())
	require.NoError(t, db.Close())
	require.NoError(t, e.Close(), "engine Close twice")

	_, err := db.Get(ctx, []byte("k"))
	require.ErrorIs(t, err, kv.ErrClosed)
	require.ErrorIs(t, db.Set(ctx, []byte("k"), nil), kv.ErrClosed)
	require.ErrorIs(t, db.Sync(), kv.ErrClosed)
	_, err = db.Stats()
	require.ErrorIs(t, err, kv.ErrClosed)

	// The engine itself refuses every call rather than reaching Pebble,
	// which panics after Close.
	_, err = e.Get([]byte("k"), nil)
	require.ErrorIs(t, err, kv.ErrClosed)
	_, err = e.NewIter(kv.IterRange{})
	require.ErrorIs(t, err, kv.ErrClosed)
	_, err = e.NewSnapshot()
	require.ErrorIs(t, err, kv.ErrClosed)
	var b kv.Batch
	require.NoError(t, b.Set([]byte("k"), nil))
	require.ErrorIs(t, e.Apply(ctx, &b), kv.ErrClosed)
	require.ErrorIs(t, e.Sync(), kv.ErrClosed)
	require.ErrorIs(t, e.(kv.RangeDeleter).DeleteRange(ctx, []byte("a"), nil), kv.ErrClosed)
	require.ErrorIs(t, e.(kv.Compacter).Compact(ctx), kv.ErrClosed)
	_, err = e.(kv.Stater).Stats()
	require.ErrorIs(t, err, kv.ErrClosed)
}

// kv.DB closes every iterator and snapshot it opens, whatever the callback
// does (error, SkipAll, panic); Pebble would report a leak on Close.
func TestNoLeaksThroughDB(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	fill(t, db, "l", 100)
	boom := errors.New("boom")
	require.ErrorIs(t, db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error { return boom }), boom)
	require.NoError(t, db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error { return kv.SkipAll }))
	require.Panics(t, func() {
		db.Iterate(ctx, kv.IterOptions{Reverse: true}, func(k, v []byte) error { panic("callback") })
	})
	require.Panics(t, func() {
		db.View(ctx, func(tx kv.ReadTxn) error {
			return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error { panic("callback") })
		})
	})
	require.ErrorIs(t, db.View(ctx, func(tx kv.ReadTxn) error { return boom }), boom)
	require.ErrorIs(t, db.Update(ctx, func(tx kv.Txn) error {
		tx.Set([]byte("l-new"), nil)
		return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error { return boom })
	}), boom)
	require.NoError(t, db.Close())
}

// An iterator or snapshot left open by a direct user of the engine is
// closed by Close, reported as an error, and refuses later use instead of
// panicking.
func TestLeakedIteratorReported(t *testing.T) {
	db, _ := open(t)
	fill(t, db, "l", 10)
	e := db.Engine()
	it, err := e.NewIter(kv.IterRange{})
	require.NoError(t, err)
	require.True(t, it.Next())
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	err = db.Close()
	require.Error(t, err)
	require.Contains(t, err.Error(), "1 iterator(s) and 1 snapshot(s) still open")
	require.False(t, it.Next())
	require.ErrorIs(t, it.Err(), kv.ErrClosed)
	_, err = it.Value(nil)
	require.ErrorIs(t, err, kv.ErrClosed)
	require.NoError(t, it.Close())
	_, err = snap.Get([]byte("l00000001"), nil)
	require.ErrorIs(t, err, kv.ErrClosed)
	_, err = snap.NewIter(kv.IterRange{})
	require.ErrorIs(t, err, kv.ErrClosed)
	require.NoError(t, snap.Close())
}

// Readers, writers and iterations racing with Close end with a result or
// kv.ErrClosed: never a panic, never another error.
func TestConcurrentCloseVsReaders(t *testing.T) {
	ctx := context.Background()
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for range rounds {
		db, _ := open(t)
		fill(t, db, "c", 500)
		var wg sync.WaitGroup
		var started sync.WaitGroup
		check := func(err error) bool {
			if err != nil && !errors.Is(err, kv.ErrClosed) {
				t.Errorf("unexpected error: %v", err)
			}
			return err == nil
		}
		ops := []func() error{
			func() error { _, err := db.Get(ctx, []byte("c00000007")); return err },
			func() error {
				return db.Iterate(ctx, kv.IterOptions{Prefix: []byte("c")}, func(k, v []byte) error { return nil })
			},
			func() error {
				return db.View(ctx, func(tx kv.ReadTxn) error {
					if _, err := tx.Get([]byte("c00000001")); err != nil {
						return err
					}
					return tx.Iterate(kv.IterOptions{Reverse: true, Limit: 50}, func(k, v []byte) error { return nil })
				})
			},
			func() error { return db.Set(ctx, []byte("w"), []byte("x")) },
			func() error {
				return db.Update(ctx, func(tx kv.Txn) error {
					if _, err := tx.Get([]byte("w")); err != nil && !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					return tx.Set([]byte("w"), []byte("y"))
				})
			},
			func() error { return db.DeletePrefix(ctx, []byte("zz")) },
			func() error { _, err := db.Stats(); return err },
		}
		for _, op := range ops {
			wg.Add(1)
			started.Add(1)
			go func() {
				defer wg.Done()
				first := true
				for {
					ok := check(op())
					if first {
						started.Done()
						first = false
					}
					if !ok {
						return
					}
				}
			}()
		}
		started.Wait()
		require.NoError(t, db.Close())
		wg.Wait()
	}
}

// Nothing reaches stderr by default: open, writes, flushes, compactions,
// range deletes and close, with fd 2 redirected to a pipe. Pebble does log
// during this work: a debug logger must receive its lines (so the test
// would see them on stderr if they were not routed).
func TestNoStderrOutput(t *testing.T) {
	ctx := context.Background()
	var lines atomic.Int64
	run := func(logger *slog.Logger) {
		cfg := kv.Config{Path: t.TempDir(), Durability: kv.NoSync, MemoryBudget: kv.MinMemoryBudget, Logger: logger}
		db, err := pebble.Open(ctx, cfg)
		require.NoError(t, err)
		fill(t, db, "s", 20000)
		require.NoError(t, db.DeletePrefix(ctx, []byte("s0000")))
		require.NoError(t, db.Compact(ctx))
		require.NoError(t, db.Sync())
		require.NoError(t, db.Close())
		db, err = pebble.Open(ctx, cfg)
		require.NoError(t, err)
		require.NoError(t, db.Close())
	}
	out := captureStderr(t, func() { run(nil) })
	require.Empty(t, out, "pebble wrote to stderr")

	h := slog.NewTextHandler(countingWriter{&lines}, &slog.HandlerOptions{Level: slog.LevelDebug})
	out = captureStderr(t, func() { run(slog.New(h)) })
	require.Empty(t, out)
	require.Positive(t, lines.Load(), "pebble logged nothing at debug level: the stderr check proves nothing")
}

type countingWriter struct{ n *atomic.Int64 }

func (w countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

// Stats reports the WAL fsyncs of a synced store, the file cache and the
// compactions running.
func TestStatsWALAndFileCache(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t, func(c *kv.Config) { c.Durability = kv.Sync })
	for i := range 3 {
		require.NoError(t, db.Set(ctx, key(i), []byte("v")))
	}
	require.NoError(t, db.Compact(ctx)) // into tables, read through the file cache
	for i := range 3 {
		_, err := db.Get(ctx, key(i))
		require.NoError(t, err)
	}
	st, err := db.Stats()
	require.NoError(t, err)
	x := st.Engine.Extra
	require.GreaterOrEqual(t, x["wal_fsyncs"], int64(3), "one fsync per synced commit at least")
	require.Positive(t, x["wal_fsync_nanoseconds"])
	require.Positive(t, x["file_cache_hits"]+x["file_cache_misses"])
	for _, name := range []string{"compactions_in_progress", "compaction_in_progress_bytes"} {
		_, ok := x[name]
		require.True(t, ok, "Extra has no %s", name)
	}
}
