package bbolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

func TestRegistered(t *testing.T) {
	if !slices.Contains(kv.Backends(), "bbolt") {
		t.Fatalf("kv.Backends() = %v, want bbolt registered", kv.Backends())
	}
	g := bbolt.Driver{}.Guarantees()
	if !g.Persistent || !g.NoSyncKeepsAckedOnKill || !g.AtomicDeleteRange {
		t.Fatalf("Guarantees() = %+v", g)
	}
}

// TestDataFileInsideDirectory: Config.Path is a directory and the bbolt
// file lives inside it, in one bucket, readable with bbolt itself.
func TestDataFileInsideDirectory(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	db, err := kv.Open(ctx, kv.Config{Backend: "bbolt", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got := db.Info(); got.Path != dir || got.Backend != "bbolt" {
		t.Fatalf("Info() = %+v", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "store" || !entries[0].IsDir() {
		t.Fatalf("parent holds %v, want only the store directory", entries)
	}
	st, err := os.Stat(filepath.Join(dir, bbolt.DataFileName))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("data file: %v", err)
	}
	// The file is a plain bbolt file: one bucket holding the key.
	raw, err := bolt.Open(filepath.Join(dir, bbolt.DataFileName), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var buckets []string
	err = raw.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			buckets = append(buckets, string(name))
			if v := b.Get([]byte("k")); string(v) != "v" {
				return fmt.Errorf("bucket %s: k = %q", name, v)
			}
			return nil
		})
	})
	if err != nil || len(buckets) != 1 {
		t.Fatalf("buckets %v, err %v; want one bucket", buckets, err)
	}
}

