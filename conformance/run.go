package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// Run runs the kv contract suite against the stores f opens. Each rule of
// the contract (DESIGN.md, "The kv contract") is one subtest named after it,
// grouped by topic ("Keys/EmptyKeyRejected", "Iterate/ReversePrefix", ...),
// and each subtest gets a fresh store from f. The suite closes every store
// it opens. Rules that depend on a promise the backend declares in
// Info().Guarantees check that promise, and subtests that need persistence
// are skipped, with the reason, when the backend is not persistent.
//
// After the kv rules, Run runs the layers' sections on the same backend:
// "Nodestore" (RunNodestore: key layout, transitions, counters, the scripted
// traversal whose dump must match the golden digest) and "Logstore"
// (RunLogstore). A backend's TestConformance therefore proves the whole
// contract with one call.
//
// Run honours -short (smaller bulk loads and model runs) and the
// environment variable POLYKV_STRESS=1 (longer model runs).
func Run(t *testing.T, f Factory) {
	t.Helper()
	RunWith(t, f, Options{})
}

// Options adjust the suite to a backend. Every adjustment is declared
// where the backend calls RunWith and logged by the rule it changes: none
// weakens a rule, they only size its workload.
type Options struct {
	// BulkKeys, when positive, is the size of Bulk/LoadsMillionKeysInChunks
	// (default one million, 100,000 under -short; the environment variable
	// POLYKV_CONFORMANCE_BULK_KEYS overrides both): for a networked backend
	// whose throughput is a few thousand keys per second.
	BulkKeys int
	// CounterRounds, when positive, is how many increments each of the 8
	// goroutines of Concurrency/CounterIncrementsExact makes (default 500):
	// every increment is a serialized commit, and a replicated commit takes
	// milliseconds.
	CounterRounds int
	// LongTraversalOnlyUnderStress, when not empty, runs Nodestore/Traversal
	// (about 24,000 transactions one after the other, whose dump must match
	// the golden digest) only with POLYKV_STRESS=1 (make stress), and says
	// why: the reason is printed with the skip.
	LongTraversalOnlyUnderStress string
	// Nodestore, when not nil, are the options of every nodestore.Store
	// the nodestore section makes (ChunkBytes aside, which some rules
	// set): for instance counter stripes on a local store
	// (nodestore.StripesOn), which otherwise only a shared store uses.
	Nodestore *nodestore.Options
}

// RunWith is Run with options.
func RunWith(t *testing.T, f Factory, o Options) {
	t.Helper()
	runKV(t, f, o)
	t.Run("Nodestore", func(t *testing.T) { runNodestore(t, f, o) })
	t.Run("Logstore", func(t *testing.T) { RunLogstore(t, f) })
}

// group is one topic of the suite: a list of named rules.
type group struct {
	name  string
	tests []rule
}

// rule is one subtest: a rule of the contract and its check.
type rule struct {
	name string
	fn   func(t *testing.T, e *env)
}

// runKV runs every group of the kv contract. New groups go into kvGroups.
func runKV(t *testing.T, f Factory, o Options) {
	for _, g := range kvGroups() {
		t.Run(g.name, func(t *testing.T) {
			for _, r := range g.tests {
				t.Run(r.name, func(t *testing.T) {
					e := newEnv(t, f)
					e.opts = o
					r.fn(t, e)
				})
			}
		})
	}
}

func kvGroups() []group {
	return []group{
		{"Keys", keyRules()},
		{"Values", valueRules()},
		{"Buffers", bufferRules()},
		{"Iterate", iterateRules()},
		{"Snapshot", snapshotRules()},
		{"Txn", txnRules()},
		{"Atomicity", atomicityRules()},
		{"Bulk", bulkRules()},
		{"Concurrency", concurrencyRules()},
		{"Serializable", serializableRules()},
		{"GetMany", getManyRules()},
		{"IterateMany", iterateManyRules()},
		{"DeleteRange", deleteRangeRules()},
		{"Lifecycle", lifecycleRules()},
		{"Persistence", persistenceRules()},
		{"Backup", backupRules()},
		{"Verify", verifyRules()},
		{"Model", modelRules()},
	}
}

