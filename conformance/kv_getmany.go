package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/polykv/polykv/kv"
)

// getManyRules check kv.GetMany: the same answers as one Get per key, in
// View and in Update (with the transaction's own writes), the keys checked
// first, and every key read counted as read by the transaction, present
// or missing (a networked engine reads them in one request: MultiGetter).
func getManyRules() []rule {
	type hit struct {
		i int
		v string
	}
	collect := func(tx kv.ReadTxn, keys ...string) ([]hit, error) {
		var got []hit
		bk := make([][]byte, len(keys))
		for i, k := range keys {
			bk[i] = []byte(k)
		}
		err := kv.GetMany(tx, bk, func(i int, v []byte) error {
			got = append(got, hit{i, string(v)})
			return nil
		})
		return got, err
	}
	return []rule{
		{"SameAsGets", func(t *testing.T, e *env) {
			e.set("a", "1")
			e.set("b", "")
			e.set("c", "3")
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				got, err := collect(tx, "a", "missing", "b", "c", "a", "c\x00")
				want := []hit{{0, "1"}, {2, ""}, {3, "3"}, {4, "1"}}
				if err == nil && !slices.Equal(got, want) {
					t.Errorf("GetMany = %v, want %v (index, value of each present key, in order)", got, want)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"ManyKeys", func(t *testing.T, e *env) {
			// More keys than a networked engine reads in one request.
			const n = 5000
			var b kv.Batch
			var keys []string
			for i := range n {
				k := fmt.Sprintf("k%05d", i)
				keys = append(keys, k, k+"-missing")
				if err := b.Set([]byte(k), []byte(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			e.writeChunked(&b)
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				got, err := collect(tx, keys...)
				if err != nil {
					return err
				}
				if len(got) != n {
					return fmt.Errorf("GetMany of %d keys found %d, want %d", len(keys), len(got), n)
				}
				for j, h := range got {
					if h.i != 2*j || h.v != strconv.Itoa(j) {
						return fmt.Errorf("hit %d = %v, want {%d %d}", j, h, 2*j, j)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"ReadsOwnWrites", func(t *testing.T, e *env) {
			e.set("a", "1")
			e.set("b", "2")
			e.set("c", "3")
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				if err := errors.Join(tx.Set([]byte("x"), []byte("new")), tx.Delete([]byte("a")), tx.Set([]byte("b"), []byte("22"))); err != nil {
					return err
				}
				got, err := collect(tx, "a", "x", "b", "zz", "x")
				want := []hit{{1, "new"}, {2, "22"}, {4, "new"}}
				if err == nil && !slices.Equal(got, want) {
					t.Errorf("GetMany inside Update = %v, want %v", got, want)
				}
				if err != nil {
					return err
				}
				// Keys read from the store after a key the transaction
				// wrote: each value at its own index (mutation testing
				// showed that mapping unchecked).
				got, err = collect(tx, "x", "b", "c", "zz", "b")
				want = []hit{{0, "new"}, {1, "22"}, {2, "3"}, {4, "22"}}
				if err == nil && !slices.Equal(got, want) {
					t.Errorf("GetMany inside Update of written and unwritten keys = %v, want %v", got, want)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"ScribbledValuesChangeNothing", func(t *testing.T, e *env) {
			// fn owns nothing it is given: a callback that writes over its
			// value slice changes neither the store nor the transaction's
			// pending writes (kv once handed Update's GetMany the batch's
			// own memory, and the scribble was committed).
			e.set("stored", "hello")
			scribble := func(tx kv.ReadTxn) error {
				return kv.GetMany(tx, [][]byte{[]byte("stored"), []byte("pending")}, func(_ int, v []byte) error {
					for j := range v {
						v[j] = 'X'
					}
					return nil
				})
			}
			if err := e.s.View(e.ctx, scribble); err != nil {
				t.Fatal(err)
			}
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				if err := tx.Set([]byte("pending"), []byte("world")); err != nil {
					return err
				}
				if err := scribble(tx); err != nil {
					return err
				}
				got, err := collect(tx, "stored", "pending")
				if want := []hit{{0, "hello"}, {1, "world"}}; err == nil && !slices.Equal(got, want) {
					t.Errorf("GetMany after a callback scribbled on its values = %v, want %v", got, want)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"stored": "hello", "pending": "world"} {
				if got, ok := e.get(k); !ok || got != want {
					t.Errorf("after the commit %s = %q (present %v), want %q", k, got, ok, want)
				}
			}
		}},
		{"AnyOrderAnySize", func(t *testing.T, e *env) {
			// Keys in any order, duplicated, missing, before the first
			// and after the last stored key, in calls of every size (an
			// engine may read a few keys one by one and many with one
			// iterator): the same answers as one Get per key, and a
			// callback that writes over its values changes nothing read
			// later (an engine that handed out its own memory would
			// corrupt its memtable or cache).
			const stored = 200
			errRollback := errors.New("rollback")
			for i := range stored {
				e.set(fmt.Sprintf("m%04d", 2*i), strconv.Itoa(i))
			}
			rnd := rand.New(rand.NewPCG(uint64(stored), 7))
			for _, n := range []int{1, 5, 6, 7, 40, 300} {
				keys := make([]string, n)
				for j := range keys {
					switch r := rnd.IntN(10); {
					case r == 0:
						keys[j] = "a-before-every-key"
					case r == 1:
						keys[j] = "z-after-every-key"
					case r == 2 && j > 0:
						keys[j] = keys[rnd.IntN(j)] // a duplicate
					default:
						keys[j] = fmt.Sprintf("m%04d", rnd.IntN(2*stored)) // odd ones are missing
					}
				}
				if n == 40 {
					slices.Sort(keys) // in key order, duplicates next to each other
				}
				for _, update := range []bool{false, true} {
					read := func(tx kv.ReadTxn) error {
						// The answer of one Get per key, in this
						// transaction (an Update's own writes included).
						var want []hit
						for j, k := range keys {
							v, err := tx.Get([]byte(k))
							if errors.Is(err, kv.ErrNotFound) {
								continue
							}
							if err != nil {
								return err
							}
							want = append(want, hit{j, string(v)})
						}
						var got []hit
						bk := make([][]byte, n)
						for j, k := range keys {
							bk[j] = []byte(k)
						}
						err := kv.GetMany(tx, bk, func(i int, v []byte) error {
							got = append(got, hit{i, string(v)})
							for x := range v {
								v[x] = 'X'
							}
							return nil
						})
						if err != nil {
							return err
						}
						if !slices.Equal(got, want) {
							t.Errorf("GetMany of %d keys (update %v) = %v, want %v (one Get per key)", n, update, got, want)
						}
						if len(want) > 1 {
							calls := 0
							stop := errors.New("stop")
							err := kv.GetMany(tx, bk, func(int, []byte) error { calls++; return stop })
							if !errors.Is(err, stop) || calls != 1 {
								t.Errorf("GetMany of %d keys with a failing function = %v after %d calls, want its error after 1", n, err, calls)
							}
						}
						return nil
					}
					var err error
					if update {
						err = e.s.Update(e.ctx, func(tx kv.Txn) error {
							// Writes of the transaction's own among the
							// keys read: merged in the order of keys. They
							// are not committed (the function fails).
							for j := 0; j < len(keys); j += 3 {
								var werr error
								if j%2 == 0 {
									werr = tx.Set([]byte(keys[j]), []byte("own"))
								} else {
									werr = tx.Delete([]byte(keys[j]))
								}
								if werr != nil {
									return werr
								}
							}
							if err := read(tx); err != nil {
								return err
							}
							return errRollback
						})
						if errors.Is(err, errRollback) {
							err = nil
						}
					} else {
						err = e.s.View(e.ctx, read)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range stored {
				k := fmt.Sprintf("m%04d", 2*i)
				if got, ok := e.get(k); !ok || got != strconv.Itoa(i) {
					t.Fatalf("after callbacks wrote over their values, %s = %q (present %v), want %q", k, got, ok, strconv.Itoa(i))
				}
			}
		}},
		{"InvalidKeyRejectedFirst", func(t *testing.T, e *env) {
			e.set("a", "1")
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				calls := 0
				err := kv.GetMany(tx, [][]byte{[]byte("a"), nil}, func(int, []byte) error { calls++; return nil })
				if !errors.Is(err, kv.ErrEmptyKey) || calls != 0 {
					t.Errorf("GetMany with an empty key = %v after %d calls, want ErrEmptyKey before any", err, calls)
				}
				if err := kv.GetMany(tx, [][]byte{[]byte("a")}, nil); err == nil {
					t.Error("GetMany with a nil function: no error")
				}
				if err := kv.GetMany(nil, [][]byte{[]byte("a")}, func(int, []byte) error { return nil }); !errors.Is(err, kv.ErrInvalidConfig) {
					t.Errorf("GetMany with a nil transaction = %v, want ErrInvalidConfig", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"FuncErrorStops", func(t *testing.T, e *env) {
			e.set("a", "1")
			e.set("b", "2")
			stop := errors.New("stop")
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				calls := 0
				err := kv.GetMany(tx, [][]byte{[]byte("a"), []byte("b")}, func(int, []byte) error { calls++; return stop })
				if !errors.Is(err, stop) || calls != 1 {
					t.Errorf("GetMany = %v after %d calls, want the function's error after 1", err, calls)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"WriteSkew", func(t *testing.T, e *env) {
			// Serializable.WriteSkew with both reads in one GetMany.
			writeSkew(t, e, func(tx kv.Txn) (a, b []byte, err error) {
				err = kv.GetMany(tx, [][]byte{[]byte("oncall/a"), []byte("oncall/b")}, func(i int, v []byte) error {
					if i == 0 {
						a = bytes.Clone(v)
					} else {
						b = bytes.Clone(v)
					}
					return nil
				})
				return a, b, err
			})
		}},
		{"MissingKeyReadCounts", func(t *testing.T, e *env) {
			// Each transaction takes the slot only if GetMany finds it
			// missing, and leaves its own mark: serially, only one does.
			claim := func(self string) func(tx kv.Txn, read func()) error {
				return func(tx kv.Txn, read func()) error {
					got, err := collect(tx, "slot")
					if err != nil {
						return err
					}
					read()
					if len(got) > 0 {
						return nil // taken
					}
					return errors.Join(tx.Set([]byte("slot"), []byte(self)), tx.Set([]byte("claimed/"+self), nil))
				}
			}
			racePair(t, e, claim("1"), claim("2"))
			if got := e.scanKeys(kv.IterOptions{Prefix: []byte("claimed/")}); len(got) != 1 {
				t.Errorf("claims %q: both transactions found the slot missing and took it; a serial order lets one", got)
			}
		}},
	}
}
