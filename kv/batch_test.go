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
		{"shortened buffer", []byte("c"), func(dst []byte) ([]byte, error) { return dst[:1], nil }, kv.ErrInvalidConfig},
		// json.Marshal's habit: a buffer of its own, ignoring dst. Taken,
		// it once overwrote the batch's earlier writes.
		{"buffer of its own", []byte("c"), func([]byte) ([]byte, error) { return []byte(`{"json":"value"}`), nil }, kv.ErrInvalidConfig},
		{"buffer of its own and an error", []byte("c"), func([]byte) ([]byte, error) { return []byte("XXXXXXXXXXXXXXXXXXXXXXXX"), boom }, boom},
		{"nil appendValue", []byte("c"), nil, kv.ErrInvalidConfig},
	}
	for _, f := range failures {
		err := b.SetFunc(f.key, f.fn)
		if err == nil || (f.want != nil && !errors.Is(err, f.want)) {
			t.Fatalf("%s: SetFunc = %v, want %v", f.name, err, f.want)
		}
		wantOps("after "+f.name, "a", "first", "b", "n=42")
	}
	// On a fresh batch too: the value's first len(key) bytes were lost.
	var fresh kv.Batch
	if err := fresh.SetFunc([]byte("key"), func([]byte) ([]byte, error) { return []byte("VALUE"), nil }); !errors.Is(err, kv.ErrInvalidConfig) || fresh.Len() != 0 {
		t.Fatalf("SetFunc with a buffer of its own on a fresh batch = %v, %d ops; want ErrInvalidConfig, 0 ops", err, fresh.Len())
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

// order lists b's writes as EachInKeyOrder gives them, as "set k=v" and
// "del k".
func order(t *testing.T, b *kv.Batch) []string {
	t.Helper()
	var out []string
	err := b.EachInKeyOrder(func(kind kv.OpKind, k, v []byte) error {
		if kind == kv.OpDelete {
			out = append(out, "del "+string(k))
		} else {
			out = append(out, "set "+string(k)+"="+string(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBatchEachInKeyOrder(t *testing.T) {
	var b kv.Batch
	if got := order(t, &b); len(got) != 0 {
		t.Fatalf("an empty batch gives %q", got)
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
	want := []string{"set a=2", "set a=6", "set b=1", "del b", "set b=5", "set c=0", "set d=4"}
	if got := order(t, &b); !slices.Equal(got, want) {
		t.Fatalf("EachInKeyOrder = %q, want %q (stable: writes to one key keep their order)", got, want)
	}
	// A sorted batch, equal keys included, comes back as it is.
	var sorted kv.Batch
	for i, k := range []string{"a", "a", "b", "c"} {
		if err := sorted.Set([]byte(k), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := order(t, &sorted), []string{"set a=0", "set a=1", "set b=2", "set c=3"}; !slices.Equal(got, want) {
		t.Fatalf("EachInKeyOrder of a sorted batch = %q, want %q", got, want)
	}
	// fn's error stops the walk and is returned.
	stop := errors.New("stop")
	calls := 0
	err := b.EachInKeyOrder(func(kv.OpKind, []byte, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("EachInKeyOrder with fn failing = %v after %d calls, want stop after 1", err, calls)
	}
}

// BenchmarkKeyOrder walks a batch of 6,000 node-shaped keys in a random
// order in key order (EachInKeyOrder): about what one page of traverse-gen
// commits.
func BenchmarkKeyOrder(b *testing.B) {
	var bt kv.Batch
	r := rand.New(rand.NewPCG(1, 2))
	for range 6000 {
		if err := bt.Set([]byte("src:00000005:p:p:"+strconv.FormatUint(r.Uint64(), 16)), []byte("v")); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for b.Loop() {
		_ = bt.EachInKeyOrder(func(kv.OpKind, []byte, []byte) error { n++; return nil })
	}
}
