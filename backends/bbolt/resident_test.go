package bbolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// residentLimitIfSupported is the resident_limit Stats reports for a limit
// of n: n where the platform supports it, 0 elsewhere.
func residentLimitIfSupported(n int64) int64 {
	if !bbolt.ResidentSupported {
		return 0
	}
	return n
}

// TestResidentLimitFollowsMemoryBudget: without the option, the limit is
// the store's memory budget.
func TestResidentLimitFollowsMemoryBudget(t *testing.T) {
	db, err := bbolt.Open(context.Background(), kv.Config{Path: t.TempDir(), Durability: kv.NoSync, MemoryBudget: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Engine.Extra["resident_limit"], residentLimitIfSupported(32<<20); got != want {
		t.Fatalf("resident_limit = %d with a 32 MiB budget, want %d", got, want)
	}
}

// residentValue is the value of key i in the resident tests: its bytes
// depend on i and on the version v, so a page read from the wrong place or
// the wrong time shows.
func residentValue(i, v int) []byte {
	b := make([]byte, 700)
	r := rand.New(rand.NewPCG(uint64(i), uint64(v)))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

func residentKey(i int) []byte { return fmt.Appendf(nil, "key%07d", i) }

// TestResidentDropKeepsData: with a resident limit far below the file, the
// store drops its mapping again and again while a writer rewrites keys and
// readers (Get, Iterate, View) read them concurrently; every value read is
// one that was written, whole, and every key holds its last value after.
// initial_mmap_size=0 makes bbolt remap its file as it grows, so drops and
// remaps interleave too. Run it with -race.
func TestResidentDropKeepsData(t *testing.T) {
	if !bbolt.ResidentSupported {
		t.Skip("resident_limit is not supported on this platform")
	}
	n, rounds := 3000, 3
	if stress() {
		n, rounds = 40000, 8
	}
	db := open(t, "", map[string]string{"resident_limit": "256KiB", "initial_mmap_size": "0"})
	ctx := context.Background()

	// version[i] is the last version of key i committed. A read that
	// starts after version[i] was stored sees that version or a later one
	// (at most one later: the writer stores version[i] right after each
	// commit), never an earlier one and never anything else.
	version := make([]atomic.Int32, n)
	for i := range n {
		version[i].Store(-1)
	}
	// floors copies version before a read begins.
	floors := func() []int32 {
		f := make([]int32, n)
		for i := range f {
			f[i] = version[i].Load()
		}
		return f
	}
	checker := func(floor []int32) func(k, v []byte) error {
		return func(k, v []byte) error {
			var i int
			if _, err := fmt.Sscanf(string(k), "key%07d", &i); err != nil || i >= n {
				return fmt.Errorf("unexpected key %q", k)
			}
			last := int(version[i].Load())
			for ver := last + 1; ver >= int(floor[i]) && ver >= 0; ver-- {
				if bytes.Equal(v, residentValue(i, ver)) {
					return nil
				}
			}
			return fmt.Errorf("key %q: value matches no version from %d to %d", k, floor[i], last+1)
		}
	}

	stop := make(chan struct{})
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	reader := func(seed uint64, read func(r *rand.Rand) error) {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 0))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := read(r); err != nil {
				errc <- err
				return
			}
		}
	}
	wg.Add(3)
	go reader(1, func(r *rand.Rand) error { // point reads
		i := r.IntN(n)
		floor := floors()
		v, err := db.Get(ctx, residentKey(i))
		if errors.Is(err, kv.ErrNotFound) {
			if floor[i] >= 0 {
				return fmt.Errorf("key %d not found after its first commit", i)
			}
			return nil
		}
		if err != nil {
			return err
		}
		return checker(floor)(residentKey(i), v)
	})
	go reader(2, func(r *rand.Rand) error { // range scans
		lo := r.IntN(n)
		check := checker(floors())
		return db.Iterate(ctx, kv.IterOptions{Start: residentKey(lo), End: residentKey(lo + 2000), Reverse: r.IntN(2) == 0}, check)
	})
	go reader(3, func(r *rand.Rand) error { // whole-store scans in a View, and Gets in it
		check := checker(floors())
		return db.View(ctx, func(tx kv.ReadTxn) error {
			if err := tx.Iterate(kv.IterOptions{}, check); err != nil {
				return err
			}
			i := r.IntN(n)
			v, err := tx.Get(residentKey(i))
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			return check(residentKey(i), v)
		})
	})

	// The writer: each round rewrites every key, in random order, in
	// batches of 100.
	wr := rand.New(rand.NewPCG(4, 0))
	for ver := range rounds {
		perm := wr.Perm(n)
		for start := 0; start < n; start += 100 {
			b := new(kv.Batch)
			chunk := perm[start:min(start+100, n)]
			for _, i := range chunk {
				if err := b.Set(residentKey(i), residentValue(i, ver)); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			for _, i := range chunk {
				version[i].Store(int32(ver))
			}
			select {
			case err := <-errc:
				close(stop)
				wg.Wait()
				t.Fatal(err)
			default:
			}
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}

	got := 0
	err := db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
		got++
		var i int
		fmt.Sscanf(string(k), "key%07d", &i)
		if !bytes.Equal(v, residentValue(i, rounds-1)) {
			return fmt.Errorf("key %q: not its last value", k)
		}
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("final scan: %d keys, %v", got, err)
	}
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Engine.Extra["resident_drops"] == 0 {
		t.Fatalf("no drop with a 256 KiB limit and a %d-byte file: the test tested nothing", st.Engine.Extra["file_bytes"])
	}
	t.Logf("%d drops, file %d bytes", st.Engine.Extra["resident_drops"], st.Engine.Extra["file_bytes"])
}
