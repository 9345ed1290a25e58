package linearize_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance/linearize"
	"github.com/polykv/polykv/kv"
)

// op builds a hand-written operation from call to ret (ret < 0: pending).
func op(client int, call, ret int64, steps ...linearize.Step) linearize.Op {
	if ret < 0 {
		ret = linearize.Pending
	}
	return linearize.Op{Client: client, Name: "op", Call: call, Return: ret, Steps: steps}
}

func r(k, v string) linearize.Step {
	return linearize.Step{Kind: linearize.Read, Key: []byte(k), Value: []byte(v), Found: v != ""}
}

func w(k, v string) linearize.Step {
	return linearize.Step{Kind: linearize.Write, Key: []byte(k), Value: []byte(v)}
}

func scan(lo, hi string, seen ...string) linearize.Step {
	s := linearize.Step{Kind: linearize.Scan, Key: []byte(lo), Upper: []byte(hi)}
	for _, k := range seen {
		kk, v, _ := strings.Cut(k, "=")
		s.Seen = append(s.Seen, linearize.Pair{Key: []byte(kk), Value: []byte(v)})
	}
	return s
}

// Hand-written histories with a known answer: the model and the
// partitioning, before any store is involved.
func TestCheckHistories(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []linearize.Op
		want porcupine.CheckResult
	}{
		{"sequential", []linearize.Op{
			op(0, 0, 1, w("a", "1")), op(1, 2, 3, r("a", "1")), op(0, 4, 5, r("a", "1"), w("a", "2")), op(1, 6, 7, r("a", "2")),
		}, porcupine.Ok},
		{"concurrent write seen or not", []linearize.Op{
			op(0, 0, 10, w("a", "1")), op(1, 1, 2, r("a", "")), op(2, 3, 4, r("a", "1")), op(1, 5, 6, r("a", "1")),
		}, porcupine.Ok},
		{"stale read", []linearize.Op{
			op(0, 0, 1, w("a", "1")), op(0, 2, 3, w("a", "2")), op(1, 4, 5, r("a", "1")),
		}, porcupine.Illegal},
		{"read goes back in time", []linearize.Op{
			op(0, 0, 10, w("a", "1")), op(1, 1, 2, r("a", "1")), op(2, 3, 4, r("a", "")),
		}, porcupine.Illegal},
		{"lost update", []linearize.Op{
			// Two increments both read 0 and both commit.
			op(0, 0, 1, w("n", "0")),
			op(1, 2, 5, r("n", "0"), w("n", "1")), op(2, 2, 5, r("n", "0"), w("n", "1b")),
		}, porcupine.Illegal},
		{"value nobody wrote (a failed write applied)", []linearize.Op{
			op(0, 0, 1, w("a", "1")), op(1, 2, 3, r("a", "2")),
		}, porcupine.Illegal},
		{"pending write seen", []linearize.Op{
			op(0, 0, -1, w("a", "1")), op(1, 5, 6, r("a", "1")),
		}, porcupine.Ok},
		{"pending write never seen", []linearize.Op{
			op(0, 0, -1, w("a", "1")), op(1, 5, 6, r("a", "")),
		}, porcupine.Ok},
		{"pending write seen then unseen", []linearize.Op{
			op(0, 0, -1, w("a", "1")), op(1, 5, 6, r("a", "1")), op(1, 7, 8, r("a", "")),
		}, porcupine.Illegal},
		{"pending transaction whose read failed", []linearize.Op{
			op(0, 0, 1, w("a", "1")), op(1, 2, -1, r("a", "0"), w("b", "x")), op(0, 3, 4, r("b", "")),
		}, porcupine.Ok},
		{"phantom delete (write skew on a range)", []linearize.Op{
			op(0, 0, 1, w("p/1", "x"), w("p/2", "x")),
			op(1, 2, 5, scan("p/", "p0", "p/1=x", "p/2=x"), linearize.Step{Kind: linearize.Delete, Key: []byte("p/1")}),
			op(2, 2, 5, scan("p/", "p0", "p/1=x", "p/2=x"), linearize.Step{Kind: linearize.Delete, Key: []byte("p/2")}),
		}, porcupine.Illegal},
		{"scan sees one state", []linearize.Op{
			op(0, 0, 1, w("p/1", "x")),
			op(1, 2, 5, scan("p/", "p0", "p/1=x")),
			op(2, 3, 4, w("p/2", "y")),
			op(1, 6, 7, scan("p/", "p0", "p/1=x", "p/2=y")),
		}, porcupine.Ok},
		{"scan misses a committed key", []linearize.Op{
			op(0, 0, 1, w("p/1", "x")), op(0, 2, 3, w("p/2", "y")),
			op(1, 4, 5, scan("p/", "p0", "p/1=x")),
		}, porcupine.Illegal},
		{"independent keys each fine", []linearize.Op{
			op(0, 0, 1, w("a", "1")), op(1, 0, 1, w("b", "1")), op(2, 2, 3, r("a", "1")), op(3, 2, 3, r("b", "1")),
		}, porcupine.Ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := linearize.Check(tc.ops, 10*time.Second)
			if res.Outcome != tc.want {
				t.Errorf("Check = %v, want %v", res, tc.want)
			}
			if tc.want == porcupine.Illegal && !strings.Contains(res.Problem, "no order") {
				t.Errorf("an illegal history explained as %q", res.Problem)
			}
		})
	}
}

