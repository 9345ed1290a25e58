package badger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/polykv/polykv/kv"
)

// reservedKeys are keys Badger refuses or hides, and keys next to the
// stored form of escaped keys, to check the mapping is injective and keeps
// order.
var reservedKeys = [][]byte{
	[]byte("!badger!"),
	[]byte("!badger!txn"),
	[]byte("!badger!head"),
	[]byte("!badger!banned"),
	[]byte("!"),
	[]byte("!!"),
	[]byte("!\x00"),
	[]byte("!\x01"),
	[]byte("!\x01badger!"),
	[]byte("!\x02"),
	[]byte("!\xff"),
	[]byte("!\xff\xff"),
	[]byte("\x00"),
	[]byte("\x00!badger!"),
	[]byte(" "),
	[]byte("\""),
	[]byte("a"),
	[]byte("\xff"),
	append([]byte("!"), bytes.Repeat([]byte{0xFF}, kv.MaxKeySize-1)...), // longest key, escaped
	bytes.Repeat([]byte("!"), kv.MaxKeySize),
}

func TestReservedKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t, dir, nil)
	for i, k := range reservedKeys {
		if err := db.Set(ctx, k, []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("set %q: %v", k[:min(len(k), 20)], err)
		}
	}
	check := func(db kv.Store) {
		t.Helper()
		for i, k := range reservedKeys {
			v, err := db.Get(ctx, k)
			if err != nil || string(v) != fmt.Sprint(i) {
				t.Errorf("get %q = %q, %v; want %d", k[:min(len(k), 20)], v, err, i)
			}
		}
		want := sortedKeys(reservedKeys)
		for _, opts := range []kv.IterOptions{
			{}, {Reverse: true}, {KeysOnly: true},
			{Prefix: []byte("!")}, {Prefix: []byte("!"), Reverse: true},
			{Prefix: []byte("!badger!")}, {Prefix: []byte("!badger!"), Reverse: true},
			{Prefix: []byte("!\x01")}, {Start: []byte("!\x01"), End: []byte("!\x02"), Reverse: true},
			{Start: []byte("!"), End: []byte("\"")}, {Start: []byte("!"), End: []byte("\""), Reverse: true},
			{End: []byte("!b")}, {Start: []byte("!b"), Reverse: true},
		} {
			got := collect(t, db, opts)
			if exp := model(want, opts); !equalKeys(got, exp) {
				t.Errorf("iterate %+v:\n got %q\nwant %q", opts, short(got), short(exp))
			}
		}
	}
	check(db)
	// Reopen: Badger's internal keys written since ("!badger!..." in the
	// logs and tables) must stay invisible to the empty prefix.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openStore(t, dir, nil)
	check(db)

	// Deleting an escaped key deletes it, and only it.
	if err := db.Delete(ctx, []byte("!badger!txn")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, []byte("!badger!txn")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if _, err := db.Get(ctx, []byte("!badger!")); err != nil {
		t.Fatalf("neighbour of a deleted key: %v", err)
	}
}

func equalKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// short trims long keys for messages.
func short(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		if len(k) > 12 {
			out[i] = fmt.Sprintf("%q...(%d bytes)", k[:12], len(k))
		} else {
			out[i] = fmt.Sprintf("%q", k)
		}
	}
	return out
}
