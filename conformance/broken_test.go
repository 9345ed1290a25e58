package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// This file proves the suite can fail: each kind of deliberately broken
// store must make Run report a failure in the subtest written for it. The
// broken suite runs in a child process (this test binary re-executed with
// POLYKV_BROKEN set), so that its failures do not fail this package.

const brokenEnv = "POLYKV_BROKEN"

// breakages maps a kind of breakage to the subtests that must catch it.
var breakages = []struct {
	kind   string
	catch  []string // group/rule
	reason string
}{
	{"get-alias", []string{"Buffers/GetValueOwnedByCaller"}, "Get returns the same slice every time"},
	{"keep-caller-buffer", []string{"Buffers/SetCopiesKeyAndValue"}, "Set keeps the caller's value buffer"},
	{"prefix-leak", []string{"Iterate/PrefixDoesNotLeakNeighbours", "Model/RandomOperations"}, "a prefix scan also yields the key after the prefix"},
	{"half-txn", []string{"Atomicity/FnErrorRollsBack", "Model/RandomOperations"}, "a failed Update still applies its first write"},
	{"ignore-limit", []string{"Iterate/Limit", "Iterate/ReverseLimit", "Model/RandomOperations"}, "Iterate ignores Limit"},
	{"reverse-end-inclusive", []string{"Iterate/ReverseEndPresentAsKey"}, "a reverse scan includes End"},
	{"swallow-notfound", []string{"Values/MissingKeyNotFound", "Model/RandomOperations"}, "Get of a missing key returns an empty value"},
	{"no-snapshot", []string{"Snapshot/IterateIgnoresConcurrentWrites"}, "Iterate reads values live instead of from its snapshot"},
	{"panic-after-close", []string{"Lifecycle/MethodsAfterClose"}, "Get panics after Close"},
	{"txn-reverse-end-inclusive", []string{"Txn/IterateOptionsOverPendingWrites"}, "a reverse Txn.Iterate includes End"},
	{"txn-nil-empty-value", []string{"Values/EmptyValueFound"}, "Txn.Iterate hands an empty value as nil"},
	{"ignore-cancel-midway", []string{"Iterate/ContextCancelledMidway"}, "Iterate checks its context only before it starts"},
	{"cancel-partial-write", []string{"Atomicity/CancelledMidwayAllOrNothing"}, "a Write whose context ends midway keeps its first write and returns the context's error"},
	{"cancel-partial-delete", []string{"DeleteRange/CancelledMidwayConsistent"}, "a DeleteRange whose context ends midway keeps what it deleted and returns nil"},
	{"empty-end-bounded", []string{"DeleteRange/EmptyEndToLastKey", "DeleteRange/EmptyBoundsDeleteAll"}, "DeleteRange takes an empty end for an empty range"},
}

// TestSuiteCatchesBrokenStores runs, for each breakage, only the subtests
// meant to catch it, and checks that each fails; it also runs them on the
// intact store to show the failures come from the breakage.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in the child process")
	}
	for _, b := range breakages {
		t.Run(b.kind, func(t *testing.T) {
			pattern := childPattern(b.catch)
			out, failed := runChild(t, b.kind, pattern)
			if !failed {
				t.Fatalf("suite passed on a store where %s; child output:\n%s", b.reason, out)
			}
			for _, name := range b.catch {
				if !strings.Contains(out, "--- FAIL: TestBrokenChild/"+name+" ") {
					t.Errorf("subtest %s did not fail on a store where %s; child output:\n%s", name, b.reason, out)
				}
			}
			if out, failed := runChild(t, "none", pattern); failed {
				t.Errorf("the same subtests fail on the intact store:\n%s", out)
			}
		})
	}
}

