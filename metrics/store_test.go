package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWrapRecordsEveryOp(t *testing.T) {
	w, _, reg := openWrapped(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Set(ctx, []byte("a1"), []byte("xyz")))       // 5 bytes
	must(w.Set(ctx, []byte("a2"), []byte("")))          // 2 bytes
	must(w.Delete(ctx, []byte("zz")))                   // 2 bytes
	if _, err := w.Get(ctx, []byte("a1")); err != nil { // 3 bytes read
		t.Fatal(err)
	}
	if v, err := w.GetAppend(ctx, []byte("pre"), []byte("a1")); err != nil || string(v) != "prexyz" { // 3 more
		t.Fatalf("GetAppend = %q, %v", v, err)
	}
	if _, err := w.Get(ctx, []byte("missing")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(missing) = %v", err)
	}
	must(w.Iterate(ctx, kv.IterOptions{Prefix: []byte("a")}, func(k, v []byte) error { return nil })) // 2 keys, 7 bytes
	must(w.View(ctx, func(tx kv.ReadTxn) error {
		if _, err := tx.Get([]byte("a1")); err != nil { // 1 key, 3 bytes
			return err
		}
		return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error { return nil }) // 2 keys, 7 bytes
	}))
	must(w.Update(ctx, func(tx kv.Txn) error {
		if _, err := tx.Get([]byte("a1")); err != nil { // 1 key, 3 bytes
			return err
		}
		if err := tx.Set([]byte("u1"), []byte("12345")); err != nil { // 7 bytes
			return err
		}
		return tx.Delete([]byte("a2")) // 2 bytes
	}))
	var b kv.Batch
	for _, k := range []string{"b1", "b2", "b3"} {
		must(b.Set([]byte(k), []byte("vv"))) // 4 bytes each
	}
	must(w.Write(ctx, &b))
	must(w.Write(ctx, &kv.Batch{})) // empty: timed, no transaction
	must(w.DeleteRange(ctx, []byte("b2"), []byte("b3")))
	must(w.DeletePrefix(ctx, []byte("u")))
	must(w.Sync())

	got := gather(t, reg)
	count := func(op string) string { return `polykv_kv_ops_total{op="` + op + `"}` }
	wantSamples(t, got, map[string]float64{
		count("get"): 3, count("set"): 2, count("delete"): 1, count("iterate"): 1,
		count("view"): 1, count("update"): 1, count("write"): 2,
		count("delete_range"): 1, count("delete_prefix"): 1, count("sync"): 1,
		count("compact"): 0, count("backup"): 0,

		`polykv_kv_op_errors_total{error="not_found",op="get"}`: 1,

		// One call in 8 is timed: the first.
		`polykv_kv_op_duration_seconds_count{op="get"}`:   1,
		`polykv_kv_op_duration_seconds_count{op="write"}`: 1,
		`polykv_kv_op_duration_seconds_count{op="sync"}`:  1,

		`polykv_kv_read_keys_total{op="get"}`:      2,
		`polykv_kv_read_bytes_total{op="get"}`:     6,
		`polykv_kv_read_keys_total{op="iterate"}`:  2,
		`polykv_kv_read_bytes_total{op="iterate"}`: 7,
		`polykv_kv_read_keys_total{op="view"}`:     3,
		`polykv_kv_read_bytes_total{op="view"}`:    10,
		`polykv_kv_read_keys_total{op="update"}`:   1,
		`polykv_kv_read_bytes_total{op="update"}`:  3,

		`polykv_kv_written_bytes_total{op="set"}`:    7,
		`polykv_kv_written_bytes_total{op="delete"}`: 2,
		`polykv_kv_written_bytes_total{op="update"}`: 9,
		`polykv_kv_written_bytes_total{op="write"}`:  12,

		`polykv_kv_txn_writes_count{op="update"}`:        1,
		`polykv_kv_txn_writes_sum{op="update"}`:          2,
		`polykv_kv_txn_size_bytes_sum{op="update"}`:      float64(7 + 2 + 2*kv.TxnEntryOverhead),
		`polykv_kv_txn_writes_count{op="write"}`:         1,
		`polykv_kv_txn_writes_sum{op="write"}`:           3,
		`polykv_kv_txn_size_bytes_sum{op="write"}`:       float64(12 + 3*kv.TxnEntryOverhead),
		`polykv_kv_txn_writes_bucket{le="4",op="write"}`: 1,
		`polykv_kv_txn_writes_bucket{le="1",op="write"}`: 0,
		`polykv_kv_update_retries_total{}`:               0,
	})
	for k := range got {
		if bytes.HasPrefix([]byte(k), []byte("polykv_kv_op_errors_total")) && k != `polykv_kv_op_errors_total{error="not_found",op="get"}` {
			t.Errorf("unexpected error sample %s = %v", k, got[k])
		}
	}
	if d := got[`polykv_kv_op_duration_seconds_sum{op="get"}`]; d <= 0 || d > 10 {
		t.Errorf("get duration sum = %v s, want a small positive time", d)
	}
}

