package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// neighbours are keys around the prefixes "t", "te", "tes", "test": a scan
// that leaks past a prefix's end, or starts before it, shows.
var neighbours = []string{
	"s", "s\xff", "t", "t\x00", "te", "te\xff", "te\xff\xff\x01", "tes", "tes\xff", "test", "test\x00",
	"testa", "tesu", "tet", "tf", "u",
}

// filterKeys is the reference selection: the keys of all (sorted) that
// opts selects, computed without kv's helpers.
func filterKeys(all []string, opts kv.IterOptions) []string {
	var out []string
	for _, k := range all {
		kb := []byte(k)
		if !bytes.HasPrefix(kb, opts.Prefix) {
			continue
		}
		if len(opts.Start) > 0 && bytes.Compare(kb, opts.Start) < 0 {
			continue
		}
		if len(opts.End) > 0 && bytes.Compare(kb, opts.End) >= 0 {
			continue
		}
		out = append(out, k)
	}
	if opts.Reverse {
		slices.Reverse(out)
	}
	if opts.Limit > 0 && len(out) > opts.Limit {
		out = out[:opts.Limit]
	}
	return out
}

func sorted(keys []string) []string {
	s := slices.Clone(keys)
	slices.Sort(s) // string order is bytewise
	return s
}

// checkScans compares each opts's scan with the reference selection, in
// both directions.
func checkScans(t *testing.T, e *env, all []string, optss ...kv.IterOptions) {
	t.Helper()
	all = sorted(all)
	for _, o := range optss {
		for _, rev := range []bool{false, true} {
			o.Reverse = rev
			wantKeys(t, "Iterate"+fmtOpts(o), e.scanKeys(o), filterKeys(all, o))
		}
	}
}