// childPattern selects exactly the given group/rule subtests.
func childPattern(names []string) string {
	var groups, rules []string
	for _, n := range names {
		g, r, _ := strings.Cut(n, "/")
		groups = append(groups, g)
		rules = append(rules, r)
	}
	return "^TestBrokenChild$/^(" + strings.Join(groups, "|") + ")$/^(" + strings.Join(rules, "|") + ")$"
}

func runChild(t *testing.T, kind, pattern string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", pattern, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), brokenEnv+"="+kind, "POLYKV_MODEL_SEED=1", "POLYKV_MODEL_OPS=3000")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run child: %v", err)
	}
	if !strings.Contains(string(out), "=== RUN   TestBrokenChild/") {
		t.Fatalf("child ran no subtest for pattern %s:\n%s", pattern, out)
	}
	return string(out), err != nil
}

// TestBrokenChild is the child: the suite against a broken store.
func TestBrokenChild(t *testing.T) {
	kind := os.Getenv(brokenEnv)
	if kind == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores with " + brokenEnv + " set")
	}
	conformance.Run(t, func(t *testing.T) func() (kv.Store, error) {
		return func() (kv.Store, error) {
			s, err := kv.Open(t.Context(), kv.Config{Backend: "memory"})
			if err != nil {
				return nil, err
			}
			return &brokenStore{Store: s, kind: kind}, nil
		}
	})
}

// brokenStore wraps a good store and breaks one rule, chosen by kind.
type brokenStore struct {
	kv.Store
	kind string

	mu     sync.Mutex
	cache  map[string][]byte // get-alias, keep-caller-buffer
	closed bool
}

func (b *brokenStore) forget(key []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if key == nil {
		b.cache = nil
	} else {
		delete(b.cache, string(key))
	}
}

func (b *brokenStore) remember(key, value []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cache == nil {
		b.cache = map[string][]byte{}
	}
	b.cache[string(key)] = value
}

func (b *brokenStore) Get(ctx context.Context, key []byte) ([]byte, error) {
	b.mu.Lock()
	cached, ok := b.cache[string(key)]
	closed := b.closed
	b.mu.Unlock()
	switch {
	case b.kind == "panic-after-close" && closed:
		panic("brokenStore: Get after Close")
	case ok:
		return cached, nil
	}
	v, err := b.Store.Get(ctx, key)
	switch {
	case b.kind == "swallow-notfound" && errors.Is(err, kv.ErrNotFound):
		return []byte{}, nil
	case b.kind == "get-alias" && err == nil:
		b.remember(key, v)
	}
	return v, err
}

func (b *brokenStore) Set(ctx context.Context, key, value []byte) error {
	b.forget(key)
	err := b.Store.Set(ctx, key, value)
	if b.kind == "keep-caller-buffer" && err == nil {
		b.remember(key, value)
	}
	return err
}

func (b *brokenStore) Delete(ctx context.Context, key []byte) error {
	b.forget(key)
	return b.Store.Delete(ctx, key)
}

func (b *brokenStore) Write(ctx context.Context, batch *kv.Batch) error {
	b.forget(nil)
	if b.kind == "cancel-partial-write" && batch != nil && batch.Len() > 0 && ctx.Err() == nil && ctx.Err() != nil {
		// The context ended between two checks: stop after the first write.
		bg := context.WithoutCancel(ctx)
		kind, k, v := batch.Op(0)
		if kind == kv.OpSet {
			_ = b.Store.Set(bg, k, v)
		} else {
			_ = b.Store.Delete(bg, k)
		}
		return context.Canceled
	}
	return b.Store.Write(ctx, batch)
}

func (b *brokenStore) DeleteRange(ctx context.Context, start, end []byte) error {
	b.forget(nil)
	if b.kind == "empty-end-bounded" && end != nil && len(end) == 0 {
		return nil
	}
	if b.kind == "cancel-partial-delete" && ctx.Err() == nil && ctx.Err() != nil {
		// The context ended between two checks: stop after the first key.
		bg := context.WithoutCancel(ctx)
		var first []byte
		_ = b.Store.Iterate(bg, kv.IterOptions{Start: start, End: end, KeysOnly: true, Limit: 1}, func(k, _ []byte) error {
			first = bytes.Clone(k)
			return nil
		})
		if first != nil {
			return b.Store.Delete(bg, first)
		}
		return nil
	}
	return b.Store.DeleteRange(ctx, start, end)
}

