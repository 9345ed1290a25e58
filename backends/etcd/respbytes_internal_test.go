package etcd

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// TestReadResponseBytes: on a store of values of its declared
// MaxValueSize, the reads sized by keys (GetMany, ScanMany, reverse and
// paged iterations) return every key and value in order, and no response
// brings more than max_response_bytes and one key with its value; on a
// store of small values, their requests still reach the count limits.
//
// The cluster's max_request_bytes is 256 KiB (values of 159 KiB) and the
// store's max_response_bytes 1 MiB, so that a few MiB of values show what
// a few hundred MiB would at the defaults.
func TestReadResponseBytes(t *testing.T) {
	s := etcdtest.DefaultSettings()
	s.UnsafeNoFsync = true
	s.MaxRequestBytes = 256 << 10
	c := etcdtest.StartWith(t, 1, s)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	t.Run("LargeValues", func(t *testing.T) {
		e := openEngineWith(t, c, "/large", map[string]string{OptPageSize: "32", OptMaxResponseBytes: "1MiB"})
		const n = 70
		value := func(i int) []byte {
			v := bytes.Repeat([]byte{byte('a' + i%26)}, e.limits.MaxValueSize)
			copy(v, fmt.Sprintf("v%03d", i))
			return v
		}
		for i := range n {
			b := new(kv.Batch)
			_ = b.Set(numKey(i), value(i))
			if err := e.Apply(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		bound := e.sizer.target + e.sizer.worst
		// measure runs f and checks the largest response it received.
		measure := func(name string, f func() error) {
			t.Helper()
			e.sizer.largest.Store(0)
			txns, pages := e.readTxns.Load(), e.rangePages.Load()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := e.sizer.largest.Load()
			t.Logf("%s: largest response %d bytes (%d read Txns, %d Ranges)", name, got, e.readTxns.Load()-txns, e.rangePages.Load()-pages)
			if got > bound {
				t.Errorf("%s: a response of %d bytes, more than max_response_bytes %d and one key with its value (%d)", name, got, e.sizer.target, bound)
			}
		}

		// GetMany: every key, with missing ones between them.
		var keys [][]byte
		for i := range n {
			keys = append(keys, numKey(i))
			if i%10 == 0 {
				keys = append(keys, append(numKey(i), "-missing"...))
			}
		}
		getMany := func(r kv.MultiGetter) error {
			next := 0
			err := r.GetMany(keys, func(i int, v []byte) error {
				for next < n && !bytes.Equal(keys[i], numKey(next)) {
					next++
				}
				if next == n || !bytes.Equal(v, value(next)) {
					return fmt.Errorf("key %d (%q): a value of %d bytes, not key %d's", i, keys[i], len(v), next)
				}
				next++
				return nil
			})
			if err == nil && next != n {
				err = fmt.Errorf("%d keys found, want %d", next, n)
			}
			return err
		}
		snap, err := e.NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		measure("GetMany, snapshot", func() error { return getMany(snap.(kv.MultiGetter)) })
		tx, err := e.BeginTxn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Discard()
		measure("GetMany, transaction", func() error { return getMany(tx.(kv.MultiGetter)) })

		// ScanMany: short and long ranges (longer than a Txn's range
		// limit: they go on as iterations), an empty one, a keys-only one.
		ranges := []kv.IterRange{
			{Lower: numKey(0), Upper: numKey(10)},
			{Lower: numKey(10), Upper: numKey(45)},
			{Lower: []byte("j"), Upper: []byte("k")},
			{Lower: numKey(45), Upper: numKey(46)},
			{Lower: numKey(0), Upper: numKey(n), KeysOnly: true},
			{Lower: numKey(46), Upper: numKey(n)},
		}
		type hit struct{ i, key int }
		var want []hit
		for i, r := range ranges {
			for k := range n {
				if bytes.Compare(numKey(k), r.Lower) >= 0 && bytes.Compare(numKey(k), r.Upper) < 0 {
					want = append(want, hit{i, k})
				}
			}
		}
		measure("ScanMany", func() error {
			got := 0
			err := snap.(kv.MultiScanner).ScanMany(ranges, func(i int, k, v []byte) error {
				if got == len(want) {
					return fmt.Errorf("range %d: key %q after the last one", i, k)
				}
				w := want[got]
				if i != w.i || !bytes.Equal(k, numKey(w.key)) || !ranges[i].KeysOnly && !bytes.Equal(v, value(w.key)) {
					return fmt.Errorf("result %d: range %d, key %q, %d bytes of value; want range %d, key %q", got, i, k, len(v), w.i, numKey(w.key))
				}
				got++
				return nil
			})
			if err == nil && got != len(want) {
				err = fmt.Errorf("%d results, want %d", got, len(want))
			}
			return err
		})

		// Iterations: reverse ones read pages between bounds, in parts
		// here; on a member without RangeStream every one pages.
		iterate := func(r kv.Reader, reverse bool) error {
			it, err := r.NewIter(kv.IterRange{Lower: numKey(0), Upper: numKey(n), Reverse: reverse})
			if err != nil {
				return err
			}
			defer it.Close()
			got := 0
			for it.Next() {
				k := got
				if reverse {
					k = n - 1 - got
				}
				v, err := it.Value(nil)
				if err != nil || !bytes.Equal(it.Key(), numKey(k)) || !bytes.Equal(v, value(k)) {
					return fmt.Errorf("key %d: %q, %d bytes of value, %v; want %q", got, it.Key(), len(v), err, numKey(k))
				}
				got++
			}
			if err := it.Err(); err != nil {
				return err
			}
			if got != n {
				return fmt.Errorf("%d keys, want %d", got, n)
			}
			return nil
		}
		measure("reverse, latest", func() error { return iterate(e, true) })
		measure("reverse, snapshot", func() error { return iterate(snap, true) })
		measure("reverse, transaction", func() error { return iterate(tx, true) })
		e.streamless.Store(true)
		measure("paged, forward", func() error { return iterate(snap, false) })
		measure("paged, reverse", func() error { return iterate(snap, true) })
		e.streamless.Store(false)
		// A forward stream's chunks are the server's to size.
		e.sizer.largestChunk.Store(0)
		if err := iterate(snap, false); err != nil {
			t.Fatal(err)
		}
		t.Logf("stream: largest chunk %d bytes", e.sizer.largestChunk.Load())
	})

	t.Run("SmallValues", func(t *testing.T) {
		e := openEngineWith(t, c, "/small", nil)
		const n = 3000
		b := new(kv.Batch)
		for i := range n {
			_ = b.Set(numKey(i), make([]byte, 100))
			if b.Len() == 500 {
				if err := e.Apply(ctx, b); err != nil {
					t.Fatal(err)
				}
				b = new(kv.Batch)
			}
		}
		var keys [][]byte
		for i := range n {
			keys = append(keys, numKey(i))
		}
		snap, err := e.NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		// count runs f and checks it took at most want requests.
		count := func(name string, counter interface{ Load() int64 }, want int64, f func() error) {
			t.Helper()
			before := counter.Load()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := counter.Load() - before; got > want {
				t.Errorf("%s: %d requests, want at most %d", name, got, want)
			}
		}
		limit := int64(min(e.set.maxTxnOps, e.set.pageSize))
		// A new engine reads its first GetMany's first keys as if they
		// were of the largest size (one request more), then full ones.
		for _, first := range []int64{1, 0} {
			count("GetMany", &e.readTxns, (n+limit-1)/limit+first, func() error {
				got := 0
				err := snap.(kv.MultiGetter).GetMany(keys, func(i int, v []byte) error {
					if len(v) != 100 {
						return fmt.Errorf("key %d: %d bytes", i, len(v))
					}
					got++
					return nil
				})
				if err == nil && got != n {
					err = fmt.Errorf("%d keys, want %d", got, n)
				}
				return err
			})
		}
		// ScanMany of 10-key ranges: as many ranges per Txn as its count
		// limits allow.
		var ranges []kv.IterRange
		for i := 0; i < n; i += 10 {
			ranges = append(ranges, kv.IterRange{Lower: numKey(i), Upper: numKey(i + 10)})
		}
		per := int64(min(e.set.maxTxnOps, scanManyPages*e.set.pageSize/scanManyLimit))
		count("ScanMany", &e.readTxns, (int64(len(ranges))+per-1)/per, func() error {
			got := 0
			err := snap.(kv.MultiScanner).ScanMany(ranges, func(i int, k, v []byte) error {
				if !bytes.Equal(k, numKey(got)) || len(v) != 100 {
					return fmt.Errorf("range %d: key %q, %d bytes; want key %q", i, k, len(v), numKey(got))
				}
				got++
				return nil
			})
			if err == nil && got != n {
				err = fmt.Errorf("%d keys, want %d", got, n)
			}
			return err
		})
		// A reverse iteration: one Range per page of page_size keys.
		count("reverse", &e.rangePages, int64((n+e.set.pageSize-1)/e.set.pageSize), func() error {
			it, err := snap.NewIter(kv.IterRange{Lower: numKey(0), Upper: numKey(n), Reverse: true})
			if err != nil {
				return err
			}
			defer it.Close()
			got := 0
			for it.Next() {
				if v, _ := it.Value(nil); !bytes.Equal(it.Key(), numKey(n-1-got)) || len(v) != 100 {
					return fmt.Errorf("key %d: %q, %d bytes", got, it.Key(), len(v))
				}
				got++
			}
			if err := it.Err(); err != nil || got != n {
				return fmt.Errorf("%d keys, %v; want %d", got, err, n)
			}
			return nil
		})
	})
}

func numKey(i int) []byte { return fmt.Appendf(nil, "k%04d", i) }

// A fresh engine whose GetMany finds nothing learns from it: its requests
// grow to the count limit within a few calls (an audit measured 334 read
// Txns for every GetMany of 1,000 missing keys, against 8 by the count
// limit, when only keys found taught the estimate).
func TestGetManyOfMissingKeysGrows(t *testing.T) {
	e, snap := freshEngineAtEtcdDefaults(t)
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "missing-%04d", i)
	}
	var txns []int64
	for range 3 {
		before := e.readTxns.Load()
		if err := snap.(kv.MultiGetter).GetMany(keys, func(int, []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		txns = append(txns, e.readTxns.Load()-before)
	}
	if limit := int64((len(keys) + 127) / 128); txns[2] > limit {
		t.Errorf("read Txns of three GetMany of %d missing keys: %v; the third should take the count limit's %d", len(keys), txns, limit)
	}
}

// freshEngineAtEtcdDefaults opens an engine of a new store on a
// one-member cluster with etcd's default limits, and a snapshot of it
// (closed with the test).
func freshEngineAtEtcdDefaults(t *testing.T) (*engine, kv.Snapshot) {
	t.Helper()
	e := engineAtEtcdDefaults(t, "/fresh")
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Close() })
	return e, snap
}

