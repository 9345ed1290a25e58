package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

func concurrencyRules() []rule {
	return []rule{
		{"CounterIncrementsExact", func(t *testing.T, e *env) {
			const workers = 8
			rounds := 500
			if e.opts.CounterRounds > 0 {
				rounds = e.opts.CounterRounds
				t.Logf("%d increments per goroutine, as the backend's conformance.Options.CounterRounds declares", rounds)
			}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range rounds {
						err := e.s.Update(e.ctx, incrementKey("counter", 1))
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			within(t, "8 goroutines incrementing one counter", func() error { wg.Wait(); return nil })
			close(errs)
			for err := range errs {
				t.Errorf("Update: %v", err)
			}
			e.wantValue("counter", strconv.Itoa(workers*rounds))
		}},
		{"FailedUpdatesAmongCommits", func(t *testing.T, e *env) {
			// Concurrent Updates, every third of which writes and then
			// fails. An engine that lets writers share a commit (group
			// commit) must leave out exactly the failed ones: their
			// writes nowhere, every other one's in place, the counter
			// they all increment exact.
			failedUpdatesAmongCommits(t, e)
		}},
		{"LongTxnNotStarved", func(t *testing.T, e *env) {
			// A long transaction (it reads a hot key and a range, then
			// works a while before writing) must commit while short ones
			// keep changing what it read. An optimistic engine that only
			// re-runs it fails it with ErrConflict after
			// MaxConflictRetries runs (a CompleteWithChildren among
			// workers flipping statuses did, on etcd).
			longTxnAmongShort(t, e, e.s)
		}},
		{"LongTxnNotStarvedByOtherStores", func(t *testing.T, e *env) {
			// The same with the short writers on another open store of
			// the same data (another process, as far as kv can tell):
			// only a backend shared between processes can do it.
			if !e.s.Info().Guarantees.Shared {
				t.Skipf("backend %q is not shared between processes (Guarantees.Shared=false): a second store cannot be open at once", e.s.Info().Backend)
			}
			longTxnAmongShort(t, e, e.mustOpen())
		}},
		{"ReadersSeeCommittedStates", func(t *testing.T, e *env) {
			// x and y are always written together with the same value.
			const rounds = 300
			e.set("x", "0")
			e.set("y", "0")
			var stop atomic.Bool
			var wg sync.WaitGroup
			var bad atomic.Value
			fail := func(format string, args ...any) { bad.Store(fmt.Sprintf(format, args...)) }
			readers := []func() error{
				func() error { // View with two Gets
					return e.s.View(e.ctx, func(tx kv.ReadTxn) error {
						x, err1 := tx.Get([]byte("x"))
						y, err2 := tx.Get([]byte("y"))
						if err := errors.Join(err1, err2); err != nil {
							return err
						}
						if string(x) != string(y) {
							fail("View saw x=%s y=%s", x, y)
						}
						return nil
					})
				},
				func() error { // Iterate
					var vals []string
					err := e.s.Iterate(e.ctx, kv.IterOptions{Start: []byte("x"), End: []byte("z")}, func(k, v []byte) error {
						vals = append(vals, string(v))
						return nil
					})
					if err == nil && (len(vals) != 2 || vals[0] != vals[1]) {
						fail("Iterate saw %q", vals)
					}
					return err
				},
				func() error { // a read-only Update
					return e.s.Update(e.ctx, func(tx kv.Txn) error {
						x, err1 := tx.Get([]byte("x"))
						y, err2 := tx.Get([]byte("y"))
						if string(x) != string(y) {
							fail("Update saw x=%s y=%s", x, y)
						}
						return errors.Join(err1, err2)
					})
				},
			}
			// Store.Get alone is not a snapshot across keys, but each
			// reader must see x never go back in time.
			readers = append(readers, func() func() error {
				last := -1
				return func() error {
					v, err := e.s.Get(e.ctx, []byte("x"))
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(string(v))
					if n < last {
						fail("Get(x) went back from %d to %d", last, n)
					}
					last = n
					return nil
				}
			}())
			for _, r := range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						if err := r(); err != nil {
							fail("reader: %v", err)
							return
						}
					}
				}()
			}
			for i := 1; i <= rounds; i++ {
				v := []byte(strconv.Itoa(i))
				var err error
				if i%2 == 0 {
					err = e.s.Update(e.ctx, func(tx kv.Txn) error {
						return errors.Join(tx.Set([]byte("x"), v), tx.Set([]byte("y"), v))
					})
				} else {
					b := new(kv.Batch)
					_ = b.Set([]byte("y"), v)
					_ = b.Set([]byte("x"), v)
					err = e.s.Write(e.ctx, b)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			stop.Store(true)
			within(t, "readers stopping", func() error { wg.Wait(); return nil })
			if msg := bad.Load(); msg != nil {
				t.Error(msg)
			}
		}},
		{"ConcurrentWritersDisjointKeys", func(t *testing.T, e *env) {
			const workers, n = 4, 250
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range n {
						k := fmt.Appendf(nil, "w%d/%04d", w, i)
						if err := e.s.Set(e.ctx, k, k); err != nil {
							errs <- err
							return
						}
						if i%5 == 0 {
							if err := e.s.Delete(e.ctx, k); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			within(t, "4 goroutines writing", func() error { wg.Wait(); return nil })
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			var want []string
			for w := range workers {
				for i := range n {
					if i%5 != 0 {
						want = append(want, fmt.Sprintf("w%d/%04d", w, i))
					}
				}
			}
			wantKeys(t, "keys after concurrent writers", e.scanKeys(kv.IterOptions{KeysOnly: true}), want)
		}},
	}
}

func deleteRangeRules() []rule {
	base := []string{"\x00", "a", "b", "b\x00", "bb", "c", "d", "d\x00", "e", "\xff", "\xff\xff"}
	without := func(keys []string, start, end string, nilEnd bool) []string {
		var out []string
		for _, k := range keys {
			if k >= start && (nilEnd || k < end) {
				continue
			}
			out = append(out, k)
		}
		return out
	}
	rangeCase := func(start, end []byte, want []string) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			e.setAll(base...)
			if err := e.s.DeleteRange(e.ctx, start, end); err != nil {
				t.Fatalf("DeleteRange(%q, %q): %v", start, end, err)
			}
			wantKeys(t, fmt.Sprintf("after DeleteRange(%q, %q)", start, end), e.scanKeys(kv.IterOptions{}), want)
		}
	}
	prefixCase := func(keys []string, prefix []byte) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			e.setAll(keys...)
			if err := e.s.DeletePrefix(e.ctx, prefix); err != nil {
				t.Fatalf("DeletePrefix(%q): %v", prefix, err)
			}
			var want []string
			for _, k := range sorted(keys) {
				if len(k) < len(prefix) || k[:len(prefix)] != string(prefix) {
					want = append(want, k)
				}
			}
			wantKeys(t, fmt.Sprintf("after DeletePrefix(%q)", prefix), e.scanKeys(kv.IterOptions{}), want)
		}
	}
	ffKeys := []string{"\xfe", "\xfe\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff", "a"}
	return []rule{
		{"StartIncludedEndExcluded", rangeCase([]byte("b"), []byte("d"), without(base, "b", "d", false))},
		{"EmptyRangeDeletesNothing", func(t *testing.T, e *env) {
			e.setAll(base...)
			for _, r := range [][2]string{{"b", "b"}, {"d", "b"}, {"b\x00", "b"}, {"zz", "a"}} {
				if err := e.s.DeleteRange(e.ctx, []byte(r[0]), []byte(r[1])); err != nil {
					t.Errorf("DeleteRange(%q, %q) = %v, want nil", r[0], r[1], err)
				}
			}
			wantKeys(t, "after empty ranges", e.scanKeys(kv.IterOptions{}), base)
		}},
		{"NilStartFromFirstKey", rangeCase(nil, []byte("b\x00"), without(base, "", "b\x00", false))},
		{"NilEndToLastKey", rangeCase([]byte("d"), nil, without(base, "d", "", true))},
		{"NilBoundsDeleteAll", rangeCase(nil, nil, nil)},
		{"EmptyStartFromFirstKey", rangeCase([]byte{}, []byte("b\x00"), without(base, "", "b\x00", false))},
		{"EmptyEndToLastKey", rangeCase([]byte("d"), []byte{}, without(base, "d", "", true))},
		{"EmptyBoundsDeleteAll", rangeCase([]byte{}, []byte{}, nil)},
		{"AllButFirstKey", rangeCase([]byte("a"), nil, []string{"\x00"})},
		{"AllButLastKey", rangeCase(nil, []byte("\xff\xff"), []string{"\xff\xff"})},
		{"BoundsAroundEveryKey", rangeCase([]byte("\x00"), []byte("\xff\xff\x00"), nil)},
		{"PrefixKeepsNeighbours", prefixCase(neighbours, []byte("te"))},
		{"PrefixAllFF", prefixCase(ffKeys, []byte("\xff"))},
		{"PrefixAllFFLonger", prefixCase(ffKeys, []byte("\xff\xff"))},
		{"EmptyPrefixDeletesAll", func(t *testing.T, e *env) {
			for _, p := range [][]byte{nil, {}} {
				e.setAll(base...)
				if err := e.s.DeletePrefix(e.ctx, p); err != nil {
					t.Fatal(err)
				}
				wantKeys(t, fmt.Sprintf("after DeletePrefix(%#v)", p), e.scanKeys(kv.IterOptions{}), nil)
			}
		}},
		{"LargerThanOneTxn", func(t *testing.T, e *env) {
			n := e.limits().MaxTxnOps + 5000
			w := kv.NewBulkWriter(e.ctx, e.s)
			for i := range n {
				_ = w.Set(fmt.Appendf(nil, "m%06d", i), nil)
			}
			_ = w.Set([]byte("l"), nil)
			_ = w.Set([]byte("n"), nil)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := e.s.DeletePrefix(e.ctx, []byte("m")); err != nil {
				t.Fatalf("DeletePrefix over %d keys: %v", n, err)
			}
			wantKeys(t, "after deleting more keys than one transaction holds", e.scanKeys(kv.IterOptions{}), []string{"l", "n"})
		}},
		{"BoundOverMaxKeySizeRejected", func(t *testing.T, e *env) {
			e.setAll("a")
			big := bytesOf(kv.MaxKeySize+1, 'a')
			if err := e.s.DeleteRange(e.ctx, big, nil); !errors.Is(err, kv.ErrKeyTooLarge) {
				t.Errorf("DeleteRange with a start of MaxKeySize+1 bytes = %v, want ErrKeyTooLarge", err)
			}
			if err := e.s.DeletePrefix(e.ctx, big); !errors.Is(err, kv.ErrKeyTooLarge) {
				t.Errorf("DeletePrefix of MaxKeySize+1 bytes = %v, want ErrKeyTooLarge", err)
			}
			wantKeys(t, "after rejected range deletes", e.scanKeys(kv.IterOptions{}), []string{"a"})
		}},
		{"DuringIterateInvisible", func(t *testing.T, e *env) {
			e.setAll(base...)
			var got []string
			within(t, "DeleteRange from an iteration callback", func() error {
				return e.s.Iterate(e.ctx, kv.IterOptions{}, func(k, _ []byte) error {
					got = append(got, string(k))
					if len(got) == 2 {
						return e.s.DeleteRange(e.ctx, nil, nil)
					}
					return nil
				})
			})
			wantKeys(t, "what the iteration saw", got, base)
			wantKeys(t, "after", e.scanKeys(kv.IterOptions{}), nil)
		}},
		{"CancelledMidwayConsistent", func(t *testing.T, e *env) {
			// A range delete whose context ends while it runs either
			// finishes (nil: the whole range is gone) or fails with the
			// context's error, and then, on a backend that declares
			// AtomicDeleteRange, has deleted nothing. Keys outside the
			// range are never touched. The context ends after its Err
			// method has been called a given number of times, so the
			// cancellation lands at each point where the backend looks.
			const n = 5000
			atomicDR := e.s.Info().Guarantees.AtomicDeleteRange
			fill := func() {
				w := kv.NewBulkWriter(e.ctx, e.s)
				for i := range n {
					_ = w.Set(fmt.Appendf(nil, "r%05d", i), []byte("v"))
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			e.setAll("q", "s")
			fill()
			for _, calls := range []int{1, 2, 3, 4, 5, 6, 8, 12, 20, 50} {
				ctx := newCountdownCtx(calls)
				var err error
				within(t, "DeleteRange cancelled midway", func() error {
					err = e.s.DeleteRange(ctx, []byte("r"), []byte("s"))
					return nil
				})
				left := 0
				if ierr := e.s.Iterate(e.ctx, kv.IterOptions{Prefix: []byte("r"), KeysOnly: true}, func(k, v []byte) error { left++; return nil }); ierr != nil {
					t.Fatal(ierr)
				}
				switch {
				case err == nil && left != 0:
					t.Errorf("DeleteRange whose context ends after %d checks returned nil but left %d of the %d keys of the range", calls, left, n)
				case err != nil && !errors.Is(err, context.Canceled):
					t.Errorf("DeleteRange whose context ends after %d checks = %v, want nil or context.Canceled", calls, err)
				case err != nil && atomicDR && left != n:
					t.Errorf("DeleteRange whose context ends after %d checks = %v and deleted %d of the %d keys; the backend declares AtomicDeleteRange: want none deleted", calls, err, n-left, n)
				}
				e.wantValue("q", "v:q")
				e.wantValue("s", "v:s")
				if left != n {
					fill()
				}
			}
		}},
		{"AtomicAsDeclared", func(t *testing.T, e *env) {
			if !e.s.Info().Guarantees.AtomicDeleteRange {
				t.Skipf("backend %q declares Guarantees.AtomicDeleteRange=false: readers may see a range partly deleted", e.s.Info().Backend)
			}
			const n = 20000
			w := kv.NewBulkWriter(e.ctx, e.s)
			for i := range n {
				_ = w.Set(fmt.Appendf(nil, "r%06d", i), nil)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var stop atomic.Bool
			var bad atomic.Value
			var wg sync.WaitGroup
			firstRead := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					if i == 1 {
						close(firstRead) // the delete starts once a reader is running
					}
					c := 0
					err := e.s.View(e.ctx, func(tx kv.ReadTxn) error {
						return tx.Iterate(kv.IterOptions{Prefix: []byte("r"), KeysOnly: true}, func(k, _ []byte) error { c++; return nil })
					})
					if err != nil {
						bad.Store(err.Error())
						return
					}
					if c != 0 && c != n {
						bad.Store(fmt.Sprintf("a View saw %d of the %d keys of a range being deleted", c, n))
						return
					}
					if c == 0 {
						return
					}
				}
			}()
			within(t, "a first View", func() error {
				select {
				case <-firstRead:
				case <-waitDone(&wg):
				}
				return nil
			})
			if err := e.s.DeletePrefix(e.ctx, []byte("r")); err != nil {
				t.Fatal(err)
			}
			within(t, "reader", func() error { wg.Wait(); return nil })
			stop.Store(true)
			if msg := bad.Load(); msg != nil {
				t.Error(msg)
			}
		}},
	}
}

