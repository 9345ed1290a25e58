package etcd

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// TestIterationStreams: a forward iteration is one RangeStream (no paged
// Range, so no count of the rest of the range per page), whatever its
// length, in a snapshot, a transaction or on the latest state; a reverse
// one streams its keys once and then reads ascending pages; after a
// refused stream the engine pages. Every way reads the
// same keys, and closing a stream early leaves no goroutine behind.
func TestIterationStreams(t *testing.T) {
	s := etcdtest.DefaultSettings()
	s.UnsafeNoFsync = true
	e := openTestEngines(t, etcdtest.StartWith(t, 1, s), "/streams", 1)[0]
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	const n = 3000
	for lo := 0; lo < n; lo += 500 {
		b := new(kv.Batch)
		for i := lo; i < lo+500; i++ {
			_ = b.Set(fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "v%d", i))
		}
		if err := e.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	all := kv.IterRange{Lower: []byte("k"), Upper: []byte("l")}
	reverse := all
	reverse.Reverse = true
	keysOnly := all
	keysOnly.KeysOnly = true
	reverseKeys := reverse
	reverseKeys.KeysOnly = true

	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	tx, err := e.BeginTxn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Discard()

	for _, c := range []struct {
		name           string
		r              kv.Reader
		rng            kv.IterRange
		streams, pages bool
	}{
		{"latest", e, all, true, false},
		{"keys only", e, keysOnly, true, false},
		{"snapshot", snap, all, true, false},
		{"transaction", tx, all, true, false},
		{"reverse", e, reverse, true, true},
		{"reverse keys only", e, reverseKeys, true, true},
		{"reverse snapshot", snap, reverse, true, true},
		{"reverse transaction", tx, reverse, true, true},
	} {
		streams0, pages0 := e.rangeStreams.Load(), e.rangePages.Load()
		checkKeys(t, c.name, c.r, c.rng, n)
		streams, pages := e.rangeStreams.Load()-streams0, e.rangePages.Load()-pages0
		if (streams == 1) != c.streams || (pages > 0) != c.pages {
			t.Errorf("%s: %d streams, %d paged requests; want streamed %v, paged %v", c.name, streams, pages, c.streams, c.pages)
		}
	}

	// A reverse iteration reads its pages at the revision of its keys'
	// stream: a key written or deleted in a page not read yet does not
	// change what it returns.
	it, err := e.NewIter(reverse)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Key()) != fmt.Sprintf("k%05d", n-1) {
		t.Fatalf("reverse: first key %q, %v", it.Key(), it.Err())
	}
	b := new(kv.Batch)
	_ = b.Set([]byte("k00000a"), []byte("new"))
	_ = b.Delete([]byte("k00001"))
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	got := 1
	for it.Next() {
		if want := fmt.Sprintf("k%05d", n-1-got); string(it.Key()) != want {
			t.Fatalf("reverse across writes: key %d = %q, want %q", got, it.Key(), want)
		}
		got++
	}
	if err := it.Err(); err != nil || got != n {
		t.Errorf("reverse across writes: %d keys, %v; want %d", got, err, n)
	}
	it.Close()
	b = new(kv.Batch)
	_ = b.Delete([]byte("k00000a"))
	_ = b.Set([]byte("k00001"), []byte("v1"))
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}

	// An iteration closed after a few keys cancels its stream.
	before := runtime.NumGoroutine()
	for range 20 {
		it, err := e.NewIter(all)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10 && it.Next(); i++ {
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+2 {
		t.Errorf("%d goroutines after 20 iterations closed early, %d before: streams left open", g, before)
	}

	// A snapshot whose revision was compacted away fails, as a paged
	// read does: kv.ErrConflict.
	old, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	b = new(kv.Batch)
	_ = b.Set([]byte("j"), []byte("new")) // outside the range: the revision is what is compacted
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	rev, err := e.currentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.Compact(ctx, rev); err != nil { // past the live snapshot, as another process may
		t.Fatal(err)
	}
	it, err = old.NewIter(all)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
	}
	if err := it.Err(); !errors.Is(err, kv.ErrConflict) {
		t.Errorf("iteration of a compacted revision: %v; want kv.ErrConflict", err)
	}
	it.Close()

	// A stream ended by a member with no leader: its status comes wrapped
	// in an Unknown one (seen in TestMemberLossTwo).
	wrapped := status.Error(codes.Unknown, "rpc error: code = Unavailable desc = etcdserver: no leader")
	if err := translate("iterate", streamError(wrapped)); !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("a stream ended by a member with no leader: %v, want kv.ErrUnavailable", err)
	}
	if err := streamError(status.Error(codes.Unknown, "rpc error: code = Bogus desc = x")); status.Code(err) != codes.Unknown {
		t.Errorf("an Unknown status naming no code became %v", err)
	}
	// A member that refuses RangeStream: the engine pages from then on.
	if !errors.Is(streamError(status.Error(codes.Unimplemented, "unknown method RangeStream")), errStreamUnsupported) {
		t.Errorf("Unimplemented is not read as a member without RangeStream")
	}
	e.streamless.Store(true)
	streams0, pages0 := e.rangeStreams.Load(), e.rangePages.Load()
	checkKeys(t, "streamless", e, all, n)
	checkKeys(t, "streamless reverse", e, reverse, n)
	if e.rangeStreams.Load() != streams0 || e.rangePages.Load() == pages0 {
		t.Errorf("streamless engine: %d streams, %d pages; want 0 streams", e.rangeStreams.Load()-streams0, e.rangePages.Load()-pages0)
	}
}

