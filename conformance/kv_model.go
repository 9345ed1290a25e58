package conformance

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// This file is the model-based test: random operations applied both to the
// store and to a reference model (a Go map, sorted on demand: nothing shared
// with kv or any backend), every read compared. Fuzz drives the same
// checker from fuzz input.

// opKind is one kind of operation of the model test.
type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opGet
	opScan
	opUpdate
	opBatch
	opDeleteRange
	opDeletePrefix
	opView
	opReopen
	numOpKinds
)

var opNames = [...]string{"Set", "Delete", "Get", "Iterate", "Update", "Write", "DeleteRange", "DeletePrefix", "View", "Reopen"}

// op is one operation. sub holds the operations of an Update, a View or a
// batch; fail makes an Update's function return an error after them.
type op struct {
	kind       opKind
	key, value string
	end        string // DeleteRange: key..end; "" is unbounded
	opts       kv.IterOptions
	sub        []op
	fail       bool
}

func (o op) String() string {
	switch o.kind {
	case opSet:
		return fmt.Sprintf("Set(%q, %q)", o.key, q(o.value))
	case opDelete, opGet, opDeletePrefix:
		return fmt.Sprintf("%s(%q)", opNames[o.kind], o.key)
	case opScan:
		return "Iterate" + fmtOpts(o.opts)
	case opDeleteRange:
		return fmt.Sprintf("DeleteRange(%q, %q)", o.key, o.end)
	case opUpdate, opBatch, opView:
		parts := make([]string, len(o.sub))
		for i, s := range o.sub {
			parts[i] = s.String()
		}
		fail := ""
		if o.fail {
			fail = " then fail"
		}
		return fmt.Sprintf("%s{%s%s}", opNames[o.kind], strings.Join(parts, "; "), fail)
	default:
		return opNames[o.kind]
	}
}

// modelKeys are the keys operations draw from: few enough that operations
// collide, with the awkward bytes and the prefix neighbours of the suite.
var modelKeys = []string{
	"a", "ab", "abc", "b", "ba", "t", "te", "tes", "test", "tesu", "tet", "u",
	"\x00", "\x00\x00", "\x00\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
	"!", "!badger!", "!badger!a", "!badgeq", "k0", "k1", "k10", "k2", "k3", "k4", "k5",
}

// modelBounds are the prefixes and bounds scans draw from ("" is none).
var modelBounds = append([]string{"", "", "", "t\xff", "k", "k1", "!badger", "\xff\xff", "zz", "a\x00"}, modelKeys...)

// checker applies operations to the store and the model and compares.
type checker struct {
	e     *env
	model map[string]string
}

func newChecker(e *env) *checker { return &checker{e: e, model: map[string]string{}} }

var errIntended = errors.New("conformance: the model test's intended transaction failure")

// mismatch is a difference between store and model.
type mismatch struct{ msg string }

func (m *mismatch) Error() string { return m.msg }

func mismatchf(format string, args ...any) error { return &mismatch{fmt.Sprintf(format, args...)} }

// modelScan is what opts selects in m.
func modelScan(m map[string]string, opts kv.IterOptions) []pair {
	keys := filterKeys(slices.Sorted(maps.Keys(m)), opts)
	out := make([]pair, len(keys))
	for i, k := range keys {
		out[i] = pair{k, m[k]}
		if opts.KeysOnly {
			out[i].v = ""
		}
	}
	return out
}

type reader interface {
	Get(key []byte) ([]byte, error)
	Iterate(opts kv.IterOptions, fn func(k, v []byte) error) error
}

// checkRead runs a Get or a scan on r and compares it with m.
func checkRead(r reader, m map[string]string, o op) error {
	switch o.kind {
	case opGet:
		v, err := r.Get([]byte(o.key))
		want, ok := m[o.key]
		switch {
		case !ok && !errors.Is(err, kv.ErrNotFound):
			return mismatchf("Get(%q) = %q, %v; want ErrNotFound", o.key, v, err)
		case ok && err != nil:
			return mismatchf("Get(%q) = %v; want %q", o.key, err, want)
		case ok && string(v) != want:
			return mismatchf("Get(%q) = %q; want %q", o.key, v, want)
		}
	case opScan:
		var got []pair
		err := r.Iterate(o.opts, func(k, v []byte) error {
			if o.opts.KeysOnly && v != nil {
				return mismatchf("Iterate%s gave value %q for %q; want nil (KeysOnly)", fmtOpts(o.opts), v, k)
			}
			got = append(got, pair{string(k), string(v)})
			return nil
		})
		if err != nil {
			return err
		}
		if want := modelScan(m, o.opts); !slices.Equal(got, want) {
			return mismatchf("Iterate%s:\n got  %v\n want %v", fmtOpts(o.opts), got, want)
		}
	}
	return nil
}