// TestEmptyVersusMissing: a key with an empty value is found (non-nil,
// zero length) by every read path, before and after a reopen; a missing key
// is kv.ErrNotFound.
func TestEmptyVersusMissing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := bbolt.Open(ctx, kv.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(ctx, []byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Set(ctx, []byte("emptz"), []byte{}); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, db *kv.DB) {
		for _, k := range []string{"empty", "emptz"} {
			v, err := db.Get(ctx, []byte(k))
			if err != nil || v == nil || len(v) != 0 {
				t.Errorf("Get(%s) = %v, %v; want empty non-nil, nil", k, v, err)
			}
		}
		for _, k := range []string{"emp", "emptx", "empty\x00", "zzz", "a"} {
			if _, err := db.Get(ctx, []byte(k)); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("Get(%q) error = %v, want ErrNotFound", k, err)
			}
		}
		// The engine itself, below kv.DB.
		v, err := db.Engine().Get([]byte("empty"), nil)
		if err != nil || v == nil || len(v) != 0 {
			t.Errorf("engine Get(empty) = %v, %v", v, err)
		}
		if _, err := db.Engine().Get([]byte("empt"), nil); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("engine Get(empt) = %v", err)
		}
		err = db.View(ctx, func(tx kv.ReadTxn) error {
			if v, err := tx.Get([]byte("empty")); err != nil || v == nil || len(v) != 0 {
				return fmt.Errorf("View Get(empty) = %v, %v", v, err)
			}
			if _, err := tx.Get([]byte("nope")); !errors.Is(err, kv.ErrNotFound) {
				return fmt.Errorf("View Get(nope) = %v", err)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		n := 0
		err = db.Iterate(ctx, kv.IterOptions{Prefix: []byte("emp")}, func(k, v []byte) error {
			n++
			if v == nil || len(v) != 0 {
				return fmt.Errorf("Iterate %s: value %v", k, v)
			}
			return nil
		})
		if err != nil || n != 2 {
			t.Errorf("Iterate: %d keys, %v", n, err)
		}
	}
	t.Run("open", func(t *testing.T) { check(t, db) })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bbolt.Open(ctx, kv.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t.Run("reopened", func(t *testing.T) { check(t, db) })
}

// TestIterBounds compares every combination of bounds and direction with
// a sorted model, on a tree of several levels.
func TestIterBounds(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	var model []string
	for i := 0; i < 3000; i += 3 {
		k := fmt.Sprintf("k%05d", i)
		model = append(model, k)
	}
	model = append(model, "\xff", "\xff\xff", "\x00")
	sort.Strings(model)
	w := kv.NewBulkWriter(ctx, db)
	for _, k := range model {
		if err := w.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	bounds := []string{"", "\x00", "\x01", "a", "k", "k00000", "k00001", "k01500", "k01501", "k02997", "k02998", "l", "\xff", "\xff\x00", "\xff\xff\xff"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lo := range bounds {
		for _, hi := range bounds {
			for _, rev := range []bool{false, true} {
				var want []string
				for _, k := range model {
					if (lo == "" || k >= lo) && (hi == "" || k < hi) {
						want = append(want, k)
					}
				}
				if rev {
					slices.Reverse(want)
				}
				opts := kv.IterOptions{Start: []byte(lo), End: []byte(hi), Reverse: rev}
				if rng.IntN(3) == 0 {
					opts.KeysOnly = true
				}
				var got []string
				err := db.Iterate(ctx, opts, func(k, v []byte) error {
					if !opts.KeysOnly && string(v) != "v"+string(k) {
						return fmt.Errorf("value of %q = %q", k, v)
					}
					got = append(got, string(k))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("[%q, %q) reverse=%v: got %d keys %.80q, want %d %.80q", lo, hi, rev, len(got), got, len(want), want)
				}
			}
		}
	}
}

func TestSnapshotIsolation(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", nil)
	fill(t, db, "a%03d", 0, 10, []byte("old"))
	err := db.View(ctx, func(tx kv.ReadTxn) error {
		// Writes committed after the snapshot began are invisible to it.
		if err := db.Set(ctx, []byte("a000"), []byte("new")); err != nil {
			return err
		}
		if err := db.Set(ctx, []byte("b"), []byte("new")); err != nil {
			return err
		}
		if v, err := tx.Get([]byte("a000")); err != nil || string(v) != "old" {
			return fmt.Errorf("snapshot Get(a000) = %q, %v", v, err)
		}
		if _, err := tx.Get([]byte("b")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("snapshot Get(b) = %v", err)
		}
		n := 0
		if err := tx.Iterate(kv.IterOptions{}, func(k, v []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n != 10 {
			return fmt.Errorf("snapshot iteration saw %d keys, want 10", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := db.Get(ctx, []byte("a000")); string(v) != "new" {
		t.Fatalf("after View: a000 = %q", v)
	}
}

// TestPersistsAcrossReopen with the default (synced) durability.
func TestPersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := kv.Open(ctx, kv.Config{Backend: "bbolt", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, "p%05d", 0, 2000, bytes.Repeat([]byte("x"), 100))
	if err := db.Delete(ctx, []byte("p00007")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = kv.Open(ctx, kv.Config{Backend: "auto", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Info().Backend != "bbolt" {
		t.Fatalf("auto opened %s", db.Info().Backend)
	}
	n := 0
	if err := db.Iterate(ctx, kv.IterOptions{KeysOnly: true}, func(k, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1999 {
		t.Fatalf("%d keys after reopen, want 1999", n)
	}
}

// TestEngineAfterClose: the engine itself (bypassing kv.DB's guard)
// reports kv.ErrClosed after Close instead of panicking.
func TestEngineAfterClose(t *testing.T) {
	ctx := context.Background()
	db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := db.Engine()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := db.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("db.Get after Close: %v", err)
	}
	if _, err := e.Get([]byte("k"), nil); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("engine Get after Close: %v", err)
	}
	if _, err := e.NewSnapshot(); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("engine NewSnapshot after Close: %v", err)
	}
	if _, err := e.NewIter(kv.IterRange{}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("engine NewIter after Close: %v", err)
	}
	var b kv.Batch
	b.Set([]byte("k"), nil)
	if err := e.Apply(ctx, &b); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("engine Apply after Close: %v", err)
	}
	if err := e.(kv.RangeDeleter).DeleteRange(ctx, []byte("a"), []byte("b")); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("engine DeleteRange after Close: %v", err)
	}
	if err := e.Sync(); err == nil {
		t.Errorf("engine Sync after Close: nil error")
	}
}

// TestSnapshotAfterClose: a snapshot used after its Close (by a direct
// user of the engine) says so with kv.ErrClosed, as badger's and pebble's
// do, instead of reading its rolled-back transaction and reporting a
// damaged file; so does an iterator of the snapshot.
func TestSnapshotAfterClose(t *testing.T) {
	db := open(t, "", nil)
	fill(t, db, "k%02d", 0, 3, []byte("v"))
	snap, err := db.Engine().NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	it, err := snap.NewIter(kv.IterRange{})
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatalf("iterator of an open snapshot: no first key (%v)", it.Err())
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Get([]byte("k00"), nil); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Get on a closed snapshot = %v, want kv.ErrClosed", err)
	}
	if it2, err := snap.NewIter(kv.IterRange{}); !errors.Is(err, kv.ErrClosed) {
		if err == nil {
			it2.Next()
			err = it2.Err()
			it2.Close()
		}
		t.Errorf("NewIter on a closed snapshot = %v, want kv.ErrClosed", err)
	}
	if it.Next() || !errors.Is(it.Err(), kv.ErrClosed) {
		t.Errorf("iterator after its snapshot's Close: Err() = %v, want kv.ErrClosed", it.Err())
	}
	if err := it.Close(); err != nil {
		t.Errorf("iterator Close: %v", err)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("second snapshot Close: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeKV(t, dir)
	// Two read-only stores share the file (shared locks, polykv's and bbolt's).
	r1, err := bbolt.Open(ctx, kv.Config{Path: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := bbolt.Open(ctx, kv.Config{Path: dir, ReadOnly: true, Options: map[string]string{"lock_timeout": "100ms"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for _, r := range []*kv.DB{r1, r2} {
		if v, err := r.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
			t.Fatalf("read-only Get = %q, %v", v, err)
		}
		if err := r.Set(ctx, []byte("k"), nil); !errors.Is(err, kv.ErrReadOnly) {
			t.Fatalf("read-only Set: %v", err)
		}
		if err := r.Sync(); err != nil {
			t.Fatalf("read-only Sync: %v", err)
		}
	}
	// The engine refuses writes itself too.
	var b kv.Batch
	b.Set([]byte("x"), nil)
	if err := r1.Engine().Apply(ctx, &b); !errors.Is(err, kv.ErrReadOnly) {
		t.Fatalf("read-only engine Apply: %v", err)
	}
}

func TestReadOnlyWithoutDataFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := bbolt.Open(ctx, kv.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// As if the first open had been killed between the marker and the file.
	if err := os.Remove(filepath.Join(dir, bbolt.DataFileName)); err != nil {
		t.Fatal(err)
	}
	_, err = bbolt.Open(ctx, kv.Config{Path: dir, ReadOnly: true})
	if !errors.Is(err, kv.ErrNotAStore) {
		t.Fatalf("read-only open without data file: %v, want ErrNotAStore", err)
	}
	if _, err := os.Stat(filepath.Join(dir, bbolt.DataFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open created the data file: %v", err)
	}
	// A read-write open recreates it.
	db, err = bbolt.Open(ctx, kv.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestNotABoltFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := bbolt.Open(ctx, kv.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	garbage := bytes.Repeat([]byte("not a bbolt file "), 1024)
	if err := os.WriteFile(filepath.Join(dir, bbolt.DataFileName), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = bbolt.Open(ctx, kv.Config{Path: dir})
	if err == nil {
		t.Fatal("open of a garbage data file succeeded")
	}
	if !strings.HasPrefix(err.Error(), "kv: ") || !strings.Contains(err.Error(), bbolt.DataFileName) {
		t.Fatalf("error %q does not name the file", err)
	}
	t.Logf("error: %v", err)
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	db := open(t, "", map[string]string{"page_size": "8192"})
	fill(t, db, "s%05d", 0, 1000, bytes.Repeat([]byte("v"), 200))
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend != "bbolt" || st.Engine.DiskBytes <= 0 {
		t.Fatalf("Stats() = %+v", st)
	}
	if got := st.Engine.Extra["page_size"]; got != 8192 {
		t.Errorf("page_size = %d, want 8192", got)
	}
	if st.Engine.Extra["file_bytes"] < 1000*200 || st.Engine.Extra["pages_written"] == 0 {
		t.Errorf("Extra = %v", st.Engine.Extra)
	}
	err = db.View(ctx, func(kv.ReadTxn) error {
		st, err := db.Stats()
		if err != nil {
			return err
		}
		if st.Engine.Extra["open_read_txs"] < 1 {
			return fmt.Errorf("open_read_txs = %d inside View", st.Engine.Extra["open_read_txs"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLogger: bbolt's log lines go to Config.Logger (and with no logger,
// nowhere: bbolt's silent logger).
func TestLogger(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(ctx, []byte("k"), nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out := buf.String()
	if !strings.Contains(out, "engine=bbolt") || !strings.Contains(out, "Opening") {
		t.Fatalf("logger received %q, want bbolt's open lines", out)
	}
	if strings.Contains(out, "Putting key") {
		t.Fatalf("debug lines logged at info level: %q", out)
	}
}