func lifecycleRules() []rule {
	return []rule{
		{"CloseTwice", func(t *testing.T, e *env) {
			e.set("a", "1")
			if err := e.s.Close(); err != nil {
				t.Fatalf("first Close: %v", err)
			}
			if err := e.s.Close(); err != nil {
				t.Errorf("second Close = %v, want nil", err)
			}
		}},
		{"MethodsAfterClose", func(t *testing.T, e *env) {
			e.set("a", "1")
			var savedTxn kv.Txn
			var savedRead kv.ReadTxn
			_ = e.s.Update(e.ctx, func(tx kv.Txn) error { savedTxn = tx; return nil })
			_ = e.s.View(e.ctx, func(tx kv.ReadTxn) error { savedRead = tx; return nil })
			bw := kv.NewBulkWriter(e.ctx, e.s)
			_ = bw.Set([]byte("bulk"), nil)
			if err := e.s.Close(); err != nil {
				t.Fatal(err)
			}
			k, v := []byte("a"), []byte("2")
			b := new(kv.Batch)
			_ = b.Set(k, v)
			nop := func(k, v []byte) error { return nil }
			for _, c := range []struct {
				name string
				fn   func() error
			}{
				{"Get", func() error { _, err := e.s.Get(e.ctx, k); return err }},
				{"Set", func() error { return e.s.Set(e.ctx, k, v) }},
				{"Delete", func() error { return e.s.Delete(e.ctx, k) }},
				{"Iterate", func() error { return e.s.Iterate(e.ctx, kv.IterOptions{}, nop) }},
				{"View", func() error { return e.s.View(e.ctx, func(kv.ReadTxn) error { return nil }) }},
				{"Update", func() error { return e.s.Update(e.ctx, func(kv.Txn) error { return nil }) }},
				{"Write", func() error { return e.s.Write(e.ctx, b) }},
				// Calls with nothing to do are refused too (mutation
				// testing: only kv's own unit test checked them).
				{"Write(empty batch)", func() error { return e.s.Write(e.ctx, new(kv.Batch)) }},
				{"Write(nil batch)", func() error { return e.s.Write(e.ctx, nil) }},
				{"DeleteRange(empty range)", func() error { return e.s.DeleteRange(e.ctx, []byte("x"), []byte("x")) }},
				{"DeleteRange", func() error { return e.s.DeleteRange(e.ctx, []byte("a"), []byte("z")) }},
				{"DeletePrefix", func() error { return e.s.DeletePrefix(e.ctx, []byte("a")) }},
				{"DeletePrefix(all)", func() error { return e.s.DeletePrefix(e.ctx, nil) }},
				{"Sync", func() error { return e.s.Sync() }},
				{"BulkWriter.Close", func() error { return bw.Close() }},
				{"Txn.Get (saved)", func() error { _, err := savedTxn.Get(k); return err }},
				{"Txn.Set (saved)", func() error { return savedTxn.Set(k, v) }},
				{"ReadTxn.Iterate (saved)", func() error { return savedRead.Iterate(kv.IterOptions{}, nop) }},
			} {
				var err error
				noPanic(t, c.name+" after Close", func() { err = c.fn() })
				if !errors.Is(err, kv.ErrClosed) {
					t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
				}
			}
			noPanic(t, "Info after Close", func() { _ = e.s.Info() })
		}},
		{"CloseDuringCalls", func(t *testing.T, e *env) {
			w := kv.NewBulkWriter(e.ctx, e.s)
			for i := range 5000 {
				_ = w.Set(fmt.Appendf(nil, "k%05d", i), []byte("v"))
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			ok := func(err error) bool { return err == nil || errors.Is(err, kv.ErrClosed) }
			var started sync.WaitGroup
			var wg sync.WaitGroup
			var bad atomic.Value
			calls := []func(i int) error{
				func(i int) error { _, err := e.s.Get(e.ctx, []byte("k00001")); return err },
				func(i int) error { return e.s.Set(e.ctx, fmt.Appendf(nil, "n%d", i), nil) },
				func(i int) error {
					return e.s.Update(e.ctx, func(tx kv.Txn) error {
						if _, err := tx.Get([]byte("k00002")); err != nil {
							return err
						}
						return tx.Set(fmt.Appendf(nil, "u%d", i), nil)
					})
				},
				func(i int) error {
					return e.s.View(e.ctx, func(tx kv.ReadTxn) error {
						return tx.Iterate(kv.IterOptions{Limit: 100}, func(k, v []byte) error { return nil })
					})
				},
				func(i int) error { // a long iteration
					return e.s.Iterate(e.ctx, kv.IterOptions{}, func(k, v []byte) error { return nil })
				},
				func(i int) error { return e.s.DeletePrefix(e.ctx, []byte("n")) },
				func(i int) error { return e.s.Sync() },
			}
			for _, call := range calls {
				wg.Add(1)
				started.Add(1)
				go func() {
					defer wg.Done()
					defer func() {
						if p := recover(); p != nil {
							bad.Store(fmt.Sprintf("panic during Close: %v", p))
						}
					}()
					for i := 0; ; i++ {
						if i == 3 {
							started.Done()
						}
						err := call(i)
						if !ok(err) {
							bad.Store(fmt.Sprintf("a call racing Close returned %v, want nil or ErrClosed", err))
						}
						if err != nil {
							if i < 3 {
								started.Done()
							}
							return
						}
					}
				}()
			}
			within(t, "Close while calls are in flight", func() error {
				started.Wait()
				return e.s.Close()
			})
			within(t, "callers stopping after Close", func() error { wg.Wait(); return nil })
			if msg := bad.Load(); msg != nil {
				t.Error(msg)
			}
		}},
		{"CloseInsideTxnFails", func(t *testing.T, e *env) {
			// CloseContext (of a store that has it, as *kv.DB) made with
			// the context of a View or an Update of the store while its
			// function runs fails at once with ErrNestedCall, where Close
			// waits for that function, which waits for it. The
			// transaction goes on and commits; the store stays open,
			// usable, and closes afterwards.
			c, ok := e.s.(interface{ CloseContext(context.Context) error })
			if !ok {
				t.Skip("the store has no CloseContext")
			}
			e.set("a", "1")
			ctx, cancel := context.WithCancel(e.ctx)
			t.Cleanup(cancel) // before the stores close: ends a CloseContext that waits
			closeWith := func(where string, tctx context.Context) error {
				derived, stop := context.WithCancel(tctx)
				defer stop()
				for how, cctx := range map[string]context.Context{"its context": tctx, "a context derived from it": derived} {
					if err := c.CloseContext(cctx); !errors.Is(err, kv.ErrNestedCall) {
						return fmt.Errorf("CloseContext inside %s with %s = %v, want ErrNestedCall", where, how, err)
					}
				}
				return nil
			}
			within(t, "CloseContext inside Update", func() error {
				return e.s.Update(ctx, func(tx kv.Txn) error {
					if err := closeWith("Update", tx.Context()); err != nil {
						return err
					}
					return tx.Set([]byte("u"), []byte("2"))
				})
			})
			within(t, "CloseContext inside View", func() error {
				return e.s.View(ctx, func(tx kv.ReadTxn) error {
					if err := closeWith("View", tx.Context()); err != nil {
						return err
					}
					_, err := tx.Get([]byte("u"))
					return err
				})
			})
			e.set("b", "3")
			e.wantValue("u", "2")
			e.wantValue("b", "3")
			within(t, "CloseContext after the transactions", func() error { return c.CloseContext(ctx) })
			if err := e.s.Set(e.ctx, []byte("late"), nil); !errors.Is(err, kv.ErrClosed) {
				t.Errorf("Set after CloseContext = %v, want ErrClosed", err)
			}
		}},
		{"CloseContextWaitsForOthers", func(t *testing.T, e *env) {
			// CloseContext from another goroutine than a running View's
			// is not nested: it waits for the View, and gives up when
			// its context ends first, leaving the store open and usable.
			// Once the View has returned, it closes the store.
			c, ok := e.s.(interface{ CloseContext(context.Context) error })
			if !ok {
				t.Skip("the store has no CloseContext")
			}
			e.set("a", "1")
			inView, release := make(chan struct{}), make(chan struct{})
			viewDone := make(chan error, 1)
			go func() {
				viewDone <- e.s.View(e.ctx, func(tx kv.ReadTxn) error {
					close(inView)
					<-release
					_, err := tx.Get([]byte("a"))
					return err
				})
			}()
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release) // before the stores close: ends the View
				}
			})
			<-inView
			within(t, "CloseContext with a deadline while a View runs", func() error {
				dctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
				defer cancel()
				if err := c.CloseContext(dctx); !errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("CloseContext while a View of another goroutine runs = %v, want DeadlineExceeded", err)
				}
				return nil
			})
			e.set("b", "2") // still open
			e.wantValue("b", "2")
			closed := make(chan error, 1)
			go func() { closed <- c.CloseContext(e.ctx) }()
			select {
			case err := <-closed:
				t.Fatalf("CloseContext returned %v while a View was running, want it to wait", err)
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			within(t, "the View", func() error { return <-viewDone })
			within(t, "CloseContext once the View has returned", func() error { return <-closed })
			if _, err := e.s.Get(e.ctx, []byte("a")); !errors.Is(err, kv.ErrClosed) {
				t.Errorf("Get after CloseContext = %v, want ErrClosed", err)
			}
		}},
		{"CancelledContext", func(t *testing.T, e *env) {
			e.set("a", "1")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			b := new(kv.Batch)
			_ = b.Set([]byte("a"), []byte("2"))
			called := false
			for _, c := range []struct {
				name string
				fn   func() error
			}{
				{"Get", func() error { _, err := e.s.Get(ctx, []byte("a")); return err }},
				{"Set", func() error { return e.s.Set(ctx, []byte("a"), []byte("2")) }},
				{"Delete", func() error { return e.s.Delete(ctx, []byte("a")) }},
				{"Iterate", func() error {
					return e.s.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error { called = true; return nil })
				}},
				{"View", func() error { return e.s.View(ctx, func(kv.ReadTxn) error { called = true; return nil }) }},
				{"Update", func() error {
					return e.s.Update(ctx, func(tx kv.Txn) error { called = true; return tx.Set([]byte("a"), []byte("2")) })
				}},
				{"Write", func() error { return e.s.Write(ctx, b) }},
				{"DeleteRange", func() error { return e.s.DeleteRange(ctx, nil, nil) }},
				{"DeletePrefix", func() error { return e.s.DeletePrefix(ctx, []byte("a")) }},
			} {
				var err error
				noPanic(t, c.name, func() { err = c.fn() })
				if !errors.Is(err, context.Canceled) {
					t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
				}
			}
			if called {
				t.Error("a callback ran under a context cancelled before the call")
			}
			wantPairs(t, "after calls with a cancelled context", e.scan(kv.IterOptions{}), []pair{{"a", "1"}})
		}},
	}
}