// storeReader reads the store outside any transaction.
type storeReader struct{ e *env }

func (s storeReader) Get(k []byte) ([]byte, error) { return s.e.s.Get(s.e.ctx, k) }
func (s storeReader) Iterate(o kv.IterOptions, fn func(k, v []byte) error) error {
	return s.e.s.Iterate(s.e.ctx, o, fn)
}

func deleteRange(m map[string]string, start, end string) {
	for k := range m {
		if k >= start && (end == "" || k < end) {
			delete(m, k)
		}
	}
}

// apply runs o on the store and the model.
func (c *checker) apply(o op) error {
	e := c.e
	switch o.kind {
	case opSet:
		c.model[o.key] = o.value
		return e.s.Set(e.ctx, []byte(o.key), []byte(o.value))
	case opDelete:
		delete(c.model, o.key)
		return e.s.Delete(e.ctx, []byte(o.key))
	case opGet, opScan:
		return checkRead(storeReader{e}, c.model, o)
	case opDeleteRange:
		deleteRange(c.model, o.key, o.end)
		var start, end []byte
		if o.key != "" {
			start = []byte(o.key)
		}
		if o.end != "" {
			end = []byte(o.end)
		}
		return e.s.DeleteRange(e.ctx, start, end)
	case opDeletePrefix:
		for k := range c.model {
			if strings.HasPrefix(k, o.key) {
				delete(c.model, k)
			}
		}
		return e.s.DeletePrefix(e.ctx, []byte(o.key))
	case opBatch:
		b := new(kv.Batch)
		for _, s := range o.sub {
			switch s.kind {
			case opSet:
				c.model[s.key] = s.value
				_ = b.Set([]byte(s.key), []byte(s.value))
			case opDelete:
				delete(c.model, s.key)
				_ = b.Delete([]byte(s.key))
			}
		}
		return e.s.Write(e.ctx, b)
	case opView:
		return e.s.View(e.ctx, func(tx kv.ReadTxn) error {
			for _, s := range o.sub {
				if err := checkRead(tx, c.model, s); err != nil {
					return err
				}
			}
			return nil
		})
	case opUpdate:
		var next map[string]string
		err := e.s.Update(e.ctx, func(tx kv.Txn) error {
			// fn may run again after a conflict: start afresh each time.
			next = maps.Clone(c.model)
			for _, s := range o.sub {
				var err error
				switch s.kind {
				case opSet:
					next[s.key] = s.value
					err = tx.Set([]byte(s.key), []byte(s.value))
				case opDelete:
					delete(next, s.key)
					err = tx.Delete([]byte(s.key))
				default:
					err = checkRead(tx, next, s)
				}
				if err != nil {
					return err
				}
			}
			if o.fail {
				return errIntended
			}
			return nil
		})
		if o.fail {
			if !errors.Is(err, errIntended) {
				return mismatchf("Update whose function fails returned %v, want the function's error", err)
			}
			return nil
		}
		if err == nil {
			c.model = next
		}
		return err
	case opReopen:
		if e.persistent() {
			e.reopen()
		}
	}
	return nil
}

// final compares a full scan, both ways, with the model.
func (c *checker) final() error {
	for _, rev := range []bool{false, true} {
		if err := checkRead(storeReader{c.e}, c.model, op{kind: opScan, opts: kv.IterOptions{Reverse: rev}}); err != nil {
			return err
		}
	}
	return nil
}

// run applies ops and fails t at the first difference, with context.
func (c *checker) run(t testing.TB, ops []op, describe string) {
	t.Helper()
	for i, o := range ops {
		if err := c.apply(o); err != nil {
			from := max(0, i-8)
			var recent []string
			for j := from; j <= i; j++ {
				recent = append(recent, fmt.Sprintf("  #%d %v", j, ops[j]))
			}
			t.Fatalf("%s: operation #%d %v: %v\nlast operations:\n%s", describe, i, o, err, strings.Join(recent, "\n"))
		}
	}
	if err := c.final(); err != nil {
		t.Fatalf("%s: final scan after %d operations: %v", describe, len(ops), err)
	}
}

// source is where operations come from: a PRNG or fuzz input.
type source interface{ n(k int) int }

type randSource struct{ r *rand.Rand }

func (s randSource) n(k int) int { return s.r.IntN(k) }

// byteSource reads fuzz input; it yields zeros once exhausted.
type byteSource struct{ b []byte }

func (s *byteSource) n(k int) int {
	if len(s.b) == 0 {
		return 0
	}
	v := int(s.b[0])
	s.b = s.b[1:]
	return v % k
}

func (s *byteSource) done() bool { return len(s.b) == 0 }