// stress reports whether long variants were asked for (make stress).
func stress() bool { return os.Getenv("POLYKV_STRESS") == "1" }

// env is one subtest's store and the means to reopen it.
type env struct {
	t    *testing.T
	ctx  context.Context
	open func() (kv.Store, error)
	s    kv.Store
	// factory makes more stores of the same backend (a Load target).
	factory Factory
	opts    Options

	mu     sync.Mutex
	opened []kv.Store
}

func newEnv(t *testing.T, f Factory) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), open: f(t), factory: f}
	t.Cleanup(e.closeAll)
	e.s = e.mustOpen()
	return e
}

func (e *env) mustOpen() kv.Store {
	e.t.Helper()
	s, err := e.open()
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.mu.Lock()
	e.opened = append(e.opened, s)
	e.mu.Unlock()
	return s
}

func (e *env) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.opened {
		if err := s.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	}
	e.opened = nil
}

// persistent reports whether the backend keeps data across Close.
func (e *env) persistent() bool { return e.s.Info().Guarantees.Persistent }

// requirePersistent skips the test, with the reason, on in-memory backends.
func (e *env) requirePersistent() {
	e.t.Helper()
	if !e.persistent() {
		e.t.Skipf("backend %q declares Guarantees.Persistent=false: nothing survives Close", e.s.Info().Backend)
	}
}

// reopen closes the store and opens it again.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("Close before reopen: %v", err)
	}
	e.s = e.mustOpen()
}

func (e *env) set(k, v string) {
	e.t.Helper()
	if err := e.s.Set(e.ctx, []byte(k), []byte(v)); err != nil {
		e.t.Fatalf("Set(%q): %v", k, err)
	}
}

// setAll writes k = "v:"+k for every key, in one batch when the store's
// limits allow, else in batches as large as they allow.
func (e *env) setAll(keys ...string) {
	e.t.Helper()
	l := e.limits()
	b := new(kv.Batch)
	for _, k := range keys {
		if b.Len() == l.MaxTxnOps || b.Size()+kv.EntrySize([]byte(k), []byte("v:"+k)) > l.MaxTxnBytes {
			if err := e.s.Write(e.ctx, b); err != nil {
				e.t.Fatalf("Write: %v", err)
			}
			b.Reset()
		}
		if err := b.Set([]byte(k), []byte("v:"+k)); err != nil {
			e.t.Fatalf("Batch.Set(%q): %v", k, err)
		}
	}
	if err := e.s.Write(e.ctx, b); err != nil {
		e.t.Fatalf("Write: %v", err)
	}
}

