package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
)

// TxnWorkload is RunCrash's default workload. Transaction i writes, all
// together:
//
//	crash/<i>/a, crash/<i>/b, crash/<i>/c   values derived from i, of varied sizes
//	crash/<i>/d                             a marker that transaction i+1 deletes
//	crash/last = i
//
// and deletes crash/<i-1>/d. Even transactions go through Update, odd ones
// through Write with a Batch. Every 50th transaction carries a 64 KiB
// value. Check finds how many transactions are present and reports any
// gap, any partial transaction, any value that is not what was written,
// and any key no transaction writes.
type TxnWorkload struct{}

var _ CrashWorkload = TxnWorkload{}

var crashLastKey = []byte("crash/last")

func crashKey(i int, sub byte) []byte {
	return fmt.Appendf(nil, "crash/%08d/%c", i, sub)
}

// crashValue is the value of crash/<i>/<sub>: recognisable, of a size that
// varies with i.
func crashValue(i int, sub byte) []byte {
	size := 16 + (i*7919+int(sub))%2048
	if i%50 == 0 && sub == 'b' {
		size = 64 << 10
	}
	v := fmt.Appendf(nil, "%d/%c/", i, sub)
	for len(v) < size {
		v = append(v, byte('a'+(len(v)+i)%26))
	}
	return v[:size]
}

// nextTxn returns the number of the transaction after crash/last, read
// with get (0 when there is none).
func nextTxn(get func(key []byte) ([]byte, error)) (int, error) {
	v, err := get(crashLastKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("crash/last = %q: %w", v, err)
	}
	return n + 1, nil
}

// Child continues from crash/last.
func (TxnWorkload) Child(ctx context.Context, s kv.Store, ack func(i int)) error {
	next, err := nextTxn(func(k []byte) ([]byte, error) { return s.Get(ctx, k) })
	if err != nil {
		return err
	}
	var b kv.Batch
	for i := next; ctx.Err() == nil; i++ {
		if i%2 == 0 {
			err = s.Update(ctx, func(tx kv.Txn) error { return writeTxn(i, tx.Set, tx.Delete) })
		} else {
			b.Reset()
			if err = writeTxn(i, b.Set, b.Delete); err == nil {
				err = s.Write(ctx, &b)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("transaction %d: %w", i, err)
		}
		ack(i)
	}
	return nil
}

// ConcurrentTxnWorkload is TxnWorkload's transactions committed by Writers
// goroutines at once (2 if Writers is 0 or less), all through Update: each
// transaction reads crash/last inside its Update to take the next number,
// so numbers follow the commit order. It exercises what a group commit
// changes (kv.SyncDeferrer: the next writer runs while a commit waits for
// its fsync) under the same checks. Commits may return out of order; a
// transaction is acknowledged when its commit returns with a number above
// every one acknowledged so far, which claims the transactions before it
// too: a commit that returned is durable, and so is everything committed
// before it.
type ConcurrentTxnWorkload struct {
	TxnWorkload
	Writers int
}

var _ CrashWorkload = ConcurrentTxnWorkload{}

// MaxUnacked is the number of writers: each may have committed a
// transaction it has not acknowledged yet (UnackedCommitter).
func (w ConcurrentTxnWorkload) MaxUnacked() int { return w.writers() }

func (w ConcurrentTxnWorkload) writers() int {
	if w.Writers <= 0 {
		return 2
	}
	return w.Writers
}

// Child runs the writers until ctx is done or one fails, which stops the
// others.
func (w ConcurrentTxnWorkload) Child(parent context.Context, s kv.Store, ack func(i int)) error {
	ctx, stop := context.WithCancel(parent)
	defer stop()
	writers := w.writers()
	var mu sync.Mutex
	acked := -1
	errs := make(chan error, writers)
	for range writers {
		go func() {
			for ctx.Err() == nil {
				var i int
				err := s.Update(ctx, func(tx kv.Txn) error {
					var err error
					if i, err = nextTxn(tx.Get); err != nil {
						return err
					}
					return writeTxn(i, tx.Set, tx.Delete)
				})
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					stop() // the other writers give up too
					errs <- fmt.Errorf("transaction %d: %w", i, err)
					return
				}
				mu.Lock()
				if i > acked {
					acked = i
					ack(i)
				}
				mu.Unlock()
			}
			errs <- nil
		}()
	}
	var first error
	for range writers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// writeTxn makes transaction i's writes through set and del.
func writeTxn(i int, set func(k, v []byte) error, del func(k []byte) error) error {
	for _, sub := range []byte("abcd") {
		if err := set(crashKey(i, sub), crashValue(i, sub)); err != nil {
			return err
		}
	}
	if i > 0 {
		if err := del(crashKey(i-1, 'd')); err != nil {
			return err
		}
	}
	return set(crashLastKey, []byte(strconv.Itoa(i)))
}

// Check reads every crash/ key.
func (TxnWorkload) Check(t testing.TB, s kv.Store, lastAck int) CrashResult {
	t.Helper()
	var res CrashResult
	problem := func(format string, args ...any) {
		if len(res.Problems) < 20 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		} else if len(res.Problems) == 20 {
			res.Problems = append(res.Problems, "(more problems not shown)")
		}
	}
	subs := map[int][]byte{} // transaction -> sub-keys present, in order
	last := -1
	haveLast := false
	err := s.Iterate(t.Context(), kv.IterOptions{Prefix: []byte("crash/")}, func(k, v []byte) error {
		if bytes.Equal(k, crashLastKey) {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				problem("crash/last = %q", v)
				return nil
			}
			last, haveLast = n, true
			return nil
		}
		var i int
		var sub byte
		if _, err := fmt.Sscanf(string(k), "crash/%08d/%c", &i, &sub); err != nil ||
			!bytes.Equal(k, crashKey(i, sub)) || bytes.IndexByte([]byte("abcd"), sub) < 0 {
			problem("unexpected key %q", k)
			return nil
		}
		if want := crashValue(i, sub); !bytes.Equal(v, want) {
			problem("%s: value of %d bytes is not the one written (%d bytes)", k, len(v), len(want))
		}
		subs[i] = append(subs[i], sub)
		return nil
	})
	if err != nil {
		t.Fatalf("crash check: iterate: %v", err)
	}
	n := -1 // highest transaction with any key
	for i := range subs {
		n = max(n, i)
	}
	if haveLast {
		n = max(n, last)
	}
	res.Committed = n + 1
	if haveLast != (n >= 0) || (haveLast && last != n) {
		problem("crash/last = %d (present %v), but the highest transaction present is %d: half applied", last, haveLast, n)
	}
	for i := 0; i <= n; i++ {
		want := "abc"
		if i == n {
			want = "abcd"
		}
		if got := string(subs[i]); got != want {
			if got == "" {
				problem("transaction %d missing while %d is present: a gap", i, n)
			} else {
				problem("transaction %d has keys %q, want %q: half applied", i, got, want)
			}
		}
	}
	return res
}