func TestCheckPartitions(t *testing.T) {
	ops := []linearize.Op{
		op(0, 0, 1, w("a", "1")), op(1, 0, 1, w("b", "1")), op(2, 0, 1, w("c/1", "1")),
		op(3, 2, 3, scan("c/", "c0", "c/1=1")), op(3, 4, 5, scan("x", "y")),
	}
	if res := linearize.Check(ops, 10*time.Second); !res.Ok() || res.Partitions != 3 {
		t.Errorf("Check = %v, want Ok in 3 groups (a, b, c/)", res)
	}
}

func TestCheckRefusesNonAtomicDeleteRange(t *testing.T) {
	o := op(0, 0, 1, linearize.Step{Kind: linearize.DeleteRange, Key: []byte("a"), Upper: []byte("b")})
	o.Unchecked = "a range delete on x"
	res := linearize.Check([]linearize.Op{o}, time.Second)
	if res.Outcome != porcupine.Unknown || !strings.Contains(res.Problem, "cannot be checked") {
		t.Errorf("Check = %v, want Unknown naming the range delete", res)
	}
}

// The history survives its trip through a file (another process's).
func TestHistoryRoundTrip(t *testing.T) {
	h := linearize.NewHistory(linearize.Options{Client: 3})
	s := h.Wrap(openMemory(t))
	ctx := t.Context()
	key := []byte("k\x00\xff")
	if err := s.Set(ctx, key, []byte("v\xfe")); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx kv.Txn) error {
		if _, err := tx.Get(key); err != nil {
			return err
		}
		return tx.Iterate(kv.IterOptions{}, func(_, _ []byte) error { return nil })
	}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	ops, err := linearize.ReadOps(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ops) != fmt.Sprint(h.Ops()) || len(ops) != 2 {
		t.Errorf("read back %v\nwant %v", ops, h.Ops())
	}
	if ops[0].Client != 3000 || !bytes.Equal(ops[0].Steps[0].Key, key) {
		t.Errorf("first op %+v: want client 3000 and the key's bytes intact", ops[0])
	}
	if _, err := linearize.ReadOps(strings.NewReader("{\"c\":1}\n{\"c\":")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a cut line: %v, want an error naming line 2", err)
	}
}

