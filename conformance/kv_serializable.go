package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// serializableRules check that Update is serializable, not merely atomic:
// the anomalies that snapshot isolation and a careless optimistic commit
// let through (write skew, phantoms of inserted and of deleted keys, a lost
// insert-if-absent). Each rule runs two transactions that, where the store
// lets them (optimistic transactions, kv.Transactor), both read before
// either commits; under kv's writer lock the second waits for the first,
// and the rule checks the serial outcome instead. Either way the final
// state must be one that some serial order of the two produces.
func serializableRules() []rule {
	return []rule{
		{"WriteSkew", func(t *testing.T, e *env) {
			writeSkew(t, e, func(tx kv.Txn) (a, b []byte, err error) {
				a, err1 := tx.Get([]byte("oncall/a"))
				b, err2 := tx.Get([]byte("oncall/b"))
				return a, b, errors.Join(err1, err2)
			})
		}},
		{"WriteSkewThroughIterate", func(t *testing.T, e *env) {
			// WriteSkew with both values read by an iteration instead of
			// Get: a value changed inside an iterated range is a conflict
			// too, not only a key added or removed. Guards an optimistic
			// commit that compares an iterated range's keys but not their
			// values (mutation testing: the memory backend's optimistic
			// mode; only a nodestore rule with counter stripes caught it).
			writeSkew(t, e, func(tx kv.Txn) (a, b []byte, err error) {
				err = tx.Iterate(kv.IterOptions{Prefix: []byte("oncall/")}, func(k, v []byte) error {
					switch string(k) {
					case "oncall/a":
						a = bytes.Clone(v)
					case "oncall/b":
						b = bytes.Clone(v)
					}
					return nil
				})
				return a, b, err
			})
		}},
		{"PhantomInsert", func(t *testing.T, e *env) {
			// Each transaction claims the empty range by inserting into it
			// only if an iteration finds it empty.
			claim := func(key string) func(tx kv.Txn, read func()) error {
				return func(tx kv.Txn, read func()) error {
					n, err := countPrefix(tx, "claim/")
					if err != nil {
						return err
					}
					read()
					if n == 0 {
						return tx.Set([]byte(key), []byte("x"))
					}
					return nil
				}
			}
			racePair(t, e, claim("claim/a"), claim("claim/b"))
			if got := e.scanKeys(kv.IterOptions{Prefix: []byte("claim/")}); len(got) != 1 {
				t.Errorf("phantom insert: the range holds %q; a serial order leaves exactly one key", got)
			}
		}},
		{"PhantomDelete", func(t *testing.T, e *env) {
			// Each transaction deletes one key of a range only if the range
			// holds two: serially the second finds one and keeps it. A check
			// of "no key in the range modified since the snapshot" misses
			// the other's deletion: nothing is left to compare.
			e.set("pool/1", "x")
			e.set("pool/2", "x")
			drop := func(key string) func(tx kv.Txn, read func()) error {
				return func(tx kv.Txn, read func()) error {
					n, err := countPrefix(tx, "pool/")
					if err != nil {
						return err
					}
					read()
					if n >= 2 {
						return tx.Delete([]byte(key))
					}
					return nil
				}
			}
			racePair(t, e, drop("pool/1"), drop("pool/2"))
			if got := e.scanKeys(kv.IterOptions{Prefix: []byte("pool/")}); len(got) != 1 {
				t.Errorf("phantom delete: the range holds %q; a serial order leaves exactly one key", got)
			}
		}},
		{"PhantomDeleteBeforeSurvivor", func(t *testing.T, e *env) {
			// PhantomDelete with a key that stays after the deleted ones,
			// in both directions: each transaction deletes one key of a
			// range only if the range holds all three, and the commit that
			// comes second must see that a key it iterated is gone although
			// the iteration's last key is still there. Guards an optimistic
			// commit that checks only for keys missing at the end of an
			// iterated range (mutation testing: the memory backend's
			// optimistic mode skipping a removed key followed by a present
			// one; PhantomDelete's two keys always ended at the gap).
			for _, rev := range []bool{false, true} {
				if err := e.s.DeletePrefix(e.ctx, []byte("pool/")); err != nil {
					t.Fatal(err)
				}
				survivor := "pool/9" // iterated after the deleted keys
				if rev {
					survivor = "pool/0"
				}
				e.set("pool/4", "x")
				e.set("pool/5", "x")
				e.set(survivor, "x")
				drop := func(key string) func(tx kv.Txn, read func()) error {
					return func(tx kv.Txn, read func()) error {
						n := 0
						err := tx.Iterate(kv.IterOptions{Prefix: []byte("pool/"), KeysOnly: true, Reverse: rev}, func(_, _ []byte) error {
							n++
							return nil
						})
						if err != nil {
							return err
						}
						read()
						if n == 3 {
							return tx.Delete([]byte(key))
						}
						return nil
					}
				}
				racePair(t, e, drop("pool/4"), drop("pool/5"))
				if got := e.scanKeys(kv.IterOptions{Prefix: []byte("pool/")}); len(got) != 2 {
					t.Errorf("phantom delete (Reverse:%v): the range holds %q; a serial order leaves exactly two keys", rev, got)
				}
			}
		}},
		{"LimitOneRead", func(t *testing.T, e *env) {
			// An iteration stopped after its first key (Limit 1: take the
			// head of a queue) has read that key: two transactions that
			// each take the head and remove it must not both take the same
			// one. Guards an optimistic commit that checks only iterations
			// that stepped on more than one key, or none of the keys an
			// iteration stopped early on (mutation testing: the memory
			// backend's optimistic mode).
			e.set("queue/1", "job1")
			e.set("queue/2", "job2")
			take := func(owner string) func(tx kv.Txn, read func()) error {
				return func(tx kv.Txn, read func()) error {
					var head, job []byte
					err := tx.Iterate(kv.IterOptions{Prefix: []byte("queue/"), Limit: 1}, func(k, v []byte) error {
						head, job = bytes.Clone(k), bytes.Clone(v)
						return nil
					})
					if err != nil {
						return err
					}
					read()
					if head == nil {
						return nil
					}
					return errors.Join(tx.Delete(head), tx.Set([]byte("took/"+owner), job))
				}
			}
			racePair(t, e, take("a"), take("b"))
			a, _ := e.get("took/a")
			b, _ := e.get("took/b")
			if a == b {
				t.Errorf("both transactions took the queue's head %q; a serial order gives them different jobs", a)
			}
			wantKeys(t, "the queue afterwards", e.scanKeys(kv.IterOptions{Prefix: []byte("queue/")}), nil)
		}},
		{"InsertIfAbsent", func(t *testing.T, e *env) {
			// A read of a missing key is a read too: two insert-if-absent
			// transactions must not both win.
			insert := func(owner string) func(tx kv.Txn, read func()) error {
				return func(tx kv.Txn, read func()) error {
					_, err := tx.Get([]byte("lease"))
					if err != nil && !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					read()
					if errors.Is(err, kv.ErrNotFound) {
						if err := tx.Set([]byte("lease"), []byte(owner)); err != nil {
							return err
						}
						return tx.Set([]byte("won/"+owner), nil)
					}
					return nil
				}
			}
			racePair(t, e, insert("a"), insert("b"))
			if got := e.scanKeys(kv.IterOptions{Prefix: []byte("won/")}); len(got) != 1 {
				t.Errorf("insert-if-absent: %q both believe they took the lease; a serial order has one winner", got)
			}
		}},
		{"ReadOnlyUpdateSeesOneState", func(t *testing.T, e *env) {
			// A transaction that writes nothing still reads one state.
			e.set("pair/x", "0")
			e.set("pair/y", "0")
			var wg sync.WaitGroup
			stop := make(chan struct{})
			wg.Go(func() {
				for i := 1; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					v := []byte(strconv.Itoa(i))
					if err := e.s.Update(e.ctx, func(tx kv.Txn) error {
						return errors.Join(tx.Set([]byte("pair/x"), v), tx.Set([]byte("pair/y"), v))
					}); err != nil {
						t.Errorf("writer: %v", err)
						return
					}
				}
			})
			for range 50 {
				err := e.s.Update(e.ctx, func(tx kv.Txn) error {
					x, err1 := tx.Get([]byte("pair/x"))
					var y []byte
					err2 := tx.Iterate(kv.IterOptions{Prefix: []byte("pair/y")}, func(_, v []byte) error {
						y = append(y[:0], v...)
						return nil
					})
					if err := errors.Join(err1, err2); err != nil {
						return err
					}
					if string(x) != string(y) {
						return fmt.Errorf("read-only Update saw x=%s y=%s", x, y)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					break
				}
			}
			close(stop)
			wg.Wait()
		}},
	}
}

// countPrefix counts the keys under prefix in tx.
func countPrefix(tx kv.Txn, prefix string) (int, error) {
	n := 0
	err := tx.Iterate(kv.IterOptions{Prefix: []byte(prefix), KeysOnly: true}, func(_, _ []byte) error {
		n++
		return nil
	})
	return n, err
}

// rendezvousWait is how long a transaction's first run waits, after its
// reads, for the other transaction to have read too. Under a writer lock
// the other cannot start before the first commits, so the wait runs out.
const rendezvousWait = 250 * time.Millisecond

// racePair runs f1 and f2, each in an Update of its own goroutine. Each
// calls read() after its reads; on its first run, read waits until the
// other has read too (at most rendezvousWait), so that where the store runs
// transactions concurrently both read the initial state before either
// commits. Both Updates must succeed (a conflict is retried by Update).
func racePair(t *testing.T, e *env, f1, f2 func(tx kv.Txn, read func()) error) {
	t.Helper()
	var wg sync.WaitGroup
	ready := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	errs := make([]error, 2)
	for i, f := range []func(kv.Txn, func()) error{f1, f2} {
		wg.Go(func() {
			runs := 0
			errs[i] = e.s.Update(e.ctx, func(tx kv.Txn) error {
				runs++
				first := runs == 1
				return f(tx, func() {
					if !first {
						return
					}
					close(ready[i])
					select {
					case <-ready[1-i]:
					case <-time.After(rendezvousWait):
					}
				})
			})
		})
	}
	within(t, "two racing transactions", func() error { wg.Wait(); return nil })
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i+1, err)
		}
	}
}

// writeSkew is the write-skew case, with the reads made by read: two
// doctors on call; each transaction takes one off call only if both are
// on. Serially, the second sees one already off.
func writeSkew(t *testing.T, e *env, read func(tx kv.Txn) (a, b []byte, err error)) {
	t.Helper()
	e.set("oncall/a", "on")
	e.set("oncall/b", "on")
	take := func(self string) func(tx kv.Txn, rendezvous func()) error {
		return func(tx kv.Txn, rendezvous func()) error {
			a, b, err := read(tx)
			if err != nil {
				return err
			}
			rendezvous()
			if string(a) == "on" && string(b) == "on" {
				return tx.Set([]byte("oncall/"+self), []byte("off"))
			}
			return nil
		}
	}
	racePair(t, e, take("a"), take("b"))
	a, _ := e.get("oncall/a")
	b, _ := e.get("oncall/b")
	if a == "off" && b == "off" {
		t.Errorf("write skew: both transactions took their doctor off call (a=%s b=%s); a serial order leaves one on", a, b)
	}
}