func persistenceRules() []rule {
	return []rule{
		{"DataSurvivesReopen", func(t *testing.T, e *env) {
			e.requirePersistent()
			e.setAll("a", "b", "c", "d", "\x00", "\xff\xff", "!badger!x")
			e.set("empty", "")
			e.del("b")
			if err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				return errors.Join(tx.Set([]byte("t"), []byte("txn")), tx.Delete([]byte("c")))
			}); err != nil {
				t.Fatal(err)
			}
			want := e.scan(kv.IterOptions{})
			e.reopen()
			wantPairs(t, "after reopen", e.scan(kv.IterOptions{}), want)
			e.wantValue("empty", "")
			e.wantMissing("b")
			e.wantMissing("c")
		}},
		{"RangeDeletesSurviveReopen", func(t *testing.T, e *env) {
			e.requirePersistent()
			e.setAll(neighbours...)
			e.setAll("a", "z")
			if err := e.s.DeletePrefix(e.ctx, []byte("te")); err != nil {
				t.Fatal(err)
			}
			if err := e.s.DeleteRange(e.ctx, []byte("u"), nil); err != nil {
				t.Fatal(err)
			}
			want := e.scan(kv.IterOptions{})
			e.reopen()
			wantPairs(t, "after reopen", e.scan(kv.IterOptions{}), want)
		}},
		{"FailedTxnNotPersisted", func(t *testing.T, e *env) {
			e.requirePersistent()
			e.set("a", "1")
			boom := errors.New("conformance: fail")
			_ = e.s.Update(e.ctx, func(tx kv.Txn) error {
				_ = tx.Set([]byte("a"), []byte("2"))
				_ = tx.Set([]byte("b"), []byte("2"))
				return boom
			})
			e.reopen()
			wantPairs(t, "after reopen", e.scan(kv.IterOptions{}), []pair{{"a", "1"}})
		}},
		{"SyncThenReopenMany", func(t *testing.T, e *env) {
			e.requirePersistent()
			var want []string
			for round := range 4 {
				k := fmt.Sprintf("round%d", round)
				e.set(k, k)
				want = append(want, k)
				if err := e.s.Sync(); err != nil {
					t.Fatalf("Sync: %v", err)
				}
				e.reopen()
				wantKeys(t, fmt.Sprintf("after reopen #%d", round+1), e.scanKeys(kv.IterOptions{}), slices.Clone(want))
			}
		}},
	}
}

