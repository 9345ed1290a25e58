package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/kv"
)

// wantUnchanged checks that the store holds exactly before.
func (e *env) wantUnchanged(what string, before []pair) {
	e.t.Helper()
	wantPairs(e.t, what+": the store must be unchanged", e.scan(kv.IterOptions{}), before)
}

// fillToLimit returns writes whose total size is exactly the store's
// MaxTxnBytes (plus extra bytes in the last value).
func fillToLimit(l kv.Limits, extra int) (keys, values [][]byte) {
	chunk := min(1<<20, l.MaxValueSize/2)
	size := 0
	for i := 0; ; i++ {
		if i > 1<<12 {
			// MaxTxnBytes is reached in a few dozen values unless
			// EntrySize ignores their size: fail, do not allocate for ever.
			panic("conformance: fillToLimit: kv.EntrySize does not grow with the value")
		}
		k := fmt.Appendf(nil, "big%02d", i)
		if size+kv.EntrySize(k, make([]byte, chunk))+kv.EntrySize(k, nil) >= l.MaxTxnBytes {
			v := make([]byte, l.MaxTxnBytes-size-kv.EntrySize(k, nil)+extra)
			return append(keys, k), append(values, v)
		}
		keys = append(keys, k)
		values = append(values, make([]byte, chunk))
		size += kv.EntrySize(k, values[i])
	}
}