// What the recorder keeps: the committed run of an Update, nothing of a
// failed call, a range cut where the iteration stopped.
func TestRecorder(t *testing.T) {
	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix("r/")})
	s := h.Wrap(openOptimistic(t))
	ctx := t.Context()
	for _, k := range []string{"r/1", "r/2", "r/3", "other"} {
		if err := s.Set(ctx, []byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	runs := 0
	if err := s.Update(ctx, func(tx kv.Txn) error {
		runs++
		if _, err := tx.Get([]byte("r/1")); err != nil {
			return err
		}
		if runs == 1 {
			// Another writer changes what this run read: it conflicts.
			if err := s.Set(ctx, []byte("r/1"), []byte("changed")); err != nil {
				return err
			}
		}
		return tx.Set([]byte("r/2"), []byte("x"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx kv.Txn) error { return errors.New("give up") }); err == nil {
		t.Fatal("a failing Update succeeded")
	}
	err := s.Iterate(ctx, kv.IterOptions{}, func(k, _ []byte) error {
		if string(k) == "r/2" {
			return kv.SkipAll
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range h.Ops() {
		got = append(got, o.String())
	}
	want := []string{
		`set[c0 w("r/1","vr/1")]`, `set[c0 w("r/2","vr/2")]`, `set[c0 w("r/3","vr/3")]`,
		`update[c0 r("r/1")="changed" w("r/2","x")]`,
		`set[c1 w("r/1","changed")]`,
		`iterate[c0 scan["","r/2\x00")={"r/1":"changed" "r/2":"x"}]`,
	}
	if runs != 2 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d runs, recorded:\n%s\nwant 2 runs and:\n%s", runs, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res := linearize.Check(h.Ops(), 10*time.Second); !res.Ok() {
		t.Error(res)
	}
}

// The wrapper's transactions read through the store's own GetMany and
// IterateMany (the paths nodestore takes on a shared store) and record
// each key and each range as Get and Iterate would.
func TestRecorderMany(t *testing.T) {
	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix("r/")})
	s := h.Wrap(openOptimistic(t))
	ctx := t.Context()
	for _, k := range []string{"r/a1", "r/a2", "r/b1"} {
		if err := s.Set(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	type many interface {
		GetMany([][]byte, func(int, []byte) error) error
		IterateMany([]kv.IterOptions, func(int, []byte, []byte) error) error
	}
	if err := s.Update(ctx, func(tx kv.Txn) error {
		if _, ok := tx.(many); !ok {
			return errors.New("the transaction has no GetMany or IterateMany")
		}
		if err := kv.GetMany(tx, [][]byte{[]byte("r/a1"), []byte("r/zz")}, func(int, []byte) error { return nil }); err != nil {
			return err
		}
		err := kv.IterateMany(tx, []kv.IterOptions{{Prefix: []byte("r/a")}, {Prefix: []byte("r/b"), KeysOnly: true}, {Prefix: []byte("r/c")}},
			func(int, []byte, []byte) error { return nil })
		if err != nil {
			return err
		}
		return tx.Set([]byte("r/c1"), []byte("x"))
	}); err != nil {
		t.Fatal(err)
	}
	ops := h.Ops()
	got := ops[len(ops)-1].String()
	want := `update[c0 r("r/a1")="v" r("r/zz")=missing scan["r/a","r/b")={"r/a1":"v" "r/a2":"v"} scan["r/b","r/c")={"r/b1"} scan["r/c","r/d")={} w("r/c1","x")]`
	if got != want {
		t.Errorf("recorded:\n%s\nwant:\n%s", got, want)
	}
	if res := linearize.Check(ops, 10*time.Second); !res.Ok() {
		t.Error(res)
	}
}

func openMemory(t *testing.T) kv.Store { return openDSN(t, "memory:") }

func openOptimistic(t *testing.T) kv.Store { return openDSN(t, "memory:?opt.txn=optimistic") }

func openDSN(t *testing.T, dsn string) kv.Store {
	t.Helper()
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// runWorkload runs clients goroutines of the workload on s, recorded.
func runWorkload(t *testing.T, s kv.Store, clients, ops int) []linearize.Op {
	t.Helper()
	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix("lin/")})
	rs := h.Wrap(s)
	seed := rand.Uint64()
	var wg sync.WaitGroup
	stats := make([]linearize.WorkloadStats, clients)
	for c := range clients {
		wg.Go(func() { stats[c] = linearize.Workload{Ops: ops}.Run(t.Context(), rs, c, seed) })
	}
	wg.Wait()
	for c, st := range stats {
		if st.Failed > 0 || st.Unknown > 0 {
			t.Logf("client %d: %d ok, %d failed, %d unknown, last error %v", c, st.Ok, st.Failed, st.Unknown, st.LastErr)
		}
	}
	return h.Ops()
}

// A correct store, with its writers under kv's lock or optimistic: the
// workload's history is linearizable.
func TestWorkloadLinearizable(t *testing.T) {
	for _, dsn := range []string{"memory:", "memory:?opt.txn=optimistic"} {
		t.Run(dsn, func(t *testing.T) {
			ops := runWorkload(t, openDSN(t, dsn), 6, 150)
			res := linearize.Check(ops, time.Minute)
			if !res.Ok() {
				t.Fatal(res)
			}
			t.Logf("%v", res)
		})
	}
}

// The checker must catch what it is for. Each broken store breaks one
// promise, sometimes; the same workload's history must be rejected. (The
// runs are repeated a few times: a breakage that happens at random may
// happen to leave a history some order explains.)
func TestCheckerCatchesBrokenStores(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(kv.Store) kv.Store
	}{
		{"stale reads in Update", func(s kv.Store) kv.Store { return &staleStore{Store: s} }},
		{"failed commits applied", func(s kv.Store) kv.Store { return &liarStore{Store: s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for try := range 5 {
				res := linearize.Check(runWorkload(t, tc.wrap(openOptimistic(t)), 6, 150), time.Minute)
				if res.Outcome == porcupine.Illegal {
					t.Logf("try %d: %.600s", try, res.String())
					return
				}
			}
			t.Errorf("%s: five histories passed the check; it cannot see the breakage", tc.name)
		})
	}
}

// staleStore's transactions read, one time in three, the value a key had
// when this store last read it, instead of the current one: the commit
// checks nothing of that read (the engine never saw it), so the Update
// applies a write computed from a stale value.
type staleStore struct {
	kv.Store
	mu    sync.Mutex
	cache map[string][]byte
	rng   uint64
}

func (s *staleStore) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	return s.Store.Update(ctx, func(tx kv.Txn) error { return fn(&staleTxn{Txn: tx, s: s}) })
}

type staleTxn struct {
	kv.Txn
	s *staleStore
}

func (t *staleTxn) Get(key []byte) ([]byte, error) {
	s := t.s
	s.mu.Lock()
	s.rng = s.rng*6364136223846793005 + 1442695040888963407
	old, ok := s.cache[string(key)]
	stale := ok && s.rng>>62 == 0
	s.mu.Unlock()
	if stale {
		return bytes.Clone(old), nil
	}
	v, err := t.Txn.Get(key)
	if err == nil {
		s.mu.Lock()
		if s.cache == nil {
			s.cache = map[string][]byte{}
		}
		s.cache[string(key)] = bytes.Clone(v)
		s.mu.Unlock()
	}
	return v, err
}

// liarStore applies every Set, but reports one in three as failed (as a
// networked store would whose request timed out after the cluster applied
// it, if it did not resolve the outcome).
type liarStore struct {
	kv.Store
	mu sync.Mutex
	n  int
}

func (s *liarStore) Set(ctx context.Context, key, value []byte) error {
	if err := s.Store.Set(ctx, key, value); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.n%3 == 0 {
		return fmt.Errorf("%w: request timed out", kv.ErrUnavailable)
	}
	return nil
}
