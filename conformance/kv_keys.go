package conformance

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// keyOp is one entry point that takes a key (and maybe a value): every
// limit must be enforced identically by all of them.
type keyOp struct {
	name     string
	hasValue bool
	do       func(e *env, key, value []byte) error
}

func keyOps() []keyOp {
	return []keyOp{
		{"Store.Get", false, func(e *env, k, _ []byte) error { _, err := e.s.Get(e.ctx, k); return err }},
		{"Store.Set", true, func(e *env, k, v []byte) error { return e.s.Set(e.ctx, k, v) }},
		{"Store.Delete", false, func(e *env, k, _ []byte) error { return e.s.Delete(e.ctx, k) }},
		{"ReadTxn.Get(View)", false, func(e *env, k, _ []byte) error {
			return e.s.View(e.ctx, func(tx kv.ReadTxn) error { _, err := tx.Get(k); return err })
		}},
		{"Txn.Get", false, func(e *env, k, _ []byte) error {
			return e.s.Update(e.ctx, func(tx kv.Txn) error { _, err := tx.Get(k); return err })
		}},
		{"Txn.Set", true, func(e *env, k, v []byte) error {
			var opErr error
			err := e.s.Update(e.ctx, func(tx kv.Txn) error { opErr = tx.Set(k, v); return opErr })
			return errors.Join(opErr, err)
		}},
		{"Txn.Delete", false, func(e *env, k, _ []byte) error {
			var opErr error
			err := e.s.Update(e.ctx, func(tx kv.Txn) error { opErr = tx.Delete(k); return opErr })
			return errors.Join(opErr, err)
		}},
		{"Batch.Set", true, func(e *env, k, v []byte) error {
			b := new(kv.Batch)
			if err := b.Set(k, v); err != nil {
				return err
			}
			return e.s.Write(e.ctx, b)
		}},
		{"Batch.Delete", false, func(e *env, k, _ []byte) error {
			b := new(kv.Batch)
			if err := b.Delete(k); err != nil {
				return err
			}
			return e.s.Write(e.ctx, b)
		}},
		{"BulkWriter.Set", true, func(e *env, k, v []byte) error {
			w := kv.NewBulkWriter(e.ctx, e.s)
			return errors.Join(w.Set(k, v), w.Close())
		}},
		{"BulkWriter.Add", true, func(e *env, k, v []byte) error {
			w := kv.NewBulkWriter(e.ctx, e.s)
			return errors.Join(w.Add(kv.SetOp([]byte("bulk-ok"), nil), kv.SetOp(k, v)), w.Close())
		}},
		{"BulkWriter.Delete", false, func(e *env, k, _ []byte) error {
			w := kv.NewBulkWriter(e.ctx, e.s)
			return errors.Join(w.Delete(k), w.Close())
		}},
	}
}

// checkLimit runs every keyOp with key and value and wants err from each,
// with nothing stored.
func checkLimit(t *testing.T, e *env, key, value []byte, valueOnly bool, want error) {
	t.Helper()
	for _, op := range keyOps() {
		if valueOnly && !op.hasValue {
			continue
		}
		var err error
		noPanic(t, op.name, func() { err = op.do(e, key, value) })
		if !errors.Is(err, want) {
			t.Errorf("%s(key of %d bytes, value of %d bytes) = %v, want %v", op.name, len(key), len(value), err, want)
		}
	}
	if got := e.scanKeys(kv.IterOptions{}); len(got) != 0 {
		t.Errorf("after rejected writes the store holds %s, want nothing", qs(got))
	}
}