func atomicityRules() []rule {
	return []rule{
		{"FnErrorRollsBack", func(t *testing.T, e *env) {
			e.setAll("a", "c")
			before := e.scan(kv.IterOptions{})
			boom := errors.New("conformance: fn failed")
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				for i := range 100 {
					if err := tx.Set(fmt.Appendf(nil, "n%03d", i), []byte("x")); err != nil {
						return err
					}
				}
				if err := tx.Set([]byte("a"), []byte("changed")); err != nil {
					return err
				}
				if err := tx.Delete([]byte("c")); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Errorf("Update whose fn fails = %v, want fn's error", err)
			}
			e.wantUnchanged("after a failed Update", before)
		}},
		{"PanicRollsBack", func(t *testing.T, e *env) {
			e.setAll("a", "c")
			before := e.scan(kv.IterOptions{})
			type marker struct{ n int }
			var recovered any
			within(t, "Update whose fn panics", func() error {
				defer func() { recovered = recover() }()
				return e.s.Update(e.ctx, func(tx kv.Txn) error {
					_ = tx.Set([]byte("a"), []byte("changed"))
					_ = tx.Set([]byte("b"), []byte("new"))
					_ = tx.Delete([]byte("c"))
					panic(marker{42})
				})
			})
			if m, ok := recovered.(marker); !ok || m.n != 42 {
				t.Errorf("recovered %v from Update, want the fn's own panic value re-raised", recovered)
			}
			e.wantUnchanged("after a panicking Update", before)
			within(t, "a write after a panicking Update (locks released?)", func() error {
				return e.s.Set(e.ctx, []byte("after"), nil)
			})
			e.wantValue("after", "")
		}},
		{"IteratePanicPropagates", func(t *testing.T, e *env) {
			// A panic in an iteration callback reaches the caller with its
			// own value (an engine that turns its own panics into errors
			// must not swallow it) and leaves nothing open behind: later
			// reads, writes and Close work.
			e.setAll("a", "b", "c")
			type marker struct{ n int }
			ways := []struct {
				name    string
				iterate func(fn func(k, v []byte) error) error
			}{
				{"Iterate", func(fn func(k, v []byte) error) error { return e.s.Iterate(e.ctx, kv.IterOptions{}, fn) }},
				{"Iterate keys only, reverse", func(fn func(k, v []byte) error) error {
					return e.s.Iterate(e.ctx, kv.IterOptions{KeysOnly: true, Reverse: true}, fn)
				}},
				{"View Iterate", func(fn func(k, v []byte) error) error {
					return e.s.View(e.ctx, func(tx kv.ReadTxn) error { return tx.Iterate(kv.IterOptions{}, fn) })
				}},
				{"Update Iterate", func(fn func(k, v []byte) error) error {
					return e.s.Update(e.ctx, func(tx kv.Txn) error { return tx.Iterate(kv.IterOptions{}, fn) })
				}},
			}
			for i, w := range ways {
				var recovered any
				within(t, w.name+" whose callback panics", func() error {
					defer func() { recovered = recover() }()
					return w.iterate(func(k, _ []byte) error {
						if string(k) == "b" {
							panic(marker{i})
						}
						return nil
					})
				})
				if m, ok := recovered.(marker); !ok || m.n != i {
					t.Errorf("%s: recovered %v, want the callback's own panic value re-raised", w.name, recovered)
				}
			}
			within(t, "a write after panicking iterations", func() error {
				return e.s.Set(e.ctx, []byte("after"), nil)
			})
			wantPairs(t, "scan after panicking iterations", e.scan(kv.IterOptions{}),
				[]pair{{"a", "v:a"}, {"after", ""}, {"b", "v:b"}, {"c", "v:c"}})
			within(t, "Close after panicking iterations", e.s.Close)
		}},
		{"TooManyOpsRejected", func(t *testing.T, e *env) {
			e.setAll("a")
			before := e.scan(kv.IterOptions{})
			var setErrs int
			maxOps := e.limits().MaxTxnOps
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				for i := range maxOps + 1 {
					if tx.Set(strconv.AppendInt([]byte("o"), int64(i), 36), nil) != nil {
						setErrs++ // ignored on purpose: the commit must still fail
					}
				}
				return nil
			})
			if !errors.Is(err, kv.ErrTxnTooLarge) {
				t.Errorf("Update of MaxTxnOps+1 writes whose fn ignores the Set error = %v, want ErrTxnTooLarge", err)
			}
			if setErrs != 1 {
				t.Errorf("%d Txn.Set calls failed, want exactly 1 (the one past MaxTxnOps)", setErrs)
			}
			e.wantUnchanged("after a too-large Update", before)

			b := new(kv.Batch)
			for i := range maxOps {
				if err := b.Set(strconv.AppendInt([]byte("o"), int64(i), 36), nil); err != nil {
					t.Fatalf("Batch.Set #%d of %d: %v", i, maxOps, err)
				}
			}
			if maxOps == kv.MaxTxnOps {
				if err := b.Set([]byte("one-too-many"), nil); !errors.Is(err, kv.ErrTxnTooLarge) {
					t.Errorf("Batch.Set past MaxTxnOps = %v, want ErrTxnTooLarge", err)
				}
			} else {
				// A Batch knows only the package constants: the store
				// refuses a batch past its own limit when written.
				over := new(kv.Batch)
				for i := range maxOps + 1 {
					_ = over.Set(strconv.AppendInt([]byte("o"), int64(i), 36), nil)
				}
				if err := e.s.Write(e.ctx, over); !errors.Is(err, kv.ErrTxnTooLarge) {
					t.Errorf("Write of the store's MaxTxnOps+1 (%d) writes = %v, want ErrTxnTooLarge", maxOps+1, err)
				}
				e.wantUnchanged("after a too-large Write", before)
			}
			if err := e.s.Write(e.ctx, b); err != nil {
				t.Fatalf("Write of a batch of exactly MaxTxnOps writes: %v", err)
			}
			n := 0
			_ = e.s.Iterate(e.ctx, kv.IterOptions{Prefix: []byte("o"), KeysOnly: true}, func(k, v []byte) error { n++; return nil })
			if n != maxOps {
				t.Errorf("after a Write of MaxTxnOps keys, %d keys are stored", n)
			}
		}},
		{"TooManyBytesRejected", func(t *testing.T, e *env) {
			e.setAll("a")
			before := e.scan(kv.IterOptions{})
			keys, values := fillToLimit(e.limits(), 1)
			var setErrs int
			err := e.s.Update(e.ctx, func(tx kv.Txn) error {
				for i := range keys {
					if tx.Set(keys[i], values[i]) != nil {
						setErrs++
					}
				}
				return nil
			})
			if !errors.Is(err, kv.ErrTxnTooLarge) {
				t.Errorf("Update one byte over MaxTxnBytes whose fn ignores the Set error = %v, want ErrTxnTooLarge", err)
			}
			if setErrs != 1 {
				t.Errorf("%d Txn.Set calls failed, want exactly 1 (the last)", setErrs)
			}
			e.wantUnchanged("after a too-large Update", before)

			keys, values = fillToLimit(e.limits(), 0)
			err = e.s.Update(e.ctx, func(tx kv.Txn) error {
				for i := range keys {
					if err := tx.Set(keys[i], values[i]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Update of exactly MaxTxnBytes: %v", err)
			}
			for i, k := range keys {
				v, err := e.s.Get(e.ctx, k)
				if err != nil || len(v) != len(values[i]) {
					t.Errorf("Get(%s) after a commit of exactly MaxTxnBytes: %d bytes, %v; want %d", k, len(v), err, len(values[i]))
				}
			}
		}},
		{"BatchLaterWriteWins", func(t *testing.T, e *env) {
			e.setAll("d")
			b := new(kv.Batch)
			_ = b.Set([]byte("a"), []byte("1"))
			_ = b.Set([]byte("a"), []byte("2"))
			_ = b.Delete([]byte("b"))
			_ = b.Set([]byte("b"), []byte("3"))
			_ = b.Set([]byte("c"), []byte("x"))
			_ = b.Delete([]byte("c"))
			_ = b.Delete([]byte("d"))
			if err := e.s.Write(e.ctx, b); err != nil {
				t.Fatal(err)
			}
			wantPairs(t, "after the batch", e.scan(kv.IterOptions{}), []pair{{"a", "2"}, {"b", "3"}})

			// A large batch in random key order, each key written many
			// times: an engine that sorts the writes by key (bbolt, for
			// speed) must keep the writes to one key in order.
			for _, how := range []string{"Write", "Update"} {
				if err := e.s.DeletePrefix(e.ctx, nil); err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(7, 11))
				model := map[string]string{}
				big := new(kv.Batch)
				for i := range min(3000, e.limits().MaxTxnOps) {
					k := fmt.Sprintf("k%02d", r.IntN(40))
					if r.IntN(4) == 0 {
						delete(model, k)
						_ = big.Delete([]byte(k))
					} else {
						model[k] = strconv.Itoa(i)
						_ = big.Set([]byte(k), []byte(strconv.Itoa(i)))
					}
				}
				var err error
				if how == "Write" {
					err = e.s.Write(e.ctx, big)
				} else {
					err = e.s.Update(e.ctx, func(tx kv.Txn) error { return replayBatch(tx, big) })
				}
				if err != nil {
					t.Fatal(err)
				}
				wantPairs(t, how+" of 3000 (or the store's MaxTxnOps) writes to 40 keys in random order", e.scan(kv.IterOptions{}), modelScan(model, kv.IterOptions{}))
			}
		}},
		{"CancelledMidwayAllOrNothing", func(t *testing.T, e *env) {
			// A Write or an Update whose context ends while it runs
			// applies everything (and returns nil) or nothing (and returns
			// the context's error): never a part. The context ends after
			// its Err method has been called a given number of times, so
			// the cancellation lands at each point where the store looks.
			const n = 2000
			e.setAll("a")
			for _, calls := range []int{1, 2, 3, 4, 5, 6, 8, 12, 20} {
				for _, how := range []string{"Write", "Update"} {
					val := fmt.Sprintf("%s after %d checks", how, calls)
					b := new(kv.Batch)
					for i := range n {
						_ = b.Set(fmt.Appendf(nil, "w%05d", i), []byte(val))
					}
					_ = b.Delete([]byte("a"))
					ctx := newCountdownCtx(calls)
					var err error
					within(t, how+" cancelled midway", func() error {
						if how == "Write" {
							err = e.s.Write(ctx, b)
						} else {
							err = e.s.Update(ctx, func(tx kv.Txn) error { return replayBatch(tx, b) })
						}
						return nil
					})
					if err != nil && !errors.Is(err, context.Canceled) {
						t.Errorf("%s whose context ends after %d checks = %v, want nil or context.Canceled", how, calls, err)
					}
					applied := 0
					if ierr := e.s.Iterate(e.ctx, kv.IterOptions{Prefix: []byte("w")}, func(k, v []byte) error {
						if string(v) == val {
							applied++
						}
						return nil
					}); ierr != nil {
						t.Fatal(ierr)
					}
					_, aerr := e.s.Get(e.ctx, []byte("a"))
					aDeleted := errors.Is(aerr, kv.ErrNotFound)
					switch {
					case err == nil && (applied != n || !aDeleted):
						t.Errorf("%s whose context ends after %d checks returned nil but applied %d of its %d sets (delete applied: %v)", how, calls, applied, n, aDeleted)
					case err != nil && (applied != 0 || aDeleted):
						t.Errorf("%s whose context ends after %d checks = %v but applied %d of its %d sets (delete applied: %v): want nothing", how, calls, err, applied, n, aDeleted)
					}
					e.set("a", "v:a")
				}
			}
		}},
		{"WriteBatchAllOrNothing", func(t *testing.T, e *env) {
			// Readers racing a stream of batches must see each batch whole.
			const keys, rounds = 50, 200
			var stop atomic.Bool
			var wg sync.WaitGroup
			var bad atomic.Value
			check := func(ps []pair, how string) {
				if len(ps) == 0 {
					return
				}
				if len(ps) != keys {
					bad.Store(fmt.Sprintf("%s saw %d of the %d keys of a batch", how, len(ps), keys))
					return
				}
				for _, p := range ps {
					if p.v != ps[0].v {
						bad.Store(fmt.Sprintf("%s saw %s and %s: two batches mixed", how, ps[0], p))
						return
					}
				}
			}
			for r := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						var ps []pair
						var err error
						if r == 0 {
							err = e.s.Iterate(e.ctx, kv.IterOptions{Prefix: []byte("x")}, func(k, v []byte) error {
								ps = append(ps, pair{string(k), string(v)})
								return nil
							})
							check(ps, "Iterate")
						} else {
							err = e.s.View(e.ctx, func(tx kv.ReadTxn) error {
								return tx.Iterate(kv.IterOptions{Prefix: []byte("x")}, func(k, v []byte) error {
									ps = append(ps, pair{string(k), string(v)})
									return nil
								})
							})
							check(ps, "View")
						}
						if err != nil {
							bad.Store(err.Error())
						}
					}
				}()
			}
			for i := range rounds {
				b := new(kv.Batch)
				for k := range keys {
					_ = b.Set(fmt.Appendf(nil, "x%03d", k), fmt.Appendf(nil, "round %d", i))
				}
				if err := e.s.Write(e.ctx, b); err != nil {
					t.Error(err)
					break
				}
			}
			stop.Store(true)
			wg.Wait()
			if msg := bad.Load(); msg != nil {
				t.Error(msg)
			}
		}},
	}
}

