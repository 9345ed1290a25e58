package kv_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// TestNilArguments: the package functions given a nil store, writer,
// reader or transaction return ErrInvalidConfig instead of panicking, and
// so does a BulkWriter that was never given a store.
func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	if _, err := kv.Dump(ctx, db, &dump); err != nil {
		t.Fatal(err)
	}
	var zero kv.BulkWriter
	nilStore := kv.NewBulkWriter(ctx, nil)
	calls := map[string]func() error{
		"Dump(nil store)":    func() error { _, err := kv.Dump(ctx, nil, &bytes.Buffer{}); return err },
		"Dump(nil writer)":   func() error { _, err := kv.Dump(ctx, db, nil); return err },
		"Backup(nil writer)": func() error { return db.Backup(ctx, nil) },
		"Load(nil store)":    func() error { _, err := kv.Load(ctx, nil, bytes.NewReader(dump.Bytes())); return err },
		"Load(nil reader)":   func() error { _, err := kv.Load(ctx, db, nil); return err },
		"GetMany(nil tx)": func() error {
			return kv.GetMany(nil, [][]byte{[]byte("k")}, func(int, []byte) error { return nil })
		},
		"IterateMany(nil tx)": func() error {
			return kv.IterateMany(nil, []kv.IterOptions{{}}, func(int, []byte, []byte) error { return nil })
		},
		"NewBulkWriter(nil).Set":   func() error { return nilStore.Set([]byte("k"), []byte("v")) },
		"NewBulkWriter(nil).Close": func() error { return nilStore.Close() },
		"zero BulkWriter.Set":      func() error { return zero.Set([]byte("k"), []byte("v")) },
		"zero BulkWriter.Flush":    func() error { return zero.Flush() },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, kv.ErrInvalidConfig) {
			t.Errorf("%s = %v, want ErrInvalidConfig", name, err)
		}
	}
}