func keyRules() []rule {
	return []rule{
		{"EmptyKeyRejected", func(t *testing.T, e *env) {
			checkLimit(t, e, nil, []byte("v"), false, kv.ErrEmptyKey)
			checkLimit(t, e, []byte{}, []byte("v"), false, kv.ErrEmptyKey)
		}},
		{"MaxKeySizeAccepted", func(t *testing.T, e *env) {
			k := bytesOf(kv.MaxKeySize, 'k')
			k2 := append(bytesOf(kv.MaxKeySize-1, 'k'), 0xFF)
			e.set(string(k), "v")
			e.set(string(k2), "v2")
			e.wantValue(string(k), "v")
			wantKeys(t, "scan of two maximal keys", e.scanKeys(kv.IterOptions{}), []string{string(k), string(k2)})
			wantKeys(t, "reverse prefix scan of maximal keys", e.scanKeys(kv.IterOptions{Prefix: k[:100], Reverse: true}), []string{string(k2), string(k)})
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error { return tx.Delete(k2) }); err != nil {
				t.Fatalf("Txn.Delete of a key of MaxKeySize: %v", err)
			}
			e.del(string(k))
			wantKeys(t, "scan after deleting", e.scanKeys(kv.IterOptions{}), nil)
		}},
		{"KeyOverMaxRejected", func(t *testing.T, e *env) {
			checkLimit(t, e, bytesOf(kv.MaxKeySize+1, 'k'), []byte("v"), false, kv.ErrKeyTooLarge)
		}},
		{"AnyByteValue", func(t *testing.T, e *env) {
			keys := []string{"\x00", "\x00\x00", "a\x00b", "a", "\xff", "\xff\xff", "\xfe\xff", "\xc3\x28", "\x80", "é", "\x7f", "\x01"}
			for i, k := range keys {
				e.set(k, "v"+k)
				if i%2 == 0 {
					e.wantValue(k, "v"+k)
				}
			}
			for _, k := range keys {
				e.wantValue(k, "v"+k)
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			wantKeys(t, "ascending scan", e.scanKeys(kv.IterOptions{}), want)
			slices.Reverse(want)
			wantKeys(t, "descending scan", e.scanKeys(kv.IterOptions{Reverse: true}), want)
			wantKeys(t, "prefix \\x00", e.scanKeys(kv.IterOptions{Prefix: []byte{0}}), []string{"\x00", "\x00\x00"})
			for _, k := range keys {
				e.del(k)
				e.wantMissing(k)
			}
		}},
		{"EngineReservedPrefix", func(t *testing.T, e *env) {
			keys := []string{"!badger!", "!badger!head", "!badger!txn", "!badger", "!", "!!", "!badger!!", "\x00!badger!", "a", "!badgeR!", "\"", " "}
			for _, k := range keys {
				e.set(k, "v"+k)
			}
			for _, k := range keys {
				e.wantValue(k, "v"+k)
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			wantKeys(t, "ascending scan", e.scanKeys(kv.IterOptions{}), want)
			wantKeys(t, "prefix !badger!", e.scanKeys(kv.IterOptions{Prefix: []byte("!badger!")}),
				[]string{"!badger!", "!badger!!", "!badger!head", "!badger!txn"})
			wantKeys(t, "reverse prefix !badger!", e.scanKeys(kv.IterOptions{Prefix: []byte("!badger!"), Reverse: true}),
				[]string{"!badger!txn", "!badger!head", "!badger!!", "!badger!"})
			wantKeys(t, "prefix !", e.scanKeys(kv.IterOptions{Prefix: []byte("!")}),
				[]string{"!", "!!", "!badgeR!", "!badger", "!badger!", "!badger!!", "!badger!head", "!badger!txn"})
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				v, err := tx.Get([]byte("!badger!head"))
				if err != nil || string(v) != "v!badger!head" {
					return errors.Join(errors.New("Txn.Get(!badger!head) wrong"), err)
				}
				return tx.Set([]byte("!badger!new"), []byte("n"))
			}); err != nil {
				t.Fatalf("Update on reserved keys: %v", err)
			}
			e.wantValue("!badger!new", "n")
			if err := e.s.DeletePrefix(e.ctx, []byte("!badger!")); err != nil {
				t.Fatalf("DeletePrefix(!badger!): %v", err)
			}
			wantKeys(t, "after DeletePrefix(!badger!)", e.scanKeys(kv.IterOptions{Prefix: []byte("!")}),
				[]string{"!", "!!", "!badgeR!", "!badger"})
			e.del("!badger")
			e.wantMissing("!badger")
			if e.persistent() {
				e.set("!badger!again", "x")
				e.reopen()
				e.wantValue("!badger!again", "x")
				e.wantValue("!", "v!")
			}
		}},
		{"BytewiseOrder", func(t *testing.T, e *env) {
			seed := rand.Uint64()
			r := rand.New(rand.NewPCG(seed, 1))
			set := map[string]bool{}
			b := new(kv.Batch)
			for len(set) < 2000 {
				k := make([]byte, 1+r.IntN(12))
				for i := range k {
					// Bias towards the extremes, where order bugs live.
					switch r.IntN(4) {
					case 0:
						k[i] = 0
					case 1:
						k[i] = 0xFF
					default:
						k[i] = byte(r.Uint32())
					}
				}
				if set[string(k)] {
					continue
				}
				set[string(k)] = true
				if err := b.Set(k, k); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.s.Write(e.ctx, b); err != nil {
				t.Fatal(err)
			}
			want := make([]string, 0, len(set))
			for k := range set {
				want = append(want, k)
			}
			slices.SortFunc(want, func(a, b string) int { return bytes.Compare([]byte(a), []byte(b)) })
			got := e.scanKeys(kv.IterOptions{})
			if !slices.Equal(got, want) {
				t.Errorf("ascending scan of 2000 random binary keys is not in bytes.Compare order (seed %d)", seed)
			}
			slices.Reverse(want)
			if got := e.scanKeys(kv.IterOptions{Reverse: true}); !slices.Equal(got, want) {
				t.Errorf("descending scan of 2000 random binary keys is not in reverse bytes.Compare order (seed %d)", seed)
			}
		}},
	}
}