func TestTimeEvery(t *testing.T) {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct{ every, calls, timed int }{
		{1, 5, 5}, {2, 5, 3}, {3, 9, 3}, {0, 17, 3}, // 3 rounds up to 4; 0 is the default 8
	} {
		reg := prometheus.NewRegistry()
		w, err := metrics.Wrap(db, reg, &metrics.Options{TimeEvery: c.every})
		if err != nil {
			t.Fatal(err)
		}
		for range c.calls {
			w.Get(ctx, []byte("k"))
		}
		wantSamples(t, gather(t, reg), map[string]float64{
			`polykv_kv_ops_total{op="get"}`:                         float64(c.calls),
			`polykv_kv_op_errors_total{error="not_found",op="get"}`: float64(c.calls),
			`polykv_kv_op_duration_seconds_count{op="get"}`:         float64(c.timed),
		})
	}
}

func TestErrorLabels(t *testing.T) {
	w, db, reg := openWrapped(t)
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	big := make([]byte, kv.MaxValueSize)
	calls := []struct {
		name string
		call func() error
		want error
	}{
		{"empty key", func() error { return w.Set(ctx, nil, []byte("v")) }, kv.ErrEmptyKey},
		{"cancelled", func() error { _, err := w.Get(cancelled, []byte("k")); return err }, context.Canceled},
		{"too large", func() error {
			return w.Update(ctx, func(tx kv.Txn) error {
				for _, k := range []string{"1", "2", "3"} {
					if err := tx.Set([]byte(k), big); err != nil {
						return err
					}
				}
				return nil
			})
		}, kv.ErrTxnTooLarge},
		{"fn's own error", func() error {
			return w.Update(ctx, func(tx kv.Txn) error { return errors.New("mine") })
		}, nil},
		{"nil fn", func() error { return w.View(ctx, nil) }, kv.ErrInvalidConfig},
		{"closed", func() error { db.Close(); return w.Delete(ctx, []byte("k")) }, kv.ErrClosed},
		{"closed iterate", func() error {
			return w.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error { return nil })
		}, kv.ErrClosed},
	}
	for _, c := range calls {
		err := c.call()
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	got := gather(t, reg)
	e := func(op, kind string) string {
		return `polykv_kv_op_errors_total{error="` + kind + `",op="` + op + `"}`
	}
	wantSamples(t, got, map[string]float64{
		e("set", "invalid"):          1,
		e("get", "canceled"):         1,
		e("update", "txn_too_large"): 1,
		e("update", "other"):         1,
		e("delete", "closed"):        1,
		e("iterate", "closed"):       1,
	})
	// A nil function is refused by the wrapped store, not recorded.
	if _, ok := got[e("view", "invalid")]; ok {
		t.Errorf("View(nil) recorded an error")
	}
}

// conflictEngine is an engine whose Apply reports a conflict a given
// number of times before applying: what Update retries.
type conflictEngine struct {
	kv.Engine
	conflicts int
}

func (e *conflictEngine) Apply(ctx context.Context, b *kv.Batch) error {
	if e.conflicts > 0 {
		e.conflicts--
		return kv.ErrConflict
	}
	return e.Engine.Apply(ctx, b)
}