// waitDone returns a channel closed when wg's count reaches zero.
func waitDone(wg *sync.WaitGroup) <-chan struct{} {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

// countdownCtx is a context that ends after its Err method has been called
// calls times: the first calls-1 calls return nil. Done is closed when it
// ends.
type countdownCtx struct {
	context.Context
	mu   sync.Mutex
	left int
	done chan struct{}
}

func newCountdownCtx(calls int) *countdownCtx {
	return &countdownCtx{Context: context.Background(), left: calls, done: make(chan struct{})}
}

func (c *countdownCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		if c.left--; c.left == 0 {
			close(c.done)
		}
	}
	if c.left == 0 {
		return context.Canceled
	}
	return nil
}

func (c *countdownCtx) Done() <-chan struct{} { return c.done }

// incrementKey returns an Update function adding by to the decimal counter
// at key (missing: 0).
func incrementKey(key string, by int) func(tx kv.Txn) error {
	return func(tx kv.Txn) error {
		n := 0
		v, err := tx.Get([]byte(key))
		switch {
		case errors.Is(err, kv.ErrNotFound):
		case err != nil:
			return err
		default:
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
		return tx.Set([]byte(key), strconv.AppendInt(nil, int64(n+by), 10))
	}
}

// longTxnAmongShort runs one long transaction on e.s while 4 goroutines
// increment a key it reads, through other (e.s itself, or another store
// of the same data), and checks that everything committed, exactly once.
func longTxnAmongShort(t *testing.T, e *env, other kv.Store) {
	const writers, rangeKeys = 4, 50
	for i := range rangeKeys {
		e.set(fmt.Sprintf("long/%03d", i), "1")
	}
	e.set("hot", "0")
	var stop atomic.Bool
	var short atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for !stop.Load() {
				if err := other.Update(e.ctx, incrementKey("hot", 1)); err != nil {
					errs <- err
					return
				}
				short.Add(1)
			}
		})
	}
	runs := 0
	within(t, "a long transaction among 4 short writers", func() error {
		defer func() { stop.Store(true); wg.Wait() }()
		for short.Load() < writers {
			time.Sleep(time.Millisecond)
		}
		return e.s.Update(e.ctx, func(tx kv.Txn) error {
			runs++
			sum := 0
			err := tx.Iterate(kv.IterOptions{Prefix: []byte("long/")}, func(_, v []byte) error {
				n, err := strconv.Atoi(string(v))
				sum += n
				return err
			})
			if err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond) // the work
			if err := tx.Set([]byte("long/sum"), []byte(strconv.Itoa(sum))); err != nil {
				return err
			}
			return incrementKey("hot", 1000)(tx)
		})
	})
	close(errs)
	for err := range errs {
		t.Errorf("short writer: %v", err)
	}
	t.Logf("the long transaction ran %d times; %d short ones committed", runs, short.Load())
	e.wantValue("long/sum", strconv.Itoa(rangeKeys))
	e.wantValue("hot", strconv.FormatInt(short.Load()+1000, 10))
}