func (b *brokenStore) DeletePrefix(ctx context.Context, prefix []byte) error {
	b.forget(nil)
	return b.Store.DeletePrefix(ctx, prefix)
}

func (b *brokenStore) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.Store.Close()
}

// recTxn records the first Set of a transaction.
type recTxn struct {
	kv.Txn
	first *[2][]byte
}

func (r recTxn) Set(key, value []byte) error {
	if r.first[0] == nil {
		*r.first = [2][]byte{bytes.Clone(key), bytes.Clone(value)}
	}
	return r.Txn.Set(key, value)
}

// brokenTxn breaks Txn.Iterate, chosen by kind.
type brokenTxn struct {
	kv.Txn
	kind string
}

func (x brokenTxn) Iterate(opts kv.IterOptions, fn func(k, v []byte) error) error {
	if x.kind == "txn-reverse-end-inclusive" && opts.Reverse && len(opts.End) > 0 {
		opts.End = kv.KeySuccessor(opts.End)
	}
	if x.kind == "txn-nil-empty-value" {
		return x.Txn.Iterate(opts, func(k, v []byte) error {
			if len(v) == 0 {
				v = nil
			}
			return fn(k, v)
		})
	}
	return x.Txn.Iterate(opts, fn)
}

func (b *brokenStore) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	b.forget(nil)
	if strings.HasPrefix(b.kind, "txn-") && fn != nil {
		return b.Store.Update(ctx, func(tx kv.Txn) error { return fn(brokenTxn{tx, b.kind}) })
	}
	if b.kind != "half-txn" || fn == nil {
		return b.Store.Update(ctx, fn)
	}
	var first [2][]byte
	err := b.Store.Update(ctx, func(tx kv.Txn) error {
		first = [2][]byte{}
		return fn(recTxn{tx, &first})
	})
	if err != nil && first[0] != nil {
		_ = b.Store.Set(ctx, first[0], first[1])
	}
	return err
}

func (b *brokenStore) Iterate(ctx context.Context, opts kv.IterOptions, fn func(k, v []byte) error) error {
	if fn == nil {
		return b.Store.Iterate(ctx, opts, fn)
	}
	switch b.kind {
	case "ignore-cancel-midway":
		if err := ctx.Err(); err != nil {
			return err
		}
		return b.Store.Iterate(context.WithoutCancel(ctx), opts, fn)
	case "ignore-limit":
		opts.Limit = 0
	case "reverse-end-inclusive":
		if opts.Reverse && len(opts.End) > 0 {
			opts.End = kv.KeySuccessor(opts.End)
		}
	case "prefix-leak":
		if len(opts.Prefix) > 0 && !opts.Reverse {
			prefix := opts.Prefix
			if bytes.Compare(opts.Start, prefix) < 0 {
				opts.Start = prefix
			}
			opts.Prefix = nil
			leaked := false
			return b.Store.Iterate(ctx, opts, func(k, v []byte) error {
				if !bytes.HasPrefix(k, prefix) {
					if leaked {
						return kv.SkipAll
					}
					leaked = true
				}
				return fn(k, v)
			})
		}
	case "no-snapshot":
		keysOnly := opts.KeysOnly
		opts.KeysOnly = true
		return b.Store.Iterate(ctx, opts, func(k, _ []byte) error {
			if keysOnly {
				return fn(k, nil)
			}
			v, err := b.Store.Get(ctx, k)
			if err != nil {
				return err
			}
			return fn(k, v)
		})
	}
	return b.Store.Iterate(ctx, opts, fn)
}