func TestUpdateRetriesCounted(t *testing.T) {
	ctx := context.Background()
	mem, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ce := &conflictEngine{Engine: mem.Engine(), conflicts: 2}
	db := kv.NewDB(ce, mem.Info(), nil)
	defer db.Close()
	reg := prometheus.NewPedanticRegistry()
	w, err := metrics.Wrap(db, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	err = w.Update(ctx, func(tx kv.Txn) error {
		runs++
		if _, err := tx.Get([]byte("k")); !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return tx.Set([]byte("k"), []byte("v"))
	})
	if err != nil || runs != 3 {
		t.Fatalf("Update = %v after %d runs, want nil after 3", err, runs)
	}
	// Every run but the last conflicts until Update gives up.
	ce.conflicts = kv.MaxConflictRetries + 1
	err = w.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("w")) })
	if !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update = %v, want ErrConflict", err)
	}
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_kv_update_retries_total{}`:                        2 + kv.MaxConflictRetries,
		`polykv_kv_op_errors_total{error="conflict",op="update"}`: 1,
		`polykv_kv_ops_total{op="update"}`:                        2,
		// Only the committed run's transaction is measured.
		`polykv_kv_txn_writes_count{op="update"}`:    1,
		`polykv_kv_txn_writes_sum{op="update"}`:      1,
		`polykv_kv_written_bytes_total{op="update"}`: 2,
	})
}

// TestForwardsEveryMethodOfDB checks that the wrapper has every method of
// *kv.DB with the same signature, so that whatever a caller discovers on a
// *kv.DB by type assertion it also finds through the wrapper.
func TestForwardsEveryMethodOfDB(t *testing.T) {
	dbT := reflect.TypeFor[*kv.DB]()
	wT := reflect.TypeFor[*metrics.Store]()
	for i := range dbT.NumMethod() {
		m := dbT.Method(i)
		wm, ok := wT.MethodByName(m.Name)
		if !ok {
			t.Errorf("*metrics.Store has no method %s (*kv.DB has %s)", m.Name, m.Type)
			continue
		}
		// Compare without the receiver.
		if a, b := sig(m.Type), sig(wm.Type); a != b {
			t.Errorf("*metrics.Store.%s is %s, *kv.DB's is %s", m.Name, b, a)
		}
	}
}

func sig(f reflect.Type) string {
	s := "("
	for i := 1; i < f.NumIn(); i++ {
		s += f.In(i).String() + ","
	}
	s += ")("
	for i := range f.NumOut() {
		s += f.Out(i).String() + ","
	}
	return s + ")"
}

func TestForwardedMethods(t *testing.T) {
	w, db, reg := openWrapped(t)
	ctx := context.Background()
	if err := w.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stats()
	if err != nil || st.Backend != "memory" || st.Engine.Extra["keys"] != 1 {
		t.Errorf("Stats = %+v, %v; want memory's figures with 1 key", st, err)
	}
	if w.Engine() != db.Engine() {
		t.Errorf("Engine is not the wrapped store's")
	}
	if w.Unwrap() != kv.Store(db) {
		t.Errorf("Unwrap is not the wrapped store")
	}
	if err := w.Compact(ctx); err != nil {
		t.Errorf("Compact = %v", err)
	}
	var out bytes.Buffer
	if err := w.Backup(ctx, &out); err != nil {
		t.Fatal(err)
	}
	var direct bytes.Buffer
	if err := db.Backup(ctx, &direct); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), direct.Bytes()) {
		t.Errorf("Backup through the wrapper differs from the store's")
	}
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_kv_ops_total{op="compact"}`: 1,
		`polykv_kv_ops_total{op="backup"}`:  1,
	})
}

// plainStore is a kv.Store with nothing beyond the interface.
type plainStore struct{ kv.Store }

