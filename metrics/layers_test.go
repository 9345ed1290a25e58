package metrics_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
	"github.com/polykv/polykv/metrics"
	"github.com/polykv/polykv/nodestore"
	"github.com/prometheus/client_golang/prometheus"
)

func openMemory(tb testing.TB) *kv.DB {
	tb.Helper()
	db, err := memory.Open(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// register returns a fresh pedantic registry holding cs.
func register(tb testing.TB, cs ...prometheus.Collector) *prometheus.Registry {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			tb.Fatal(err)
		}
	}
	return reg
}

// smallTree stores a src root listed into one pending folder and two
// files at level 1, and a pending dst root.
func smallTree(tb testing.TB, ns *nodestore.Store) {
	tb.Helper()
	ctx := context.Background()
	folder := func(path, name string, level int) nodestore.NodeState {
		return nodestore.NodeState{ID: name, Name: name, Path: path, Type: nodestore.NodeTypeFolder, Depth: level}
	}
	if err := ns.Insert(ctx, nodestore.Node{Queue: nodestore.QueueSrc, Traversal: nodestore.TraversalStatusPending, Copy: nodestore.CopyStatusPending, State: folder("/", "root", 0)}); err != nil {
		tb.Fatal(err)
	}
	if err := ns.Insert(ctx, nodestore.Node{Queue: nodestore.QueueDst, Traversal: nodestore.TraversalStatusPending, State: folder("/", "root", 0)}); err != nil {
		tb.Fatal(err)
	}
	var kids []nodestore.Node
	for _, name := range []string{"a", "b", "c"} {
		st := nodestore.NodeState{ID: name, ParentID: "root", ParentPath: "/", Name: name, Path: "/" + name, Type: nodestore.NodeTypeFile, Depth: 1}
		ts := nodestore.TraversalStatusSuccessful
		if name == "a" {
			st.Type, ts = nodestore.NodeTypeFolder, nodestore.TraversalStatusPending
		}
		kids = append(kids, nodestore.Node{Traversal: ts, Copy: nodestore.CopyStatusPending, State: st})
	}
	if _, err := ns.CompleteWithChildren(ctx, nodestore.QueueSrc, "/", nodestore.TraversalStatusSuccessful, kids); err != nil {
		tb.Fatal(err)
	}
}

func TestNodestoreCollector(t *testing.T) {
	db := openMemory(t)
	ns := nodestore.New(db)
	reg := register(t, metrics.NewNodestoreCollector(ns, nil))
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_nodestore_lowest_pending_level{queue="src"}`: -1,
		`polykv_nodestore_lowest_pending_level{queue="dst"}`: -1,
		`polykv_nodestore_collect_errors_total{}`:            0,
	})
	smallTree(t, ns)
	got := gather(t, reg)
	n := func(q, level, ts, cs string) string {
		return `polykv_nodestore_nodes{copy="` + cs + `",level="` + level + `",queue="` + q + `",traversal="` + ts + `"}`
	}
	want := map[string]float64{
		n("src", "0", "successful", "pending"):                  1,
		n("src", "1", "pending", "pending"):                     1,
		n("src", "1", "successful", "pending"):                  2,
		n("dst", "0", "pending", ""):                            1,
		`polykv_nodestore_pending_nodes{level="1",queue="src"}`: 1,
		`polykv_nodestore_pending_nodes{level="0",queue="dst"}`: 1,
		`polykv_nodestore_lowest_pending_level{queue="src"}`:    1,
		`polykv_nodestore_lowest_pending_level{queue="dst"}`:    0,
	}
	wantSamples(t, got, want)
	if n := countPrefix(got, "polykv_nodestore_nodes{"); n != 4 {
		t.Errorf("%d node series, want 4", n)
	}
	if n := countPrefix(got, "polykv_nodestore_pending_nodes{"); n != 2 {
		t.Errorf("%d pending series, want 2 (no series for a level without pending nodes)", n)
	}

	// Levels from MaxLevels on share one label.
	reg = register(t, metrics.NewNodestoreCollector(ns, &metrics.Options{MaxLevels: 1}))
	got = gather(t, reg)
	wantSamples(t, got, map[string]float64{
		n("src", "0", "successful", "pending"):                    1,
		n("src", ">=1", "pending", "pending"):                     1,
		n("src", ">=1", "successful", "pending"):                  2,
		`polykv_nodestore_pending_nodes{level=">=1",queue="src"}`: 1,
	})

	// A closed store: no figures, one error.
	db.Close()
	got = gather(t, reg)
	wantSamples(t, got, map[string]float64{`polykv_nodestore_collect_errors_total{}`: 1})
	if n := countPrefix(got, "polykv_nodestore_nodes{"); n != 0 {
		t.Errorf("%d node series from a closed store", n)
	}
	if _, err := register(t, metrics.NewNodestoreCollector(nil, nil)).Gather(); err != nil {
		t.Errorf("gather of a nil nodestore: %v", err)
	}
}

func countPrefix(m map[string]float64, prefix string) int {
	n := 0
	for k := range m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func TestLogCollectors(t *testing.T) {
	db := openMemory(t)
	buf := logstore.NewLogBufferOptions(db, logstore.Options{BatchSize: 2, Interval: time.Hour})
	for _, l := range []logstore.Level{logstore.LevelInfo, logstore.LevelInfo, logstore.LevelInfo, logstore.LevelError} {
		if err := buf.Add(logstore.LogEntry{Level: l, Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cached := metrics.NewLogstoreCollector(db, &metrics.Options{ConstLabels: prometheus.Labels{"count": "cached"}})
	fresh := metrics.NewLogstoreCollector(db, &metrics.Options{LogCountInterval: time.Nanosecond, ConstLabels: prometheus.Labels{"count": "fresh"}})
	reg := register(t, cached, fresh, metrics.NewLogBufferCollector(buf, nil))
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_logstore_entries{count="cached",level="info"}`:  3,
		`polykv_logstore_entries{count="cached",level="error"}`: 1,
		`polykv_logstore_entries{count="cached",level="debug"}`: 0,
		`polykv_logstore_entries{count="fresh",level="info"}`:   3,
		`polykv_logbuffer_added_entries_total{}`:                4,
		`polykv_logbuffer_written_entries_total{}`:              4,
		`polykv_logbuffer_flushes_total{}`:                      2,
		`polykv_logbuffer_pending_entries{}`:                    0,
		`polykv_logbuffer_refused_entries_total{}`:              0,
	})
	if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	wantSamples(t, got, map[string]float64{
		`polykv_logbuffer_pending_entries{}`:     1,
		`polykv_logbuffer_added_entries_total{}`: 4 + 1,
	})
	if got[`polykv_logbuffer_pending_bytes{}`] <= 0 {
		t.Errorf("pending bytes = %v with an entry held", got[`polykv_logbuffer_pending_bytes{}`])
	}
	if err := buf.Stop(); err != nil {
		t.Fatal(err)
	}
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_logstore_entries{count="cached",level="info"}`: 3, // reused for a minute
		`polykv_logstore_entries{count="fresh",level="info"}`:  4,
	})
	// A key under the log prefix that holds no entry is counted apart; it
	// does not fail the count.
	if err := db.Set(context.Background(), []byte("log:info:not-a-log-id"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_logstore_entries{count="fresh",level="info"}`:  4,
		`polykv_logstore_unreadable_keys{count="fresh"}`:       1,
		`polykv_logstore_collect_errors_total{count="fresh"}`:  0,
		`polykv_logstore_unreadable_keys{count="cached"}`:      0,
		`polykv_logstore_collect_errors_total{count="cached"}`: 0,
	})
	// A failed count keeps the last one and counts an error.
	db.Close()
	wantSamples(t, gather(t, reg), map[string]float64{
		`polykv_logstore_entries{count="fresh",level="info"}`:  4,
		`polykv_logstore_collect_errors_total{count="fresh"}`:  1,
		`polykv_logstore_collect_errors_total{count="cached"}`: 0,
	})
}