func iterateRules() []rule {
	return []rule{
		{"EmptyStore", func(t *testing.T, e *env) {
			checkScans(t, e, nil, kv.IterOptions{}, kv.IterOptions{Prefix: []byte("a")}, kv.IterOptions{Start: []byte("a"), End: []byte("b")})
		}},
		{"AllKeysInOrder", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			got := e.scan(kv.IterOptions{})
			for _, p := range got {
				if p.v != "v:"+p.k {
					t.Errorf("Iterate: %q has value %q, want %q", p.k, p.v, "v:"+p.k)
				}
			}
			checkScans(t, e, neighbours, kv.IterOptions{})
		}},
		{"PrefixDoesNotLeakNeighbours", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			var optss []kv.IterOptions
			for _, p := range []string{"s", "t", "te", "tes", "test", "tesu", "tet", "u", "te\xff", "tes\xff", "v", "a"} {
				optss = append(optss, kv.IterOptions{Prefix: []byte(p)})
			}
			checkScans(t, e, neighbours, optss...)
		}},
		{"PrefixAllFF", func(t *testing.T, e *env) {
			keys := []string{"\xfe", "\xfe\xff", "\xff", "\xff\x00", "\xff\x01", "\xff\xfe\xff", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff", "\xff\xff\xff\xff"}
			e.setAll(keys...)
			checkScans(t, e, keys,
				kv.IterOptions{Prefix: []byte("\xff")},
				kv.IterOptions{Prefix: []byte("\xff\xff")},
				kv.IterOptions{Prefix: []byte("\xff\xff\xff")},
				kv.IterOptions{Prefix: []byte("\xff\xff\xff\xff\xff")},
				kv.IterOptions{Prefix: []byte("\xff"), Start: []byte("\xff\x01")},
				kv.IterOptions{Prefix: []byte("\xff"), End: []byte("\xff\xff")},
				kv.IterOptions{Prefix: []byte("\xfe")},
			)
		}},
		{"EmptyPrefixIsEveryKey", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			e.setAll("\x00", "\xff\xff")
			all := append(slices.Clone(neighbours), "\x00", "\xff\xff")
			checkScans(t, e, all, kv.IterOptions{Prefix: []byte{}}, kv.IterOptions{Prefix: nil})
			wantKeys(t, "empty prefix", e.scanKeys(kv.IterOptions{Prefix: []byte{}}), sorted(all))
		}},
		{"StartEndWithPrefix", func(t *testing.T, e *env) {
			keys := append(slices.Clone(neighbours), "a", "b", "z")
			e.setAll(keys...)
			bounds := []string{"", "a", "t", "te", "te\x00", "tes", "test", "test\x00", "tesu", "tet", "tf", "u", "z", "zz"}
			var optss []kv.IterOptions
			for _, p := range []string{"te", "tes", "x"} {
				for _, s := range bounds {
					for _, en := range bounds {
						optss = append(optss, kv.IterOptions{Prefix: []byte(p), Start: []byte(s), End: []byte(en)})
					}
				}
			}
			checkScans(t, e, keys, optss...)
		}},
		{"StartNotBelowEndIsEmpty", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, o := range []kv.IterOptions{
				{Start: []byte("te"), End: []byte("te")},
				{Start: []byte("tes"), End: []byte("te")},
				{Start: []byte("u"), End: []byte("s")},
				{Prefix: []byte("te"), Start: []byte("test"), End: []byte("tes")},
				{Prefix: []byte("te"), Start: []byte("tf")},
				{Prefix: []byte("te"), End: []byte("t")},
			} {
				for _, rev := range []bool{false, true} {
					o.Reverse = rev
					wantKeys(t, "Iterate"+fmtOpts(o), e.scanKeys(o), nil)
				}
			}
		}},
		{"ReverseWithoutEnd", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			want := sorted(neighbours)
			slices.Reverse(want)
			wantKeys(t, "reverse scan", e.scanKeys(kv.IterOptions{Reverse: true}), want)
			wantKeys(t, "reverse scan from Start t", e.scanKeys(kv.IterOptions{Reverse: true, Start: []byte("t")}), filterKeys(sorted(neighbours), kv.IterOptions{Reverse: true, Start: []byte("t")}))
		}},
		{"ReverseEndPresentAsKey", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, end := range []string{"tes", "test", "s", "u", "t\x00"} {
				o := kv.IterOptions{Reverse: true, End: []byte(end)}
				wantKeys(t, "Iterate"+fmtOpts(o)+" (End is a key: excluded)", e.scanKeys(o), filterKeys(sorted(neighbours), o))
			}
		}},
		{"ReverseEndPastLastKey", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, end := range []string{"u\x00", "v", "\xff\xff\xff"} {
				o := kv.IterOptions{Reverse: true, End: []byte(end)}
				wantKeys(t, "Iterate"+fmtOpts(o), e.scanKeys(o), filterKeys(sorted(neighbours), o))
			}
			o := kv.IterOptions{Reverse: true, End: []byte("r")}
			wantKeys(t, "Iterate"+fmtOpts(o)+" (End below the first key)", e.scanKeys(o), nil)
		}},
		{"ReversePrefix", func(t *testing.T, e *env) {
			// Badger's reverse iteration seeks to the prefix itself unless
			// the seek key is past every key with the prefix: a naive
			// backend returns nothing, or starts at the prefix.
			e.setAll(neighbours...)
			for _, p := range []string{"t", "te", "tes", "test", "te\xff", "s", "u"} {
				o := kv.IterOptions{Prefix: []byte(p), Reverse: true}
				wantKeys(t, "Iterate"+fmtOpts(o), e.scanKeys(o), filterKeys(sorted(neighbours), o))
			}
		}},
		{"ReverseLimit", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, o := range []kv.IterOptions{
				{Reverse: true, Limit: 1},
				{Reverse: true, Limit: 3},
				{Reverse: true, Limit: 3, Prefix: []byte("te")},
				{Reverse: true, Limit: 2, End: []byte("test")},
				{Reverse: true, Limit: 100},
			} {
				wantKeys(t, "Iterate"+fmtOpts(o), e.scanKeys(o), filterKeys(sorted(neighbours), o))
			}
		}},
		{"Limit", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, o := range []kv.IterOptions{
				{Limit: 1},
				{Limit: 3},
				{Limit: len(neighbours)},
				{Limit: len(neighbours) + 5},
				{Limit: 2, Prefix: []byte("tes")},
				{Limit: 2, Start: []byte("te\x00")},
			} {
				wantKeys(t, "Iterate"+fmtOpts(o), e.scanKeys(o), filterKeys(sorted(neighbours), o))
			}
		}},
		{"KeysOnly", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, o := range []kv.IterOptions{
				{KeysOnly: true},
				{KeysOnly: true, Reverse: true},
				{KeysOnly: true, Prefix: []byte("te"), Limit: 3},
			} {
				var got []string
				err := e.s.Iterate(e.ctx, o, func(k, v []byte) error {
					if v != nil {
						t.Errorf("Iterate%s: value of %q is %q, want nil", fmtOpts(o), k, v)
					}
					got = append(got, string(k))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				wantKeys(t, "Iterate"+fmtOpts(o), got, filterKeys(sorted(neighbours), o))
			}
		}},
		{"SkipAllStops", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			for _, rev := range []bool{false, true} {
				n := 0
				err := e.s.Iterate(e.ctx, kv.IterOptions{Reverse: rev}, func(k, v []byte) error {
					n++
					if n == 3 {
						return kv.SkipAll
					}
					return nil
				})
				if err != nil || n != 3 {
					t.Errorf("Iterate(Reverse:%v) with SkipAll at the 3rd key = %v after %d keys; want nil after 3", rev, err, n)
				}
			}
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				n := 0
				err := tx.Iterate(kv.IterOptions{}, func(k, v []byte) error { n++; return kv.SkipAll })
				if err != nil || n != 1 {
					return fmt.Errorf("ReadTxn.Iterate with SkipAll = %v after %d keys; want nil after 1", err, n)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			// A wrapped SkipAll counts too (errors.Is).
			n := 0
			err = e.s.Iterate(e.ctx, kv.IterOptions{}, func(k, v []byte) error { n++; return fmt.Errorf("done: %w", kv.SkipAll) })
			if err != nil || n != 1 {
				t.Errorf("Iterate with a wrapped SkipAll = %v after %d keys; want nil after 1", err, n)
			}
		}},
		{"CallbackErrorReturned", func(t *testing.T, e *env) {
			e.setAll(neighbours...)
			boom := errors.New("conformance: callback error")
			for _, rev := range []bool{false, true} {
				n := 0
				err := e.s.Iterate(e.ctx, kv.IterOptions{Reverse: rev}, func(k, v []byte) error {
					n++
					if n == 2 {
						return boom
					}
					return nil
				})
				if !errors.Is(err, boom) || n != 2 {
					t.Errorf("Iterate(Reverse:%v) whose callback fails at the 2nd key = %v after %d keys; want the callback's error after 2", rev, err, n)
				}
			}
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error { return boom })
			})
			if !errors.Is(err, boom) {
				t.Errorf("Update whose Txn.Iterate callback fails = %v, want the callback's error", err)
			}
		}},
		{"ContextCancelledMidway", func(t *testing.T, e *env) {
			// An iteration whose context ends while it runs stops within
			// a few hundred keys and returns the context's error, in every
			// kind of iteration (Txn.Iterate with a pending write in range
			// merges it with the engine's keys); an Update whose iteration
			// stopped so applies nothing.
			const n, cancelAt, slack = 3000, 10, 600
			b := new(kv.Batch)
			for i := range n {
				_ = b.Set(fmt.Appendf(nil, "k%05d", i), []byte("v"))
			}
			e.writeChunked(b)
			ways := []struct {
				name string
				run  func(ctx context.Context, fn func(k, v []byte) error) error
			}{
				{"Iterate", func(ctx context.Context, fn func(k, v []byte) error) error {
					return e.s.Iterate(ctx, kv.IterOptions{}, fn)
				}},
				{"Iterate(Reverse, KeysOnly)", func(ctx context.Context, fn func(k, v []byte) error) error {
					return e.s.Iterate(ctx, kv.IterOptions{Reverse: true, KeysOnly: true}, fn)
				}},
				{"View Iterate", func(ctx context.Context, fn func(k, v []byte) error) error {
					return e.s.View(ctx, func(tx kv.ReadTxn) error { return tx.Iterate(kv.IterOptions{}, fn) })
				}},
				{"Txn.Iterate", func(ctx context.Context, fn func(k, v []byte) error) error {
					return e.s.Update(ctx, func(tx kv.Txn) error { return tx.Iterate(kv.IterOptions{}, fn) })
				}},
				{"Txn.Iterate with pending writes", func(ctx context.Context, fn func(k, v []byte) error) error {
					return e.s.Update(ctx, func(tx kv.Txn) error {
						if err := tx.Set([]byte("k00000+"), []byte("pending")); err != nil {
							return err
						}
						return tx.Iterate(kv.IterOptions{}, fn)
					})
				}},
			}
			for _, w := range ways {
				ctx, cancel := context.WithCancel(e.ctx)
				visited := 0
				var err error
				within(t, w.name+" cancelled midway", func() error {
					err = w.run(ctx, func(k, v []byte) error {
						if visited++; visited == cancelAt {
							cancel()
						}
						return nil
					})
					return nil
				})
				cancel()
				if !errors.Is(err, context.Canceled) {
					t.Errorf("%s whose context is cancelled at the key #%d of %d = %v after %d keys; want context.Canceled", w.name, cancelAt, n, err, visited)
				} else if visited > cancelAt+slack {
					t.Errorf("%s went on for %d keys after its context was cancelled; want it to stop within %d", w.name, visited-cancelAt, slack)
				}
			}
			e.wantMissing("k00000+")
		}},
		{"NegativeLimitRejected", func(t *testing.T, e *env) {
			e.setAll("a", "b")
			called := false
			err := e.s.Iterate(e.ctx, kv.IterOptions{Limit: -1}, func(k, v []byte) error { called = true; return nil })
			if err == nil || called {
				t.Errorf("Iterate with Limit -1 = %v (callback called: %v); want an error and no call", err, called)
			}
			_ = e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				if err := tx.Iterate(kv.IterOptions{Limit: -5}, func(k, v []byte) error { return nil }); err == nil {
					t.Errorf("ReadTxn.Iterate with Limit -5 = nil, want an error")
				}
				return nil
			})
		}},
		{"ManyKeysBothDirections", func(t *testing.T, e *env) {
			var keys []string
			b := new(kv.Batch)
			for i := 0; i < 5000; i++ {
				k := fmt.Sprintf("k%05d", i*2)
				keys = append(keys, k)
				_ = b.Set([]byte(k), []byte(strings.Repeat("x", i%7)))
			}
			e.writeChunked(b)
			checkScans(t, e, keys,
				kv.IterOptions{},
				kv.IterOptions{Start: []byte("k01001"), End: []byte("k08999")},
				kv.IterOptions{Start: []byte("k01000"), End: []byte("k09000")},
				kv.IterOptions{Prefix: []byte("k05"), Limit: 17},
				kv.IterOptions{Prefix: []byte("k099")},
			)
		}},
	}
}