// errDeliberate is what the failing Updates of failedUpdatesAmongCommits
// return.
var errDeliberate = errors.New("conformance: deliberate failure")

// failedUpdatesAmongCommits runs 16 goroutines of Updates that increment a
// counter and write a key of their own; every third one writes a "bad/" key
// too and returns errDeliberate.
func failedUpdatesAmongCommits(t *testing.T, e *env) {
	const workers, rounds = 16, 30
	var wg sync.WaitGroup
	var committed atomic.Int64
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				fail := (w*rounds+i)%3 == 0
				err := e.s.Update(e.ctx, func(tx kv.Txn) error {
					if err := incrementKey("count", 1)(tx); err != nil {
						return err
					}
					if fail {
						if err := tx.Set(fmt.Appendf(nil, "bad/%02d/%02d", w, i), []byte("x")); err != nil {
							return err
						}
						return errDeliberate
					}
					return tx.Set(fmt.Appendf(nil, "good/%02d/%02d", w, i), []byte("x"))
				})
				switch {
				case fail && !errors.Is(err, errDeliberate):
					errs <- fmt.Errorf("failing Update %d/%d returned %v, want its own error", w, i, err)
					return
				case !fail && err != nil:
					errs <- fmt.Errorf("committing Update %d/%d: %w", w, i, err)
					return
				case !fail:
					committed.Add(1)
				}
			}
		}()
	}
	within(t, "16 goroutines of Updates, a third of them failing", func() error { wg.Wait(); return nil })
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if bad := e.scanKeys(kv.IterOptions{Prefix: []byte("bad/")}); len(bad) > 0 {
		t.Errorf("%d writes of failed Updates were applied, e.g. %q", len(bad), bad[0])
	}
	if good := e.scanKeys(kv.IterOptions{Prefix: []byte("good/")}); int64(len(good)) != committed.Load() {
		t.Errorf("%d keys of committed Updates stored, want %d", len(good), committed.Load())
	}
	e.wantValue("count", strconv.FormatInt(committed.Load(), 10))
}