func TestEngineCollector(t *testing.T) {
	w, db, reg := openWrapped(t)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := w.Set(ctx, []byte(k), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	got := gather(t, reg)
	wantSamples(t, got, map[string]float64{
		`polykv_engine_keys{backend="memory"}`:       3,
		`polykv_engine_stats_errors_total{}`:         0,
		`polykv_engine_disk_bytes{backend="memory"}`: 0,
	})
	if m := got[`polykv_engine_memory_bytes{backend="memory"}`]; m < 3*6 {
		t.Errorf("memory bytes = %v, want at least the keys and values", m)
	}
	db.Close()
	got = gather(t, reg)
	wantSamples(t, got, map[string]float64{`polykv_engine_stats_errors_total{}`: 1})
	if n := countPrefix(got, "polykv_engine_keys"); n != 0 {
		t.Errorf("engine figures of a closed store")
	}
	// A store without Stats gives no figures, and no error.
	got = gather(t, register(t, metrics.NewEngineCollector(plainStore{openMemory(t)}, nil)))
	if len(got) != 0 {
		t.Errorf("engine figures of a store without Stats: %v", got)
	}
}

// TestDocListsEveryMetric gathers every metric of the package and checks
// that the package documentation names each one.
func TestDocListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	w, db, reg := openWrapped(t)
	ctx := context.Background()
	ns := nodestore.New(w)
	smallTree(t, ns)
	w.Get(ctx, []byte("missing"))
	buf := logstore.NewLogBuffer(w, 0, 0)
	defer buf.Stop()
	reg.MustRegister(metrics.NewNodestoreCollector(ns, nil), metrics.NewLogstoreCollector(db, nil), metrics.NewLogBufferCollector(buf, nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) < 25 {
		t.Fatalf("only %d metric families gathered", len(mfs))
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if strings.HasPrefix(name, "polykv_engine_") && !strings.Contains(string(doc), name) {
			continue // an Extra figure: polykv_engine_<name>
		}
		if !strings.Contains(string(doc), name) {
			t.Errorf("doc.go does not list %s", name)
		}
	}
}

// TestEngineFiguresOfEachBackend gathers the engine figures of a store of
// each backend: every Extra figure becomes a valid, consistent metric.
func TestEngineFiguresOfEachBackend(t *testing.T) {
	for backend, figure := range map[string]string{
		"badger": "polykv_engine_lsm_bytes",
		"pebble": "polykv_engine_compaction_debt",
		"bbolt":  "polykv_engine_free_pages",
		"memory": "polykv_engine_keys",
	} {
		t.Run(backend, func(t *testing.T) {
			cfg := kv.Config{Backend: backend, Durability: kv.NoSync}
			if backend != "memory" {
				cfg.Path = t.TempDir()
			}
			db, err := kv.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			reg := prometheus.NewPedanticRegistry()
			if _, err := metrics.Wrap(db, reg, nil); err != nil {
				t.Fatal(err)
			}
			got := gather(t, reg)
			if _, ok := got[figure+`{backend="`+backend+`"}`]; !ok {
				t.Errorf("no %s among %d samples", figure, len(got))
			}
			if n := countPrefix(got, "polykv_engine_"); n < 4 {
				t.Errorf("only %d engine figures", n)
			}
		})
	}
}
