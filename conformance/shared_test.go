package conformance_test

import (
	"context"

	"sync"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/backends/memory"
	_ "github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/conformance/linearize"
	"github.com/polykv/polykv/kv"
)

// runSharedInProcess runs the shared traversal with workers goroutines on
// s, each through its own recorder, and returns the problems CheckShared
// finds and the history's check. A correct store finishes well within
// limit; a broken one may never finish (its counters are wrong), and its
// workers are stopped at limit.
func runSharedInProcess(t *testing.T, s kv.Store, workers int, limit time.Duration, broken bool) ([]string, linearize.Result) {
	t.Helper()
	w := conformance.SharedTraversal{}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	if err := w.Seed(ctx, s); err != nil {
		t.Fatal(err)
	}
	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix("work/")})
	var mu sync.Mutex
	listed := map[string]int{}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			err := w.Work(ctx, h.Wrap(s), i, func(e conformance.SharedEvent) {
				mu.Lock()
				defer mu.Unlock()
				if e.Err != nil && !broken {
					t.Errorf("worker %d: %v", i, e.Err)
					return
				}
				listed[e.Listed]++
			})
			if err != nil && !broken {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return w.CheckShared(t.Context(), s, listed), linearize.Check(h.Ops(), time.Minute)
}

// Four workers sharing an optimistic store: every folder claimed and
// listed once, the store exact, the claims' history linearizable.
func TestSharedTraversalInProcess(t *testing.T) {
	problems, hist := runSharedInProcess(t, openOptimistic(t), 4, 2*time.Minute, false)
	for _, p := range problems {
		t.Error(p)
	}
	if !hist.Ok() {
		t.Error(hist)
	}
	t.Log(hist)
}

// The same on a store whose Update does not check its reads at commit
// (reads from a snapshot, writes applied blindly a moment later): two
// workers claim the same folder, and both the store check and the
// history's check must say so.
func TestSharedTraversalCatchesUnserializableUpdate(t *testing.T) {
	problems, hist := runSharedInProcess(t, &blindStore{Store: openOptimistic(t)}, 4, 2*time.Second, true)
	if len(problems) == 0 {
		t.Fatal("CheckShared found nothing wrong on a store whose Update is not serializable")
	}
	if !hist.Illegal() {
		t.Errorf("the history check passed on a store whose Update is not serializable: %v", hist)
	}
	t.Logf("%d problems, first %q; %.300s", len(problems), problems[0], hist.String())
}

// Through real processes: one worker here, since a local store admits one
// process at a time (on a shared backend, the backend's own tests run
// several, each through another member).
func TestSharedTraversalProcess(t *testing.T) {
	cfg := kv.Config{Backend: "badger", Path: t.TempDir()}
	res := conformance.RunSharedTraversal(t, conformance.SharedOptions{Configs: []kv.Config{cfg}, Workers: 1})
	if res.Listed[0] != res.Folders || !res.History.Ok() {
		t.Errorf("the worker listed %d of %d folders; history %v", res.Listed[0], res.Folders, res.History)
	}
}

func openOptimistic(t *testing.T) kv.Store {
	t.Helper()
	cfg, err := kv.ParseDSN("memory:?opt.txn=optimistic")
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.OpenDriver(t.Context(), cfg, memory.Driver{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// blindStore runs Update's function on a snapshot and applies its writes
// afterwards without checking what it read: snapshot reads, lost updates.
type blindStore struct{ kv.Store }

func (s *blindStore) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	var b kv.Batch
	pending := map[string][]byte{} // nil value: deleted
	err := s.View(ctx, func(tx kv.ReadTxn) error {
		return fn(&blindTxn{ReadTxn: tx, b: &b, pending: pending})
	})
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond) // the window in which another commits
	return s.Write(ctx, &b)
}

type blindTxn struct {
	kv.ReadTxn
	b       *kv.Batch
	pending map[string][]byte
}

func (t *blindTxn) Get(key []byte) ([]byte, error) {
	if v, ok := t.pending[string(key)]; ok {
		if v == nil {
			return nil, kv.ErrNotFound
		}
		return append([]byte{}, v...), nil
	}
	return t.ReadTxn.Get(key)
}

func (t *blindTxn) Set(key, value []byte) error {
	t.pending[string(key)] = append([]byte{}, value...)
	return t.b.Set(key, value)
}

func (t *blindTxn) Delete(key []byte) error {
	t.pending[string(key)] = nil
	return t.b.Delete(key)
}

// RunCrash with a Location: the children get the whole configuration from
// the parent (as on a cluster, whose endpoints only the parent knows). In
// the children the test passes a configuration naming another backend,
// which would fail with kv.ErrBackendMismatch: they must take the
// parent's.
func TestCrashWholeConfig(t *testing.T) {
	cfg := kv.Config{Backend: "badger", Options: map[string]string{"value_threshold": "1024"}}
	if conformance.InChild() {
		cfg = kv.Config{Backend: "pebble"}
	}
	conformance.RunCrash(t, cfg, conformance.CrashOptions{
		Modes:    []kv.Durability{kv.Sync},
		Cycles:   3,
		Location: func(t *testing.T) string { return t.TempDir() },
	})
}
