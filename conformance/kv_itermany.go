package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/polykv/polykv/kv"
)

// iterateManyRules check kv.IterateMany: the same keys and values as one
// Iterate per range, range after range, in View and in Update (with the
// transaction's own writes), options checked first (a networked engine
// reads many ranges in one request: MultiScanner).
func iterateManyRules() []rule {
	type hit struct {
		i    int
		k, v string
	}
	many := func(tx kv.ReadTxn, opts []kv.IterOptions) ([]hit, error) {
		var got []hit
		err := kv.IterateMany(tx, opts, func(i int, k, v []byte) error {
			got = append(got, hit{i, string(k), string(v)})
			return nil
		})
		return got, err
	}
	each := func(tx kv.ReadTxn, opts []kv.IterOptions) ([]hit, error) {
		var want []hit
		for i, o := range opts {
			err := tx.Iterate(o, func(k, v []byte) error {
				want = append(want, hit{i, string(k), string(v)})
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return want, nil
	}
	// compare checks IterateMany against Iterate in tx.
	compare := func(t *testing.T, tx kv.ReadTxn, opts []kv.IterOptions, where string) error {
		t.Helper()
		want, err := each(tx, opts)
		if err != nil {
			return err
		}
		got, err := many(tx, opts)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: IterateMany gave %d keys, one Iterate per range %d; first difference at %d", where, len(got), len(want), firstDiff(got, want))
		}
		return nil
	}
	ff := string([]byte{0xff})
	// ranges mixes every way of bounding an iteration, empty and
	// overlapping ranges, and a range of more keys than a networked engine
	// reads per range in one request, with ranges after it.
	ranges := []kv.IterOptions{
		{Prefix: []byte("p/")},
		{Prefix: []byte("big/"), KeysOnly: true},
		{Prefix: []byte("missing/")},
		{Start: []byte("p/b"), End: []byte("p/d")},
		{Prefix: []byte("p/"), Start: []byte("p/c")},
		{Start: []byte("z"), End: []byte("a")}, // empty
		{Prefix: []byte(ff)},
		{Prefix: []byte("big/0001"), Limit: 3},
		{Prefix: []byte("p/"), Reverse: true},
		{Prefix: []byte("big/")},
		{Start: []byte("p/a\x00")},
		{End: []byte("big/0002")},
		{Prefix: []byte("p/a")},
	}
	load := func(t *testing.T, e *env) {
		var b kv.Batch
		for _, k := range []string{"p/a", "p/a\x00", "p/b", "p/c", "p/d", ff, ff + ff + "x", "q"} {
			if err := b.Set([]byte(k), []byte("v-"+k)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 300 {
			k := fmt.Sprintf("big/%04d", i)
			if err := b.Set([]byte(k), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Set([]byte("empty"), nil); err != nil {
			t.Fatal(err)
		}
		e.writeChunked(&b)
	}
	return []rule{
		{"SameAsIterate", func(t *testing.T, e *env) {
			load(t, e)
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				if err := compare(t, tx, ranges, "View"); err != nil {
					return err
				}
				// Forward and unlimited only: what an engine reads in one
				// request.
				fwd := slices.DeleteFunc(slices.Clone(ranges), func(o kv.IterOptions) bool { return o.Reverse || o.Limit > 0 })
				return compare(t, tx, fwd, "View, forward ranges")
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"ManyRanges", func(t *testing.T, e *env) {
			// More ranges than a networked engine reads in one request,
			// most of one key, some of none.
			const n = 3000
			var b kv.Batch
			var opts []kv.IterOptions
			for i := range n {
				p := fmt.Sprintf("r%05d/", i)
				opts = append(opts, kv.IterOptions{Prefix: []byte(p), KeysOnly: i%2 == 0})
				if i%7 == 0 {
					continue
				}
				if err := b.Set([]byte(p+"x"), []byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			e.writeChunked(&b)
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error { return compare(t, tx, opts, "View") })
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"ReadsOwnWrites", func(t *testing.T, e *env) {
			load(t, e)
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				if err := errors.Join(tx.Set([]byte("p/bb"), []byte("new")), tx.Delete([]byte("p/c")), tx.Delete([]byte("big/0100")),
					tx.Set([]byte("big/0001"), []byte("changed"))); err != nil {
					return err
				}
				got, err := many(tx, ranges[:4])
				if err != nil {
					return err
				}
				if !slices.Contains(got, hit{0, "p/bb", "new"}) || slices.ContainsFunc(got, func(h hit) bool { return h.k == "p/c" || h.k == "big/0100" }) {
					t.Errorf("IterateMany inside Update does not see the transaction's writes: %d keys", len(got))
				}
				return compare(t, tx, ranges, "Update")
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"InvalidRejectedFirst", func(t *testing.T, e *env) {
			load(t, e)
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				calls := 0
				err := kv.IterateMany(tx, []kv.IterOptions{{Prefix: []byte("p/")}, {Limit: -1}}, func(int, []byte, []byte) error { calls++; return nil })
				if !errors.Is(err, kv.ErrInvalidConfig) || calls != 0 {
					t.Errorf("IterateMany with a negative Limit = %v after %d calls, want ErrInvalidConfig before any", err, calls)
				}
				if err := kv.IterateMany(tx, []kv.IterOptions{{}}, nil); !errors.Is(err, kv.ErrInvalidConfig) {
					t.Errorf("IterateMany with a nil function = %v, want ErrInvalidConfig", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"FuncErrorStops", func(t *testing.T, e *env) {
			load(t, e)
			stop := errors.New("stop")
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				for _, at := range []int{1, 70, 250} { // in the first request, in a range's rest, later
					calls := 0
					err := kv.IterateMany(tx, []kv.IterOptions{{Prefix: []byte("p/")}, {Prefix: []byte("big/")}}, func(int, []byte, []byte) error {
						calls++
						if calls == at {
							return stop
						}
						return nil
					})
					if !errors.Is(err, stop) || calls != at {
						t.Errorf("IterateMany = %v after %d calls, want the function's error after %d", err, calls, at)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
}

// firstDiff returns the first index where a and b differ.
func firstDiff[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
