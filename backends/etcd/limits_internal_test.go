package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// TestMaximalTransactionFits: a transaction at every declared limit at
// once (reads just within the compare budget that Commit checks, writes
// of MaxTxnBytes) is accepted by the server, with the commit's own
// operations (token, turn, old tokens' deletes) on top. The declared
// MaxTxnBytes and the compare budget filled the whole of
// max_request_bytes, and such a commit failed with the server's "request
// is too large".
func TestMaximalTransactionFits(t *testing.T) {
	e := openTestEngines(t, etcdtest.Start(t, 1), "/m", 1)[0]
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	l := e.limits
	for i := range 2 * tokenDeletesPerCommit { // old tokens for each commit to delete
		b := new(kv.Batch)
		_ = b.Set([]byte{'z', byte(i)}, nil)
		if err := e.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	one := new(kv.Batch) // one write of MaxTxnBytes
	_ = one.Set(bytes.Repeat([]byte{'w'}, l.MaxKeySize), make([]byte, l.MaxTxnBytes-l.MaxKeySize-kv.TxnEntryOverhead))
	many := new(kv.Batch) // MaxTxnOps writes adding up to MaxTxnBytes
	for i := range l.MaxTxnOps {
		k := fmt.Appendf(nil, "w%05d", i)
		n := l.MaxTxnBytes/l.MaxTxnOps - len(k) - kv.TxnEntryOverhead
		if i == 0 {
			n += l.MaxTxnBytes % l.MaxTxnOps
		}
		_ = many.Set(k, make([]byte, n))
	}
	// reads returns distinct keys whose lengths add up to n: of
	// MaxKeySize, numbered by their last two bytes, and a shorter last.
	reads := func(n int) [][]byte {
		var keys [][]byte
		for i := 0; n > 0; i++ {
			k := bytes.Repeat([]byte{'r'}, min(n, l.MaxKeySize))
			if len(k) > 2 {
				k[len(k)-2], k[len(k)-1] = byte(i>>8), byte(i)
			}
			keys = append(keys, k)
			n -= len(k)
		}
		return keys
	}
	for _, c := range []struct {
		name     string
		priority bool
		b        *kv.Batch
	}{
		{"one write", false, one},
		{"many writes", false, many},
		{"priority, one write", true, one},
		{"priority, many writes", true, many},
	} {
		t.Run(c.name, func(t *testing.T) {
			// run reads keys of n bytes and commits c.b: false when the
			// commit is refused as too large before anything is sent.
			run := func(n int) bool {
				t.Helper()
				begin := e.BeginTxn
				if c.priority {
					begin = e.BeginPriorityTxn
				}
				tx, err := begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Discard()
				for _, k := range reads(n) {
					if _, err := tx.Get(k, nil); err != nil && !errors.Is(err, kv.ErrNotFound) {
						t.Fatal(err)
					}
				}
				err = tx.Commit(ctx, c.b)
				if errors.Is(err, kv.ErrTxnTooLarge) && !strings.Contains(err.Error(), "etcdserver:") {
					return false // Commit's own check, not the server's refusal
				}
				if err != nil {
					t.Fatalf("a transaction reading %d bytes of keys (within the compare budget) and writing %d entries of MaxTxnBytes %d: %v",
						n, c.b.Len(), l.MaxTxnBytes, err)
				}
				return true
			}
			// The largest read set Commit lets through.
			lo, hi := 0, e.set.maxRequestBytes/2
			if !run(lo) {
				t.Fatal("a transaction reading nothing is too large")
			}
			for hi-lo > 1 {
				if mid := (lo + hi) / 2; run(mid) {
					lo = mid
				} else {
					hi = mid
				}
			}
			t.Logf("reads of up to %d bytes of keys commit beside %d bytes of writes (max_request_bytes %d)", lo, l.MaxTxnBytes, e.set.maxRequestBytes)
		})
	}
}

// GetMany and ScanMany of keys of the declared MaxKeySize fit their
// requests within max_request_bytes: a read-only Txn of 128 Gets of 32 KiB
// keys (4 MiB) was refused by the client's send limit (max_request_bytes
// + 1 MiB), and the call failed with kv.ErrTxnTooLarge, though nothing was
// written.
func TestReadRequestsOfLongKeysFit(t *testing.T) {
	e := engineAtEtcdDefaults(t, "/long")
	key := func(i int) []byte {
		k := bytes.Repeat([]byte{'k'}, e.limits.MaxKeySize)
		copy(k, fmt.Sprintf("k%04d", i))
		return k
	}
	const n = 200
	keys := make([][]byte, n)
	ranges := make([]kv.IterRange, n)
	b := new(kv.Batch)
	for i := range n {
		keys[i] = key(i)
		ranges[i] = kv.IterRange{Lower: key(i), Upper: key(i + 1)}
		if i%50 == 0 {
			_ = b.Set(keys[i], fmt.Appendf(nil, "v%d", i))
		}
	}
	if err := e.Apply(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	found := 0
	err = snap.(kv.MultiGetter).GetMany(keys, func(i int, v []byte) error {
		if string(v) != fmt.Sprintf("v%d", i) {
			return fmt.Errorf("key %d: %q", i, v)
		}
		found++
		return nil
	})
	if err != nil || found != n/50 {
		t.Errorf("GetMany of %d keys of %d bytes: %d found, %v; want %d", n, e.limits.MaxKeySize, found, err, n/50)
	}
	found = 0
	err = snap.(kv.MultiScanner).ScanMany(ranges, func(i int, k, v []byte) error {
		if !bytes.Equal(k, keys[i]) || string(v) != fmt.Sprintf("v%d", i) {
			return fmt.Errorf("range %d: key %.8q, %q", i, k, v)
		}
		found++
		return nil
	})
	if err != nil || found != n/50 {
		t.Errorf("ScanMany of %d ranges bounded by keys of %d bytes: %d found, %v; want %d", n, e.limits.MaxKeySize, found, err, n/50)
	}
}