func genKey(s source) string { return modelKeys[s.n(len(modelKeys))] }

func genValue(s source) string {
	n := s.n(12)
	if n > 8 {
		n *= 40 // sometimes a longer value
	}
	return strings.Repeat(string(rune('a'+s.n(26))), n)
}

func genBound(s source) []byte {
	b := modelBounds[s.n(len(modelBounds))]
	if b == "" {
		return nil
	}
	return []byte(b)
}

func genOpts(s source) kv.IterOptions {
	o := kv.IterOptions{Reverse: s.n(2) == 1, KeysOnly: s.n(5) == 0}
	if s.n(2) == 0 {
		o.Prefix = genBound(s)
	}
	if s.n(3) == 0 {
		o.Start = genBound(s)
	}
	if s.n(3) == 0 {
		o.End = genBound(s)
	}
	if s.n(3) == 0 {
		o.Limit = 1 + s.n(6)
	}
	return o
}

// genOp draws one operation; depth 0 may draw compound ones.
func genOp(s source, depth int) op {
	kinds := numOpKinds
	if depth > 0 {
		kinds = opScan + 1 // only Set, Delete, Get, Iterate inside
	}
	k := opKind(s.n(int(kinds)))
	switch k {
	case opSet:
		return op{kind: k, key: genKey(s), value: genValue(s)}
	case opDelete, opGet:
		return op{kind: k, key: genKey(s)}
	case opScan:
		return op{kind: k, opts: genOpts(s)}
	case opDeleteRange:
		return op{kind: k, key: string(genBound(s)), end: string(genBound(s))}
	case opDeletePrefix:
		p := string(genBound(s))
		if s.n(4) != 0 && p == "" { // the empty prefix wipes the store: keep it rare
			p = genKey(s)
		}
		return op{kind: k, key: p}
	case opUpdate, opBatch, opView:
		o := op{kind: k, fail: k == opUpdate && s.n(4) == 0}
		for range 1 + s.n(8) {
			sub := genOp(s, depth+1)
			switch {
			case k == opBatch && sub.kind > opDelete:
				sub = op{kind: opSet, key: genKey(s), value: genValue(s)}
			case k == opView && sub.kind < opGet:
				sub.kind = opGet
			}
			o.sub = append(o.sub, sub)
		}
		return o
	default:
		return op{kind: k}
	}
}

func modelOps() int {
	if n, err := strconv.Atoi(os.Getenv("POLYKV_MODEL_OPS")); err == nil && n > 0 {
		return n
	}
	switch {
	case stress():
		return 100_000
	case testing.Short():
		return 1000
	}
	return 5000
}

func modelSeed() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("POLYKV_MODEL_SEED"), 10, 64); err == nil {
		return n
	}
	return rand.Uint64()
}

func modelRules() []rule {
	return []rule{
		{"RandomOperations", func(t *testing.T, e *env) {
			seed := modelSeed()
			s := randSource{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
			ops := make([]op, modelOps())
			for i := range ops {
				ops[i] = genOp(s, 0)
			}
			newChecker(e).run(t, ops, fmt.Sprintf("seed %d (rerun with POLYKV_MODEL_SEED=%d)", seed, seed))
		}},
	}
}

// maxFuzzOps bounds the operations one fuzz input decodes to.
const maxFuzzOps = 256

// decodeOps turns fuzz input into operations.
func decodeOps(data []byte) []op {
	s := &byteSource{b: data}
	var ops []op
	for !s.done() && len(ops) < maxFuzzOps {
		ops = append(ops, genOp(s, 0))
	}
	return ops
}

// Fuzz is the fuzz target of the model test: it decodes each input into a
// sequence of operations (writes, transactions that may fail, batches,
// range deletes, scans, views, reopens) and applies them to a fresh store
// from factory and to the reference model, comparing every read. A backend
// package wires it up in a _test.go file:
//
//	func FuzzModel(f *testing.F) { conformance.Fuzz(f, factory) }
//
// `go test -run FuzzModel` runs the seed corpus; `go test -fuzz FuzzModel`
// explores.
func Fuzz(f *testing.F, factory Factory) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 8 {
		seed := make([]byte, 16<<n%512+8)
		for i := range seed {
			seed[i] = byte(r.Uint32())
		}
		f.Add(seed)
	}
	f.Add([]byte{byte(opSet), 3, 4, 5, byte(opScan), 1, 0, 1, 0, 0})
	f.Add([]byte{byte(opUpdate), 7, byte(opSet), 8, 2, 3, byte(opScan), 1, 1, 0, 1, byte(opDelete), 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnv(t, factory)
		newChecker(e).run(t, decodeOps(data), "fuzz input")
	})
}