// bulkKeys is how many keys Bulk/LoadsMillionKeysInChunks loads: 1,000,000
// by default, 100,000 under -short, or POLYKV_CONFORMANCE_BULK_KEYS.
func bulkKeys(e *env) int {
	if s := os.Getenv("POLYKV_CONFORMANCE_BULK_KEYS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	if e.opts.BulkKeys > 0 {
		e.t.Logf("bulk load of %d keys, as the backend's conformance.Options.BulkKeys declares", e.opts.BulkKeys)
		return e.opts.BulkKeys
	}
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func bulkRules() []rule {
	return []rule{
		{"LoadsMillionKeysInChunks", func(t *testing.T, e *env) {
			groups := (bulkKeys(e) + 2) / 3
			w := kv.NewBulkWriter(e.ctx, e.s)
			key := func(dst []byte, g, part int) []byte { // g%08d then a, b or c
				dst = append(dst[:0], "g00000000"...)
				for i := len(dst) - 1; g > 0; i-- {
					dst[i] = byte('0' + g%10)
					g /= 10
				}
				return append(dst, byte('a'+part))
			}
			var k0, k1, k2 []byte
			value := []byte("value")
			lastChunks := 0
			for g := range groups {
				k0, k1, k2 = key(k0, g, 0), key(k1, g, 1), key(k2, g, 2)
				if err := w.Add(kv.SetOp(k0, value), kv.SetOp(k1, value), kv.SetOp(k2, value)); err != nil {
					t.Fatalf("Add of group %d: %v", g, err)
				}
				written, chunks := w.Written()
				if chunks == lastChunks {
					continue
				}
				// A chunk was just written, before group g: it must hold
				// whole groups, exactly groups [0, g).
				lastChunks = chunks
				if written%3 != 0 || written/3 != g {
					t.Fatalf("after chunk %d, %d writes applied before group %d: a group was split (want %d)", chunks, written, g, 3*g)
				}
				for part := range 3 {
					if _, err := e.s.Get(e.ctx, key(nil, g-1, part)); err != nil {
						t.Fatalf("chunk %d ends with group %d but its part %d is missing: %v", chunks, g-1, part, err)
					}
					if _, err := e.s.Get(e.ctx, key(nil, g, part)); !errors.Is(err, kv.ErrNotFound) {
						t.Fatalf("chunk %d: part %d of group %d, added after the chunk, is already stored (%v)", chunks, part, g, err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			written, chunks := w.Written()
			if written != 3*groups {
				t.Errorf("Written() = %d writes, want %d", written, 3*groups)
			}
			if maxOps := e.limits().MaxTxnOps; chunks < (written+maxOps-1)/maxOps {
				t.Errorf("Written() = %d chunks for %d writes, want at least %d (MaxTxnOps %d)", chunks, written, (written+maxOps-1)/maxOps, maxOps)
			}
			// Every group complete, every key once, in order.
			n := 0
			var prev []byte
			err := e.s.Iterate(e.ctx, kv.IterOptions{Prefix: []byte("g"), KeysOnly: true}, func(k, _ []byte) error {
				want := key(prev, n/3, n%3)
				if string(k) != string(want) {
					return fmt.Errorf("key #%d is %q, want %q", n, k, want)
				}
				prev = want
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != 3*groups {
				t.Errorf("scan found %d keys, want %d", n, 3*groups)
			}
		}},
		{"GroupNeverSplit", func(t *testing.T, e *env) {
			// Large groups of odd sizes: chunk boundaries fall often.
			w := kv.NewBulkWriter(e.ctx, e.s)
			// A group of 5 values must fit one transaction of the store.
			v := make([]byte, min(300<<10, e.limits().MaxTxnBytes/6))
			sizes := map[int]int{}
			for g := range 60 {
				n := 1 + g%5
				sizes[g] = n
				var ops []kv.Op
				for p := range n {
					ops = append(ops, kv.SetOp(fmt.Appendf(nil, "g%03d/%d", g, p), v))
				}
				if err := w.Add(ops...); err != nil {
					t.Fatal(err)
				}
				written, _ := w.Written()
				// Applied writes always end on a group boundary.
				sum := 0
				for h := 0; h <= g && sum < written; h++ {
					sum += sizes[h]
				}
				if sum != written {
					t.Fatalf("after group %d, %d writes applied: not a group boundary", g, written)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, chunks := w.Written(); chunks < 2 {
				t.Errorf("60 groups of up to 1.5 MiB written in %d chunk(s): expected the writer to split", chunks)
			}
			for g, n := range sizes {
				got := e.scanKeys(kv.IterOptions{Prefix: fmt.Appendf(nil, "g%03d/", g), KeysOnly: true})
				if len(got) != n {
					t.Errorf("group %d: %d of its %d keys stored", g, len(got), n)
				}
			}
		}},
		{"GroupNeverSplitAtOpsLimit", func(t *testing.T, e *env) {
			// The chunk boundary reached through the count of writes (the
			// rule above reaches it through bytes): with MaxTxnOps-1
			// writes in the chunk, a group of two goes whole into the next
			// one (mutation testing found the count check unchecked).
			l := e.limits()
			w := kv.NewBulkWriterSize(e.ctx, e.s, l.MaxTxnBytes)
			for i := range l.MaxTxnOps - 1 {
				if err := w.Set(fmt.Appendf(nil, "o%06d", i), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Add(kv.SetOp([]byte("pair/1"), nil), kv.SetOp([]byte("pair/2"), nil)); err != nil {
				t.Fatalf("Add of a group of 2 after MaxTxnOps-1 writes: %v", err)
			}
			if written, _ := w.Written(); written != l.MaxTxnOps-1 {
				t.Errorf("after the pair: %d writes applied, want the first chunk's %d (the pair whole in the next)", written, l.MaxTxnOps-1)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := e.scanKeys(kv.IterOptions{Prefix: []byte("pair/"), KeysOnly: true}); len(got) != 2 {
				t.Errorf("the pair: %v stored", got)
			}
		}},
		{"EntrySizeCountsKeyAndValue", func(t *testing.T, e *env) {
			// The limits' unit, which the rules above size their data with.
			for _, n := range []int{0, 1, 1000, 1 << 20} {
				k, v := []byte("key"), make([]byte, n)
				if got, want := kv.EntrySize(k, v), len(k)+n+kv.TxnEntryOverhead; got != want {
					t.Errorf("EntrySize(3-byte key, %d-byte value) = %d, want %d", n, got, want)
				}
			}
		}},
		{"GroupLargerThanTxnRefused", func(t *testing.T, e *env) {
			w := kv.NewBulkWriter(e.ctx, e.s)
			if err := w.Set([]byte("before"), nil); err != nil {
				t.Fatal(err)
			}
			ops := make([]kv.Op, e.limits().MaxTxnOps+1)
			for i := range ops {
				ops[i] = kv.SetOp(fmt.Appendf(nil, "huge%06d", i), nil)
			}
			if err := w.Add(ops...); !errors.Is(err, kv.ErrTxnTooLarge) {
				t.Errorf("Add of a group of MaxTxnOps+1 writes = %v, want ErrTxnTooLarge", err)
			}
			keys, values := fillToLimit(e.limits(), 1)
			ops = ops[:0]
			for i := range keys {
				ops = append(ops, kv.SetOp(keys[i], values[i]))
			}
			if err := w.Add(ops...); !errors.Is(err, kv.ErrTxnTooLarge) {
				t.Errorf("Add of a group one byte over MaxTxnBytes = %v, want ErrTxnTooLarge", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close after refused groups: %v", err)
			}
			wantKeys(t, "stored after refusing two groups", e.scanKeys(kv.IterOptions{KeysOnly: true}), []string{"before"})
		}},
		{"ChunkSizeRespected", func(t *testing.T, e *env) {
			// Chunks of NewBulkWriterSize stay within the size asked for,
			// keep groups whole, and a group larger than the size goes
			// whole into a chunk of its own.
			const chunkBytes = 4096
			w := kv.NewBulkWriterSize(e.ctx, e.s, chunkBytes)
			value := bytes.Repeat([]byte{'v'}, 100)
			group := func(g, parts int) []kv.Op {
				ops := make([]kv.Op, parts)
				for p := range ops {
					ops[p] = kv.SetOp(fmt.Appendf(nil, "c%05d-%03d", g, p), value)
				}
				return ops
			}
			entry := kv.EntrySize([]byte("c00000-000"), value)
			lastWritten, lastChunks, total := 0, 0, 0
			for g := range 200 {
				parts := 3
				if g == 100 {
					parts = 2*chunkBytes/entry + 1 // larger than a chunk
				}
				if err := w.Add(group(g, parts)...); err != nil {
					t.Fatalf("Add of group %d: %v", g, err)
				}
				total += parts
				written, chunks := w.Written()
				if chunks == lastChunks {
					continue
				}
				n := written - lastWritten
				if chunks != lastChunks+1 {
					t.Fatalf("group %d: %d chunks written by one Add, want 1", g, chunks-lastChunks)
				}
				if big := 2*chunkBytes/entry + 1; n*entry > chunkBytes && n != big {
					t.Fatalf("chunk %d holds %d writes (%d bytes), want at most %d bytes", chunks, n, n*entry, chunkBytes)
				}
				lastWritten, lastChunks = written, chunks
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			written, chunks := w.Written()
			if written != total {
				t.Errorf("Written() = %d writes, want %d", written, total)
			}
			if least := total * entry / chunkBytes; chunks < least {
				t.Errorf("%d chunks for %d bytes in chunks of %d, want at least %d", chunks, total*entry, chunkBytes, least)
			}
			if got := len(e.scanKeys(kv.IterOptions{Prefix: []byte("c"), KeysOnly: true})); got != total {
				t.Errorf("%d keys stored, want %d", got, total)
			}
		}},
	}
}

// replayBatch makes b's writes, in order, in tx.
func replayBatch(tx kv.Txn, b *kv.Batch) error {
	for i := range b.Len() {
		kind, k, v := b.Op(i)
		var err error
		if kind == kv.OpSet {
			err = tx.Set(k, v)
		} else {
			err = tx.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