// writeChunked writes the sets and deletes of b, in one batch when the
// store's limits allow, else through a BulkWriter (chunks as large as they
// allow): for a rule's setup, not for the rule under test.
func (e *env) writeChunked(b *kv.Batch) {
	e.t.Helper()
	w := kv.NewBulkWriter(e.ctx, e.s)
	for i := 0; i < b.Len(); i++ {
		kind, k, v := b.Op(i)
		var err error
		if kind == kv.OpSet {
			err = w.Set(k, v)
		} else {
			err = w.Delete(k)
		}
		if err != nil {
			e.t.Fatalf("BulkWriter: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		e.t.Fatalf("BulkWriter.Close: %v", err)
	}
}

// limits returns the store's limits (kv.LimitsOf): the package constants,
// or the smaller ones a networked backend declares.
func (e *env) limits() kv.Limits { return kv.LimitsOf(e.s) }

func (e *env) del(k string) {
	e.t.Helper()
	if err := e.s.Delete(e.ctx, []byte(k)); err != nil {
		e.t.Fatalf("Delete(%q): %v", k, err)
	}
}

// get returns the value of k and whether it exists; other errors fail.
func (e *env) get(k string) (string, bool) {
	e.t.Helper()
	v, err := e.s.Get(e.ctx, []byte(k))
	if errors.Is(err, kv.ErrNotFound) {
		if v != nil {
			e.t.Errorf("Get(%q) returned ErrNotFound with a non-nil value %q", k, v)
		}
		return "", false
	}
	if err != nil {
		e.t.Fatalf("Get(%q): %v", k, err)
	}
	if v == nil {
		e.t.Errorf("Get(%q) returned a nil value with a nil error: want a non-nil (maybe empty) slice", k)
	}
	return string(v), true
}

func (e *env) wantValue(k, want string) {
	e.t.Helper()
	got, ok := e.get(k)
	if !ok {
		e.t.Errorf("Get(%q): not found, want %q", q(k), q(want))
	} else if got != want {
		e.t.Errorf("Get(%q) = %q, want %q", q(k), q(got), q(want))
	}
}

func (e *env) wantMissing(k string) {
	e.t.Helper()
	if got, ok := e.get(k); ok {
		e.t.Errorf("Get(%q) = %q, want ErrNotFound", q(k), q(got))
	}
}

// pair is a key and its value, as strings for easy comparison.
type pair struct{ k, v string }

func (p pair) String() string { return fmt.Sprintf("%q=%q", p.k, p.v) }

// iterate collects what an iteration visits on r (a store, or a ReadTxn
// through iterFunc).
func collect(t testing.TB, iter func(opts kv.IterOptions, fn func(k, v []byte) error) error, opts kv.IterOptions) []pair {
	t.Helper()
	var out []pair
	err := iter(opts, func(k, v []byte) error {
		out = append(out, pair{string(k), string(v)})
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate(%s): %v", fmtOpts(opts), err)
	}
	return out
}

func (e *env) scan(opts kv.IterOptions) []pair {
	e.t.Helper()
	return collect(e.t, func(o kv.IterOptions, fn func(k, v []byte) error) error {
		return e.s.Iterate(e.ctx, o, fn)
	}, opts)
}

func (e *env) scanKeys(opts kv.IterOptions) []string {
	e.t.Helper()
	return keysOf(e.scan(opts))
}

func keysOf(ps []pair) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.k
	}
	return out
}

// wantKeys compares two key lists and reports both, quoted, on mismatch.
func wantKeys(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if strings.Join(got, "\x00|") != strings.Join(want, "\x00|") {
		t.Errorf("%s:\n got  %s\n want %s", what, qs(got), qs(want))
	}
}

func wantPairs(t testing.TB, what string, got, want []pair) {
	t.Helper()
	if len(got) == len(want) {
		same := true
		for i := range got {
			if got[i] != want[i] {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	t.Errorf("%s:\n got  %v\n want %v", what, got, want)
}

// q quotes a possibly long key for messages.
func q(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", s[:20], len(s))
	}
	return s
}

func qs(keys []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q", q(k))
	}
	b.WriteByte(']')
	return b.String()
}

func fmtOpts(o kv.IterOptions) string {
	var parts []string
	if o.Prefix != nil {
		parts = append(parts, fmt.Sprintf("Prefix:%q", o.Prefix))
	}
	if o.Start != nil {
		parts = append(parts, fmt.Sprintf("Start:%q", o.Start))
	}
	if o.End != nil {
		parts = append(parts, fmt.Sprintf("End:%q", o.End))
	}
	if o.Reverse {
		parts = append(parts, "Reverse")
	}
	if o.KeysOnly {
		parts = append(parts, "KeysOnly")
	}
	if o.Limit != 0 {
		parts = append(parts, fmt.Sprintf("Limit:%d", o.Limit))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// deadlockTimeout bounds every test that could hang if a backend deadlocks.
const deadlockTimeout = 30 * time.Second

// within runs fn in a goroutine and fails the test if it has not returned
// after deadlockTimeout: a deadlock fails instead of hanging the run. A
// panic in fn is reported as a failure. fn reports problems by returning an
// error (it must not call t.Fatal).
func within(t testing.TB, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- fn()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	case <-time.After(deadlockTimeout):
		t.Fatalf("%s: still running after %v: deadlock?", what, deadlockTimeout)
	}
}

// noPanic calls fn and turns a panic into a test error.
func noPanic(t testing.TB, what string, fn func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v", what, p)
		}
	}()
	fn()
}

func bytesOf(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
