package memory_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

func scan(t testing.TB, s kv.Store, opts kv.IterOptions) string {
	t.Helper()
	var keys []string
	err := s.Iterate(context.Background(), opts, func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate(%+v): %v", opts, err)
	}
	return strings.Join(keys, ",")
}

// open opens a memory store closed at the end of the test.
func open(t *testing.T) *kv.DB {
	t.Helper()
	db, err := memory.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestIterBounds checks the engine's seek logic at every kind of bound,
// including bounds that fall between keys, on keys, and outside the data.
func TestIterBounds(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	// Enough keys for a multi-level tree.
	for i := 0; i < 1000; i += 2 {
		if err := db.Set(ctx, fmt.Appendf(nil, "k%04d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		start, end string
		reverse    bool
		want       string
	}{
		{"k0000", "k0005", false, "k0000,k0002,k0004"},
		{"k0000", "k0005", true, "k0004,k0002,k0000"},
		{"k0001", "k0004", false, "k0002"},
		{"k0001", "k0004", true, "k0002"},
		{"k0994", "", false, "k0994,k0996,k0998"},
		{"k0994", "", true, "k0998,k0996,k0994"},
		{"k0995", "z", true, "k0998,k0996"},
		{"a", "k0003", true, "k0002,k0000"},
		{"a", "b", true, ""},
		{"a", "b", false, ""},
		{"x", "", true, ""},
		{"x", "", false, ""},
		{"k0500", "k0501", true, "k0500"},
		{"k0501", "k0502", true, ""},
	} {
		opts := kv.IterOptions{Start: []byte(tc.start), End: []byte(tc.end), Reverse: tc.reverse}
		if got := scan(t, db, opts); got != tc.want {
			t.Errorf("[%s, %s) reverse=%v = %q, want %q", tc.start, tc.end, tc.reverse, got, tc.want)
		}
	}
	// Ranges of more than 256 keys walk a clone instead of gathering.
	for _, tc := range []struct {
		start, end  string
		reverse     bool
		n           int
		first, last string
	}{
		{"", "", false, 500, "k0000", "k0998"},
		{"", "", true, 500, "k0998", "k0000"},
		{"k0100", "k0901", false, 401, "k0100", "k0900"},
		{"k0099", "k0900", true, 400, "k0898", "k0100"},
	} {
		opts := kv.IterOptions{Start: []byte(tc.start), End: []byte(tc.end), Reverse: tc.reverse}
		keys := strings.Split(scan(t, db, opts), ",")
		if len(keys) != tc.n || keys[0] != tc.first || keys[len(keys)-1] != tc.last {
			t.Errorf("[%s, %s) reverse=%v: %d keys from %s to %s, want %d from %s to %s",
				tc.start, tc.end, tc.reverse, len(keys), keys[0], keys[len(keys)-1], tc.n, tc.first, tc.last)
		}
	}
}

func TestUnknownOption(t *testing.T) {
	_, err := kv.Open(context.Background(), kv.Config{Backend: "memory", Options: map[string]string{"x": "1"}})
	if !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("Open with an unknown option = %v, want ErrInvalidConfig", err)
	}
}

func TestInfo(t *testing.T) {
	db, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := db.Info().Guarantees
	if g.Persistent || !g.AtomicDeleteRange {
		t.Fatalf("Guarantees = %+v, want not persistent, atomic range deletes", g)
	}
}

// clones returns how many times the store cloned its tree for readers.
func clones(t *testing.T, db *kv.DB) int64 {
	t.Helper()
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Engine.Extra["clones"]
}

// TestReadsWithoutClones checks which reads make the engine clone its tree
// (after which every write copies the nodes it touches): a View that only
// reads keys, and scans of at most 256 keys or with a limit, do not; a
// larger scan does once per state; a View left open across a write does.
func TestReadsWithoutClones(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	for i := range 1000 {
		if err := db.Set(ctx, fmt.Appendf(nil, "k%04d", i), []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	write := func() {
		t.Helper()
		if err := db.Set(ctx, []byte("w"), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	count := func(opts kv.IterOptions) int {
		t.Helper()
		n := 0
		if err := db.Iterate(ctx, opts, func(k, v []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := int64(0)
	check := func(what string) {
		t.Helper()
		if got := clones(t, db); got != want {
			t.Fatalf("after %s: %d clones, want %d", what, got, want)
		}
	}

	err := db.View(ctx, func(tx kv.ReadTxn) error {
		_, err := tx.Get([]byte("k0001"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	write()
	check("a View of point reads and a write")

	if n := count(kv.IterOptions{Prefix: []byte("k00")}); n != 100 {
		t.Fatalf("prefix k00: %d keys, want 100", n)
	}
	if n := count(kv.IterOptions{Prefix: []byte("k"), Limit: 100, Reverse: true}); n != 100 {
		t.Fatalf("limit 100: %d keys, want 100", n)
	}
	write()
	check("scans of 100 keys and a write")

	if n := count(kv.IterOptions{Prefix: []byte("k")}); n != 1000 {
		t.Fatalf("prefix k: %d keys, want 1000", n)
	}
	want++
	check("a scan of 1000 keys")
	count(kv.IterOptions{Prefix: []byte("k")})
	check("a second scan of 1000 keys in the same state")
	write()

	// A View open across a write keeps its state: the write clones the
	// tree for it, once.
	err = db.View(ctx, func(tx kv.ReadTxn) error {
		if err := db.Set(ctx, []byte("k0001"), []byte("v2")); err != nil {
			return err
		}
		v, err := tx.Get([]byte("k0001"))
		if err != nil || string(v) != "v1" {
			return fmt.Errorf("Get in the View after a write = %q, %v; want v1", v, err)
		}
		var seen []string
		err = tx.Iterate(kv.IterOptions{Prefix: []byte("k000")}, func(k, v []byte) error {
			seen = append(seen, string(v))
			return nil
		})
		if err != nil || len(seen) != 10 || seen[1] != "v1" {
			return fmt.Errorf("Iterate in the View after a write = %v, %v; want 10 values, the second v1", seen, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want++
	check("a View open across a write")
	if v, err := db.Get(ctx, []byte("k0001")); err != nil || string(v) != "v2" {
		t.Fatalf("Get after the View = %q, %v; want v2", v, err)
	}
}

// TestSnapshotsUnderConcurrentWrites checks that Views and scans see one
// state each while a writer keeps changing the store: the writer sets a
// and b to the same counter in one batch; readers read a, let the writer
// run, read b, and must find the same value (as must a scan of both).
func TestSnapshotsUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	for i := range 600 { // more keys than a scan gathers without a clone
		if err := db.Set(ctx, fmt.Appendf(nil, "m%04d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	setBoth := func(n int) error {
		var b kv.Batch
		v := fmt.Appendf(nil, "%d", n)
		_ = b.Set([]byte("a"), v)
		_ = b.Set([]byte("b"), v)
		_ = b.Set(fmt.Appendf(nil, "m%04d", n%600), v)
		return db.Write(ctx, &b)
	}
	if err := setBoth(0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for n := 1; ; n++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if err := setBoth(n); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	for i := range rounds {
		err := db.View(ctx, func(tx kv.ReadTxn) error {
			a, err := tx.Get([]byte("a"))
			if err != nil {
				return err
			}
			runtime.Gosched()
			b, err := tx.Get([]byte("b"))
			if err != nil {
				return err
			}
			if string(a) != string(b) {
				return fmt.Errorf("View read a=%s then b=%s", a, b)
			}
			if i%10 == 0 { // a large scan in the same View: a clone
				n := 0
				err = tx.Iterate(kv.IterOptions{Prefix: []byte("m")}, func(k, v []byte) error { n++; return nil })
				if err != nil || n != 600 {
					return fmt.Errorf("Iterate in the View: %d keys, %v", n, err)
				}
				if b, err = tx.Get([]byte("b")); err != nil || string(a) != string(b) {
					return fmt.Errorf("View read a=%s, then b=%s after a scan (%v)", a, b, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		err = db.Iterate(ctx, kv.IterOptions{Start: []byte("a"), End: []byte("c"), Reverse: i%2 == 1}, func(k, v []byte) error {
			vals = append(vals, string(v))
			return nil
		})
		if err != nil || len(vals) != 2 || vals[0] != vals[1] {
			t.Fatalf("scan of a and b = %v, %v", vals, err)
		}
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotAfterClose: a snapshot used after its Close (by a direct
// user of the engine) fails with kv.ErrClosed, as the other backends'
// snapshots do, so that errors.Is tells the misuse apart.
func TestSnapshotAfterClose(t *testing.T) {
	db := open(t)
	if err := db.Set(context.Background(), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	snap, err := db.Engine().NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Get([]byte("k"), nil); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Get on a closed snapshot = %v, want kv.ErrClosed", err)
	}
	if _, err := snap.NewIter(kv.IterRange{}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("NewIter on a closed snapshot = %v, want kv.ErrClosed", err)
	}
}