// checkKeys iterates rng of r and checks the n keys written above.
func checkKeys(t *testing.T, name string, r kv.Reader, rng kv.IterRange, n int) {
	t.Helper()
	it, err := r.NewIter(rng)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	i := 0
	for it.Next() {
		want := i
		if rng.Reverse {
			want = n - 1 - i
		}
		if k := string(it.Key()); k != fmt.Sprintf("k%05d", want) {
			t.Fatalf("%s: key %d = %q; want k%05d", name, i, k, want)
		}
		if !rng.KeysOnly {
			v, err := it.Value(nil)
			if err != nil || string(v) != fmt.Sprint("v", want) {
				t.Fatalf("%s: value of key %d = %q, %v", name, i, v, err)
			}
		}
		i++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if i != n {
		t.Errorf("%s: %d keys; want %d", name, i, n)
	}
}

// BenchmarkReverseIteration: a whole reverse iteration of 20,000 keys on
// one member, as descending pages (the way of a member without
// RangeStream, and of this engine before) and as a keys-only stream of
// page bounds followed by ascending pages.
func BenchmarkReverseIteration(b *testing.B) {
	s := etcdtest.DefaultSettings()
	s.UnsafeNoFsync = true
	e := openTestEngines(b, etcdtest.StartWith(b, 1, s), "/reverse", 1)[0]
	const n = 20_000
	for lo := 0; lo < n; lo += 1000 {
		batch := new(kv.Batch)
		for i := lo; i < lo+1000; i++ {
			_ = batch.Set(fmt.Appendf(nil, "k%05d", i), make([]byte, 100))
		}
		if err := e.Apply(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	rng := kv.IterRange{Lower: []byte("k"), Upper: []byte("l"), Reverse: true}
	for _, paged := range []bool{true, false} {
		name := "bounds"
		if paged {
			name = "descending-pages"
		}
		b.Run(name, func(b *testing.B) {
			e.streamless.Store(paged)
			defer e.streamless.Store(false)
			for b.Loop() {
				it, err := e.NewIter(rng)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for it.Next() {
					got++
				}
				if err := it.Err(); err != nil || got != n {
					b.Fatalf("%d keys, %v", got, err)
				}
				it.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/key")
		})
	}
}