// engineAtEtcdDefaults opens an engine of the store prefix on a new
// one-member cluster with etcd's default limits (128 operations per Txn,
// 1.5 MiB per request), declared to the engine as such.
func engineAtEtcdDefaults(t *testing.T, prefix string) *engine {
	t.Helper()
	s := etcdtest.DefaultSettings()
	s.UnsafeNoFsync = true
	s.MaxTxnOps = 128
	s.MaxRequestBytes = 1536 << 10
	c := etcdtest.StartWith(t, 1, s)
	return openEngineWith(t, c, prefix, map[string]string{OptMaxTxnOps: "128", OptMaxRequestBytes: "1536KiB"})
}

// openEngineWith opens an engine of a store on c with the given options
// besides the cluster's.
func openEngineWith(t *testing.T, c *etcdtest.Cluster, prefix string, opts map[string]string) *engine {
	t.Helper()
	cfg := c.Config(prefix)
	for k, v := range opts {
		cfg.Options[k] = v
	}
	s, err := parseSettings(cfg.Options)
	if err != nil {
		t.Fatal(err)
	}
	e, err := openEngine(t.Context(), &cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// A fresh engine whose ScanMany ranges are empty (the children of leaf
// folders) learns from them, as GetMany does from missing keys: its Txns
// grow to the count limits. An audit measured 1,000 read Txns for every
// ScanMany of 1,000 empty ranges, against 8 by the count limits, when only
// the keys found taught the estimate (it stayed at the worst case, one
// range per Txn, for good).
func TestScanManyOfEmptyRangesGrows(t *testing.T) {
	e, snap := freshEngineAtEtcdDefaults(t)
	ranges := make([]kv.IterRange, 1000)
	for i := range ranges {
		ranges[i] = kv.IterRange{Lower: fmt.Appendf(nil, "missing-%04d", i), Upper: fmt.Appendf(nil, "missing-%04d~", i)}
	}
	var txns []int64
	for range 3 {
		before := e.readTxns.Load()
		if err := snap.(kv.MultiScanner).ScanMany(ranges, func(int, []byte, []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		txns = append(txns, e.readTxns.Load()-before)
	}
	per := min(e.set.maxTxnOps, scanManyPages*e.set.pageSize/scanManyLimit)
	if limit := int64((len(ranges) + per - 1) / per); txns[2] > limit {
		t.Errorf("read Txns of three ScanMany of %d empty ranges: %v; the third should take the count limits' %d", len(ranges), txns, limit)
	}
}
