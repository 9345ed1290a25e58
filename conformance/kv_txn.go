package conformance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// scribble overwrites every byte of b, as a careless caller would.
func scribble(b []byte) {
	for i := range b {
		b[i] = '#'
	}
}

func bufferRules() []rule {
	return []rule{
		{"SetCopiesKeyAndValue", func(t *testing.T, e *env) {
			k, v := []byte("key1"), []byte("value1")
			if err := e.s.Set(e.ctx, k, v); err != nil {
				t.Fatal(err)
			}
			scribble(k)
			scribble(v)
			e.wantValue("key1", "value1")
			e.wantMissing("####")
			// One buffer reused for many writes (raft's in-memory store kept
			// it): each write must keep its own bytes.
			buf := []byte("r0")
			for i := range 5 {
				buf[1] = byte('0' + i)
				if err := e.s.Set(e.ctx, buf, buf); err != nil {
					t.Fatal(err)
				}
			}
			scribble(buf)
			for i := range 5 {
				k := fmt.Sprintf("r%d", i)
				e.wantValue(k, k)
			}
		}},
		{"TxnSetCopiesKeyAndValue", func(t *testing.T, e *env) {
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				k, v := []byte("key1"), []byte("value1")
				if err := tx.Set(k, v); err != nil {
					return err
				}
				scribble(k)
				scribble(v)
				got, err := tx.Get([]byte("key1"))
				if err != nil || string(got) != "value1" {
					return fmt.Errorf("Txn.Get(key1) after scribbling the Set buffers = %q, %v; want value1", got, err)
				}
				buf := []byte("r0")
				for i := range 5 {
					buf[1] = byte('0' + i)
					if err := tx.Set(buf, buf); err != nil {
						return err
					}
				}
				scribble(buf)
				var keys []string
				if err := tx.Iterate(kv.IterOptions{}, func(k, v []byte) error {
					keys = append(keys, string(k)+"="+string(v))
					return nil
				}); err != nil {
					return err
				}
				if want := "key1=value1 r0=r0 r1=r1 r2=r2 r3=r3 r4=r4"; strings.Join(keys, " ") != want {
					return fmt.Errorf("Txn.Iterate after scribbling = %q, want %q", strings.Join(keys, " "), want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			e.wantValue("key1", "value1")
			e.wantMissing("####")
			for i := range 5 {
				k := fmt.Sprintf("r%d", i)
				e.wantValue(k, k)
			}
		}},
		{"BatchAndBulkCopyKeyAndValue", func(t *testing.T, e *env) {
			b := new(kv.Batch)
			w := kv.NewBulkWriter(e.ctx, e.s)
			for i := range 5 {
				kb := fmt.Appendf(nil, "b%d", i)
				vb := fmt.Appendf(nil, "v%d", i)
				if err := b.Set(kb, vb); err != nil {
					t.Fatal(err)
				}
				kw := fmt.Appendf(nil, "w%d", i)
				if err := w.Add(kv.SetOp(kw, vb), kv.SetOp(append(kw, '+'), vb)); err != nil {
					t.Fatal(err)
				}
				scribble(kb)
				scribble(vb)
				scribble(kw)
			}
			if err := e.s.Write(e.ctx, b); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var want []pair
			for i := range 5 {
				want = append(want, pair{fmt.Sprintf("b%d", i), fmt.Sprintf("v%d", i)})
			}
			for i := range 5 {
				want = append(want, pair{fmt.Sprintf("w%d", i), fmt.Sprintf("v%d", i)}, pair{fmt.Sprintf("w%d+", i), fmt.Sprintf("v%d", i)})
			}
			wantPairs(t, "scan after scribbling every buffer given", e.scan(kv.IterOptions{}), want)
		}},
		{"GetValueOwnedByCaller", func(t *testing.T, e *env) {
			e.set("k", "value")
			for range 2 {
				v, err := e.s.Get(e.ctx, []byte("k"))
				if err != nil {
					t.Fatal(err)
				}
				scribble(v[:cap(v)])
				_ = append(v[:0], "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
			}
			e.wantValue("k", "value")
			wantPairs(t, "scan", e.scan(kv.IterOptions{}), []pair{{"k", "value"}})
			err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				v, err := tx.Get([]byte("k"))
				if err != nil {
					return err
				}
				scribble(v[:cap(v)])
				if v, err := tx.Get([]byte("k")); err != nil || string(v) != "value" {
					return fmt.Errorf("view: Get after scribbling the first result = %q, %v; want value", v, err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			err = e.s.Update(e.ctx, func(tx kv.Txn) error {
				if err := tx.Set([]byte("p"), []byte("pending")); err != nil {
					return err
				}
				for _, k := range []string{"k", "p"} {
					v, err := tx.Get([]byte(k))
					if err != nil {
						return err
					}
					scribble(v[:cap(v)])
				}
				if v, err := tx.Get([]byte("p")); err != nil || string(v) != "pending" {
					return fmt.Errorf("Txn.Get(p) after scribbling the first result = %q, %v; want pending", v, err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			e.wantValue("k", "value")
			e.wantValue("p", "pending")
		}},
		{"GetAppendAppendsACopy", func(t *testing.T, e *env) {
			ga, ok := e.s.(interface {
				GetAppend(ctx context.Context, dst, key []byte) ([]byte, error)
			})
			if !ok {
				t.Skipf("%T has no GetAppend", e.s)
			}
			e.set("k", "value")
			e.set("empty", "")
			buf := append(make([]byte, 0, 64), "prefix:"...)
			for range 2 { // the second round reuses buf's memory
				v, err := ga.GetAppend(e.ctx, buf[:len("prefix:")], []byte("k"))
				if err != nil || string(v) != "prefix:value" {
					t.Fatalf("GetAppend(prefix:, k) = %q, %v; want prefix:value", v, err)
				}
				scribble(v[:cap(v)])
				buf = append(v[:0], "prefix:"...)
			}
			e.wantValue("k", "value")
			if v, err := ga.GetAppend(e.ctx, buf[:3], []byte("empty")); err != nil || string(v) != "pre" {
				t.Errorf("GetAppend(pre, empty) = %q, %v; want pre (the empty value appended)", v, err)
			}
			if v, err := ga.GetAppend(e.ctx, nil, []byte("empty")); err != nil || len(v) != 0 {
				t.Errorf("GetAppend(nil, empty) = %q, %v; want an empty value", v, err)
			}
			v, err := ga.GetAppend(e.ctx, buf[:3], []byte("missing"))
			if !errors.Is(err, kv.ErrNotFound) || string(v) != "pre" {
				t.Errorf("GetAppend(pre, missing) = %q, %v; want pre (dst unchanged) and ErrNotFound", v, err)
			}
			if _, err := ga.GetAppend(e.ctx, nil, nil); !errors.Is(err, kv.ErrEmptyKey) {
				t.Errorf("GetAppend(empty key) = %v, want ErrEmptyKey", err)
			}
			if err := e.s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := ga.GetAppend(e.ctx, nil, []byte("k")); !errors.Is(err, kv.ErrClosed) {
				t.Errorf("GetAppend after Close = %v, want ErrClosed", err)
			}
		}},
		{"IterateSlicesScribbled", func(t *testing.T, e *env) {
			keys := []string{"a", "ab", "abc", "b", "ba", "c"}
			for _, k := range keys {
				e.set(k, "value of "+k)
			}
			var want []pair
			for _, k := range keys {
				want = append(want, pair{k, "value of " + k})
			}
			rev := slices.Clone(want)
			slices.Reverse(rev)
			scribbling := func(opts kv.IterOptions, iter func(kv.IterOptions, func(k, v []byte) error) error) []pair {
				var got []pair
				err := iter(opts, func(k, v []byte) error {
					got = append(got, pair{string(k), string(v)})
					scribble(k)
					scribble(v)
					return nil
				})
				if err != nil {
					t.Fatalf("Iterate%s: %v", fmtOpts(opts), err)
				}
				return got
			}
			storeIter := func(o kv.IterOptions, fn func(k, v []byte) error) error { return e.s.Iterate(e.ctx, o, fn) }
			wantPairs(t, "forward scan scribbling each key and value", scribbling(kv.IterOptions{}, storeIter), want)
			wantPairs(t, "reverse scan scribbling each key and value", scribbling(kv.IterOptions{Reverse: true}, storeIter), rev)
			wantPairs(t, "prefix scan scribbling", scribbling(kv.IterOptions{Prefix: []byte("a")}, storeIter), want[:3])
			_ = e.s.View(e.ctx, func(tx kv.ReadTxn) error {
				wantPairs(t, "View scan scribbling", scribbling(kv.IterOptions{}, tx.Iterate), want)
				return nil
			})
			_ = e.s.Update(e.ctx, func(tx kv.Txn) error {
				_ = tx.Set([]byte("bb"), []byte("pending"))
				w := append(slices.Clone(want[:5]), pair{"bb", "pending"}, want[5])
				wantPairs(t, "Update scan scribbling", scribbling(kv.IterOptions{}, tx.Iterate), w)
				wantPairs(t, "Update scan after scribbling", collect(t, tx.Iterate, kv.IterOptions{}), w)
				return nil
			})
			e.del("bb")
			wantPairs(t, "scan after all the scribbling", e.scan(kv.IterOptions{}), want)
		}},
	}
}

func snapshotRules() []rule {
	return []rule{
		{"IterateIgnoresConcurrentWrites", func(t *testing.T, e *env) {
			e.set("b", "1")
			e.set("d", "1")
			e.set("f", "1")
			var got []pair
			within(t, "Iterate while another goroutine writes", func() error {
				first := true
				return e.s.Iterate(e.ctx, kv.IterOptions{}, func(k, v []byte) error {
					got = append(got, pair{string(k), string(v)})
					if !first {
						return nil
					}
					first = false
					done := make(chan error, 1)
					go func() {
						b := new(kv.Batch)
						_ = b.Set([]byte("a"), []byte("2")) // behind
						_ = b.Set([]byte("c"), []byte("2")) // ahead
						_ = b.Set([]byte("d"), []byte("2")) // ahead, changed
						_ = b.Delete([]byte("f"))           // ahead, deleted
						done <- e.s.Write(e.ctx, b)
					}()
					select {
					case err := <-done:
						return err
					case <-time.After(deadlockTimeout):
						return errors.New("a write from another goroutine waited for a running iteration: readers must not block writers")
					}
				})
			})
			wantPairs(t, "what the iteration saw", got, []pair{{"b", "1"}, {"d", "1"}, {"f", "1"}})
			wantPairs(t, "scan afterwards", e.scan(kv.IterOptions{}), []pair{{"a", "2"}, {"b", "1"}, {"c", "2"}, {"d", "2"}})
		}},
		{"IterateIgnoresCallbackWrites", func(t *testing.T, e *env) {
			e.set("b", "1")
			e.set("d", "1")
			e.set("f", "1")
			for _, rev := range []bool{false, true} {
				var got []pair
				within(t, "Iterate whose callback writes through the store", func() error {
					return e.s.Iterate(e.ctx, kv.IterOptions{Reverse: rev}, func(k, v []byte) error {
						got = append(got, pair{string(k), string(v)})
						if err := e.s.Set(e.ctx, []byte(string(k)+"x"), []byte("new")); err != nil {
							return err
						}
						if err := e.s.Set(e.ctx, []byte("d"), []byte("changed")); err != nil {
							return err
						}
						return e.s.Delete(e.ctx, k)
					})
				})
				want := []pair{{"b", "1"}, {"d", "1"}, {"f", "1"}}
				if rev {
					slices.Reverse(want)
				}
				wantPairs(t, fmt.Sprintf("what the iteration saw (Reverse:%v)", rev), got, want)
				if !rev {
					wantPairs(t, "scan afterwards", e.scan(kv.IterOptions{}),
						[]pair{{"bx", "new"}, {"d", "changed"}, {"dx", "new"}, {"fx", "new"}})
					// Reset for the reverse pass.
					if err := e.s.DeletePrefix(e.ctx, nil); err != nil {
						t.Fatal(err)
					}
					e.set("b", "1")
					e.set("d", "1")
					e.set("f", "1")
				}
			}
		}},
		{"ViewIgnoresLaterWrites", func(t *testing.T, e *env) {
			e.set("a", "1")
			e.set("b", "1")
			within(t, "View while another goroutine writes", func() error {
				return e.s.View(e.ctx, func(tx kv.ReadTxn) error {
					if v, err := tx.Get([]byte("a")); err != nil || string(v) != "1" {
						return fmt.Errorf("Get(a) = %q, %v; want 1", v, err)
					}
					done := make(chan error, 1)
					go func() {
						b := new(kv.Batch)
						_ = b.Set([]byte("a"), []byte("2"))
						_ = b.Delete([]byte("b"))
						_ = b.Set([]byte("c"), []byte("2"))
						done <- e.s.Write(e.ctx, b)
					}()
					select {
					case err := <-done:
						if err != nil {
							return err
						}
					case <-time.After(deadlockTimeout):
						return errors.New("a write waited for an open View: readers must not block writers")
					}
					if v, err := tx.Get([]byte("a")); err != nil || string(v) != "1" {
						return fmt.Errorf("Get(a) after a later write = %q, %v; want the snapshot's 1", v, err)
					}
					if v, err := tx.Get([]byte("b")); err != nil || string(v) != "1" {
						return fmt.Errorf("Get(b) after a later delete = %q, %v; want the snapshot's 1", v, err)
					}
					if _, err := tx.Get([]byte("c")); !errors.Is(err, kv.ErrNotFound) {
						return fmt.Errorf("Get(c) written after the snapshot = %v; want ErrNotFound", err)
					}
					got := collect(t, tx.Iterate, kv.IterOptions{})
					if want := []pair{{"a", "1"}, {"b", "1"}}; !slices.Equal(got, want) {
						return fmt.Errorf("Iterate in the View after later writes = %v, want %v", got, want)
					}
					return nil
				})
			})
			wantPairs(t, "scan afterwards", e.scan(kv.IterOptions{}), []pair{{"a", "2"}, {"c", "2"}})
		}},
		{"ViewIgnoresLaterRangeDeletes", func(t *testing.T, e *env) {
			// Point reads of an open View after a DeleteRange and a
			// DeletePrefix by another writer still see the snapshot (an
			// iteration copies what it reads; a point read does not:
			// mutation testing found the memory backend's range delete
			// unchecked against an open View's point reads).
			e.setAll("k1", "k2", "k3", "k4", "p1", "p2")
			within(t, "View across range deletes", func() error {
				return e.s.View(e.ctx, func(tx kv.ReadTxn) error {
					if _, err := tx.Get([]byte("k1")); err != nil {
						return err
					}
					done := make(chan error, 1)
					go func() {
						done <- errors.Join(e.s.DeleteRange(e.ctx, []byte("k1"), []byte("k3")), e.s.DeletePrefix(e.ctx, []byte("p")))
					}()
					select {
					case err := <-done:
						if err != nil {
							return err
						}
					case <-time.After(deadlockTimeout):
						return errors.New("a range delete waited for an open View: readers must not block writers")
					}
					for _, k := range []string{"k1", "k2", "k3", "p1", "p2"} {
						if _, err := tx.Get([]byte(k)); err != nil {
							return fmt.Errorf("Get(%s) in the View after a later range delete: %v; want the snapshot's value", k, err)
						}
					}
					if got := collect(t, tx.Iterate, kv.IterOptions{KeysOnly: true}); len(got) != 6 {
						return fmt.Errorf("Iterate in the View after later range deletes: %v, want all 6 keys", got)
					}
					return nil
				})
			})
			wantKeys(t, "scan afterwards", e.scanKeys(kv.IterOptions{}), []string{"k3", "k4"})
		}},
		{"ViewIgnoresLaterDeleteOfEverything", func(t *testing.T, e *env) {
			// A range delete that covers every key of the store, made by
			// another writer while a View is open, leaves the View's point
			// reads and iteration on the snapshot. Guards an engine that
			// empties the tree it hands to open snapshots (mutation testing:
			// the memory backend clearing its shared tree in place instead
			// of replacing it; ViewIgnoresLaterRangeDeletes deletes only a
			// part of the store, which takes another path).
			keys := []string{"a", "b", "c"}
			for _, del := range []struct {
				name string
				fn   func() error
			}{
				{"DeleteRange(nil, nil)", func() error { return e.s.DeleteRange(e.ctx, nil, nil) }},
				{"DeleteRange(first key, nil)", func() error { return e.s.DeleteRange(e.ctx, []byte("a"), nil) }},
				{"DeletePrefix(nil)", func() error { return e.s.DeletePrefix(e.ctx, nil) }},
			} {
				e.setAll(keys...)
				within(t, "View across "+del.name, func() error {
					return e.s.View(e.ctx, func(tx kv.ReadTxn) error {
						if _, err := tx.Get([]byte("a")); err != nil {
							return err
						}
						done := make(chan error, 1)
						go func() { done <- del.fn() }()
						select {
						case err := <-done:
							if err != nil {
								return err
							}
						case <-time.After(deadlockTimeout):
							return fmt.Errorf("%s waited for an open View: readers must not block writers", del.name)
						}
						for _, k := range keys {
							if v, err := tx.Get([]byte(k)); err != nil || string(v) != "v:"+k {
								return fmt.Errorf("Get(%s) in the View after a later %s = %q, %v; want the snapshot's %q", k, del.name, v, err, "v:"+k)
							}
						}
						if got := keysOf(collect(t, tx.Iterate, kv.IterOptions{})); !slices.Equal(got, keys) {
							return fmt.Errorf("Iterate in the View after a later %s: %q, want %q", del.name, got, keys)
						}
						return nil
					})
				})
				wantKeys(t, "scan after "+del.name, e.scanKeys(kv.IterOptions{}), nil)
			}
		}},
		{"LargeIterateIgnoresCallbackWrites", func(t *testing.T, e *env) {
			// IterateIgnoresCallbackWrites over more keys than an engine
			// may gather up front: an iteration of a few hundred keys
			// whose callback writes ahead of it (inserts, changes and
			// deletes of keys it has not reached yet, and a delete of the
			// current key) still visits exactly the keys and values of
			// its snapshot, in both directions. Guards an engine that
			// walks its live tree for large scans instead of a frozen view
			// (mutation testing: the memory backend's iteration of more
			// than scanGather keys).
			const n = 600
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%04d", i)
			}
			for _, rev := range []bool{false, true} {
				if err := e.s.DeletePrefix(e.ctx, nil); err != nil {
					t.Fatal(err)
				}
				e.setAll(keys...)
				d := 1 // the direction of the iteration, in keys
				if rev {
					d = -1
				}
				var got []pair
				within(t, "a large Iterate whose callback writes ahead of it", func() error {
					return e.s.Iterate(e.ctx, kv.IterOptions{Reverse: rev}, func(k, v []byte) error {
						p := len(got)
						got = append(got, pair{string(k), string(v)})
						if p%100 != 0 || p+3 > n {
							return nil
						}
						i := p // the current key's index in keys
						if rev {
							i = n - 1 - p
						}
						b := new(kv.Batch)
						_ = b.Delete([]byte(keys[i+d]))                         // next key
						_ = b.Set([]byte(keys[i+2*d]), []byte("changed"))       // the one after
						_ = b.Set([]byte(keys[min(i, i+d)]+"x"), []byte("new")) // between the current key and the next
						_ = b.Delete(k)                                         // the current key
						return e.s.Write(e.ctx, b)
					})
				})
				want := make([]pair, n)
				for i, k := range keys {
					want[i] = pair{k, "v:" + k}
				}
				if rev {
					slices.Reverse(want)
				}
				wantPairs(t, fmt.Sprintf("what the iteration saw (Reverse:%v)", rev), got, want)
			}
		}},
	}
}

func txnRules() []rule {
	return []rule{
		{"ReadsOwnWrites", func(t *testing.T, e *env) {
			e.setAll("a", "b", "c", "e")
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				steps := []struct {
					do   func() error
					want []pair
				}{
					{func() error { return tx.Set([]byte("b"), []byte("new")) }, []pair{{"a", "v:a"}, {"b", "new"}, {"c", "v:c"}, {"e", "v:e"}}},
					{func() error { return tx.Delete([]byte("c")) }, []pair{{"a", "v:a"}, {"b", "new"}, {"e", "v:e"}}},
					{func() error { return tx.Set([]byte("d"), nil) }, []pair{{"a", "v:a"}, {"b", "new"}, {"d", ""}, {"e", "v:e"}}},
					{func() error { return tx.Set([]byte("c"), []byte("back")) }, []pair{{"a", "v:a"}, {"b", "new"}, {"c", "back"}, {"d", ""}, {"e", "v:e"}}},
					{func() error { return tx.Delete([]byte("d")) }, []pair{{"a", "v:a"}, {"b", "new"}, {"c", "back"}, {"e", "v:e"}}},
					{func() error { return tx.Delete([]byte("zz")) }, []pair{{"a", "v:a"}, {"b", "new"}, {"c", "back"}, {"e", "v:e"}}},
					{func() error { return tx.Delete([]byte("e")) }, []pair{{"a", "v:a"}, {"b", "new"}, {"c", "back"}}},
				}
				for i, st := range steps {
					if err := st.do(); err != nil {
						return err
					}
					got := collect(t, tx.Iterate, kv.IterOptions{})
					if !slices.Equal(got, st.want) {
						return fmt.Errorf("step %d: Txn.Iterate = %v, want %v", i, got, st.want)
					}
					rev := collect(t, tx.Iterate, kv.IterOptions{Reverse: true})
					w := slices.Clone(st.want)
					slices.Reverse(w)
					if !slices.Equal(rev, w) {
						return fmt.Errorf("step %d: reverse Txn.Iterate = %v, want %v", i, rev, w)
					}
					lim := collect(t, tx.Iterate, kv.IterOptions{Start: []byte("b"), Limit: 2})
					if want := st.want[1:3]; !slices.Equal(lim, want) {
						return fmt.Errorf("step %d: Txn.Iterate{Start:b Limit:2} = %v, want %v", i, lim, want)
					}
					for _, k := range []string{"a", "b", "c", "d", "e"} {
						v, err := tx.Get([]byte(k))
						i := slices.IndexFunc(st.want, func(p pair) bool { return p.k == k })
						switch {
						case i < 0 && !errors.Is(err, kv.ErrNotFound):
							return fmt.Errorf("step %d: Txn.Get(%s) = %q, %v; want ErrNotFound", i, k, v, err)
						case i >= 0 && (err != nil || string(v) != st.want[i].v):
							return fmt.Errorf("step %d: Txn.Get(%s) = %q, %v; want %q", i, k, v, err, st.want[i].v)
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			wantPairs(t, "after commit", e.scan(kv.IterOptions{}), []pair{{"a", "v:a"}, {"b", "new"}, {"c", "back"}})
		}},
		{"IterateOptionsOverPendingWrites", func(t *testing.T, e *env) {
			// Txn.Iterate merges the engine's keys with the transaction's
			// pending writes, through the engine's pull iterator rather than
			// the whole-scan path of Store.Iterate: every bound, Reverse,
			// Limit and KeysOnly must hold there too, with pending writes
			// and stored keys on and around each bound.
			e.setAll(neighbours...)
			model := map[string]string{}
			for _, k := range neighbours {
				model[k] = "v:" + k
			}
			writes := []struct {
				k, v string
				del  bool
			}{
				{k: "a", v: "new"},            // before every stored key
				{k: "s\xff", del: true},       // a stored key, deleted
				{k: "t", v: ""},               // overwritten with an empty value
				{k: "te\x00", v: "new"},       // between stored keys
				{k: "tes", del: true},         // deleted, and a bound below
				{k: "tesa", v: "new"},         // new, inside the prefix "tes"
				{k: "test", v: "over"},        // overwritten, and a bound below
				{k: "tet", del: true},         // deleted
				{k: "tf\x00", v: ""},          // new with an empty value
				{k: "u", v: "over"},           // the last stored key, overwritten
				{k: "v", v: "new"},            // after every stored key
				{k: "nothere", del: true},     // deleting a missing key
				{k: "te\xff\xff\x01", v: "2"}, // overwritten twice
				{k: "te\xff\xff\x01", v: "3"},
			}
			for _, w := range writes {
				if w.del {
					delete(model, w.k)
				} else {
					model[w.k] = w.v
				}
			}
			all := sorted(slices.Collect(maps.Keys(model)))
			bounds := []string{"", "a", "s", "t", "te", "te\x00", "tes", "tesa", "test", "test\x00", "tet", "tf", "u", "v", "zz"}
			var optss []kv.IterOptions
			for _, p := range []string{"", "te", "tes"} {
				for _, st := range bounds {
					for _, en := range bounds {
						optss = append(optss, kv.IterOptions{Prefix: []byte(p), Start: []byte(st), End: []byte(en)})
					}
				}
			}
			within(t, "Txn.Iterate over pending writes", func() error {
				return e.s.Update(e.ctx, func(tx kv.Txn) error {
					for _, w := range writes {
						var err error
						if w.del {
							err = tx.Delete([]byte(w.k))
						} else {
							err = tx.Set([]byte(w.k), []byte(w.v))
						}
						if err != nil {
							return err
						}
					}
					bad := 0
					for i, o := range optss {
						for _, rev := range []bool{false, true} {
							o.Reverse = rev
							o.KeysOnly = i%5 == 0
							o.Limit = []int{0, 0, 1, 2, 3}[i%5]
							var got []pair
							err := tx.Iterate(o, func(k, v []byte) error {
								if o.KeysOnly != (v == nil) {
									return fmt.Errorf("value of %q is %q (nil: %v) with KeysOnly %v: want nil exactly when KeysOnly", k, v, v == nil, o.KeysOnly)
								}
								got = append(got, pair{string(k), string(v)})
								return nil
							})
							if err != nil {
								return fmt.Errorf("Txn.Iterate%s: %w", fmtOpts(o), err)
							}
							var want []pair
							for _, k := range filterKeys(all, o) {
								p := pair{k, model[k]}
								if o.KeysOnly {
									p.v = ""
								}
								want = append(want, p)
							}
							if !slices.Equal(got, want) {
								t.Errorf("Txn.Iterate%s with pending writes:\n got  %v\n want %v", fmtOpts(o), got, want)
								if bad++; bad == 10 {
									return errors.New("too many wrong iterations")
								}
							}
						}
					}
					return nil
				})
			})
		}},
		{"WriteWhileIterating", func(t *testing.T, e *env) {
			for _, rev := range []bool{false, true} {
				if err := e.s.DeletePrefix(e.ctx, nil); err != nil {
					t.Fatal(err)
				}
				orig := map[string]string{}
				b := new(kv.Batch)
				for i := range 10 {
					k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
					orig[k] = v
					_ = b.Set([]byte(k), []byte(v))
				}
				if err := e.s.Write(e.ctx, b); err != nil {
					t.Fatal(err)
				}
				model := maps.Clone(orig)
				var got []pair
				within(t, fmt.Sprintf("Update writing while iterating (Reverse:%v)", rev), func() error {
					return e.s.Update(e.ctx, func(tx kv.Txn) error {
						got = got[:0]
						model = maps.Clone(orig)
						return tx.Iterate(kv.IterOptions{Reverse: rev}, func(k, v []byte) error {
							got = append(got, pair{string(k), string(v)})
							i := int(k[1] - '0')
							ops := []struct {
								k, v string
								del  bool
							}{
								{k: string(k), del: true},                                     // the current key
								{k: string(k) + "+", v: "next to current"},                    // just after it
								{k: fmt.Sprintf("k%d", i+1), v: "changed"},                    // ahead (forward)
								{k: fmt.Sprintf("k%d", i-1), v: "changed"},                    // ahead (reverse)
								{k: fmt.Sprintf("j%d", i), v: "behind"},                       // before everything
								{k: fmt.Sprintf("k%d", (i+5)%10), del: true},                  // far away
								{k: string(k)[:1] + string(rune('0'+(i+3)%10)) + "x", v: "x"}, // between keys
							}
							for _, op := range ops {
								var err error
								if op.del {
									err = tx.Delete([]byte(op.k))
									delete(model, op.k)
								} else {
									err = tx.Set([]byte(op.k), []byte(op.v))
									model[op.k] = op.v
								}
								if err != nil {
									return err
								}
							}
							return nil
						})
					})
				})
				var want []pair
				for i := range 10 {
					want = append(want, pair{fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)})
				}
				if rev {
					slices.Reverse(want)
				}
				wantPairs(t, fmt.Sprintf("what Txn.Iterate(Reverse:%v) visited while writing", rev), got, want)
				var final []pair
				for _, k := range slices.Sorted(maps.Keys(model)) {
					final = append(final, pair{k, model[k]})
				}
				wantPairs(t, fmt.Sprintf("state after the commit (Reverse:%v)", rev), e.scan(kv.IterOptions{}), final)
			}
		}},
		{"UseAfterReturnFails", func(t *testing.T, e *env) {
			e.set("a", "1")
			var saved kv.Txn
			var savedRead kv.ReadTxn
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error { saved = tx; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := e.s.View(e.ctx, func(tx kv.ReadTxn) error { savedRead = tx; return nil }); err != nil {
				t.Fatal(err)
			}
			check := func(what string, fn func() error) {
				t.Helper()
				var err error
				noPanic(t, what, func() { err = fn() })
				if err == nil {
					t.Errorf("%s after the transaction's function returned = nil, want an error", what)
				}
			}
			check("Txn.Get", func() error { _, err := saved.Get([]byte("a")); return err })
			check("Txn.Set", func() error { return saved.Set([]byte("late"), []byte("x")) })
			check("Txn.Delete", func() error { return saved.Delete([]byte("a")) })
			check("Txn.Iterate", func() error { return saved.Iterate(kv.IterOptions{}, func(k, v []byte) error { return nil }) })
			check("ReadTxn.Get", func() error { _, err := savedRead.Get([]byte("a")); return err })
			check("ReadTxn.Iterate", func() error {
				return savedRead.Iterate(kv.IterOptions{}, func(k, v []byte) error { return nil })
			})
			e.wantMissing("late")
			e.wantValue("a", "1")
			e.set("b", "2") // the store is still usable
			e.wantValue("b", "2")
		}},
		{"NestedWriteFails", func(t *testing.T, e *env) {
			// A write to the store from inside its own Update, made with
			// the Txn's context (or one derived from it), fails at once
			// with ErrNestedUpdate, instead of waiting for the Update that
			// waits for it (a local engine's writer lock) or committing
			// apart from it (an optimistic engine), even when it has
			// nothing to do (an empty batch or range). The Update goes on
			// and commits its own writes; reads of the store inside it work.
			e.setAll("a", "b")
			writes := []struct {
				name string
				do   func(ctx context.Context) error
			}{
				{"Set", func(ctx context.Context) error { return e.s.Set(ctx, []byte("n"), []byte("x")) }},
				{"Delete", func(ctx context.Context) error { return e.s.Delete(ctx, []byte("a")) }},
				{"Write", func(ctx context.Context) error {
					b := new(kv.Batch)
					if err := b.Set([]byte("n"), nil); err != nil {
						return err
					}
					return e.s.Write(ctx, b)
				}},
				{"Update", func(ctx context.Context) error {
					return e.s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("n"), nil) })
				}},
				{"DeleteRange", func(ctx context.Context) error { return e.s.DeleteRange(ctx, []byte("a"), []byte("c")) }},
				{"DeletePrefix", func(ctx context.Context) error { return e.s.DeletePrefix(ctx, []byte("b")) }},
				// A write with nothing to do is refused all the same: the
				// mistake does not depend on what the write holds.
				{"Write of an empty Batch", func(ctx context.Context) error { return e.s.Write(ctx, new(kv.Batch)) }},
				{"Write of a nil Batch", func(ctx context.Context) error { return e.s.Write(ctx, nil) }},
				{"DeleteRange of an empty range", func(ctx context.Context) error { return e.s.DeleteRange(ctx, []byte("c"), []byte("a")) }},
				{"DeleteRange of a range without keys", func(ctx context.Context) error { return e.s.DeleteRange(ctx, []byte("x"), []byte("y")) }},
				{"DeletePrefix without keys", func(ctx context.Context) error { return e.s.DeletePrefix(ctx, []byte("zz")) }},
			}
			var saved context.Context
			within(t, "writes from inside an Update", func() error {
				return e.s.Update(e.ctx, func(tx kv.Txn) error {
					saved = tx.Context()
					derived, cancel := context.WithCancel(tx.Context())
					defer cancel()
					for _, w := range writes {
						for how, ctx := range map[string]context.Context{"the Txn's context": tx.Context(), "a context derived from it": derived} {
							if err := w.do(ctx); !errors.Is(err, kv.ErrNestedUpdate) {
								return fmt.Errorf("%s from inside Update with %s = %v, want ErrNestedUpdate", w.name, how, err)
							}
						}
					}
					err := e.s.View(tx.Context(), func(r kv.ReadTxn) error {
						v, err := r.Get([]byte("a"))
						if err == nil && string(v) != "v:a" {
							err = fmt.Errorf("a = %q, want v:a", v)
						}
						return err
					})
					if err != nil {
						return fmt.Errorf("a View inside Update: %w", err)
					}
					return tx.Set([]byte("t"), []byte("y"))
				})
			})
			wantPairs(t, "after the Update", e.scan(kv.IterOptions{}), []pair{{"a", "v:a"}, {"b", "v:b"}, {"t", "y"}})
			if err := e.s.Set(saved, []byte("late"), []byte("z")); err != nil {
				t.Fatalf("Set with the context of an Update that has returned = %v, want nil", err)
			}
			e.wantValue("late", "z")
		}},
		{"NestedCompactInViewReturns", func(t *testing.T, e *env) {
			// Compact (of a store that has it, as *kv.DB) made with the
			// context of a View of the store while its function runs
			// returns: it compacts (an engine that compacts beside open
			// reads) or fails at once with ErrNestedCall (bbolt, which
			// compacts only once every read has ended), instead of
			// waiting for the View, which waits for it. The View and the
			// store go on.
			c, ok := e.s.(interface{ Compact(context.Context) error })
			if !ok {
				t.Skip("the store has no Compact")
			}
			e.setAll("a", "b")
			ctx, cancel := context.WithCancel(e.ctx)
			t.Cleanup(cancel) // before the stores close: ends a Compact that waits
			within(t, "Compact inside a View with its context", func() error {
				return e.s.View(ctx, func(tx kv.ReadTxn) error {
					if err := c.Compact(tx.Context()); err != nil && !errors.Is(err, kv.ErrNestedCall) {
						return fmt.Errorf("compact inside View with its context = %v, want nil or ErrNestedCall", err)
					}
					v, err := tx.Get([]byte("a"))
					if err == nil && string(v) != "v:a" {
						err = fmt.Errorf("a = %q, want v:a", v)
					}
					return err
				})
			})
			e.set("c", "3") // the store is still usable
			e.wantValue("c", "3")
		}},
		{"ConcurrentWriteNotNested", func(t *testing.T, e *env) {
			// While an Update's function runs, a write from another
			// goroutine with the context given to Update (shared, as
			// context.Background is) is not taken for a nested one: it
			// waits for the Update, or commits beside it, and succeeds.
			errc := make(chan error, 1)
			var once sync.Once // fn may run again after a conflict
			within(t, "Update beside a writer in another goroutine", func() error {
				return e.s.Update(e.ctx, func(tx kv.Txn) error {
					once.Do(func() {
						started := make(chan struct{})
						go func() {
							close(started)
							errc <- e.s.Set(e.ctx, []byte("other"), []byte("1"))
						}()
						<-started
						time.Sleep(20 * time.Millisecond) // let it reach the writer lock
					})
					return tx.Set([]byte("mine"), []byte("1"))
				})
			})
			within(t, "the other goroutine's Set", func() error { return <-errc })
			e.wantValue("other", "1")
			e.wantValue("mine", "1")
		}},
		{"NilFunctionRejected", func(t *testing.T, e *env) {
			noPanic(t, "Update(nil)", func() {
				if err := e.s.Update(e.ctx, nil); err == nil {
					t.Error("Update(nil) = nil, want an error")
				}
			})
			noPanic(t, "View(nil)", func() {
				if err := e.s.View(e.ctx, nil); err == nil {
					t.Error("View(nil) = nil, want an error")
				}
			})
			noPanic(t, "Iterate(nil callback)", func() {
				if err := e.s.Iterate(e.ctx, kv.IterOptions{}, nil); err == nil {
					t.Error("Iterate with a nil callback = nil, want an error")
				}
			})
		}},
	}
}
