package badger_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/polykv/polykv/kv"
)

// boundKeys cluster around 0xFF bytes, where a reverse prefix seek to
// prefix+0xFF... goes wrong, and around prefixes that are keys themselves.
var boundKeys = [][]byte{
	[]byte("a"), []byte("a\x00"), []byte("a\xfe"), []byte("a\xff"), []byte("a\xff\x00"),
	[]byte("a\xff\xff"), []byte("a\xff\xff\xff\xff\x01"), []byte("ab"), []byte("b"),
	[]byte("\xff"), []byte("\xff\x00"), []byte("\xff\xff"), []byte("\xff\xff\xff"),
	[]byte("\xff\xff\xff\xff\xff\xff\x01"),
}

// TestIterBounds compares every combination of prefix, start, end and
// direction with a model: reverse with End absent, equal to a key, between
// keys and past the last key, and prefixes of 0xFF bytes.
func TestIterBounds(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, "", nil)
	b := new(kv.Batch)
	for _, k := range boundKeys {
		if err := b.Set(k, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	sorted := sortedKeys(boundKeys)
	prefixes := [][]byte{nil, []byte("a"), []byte("a\xff"), []byte("a\xff\xff"), []byte("\xff"), []byte("\xff\xff"), []byte("\xff\xff\xff\xff"), []byte("c")}
	bounds := [][]byte{nil, []byte("\x00"), []byte("a"), []byte("a\xff"), []byte("a\xff\x00"), []byte("a\xff\xff\xff"),
		[]byte("ab"), []byte("ac"), []byte("\xff"), []byte("\xff\xff"), []byte("\xff\xff\xff\xff\xff\xff\x02"), []byte("\xff\xff\xff\xff\xff\xff\xff\xff")}
	n := 0
	for _, p := range prefixes {
		for _, s := range bounds {
			for _, e := range bounds {
				for _, rev := range []bool{false, true} {
					for _, keysOnly := range []bool{false, true} {
						opts := kv.IterOptions{Prefix: p, Start: s, End: e, Reverse: rev, KeysOnly: keysOnly}
						var got [][]byte
						err := db.Iterate(ctx, opts, func(k, v []byte) error {
							if !keysOnly && !bytes.Equal(k, v) {
								t.Errorf("iterate %+v: value of %q is %q", opts, k, v)
							}
							got = append(got, bytes.Clone(k))
							return nil
						})
						if err != nil {
							t.Fatal(err)
						}
						if want := model(sorted, opts); !equalKeys(got, want) {
							t.Errorf("iterate prefix=%q start=%q end=%q reverse=%v:\n got %q\nwant %q", p, s, e, rev, got, want)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d iterations checked", n)
}

// TestIterInsideUpdate deletes and writes keys while iterating in reverse
// inside Update: the iteration is unchanged, nothing deadlocks, and the
// writes land.
func TestIterInsideUpdate(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, "", nil)
	b := new(kv.Batch)
	for _, k := range boundKeys {
		if err := b.Set(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, rev := range []bool{false, true} {
		var seen [][]byte
		err := db.Update(ctx, func(tx kv.Txn) error {
			return tx.Iterate(kv.IterOptions{Prefix: []byte("a"), Reverse: rev}, func(k, _ []byte) error {
				seen = append(seen, bytes.Clone(k))
				if err := tx.Delete(k); err != nil {
					return err
				}
				return tx.Set(append([]byte("z"), k...), nil)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		want := model(sortedKeys(boundKeys), kv.IterOptions{Prefix: []byte("a"), Reverse: rev})
		if !rev && !equalKeys(seen, want) {
			t.Fatalf("forward: saw %q, want %q", seen, want)
		}
		if rev && len(seen) != 0 {
			t.Fatalf("reverse after the forward pass deleted the prefix: saw %q", seen)
		}
	}
	if got := collect(t, db, kv.IterOptions{Prefix: []byte("a")}); len(got) != 0 {
		t.Fatalf("prefix a still has %q", got)
	}
	if got := collect(t, db, kv.IterOptions{Prefix: []byte("za")}); len(got) != 8 {
		t.Fatalf("prefix za has %d keys, want 8", len(got))
	}
}

// TestSnapshotOutlivesIterators closes a View's snapshot while an engine
// iterator created from it is still open (what a goroutine leaking out of
// View could do): no panic, and the iterator still ends cleanly.
func TestSnapshotOutlivesIterators(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, "", nil)
	if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	snap, err := db.Engine().NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	it, err := snap.NewIter(kv.IterRange{})
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := snap.NewIter(kv.IterRange{}); err == nil {
		t.Fatal("NewIter on a closed snapshot succeeded")
	}
	if _, err := snap.Get([]byte("k"), nil); err == nil {
		t.Fatal("Get on a closed snapshot succeeded")
	}
	if !it.Next() || string(it.Key()) != "k" {
		t.Fatal("iterator of a closed snapshot lost its key")
	}
	if v, err := it.Value(nil); err != nil || string(v) != "v" {
		t.Fatalf("value %q, %v", v, err)
	}
	if it.Next() {
		t.Fatal("one key expected")
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
}