func TestFallbacksOnAPlainStore(t *testing.T) {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := metrics.Wrap(plainStore{db}, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := w.GetAppend(ctx, []byte("x"), []byte("k")); err != nil || string(v) != "xv" {
		t.Errorf("GetAppend = %q, %v; want xv", v, err)
	}
	if v, err := w.GetAppend(ctx, []byte("x"), []byte("missing")); !errors.Is(err, kv.ErrNotFound) || string(v) != "x" {
		t.Errorf("GetAppend(missing) = %q, %v; want x, ErrNotFound", v, err)
	}
	if st, err := w.Stats(); err != nil || st.Backend != "memory" || st.Engine.Extra != nil {
		t.Errorf("Stats = %+v, %v; want the backend and no engine figures", st, err)
	}
	if w.Engine() != nil {
		t.Errorf("Engine of a plain store is not nil")
	}
	if err := w.Compact(ctx); err != nil {
		t.Errorf("Compact = %v, want nil", err)
	}
	var out bytes.Buffer
	if err := w.Backup(ctx, &out); err != nil {
		t.Fatal(err)
	}
	copyDB, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	if n, err := kv.Load(ctx, copyDB, &out); err != nil || n != 1 {
		t.Errorf("Load of the fallback backup = %d, %v; want 1 record", n, err)
	}
}

func TestWrapRefuses(t *testing.T) {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := metrics.Wrap(nil, prometheus.NewRegistry(), nil); err == nil {
		t.Error("Wrap(nil store) succeeded")
	}
	if _, err := metrics.Wrap(db, nil, nil); err == nil {
		t.Error("Wrap(nil registerer) succeeded")
	}
	reg := prometheus.NewRegistry()
	if _, err := metrics.Wrap(db, reg, nil); err != nil {
		t.Fatal(err)
	}
	_, err = metrics.Wrap(db, reg, nil)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Errorf("second Wrap in one registry = %v, want AlreadyRegisteredError", err)
	}
	// Stores told apart by a label register side by side.
	reg = prometheus.NewPedanticRegistry()
	for _, name := range []string{"state", "logs"} {
		if _, err := metrics.Wrap(db, reg, &metrics.Options{ConstLabels: prometheus.Labels{"store": name}}); err != nil {
			t.Errorf("Wrap with store=%s = %v", name, err)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "polykv_kv_op_duration_seconds"); err != nil || n != 2*13 {
		t.Errorf("two stores gather %d duration series, %v; want 2×13 (one per op)", n, err)
	}
}

// A constant label that a metric uses itself is refused by Wrap, and a
// collector given one fails the scrape with an error instead of panicking.
func TestReservedConstLabels(t *testing.T) {
	db := openMemory(t)
	for _, name := range []string{"op", "backend", "queue"} {
		opts := &metrics.Options{ConstLabels: prometheus.Labels{name: "x"}}
		if _, err := metrics.Wrap(db, prometheus.NewRegistry(), opts); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Wrap with ConstLabels %s = %v, want an error naming it", name, err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewEngineCollector(db, &metrics.Options{ConstLabels: prometheus.Labels{"backend": "x"}}))
	if _, err := reg.Gather(); err == nil {
		t.Errorf("Gather of an engine collector with a backend constant label succeeded")
	}
}

// scanManyEngine is an engine whose snapshots read many ranges in one call
// (kv.MultiScanner), as a networked engine's do in one round trip; calls
// counts those calls.
type scanManyEngine struct {
	kv.Engine
	calls int
}

func (e *scanManyEngine) NewSnapshot() (kv.Snapshot, error) {
	s, err := e.Engine.NewSnapshot()
	if err != nil {
		return nil, err
	}
	return &scanManySnapshot{Snapshot: s, e: e}, nil
}

type scanManySnapshot struct {
	kv.Snapshot
	e *scanManyEngine
}

func (s *scanManySnapshot) ScanMany(ranges []kv.IterRange, fn func(i int, key, value []byte) error) error {
	s.e.calls++
	for i, r := range ranges {
		it, err := s.NewIter(r)
		if err != nil {
			return err
		}
		for it.Next() {
			v, err := it.Value(nil)
			if err == nil {
				err = fn(i, it.Key(), v)
			}
			if err != nil {
				it.Close()
				return err
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// TestIterateManyReachesTheEngine: kv.IterateMany in a View of the
// wrapper reads its ranges in one engine call when the engine can
// (MultiScanner), as it does without the wrapper, and the keys it hands
// out count as the view's reads.
func TestIterateManyReachesTheEngine(t *testing.T) {
	ctx := context.Background()
	mem, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &scanManyEngine{Engine: mem.Engine()}
	db := kv.NewDB(e, mem.Info(), nil)
	defer db.Close()
	reg := prometheus.NewPedanticRegistry()
	w, err := metrics.Wrap(db, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a1", "a2", "b1", "c1"} {
		if err := w.Set(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// The store alone reads the ranges in one call.
	err = db.View(ctx, func(tx kv.ReadTxn) error {
		return kv.IterateMany(tx, []kv.IterOptions{{Prefix: []byte("a")}, {Prefix: []byte("b")}}, func(int, []byte, []byte) error { return nil })
	})
	if err != nil || e.calls != 1 {
		t.Fatalf("IterateMany on the store: %v, %d ScanMany calls; want 1", err, e.calls)
	}
	e.calls = 0
	var got []string
	err = w.View(ctx, func(tx kv.ReadTxn) error {
		return kv.IterateMany(tx, []kv.IterOptions{{Prefix: []byte("a")}, {Prefix: []byte("b")}, {Prefix: []byte("c")}}, func(i int, k, _ []byte) error {
			got = append(got, fmt.Sprintf("%d %s", i, k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0 a1", "0 a2", "1 b1", "2 c1"}; !slices.Equal(got, want) {
		t.Errorf("IterateMany = %q, want %q", got, want)
	}
	if e.calls != 1 {
		t.Errorf("IterateMany of 3 ranges through the wrapper made %d ScanMany calls, want 1 (the engine's one request)", e.calls)
	}
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_kv_read_keys_total{op="view"}`:  4,
		`polykv_kv_read_bytes_total{op="view"}`: 4 * 3,
	})
}