func valueRules() []rule {
	return []rule{
		{"EmptyValueFound", func(t *testing.T, e *env) {
			e.set("empty", "")
			e.wantValue("empty", "")
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				v, err := tx.Get([]byte("empty"))
				if err != nil || v == nil || len(v) != 0 {
					t.Errorf("View Get(empty) = %q (nil: %v), %v; want a non-nil empty value", v, v == nil, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var seen int
			if err := e.s.Iterate(e.ctx, kv.IterOptions{}, func(k, v []byte) error {
				seen++
				if string(k) != "empty" || v == nil || len(v) != 0 {
					t.Errorf("Iterate gave %q=%q (nil value: %v); want empty= with a non-nil empty value", k, v, v == nil)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if seen != 1 {
				t.Errorf("Iterate visited %d keys, want 1", seen)
			}
			// The same in every kind of iteration, each the first after the
			// garbage collector emptied every pool: a buffer kept from an
			// earlier iteration must not be what turns a nil value into
			// an empty one. Txn.Iterate with a pending write in range
			// merges the engine's keys with the transaction's.
			emptyPools := func() { runtime.GC(); runtime.GC() }
			checkEmpty := func(what string, iter func(fn func(k, v []byte) error) error) {
				t.Helper()
				emptyPools()
				n := 0
				if err := iter(func(k, v []byte) error {
					n++
					if v == nil || len(v) != 0 {
						t.Errorf("%s gave %q=%q (nil value: %v); want a non-nil empty value", what, k, v, v == nil)
					}
					return nil
				}); err != nil {
					t.Errorf("%s: %v", what, err)
				}
				if n == 0 {
					t.Errorf("%s visited no key", what)
				}
			}
			checkEmpty("Iterate", func(fn func(k, v []byte) error) error { return e.s.Iterate(e.ctx, kv.IterOptions{}, fn) })
			checkEmpty("Iterate(Reverse)", func(fn func(k, v []byte) error) error {
				return e.s.Iterate(e.ctx, kv.IterOptions{Reverse: true}, fn)
			})
			checkEmpty("View Iterate", func(fn func(k, v []byte) error) error {
				return e.s.View(e.ctx, func(tx kv.ReadTxn) error { return tx.Iterate(kv.IterOptions{}, fn) })
			})
			for _, pending := range []string{"empty", "empty2"} { // overwriting the stored key, or a new one
				checkEmpty("Txn.Iterate with a pending Set("+pending+", nil)", func(fn func(k, v []byte) error) error {
					rollback := errors.New("rolled back on purpose")
					err := e.s.Update(e.ctx, func(tx kv.Txn) error {
						if err := tx.Set([]byte(pending), nil); err != nil {
							return err
						}
						emptyPools()
						if err := tx.Iterate(kv.IterOptions{}, fn); err != nil {
							return err
						}
						return rollback
					})
					if errors.Is(err, rollback) {
						return nil
					}
					return err
				})
			}
		}},
		{"MissingKeyNotFound", func(t *testing.T, e *env) {
			e.set("present", "")
			for _, k := range []string{"missing", "presen", "present\x00", "p"} {
				if v, err := e.s.Get(e.ctx, []byte(k)); !errors.Is(err, kv.ErrNotFound) || v != nil {
					t.Errorf("Get(%q) = %q, %v; want nil, ErrNotFound", k, v, err)
				}
			}
			_ = e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				if _, err := tx.Get([]byte("missing")); !errors.Is(err, kv.ErrNotFound) {
					t.Errorf("View Get(missing) = %v, want ErrNotFound", err)
				}
				return nil
			})
			_ = e.s.Update(e.ctx, func(tx kv.Txn) error {
				if _, err := tx.Get([]byte("missing")); !errors.Is(err, kv.ErrNotFound) {
					t.Errorf("Txn.Get(missing) = %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"NilValueStoredAsEmpty", func(t *testing.T, e *env) {
			if err := e.s.Set(e.ctx, []byte("a"), nil); err != nil {
				t.Fatal(err)
			}
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error { return tx.Set([]byte("b"), nil) }); err != nil {
				t.Fatal(err)
			}
			b := new(kv.Batch)
			_ = b.Set([]byte("c"), nil)
			if err := e.s.Write(e.ctx, b); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"a", "b", "c"} {
				e.wantValue(k, "")
			}
			wantPairs(t, "scan", e.scan(kv.IterOptions{}), []pair{{"a", ""}, {"b", ""}, {"c", ""}})
		}},
		{"MaxValueSizeAccepted", func(t *testing.T, e *env) {
			v := bytesOf(e.limits().MaxValueSize, 'v')
			v[0], v[len(v)-1] = 'F', 'L'
			if err := e.s.Set(e.ctx, []byte("big"), v); err != nil {
				t.Fatalf("Set of a value of MaxValueSize: %v", err)
			}
			got, err := e.s.Get(e.ctx, []byte("big"))
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get of a value of MaxValueSize: %d bytes, %v; want the %d bytes stored", len(got), err, len(v))
			}
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error { return tx.Set([]byte("big2"), v) }); err != nil {
				t.Fatalf("Txn.Set of a value of MaxValueSize: %v", err)
			}
			n := 0
			if err := e.s.Iterate(e.ctx, kv.IterOptions{}, func(k, val []byte) error {
				n++
				if !bytes.Equal(val, v) {
					t.Errorf("Iterate: value of %q is %d bytes, not the %d stored", k, len(val), len(v))
				}
				return nil
			}); err != nil || n != 2 {
				t.Errorf("Iterate: %d keys, %v; want 2", n, err)
			}
		}},
		{"ValueOverMaxRejected", func(t *testing.T, e *env) {
			checkLimit(t, e, []byte("k"), bytesOf(e.limits().MaxValueSize+1, 'v'), true, kv.ErrValueTooLarge)
		}},
		{"DeleteMissingKeyIsNotError", func(t *testing.T, e *env) {
			if err := e.s.Delete(e.ctx, []byte("never")); err != nil {
				t.Errorf("Delete of a missing key: %v", err)
			}
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error { return tx.Delete([]byte("never")) }); err != nil {
				t.Errorf("Txn.Delete of a missing key: %v", err)
			}
			e.wantMissing("never")
		}},
		{"OverwriteReplaces", func(t *testing.T, e *env) {
			e.set("k", strings.Repeat("long value ", 100))
			e.set("k", "short")
			e.wantValue("k", "short")
			e.set("k", "")
			e.wantValue("k", "")
			wantPairs(t, "scan", e.scan(kv.IterOptions{}), []pair{{"k", ""}})
		}},
	}
}
