package kv_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestBatchSetFunc(t *testing.T) {
	var b kv.Batch
	if err := b.Set([]byte("a"), []byte("first")); err != nil {
		t.Fatal(err)
	}
	err := b.SetFunc([]byte("b"), func(dst []byte) ([]byte, error) {
		return strconv.AppendInt(append(dst, "n="...), 42, 10), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOps := func(what string, want ...string) {
		t.Helper()
		if b.Len() != len(want)/2 {
			t.Fatalf("%s: %d ops, want %d", what, b.Len(), len(want)/2)
		}
		size := 0
		for i := range b.Len() {
			kind, k, v := b.Op(i)
			if kind != kv.OpSet || string(k) != want[2*i] || string(v) != want[2*i+1] {
				t.Fatalf("%s: op %d = %v %q %q, want set %q %q", what, i, kind, k, v, want[2*i], want[2*i+1])
			}
			size += kv.EntrySize(k, v)
		}
		if b.Size() != size {
			t.Fatalf("%s: Size() = %d, want %d", what, b.Size(), size)
		}
	}
	wantOps("after SetFunc", "a", "first", "b", "n=42")

	// Failures add nothing and leave the earlier writes intact, even when
	// appendValue wrote (and grew the buffer) before failing.
	boom := errors.New("boom")
	failures := []struct {
		name string
		key  []byte
		fn   func([]byte) ([]byte, error)
		want error
	}{
		{"appendValue error", []byte("c"), func(dst []byte) ([]byte, error) {
			return append(dst, bytes.Repeat([]byte{'x'}, 4096)...), boom
		}, boom},
		{"value too large", []byte("c"), func(dst []byte) ([]byte, error) {
			return append(dst, make([]byte, kv.MaxValueSize+1)...), nil
		}, kv.ErrValueTooLarge},
		{"empty key", nil, func(dst []byte) ([]byte, error) { return append(dst, 'v'), nil }, kv.ErrEmptyKey},
		{"shortened buffer", []byte("c"), func(dst []byte) ([]byte, error) { return dst[:1], nil }, nil},
	}
	for _, f := range failures {
		err := b.SetFunc(f.key, f.fn)
		if err == nil || (f.want != nil && !errors.Is(err, f.want)) {
			t.Fatalf("%s: SetFunc = %v, want %v", f.name, err, f.want)
		}
		wantOps("after "+f.name, "a", "first", "b", "n=42")
	}
	// A batch with room for one more value of 3 MiB only: the next one is
	// refused with ErrTxnTooLarge.
	big := func(dst []byte) ([]byte, error) { return append(dst, make([]byte, 3<<20)...), nil }
	for i := 0; ; i++ {
		err := b.SetFunc([]byte("big"+strconv.Itoa(i)), big)
		if errors.Is(err, kv.ErrTxnTooLarge) {
			if i != 2 {
				t.Fatalf("ErrTxnTooLarge after %d values of 3 MiB, want 2 (MaxTxnBytes %d)", i, kv.MaxTxnBytes)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != 4 {
		t.Fatalf("%d ops after the refused value, want 4", b.Len())
	}
	if _, k, _ := b.Op(1); string(k) != "b" {
		t.Fatalf("op 1 key %q after growth, want b", k)
	}
}

func TestBatchKeyOrder(t *testing.T) {
	var b kv.Batch
	if !b.InKeyOrder() || len(b.KeyOrder(nil)) != 0 {
		t.Fatal("an empty batch: want in key order and an empty order")
	}
	// Writes to "b" in three places: their relative order must survive.
	writes := []struct {
		del bool
		key string
	}{{false, "c"}, {false, "b"}, {false, "a"}, {true, "b"}, {false, "d"}, {false, "b"}, {false, "a"}}
	for i, w := range writes {
		var err error
		if w.del {
			err = b.Delete([]byte(w.key))
		} else {
			err = b.Set([]byte(w.key), []byte(strconv.Itoa(i)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if b.InKeyOrder() {
		t.Fatal("InKeyOrder = true for c, b, a, ...")
	}
	scratch := []int32{99} // KeyOrder appends: the caller's prefix stays
	got := b.KeyOrder(scratch)
	want := []int32{99, 2, 6, 1, 3, 5, 0, 4}
	if !slices.Equal(got, want) {
		t.Fatalf("KeyOrder = %v, want %v (stable: writes to one key keep their order)", got, want)
	}

	var sorted kv.Batch
	for _, k := range []string{"a", "a", "b", "c"} {
		if err := sorted.Set([]byte(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	if !sorted.InKeyOrder() {
		t.Fatal("InKeyOrder = false for a, a, b, c")
	}
	if got := sorted.KeyOrder(nil); !slices.Equal(got, []int32{0, 1, 2, 3}) {
		t.Fatalf("KeyOrder of a sorted batch = %v, want 0 1 2 3", got)
	}
}

// BenchmarkKeyOrder sorts a batch of 6,000 node-shaped keys in a random
// order: about what one page of traverse-gen commits.
func BenchmarkKeyOrder(b *testing.B) {
	var bt kv.Batch
	r := rand.New(rand.NewPCG(1, 2))
	for range 6000 {
		if err := bt.Set([]byte("src:00000005:p:p:"+strconv.FormatUint(r.Uint64(), 16)), []byte("v")); err != nil {
			b.Fatal(err)
		}
	}
	var order []int32
	for b.Loop() {
		order = bt.KeyOrder(order[:0])
	}
}
