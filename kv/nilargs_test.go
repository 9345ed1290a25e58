package kv_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// TestNilArguments: the package functions given a nil store, writer,
// reader, transaction or context return ErrInvalidConfig instead of
// panicking, and so do a BulkWriter that was never given a store and the
// writes of a nil *BulkWriter or *Batch.
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
	var nilWriter *kv.BulkWriter
	var nilBatch *kv.Batch
	var nilCtx context.Context
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
		"nil BulkWriter.Set":       func() error { return nilWriter.Set([]byte("k"), []byte("v")) },
		"nil BulkWriter.Close":     func() error { return nilWriter.Close() },
		"nil Batch.Set":            func() error { return nilBatch.Set([]byte("k"), []byte("v")) },
		"nil Batch.Delete":         func() error { return nilBatch.Delete([]byte("k")) },
		"nil Batch.SetFunc": func() error {
			return nilBatch.SetFunc([]byte("k"), func(dst []byte) ([]byte, error) { return dst, nil })
		},
		"nil Batch.EachInKeyOrder": func() error {
			return nilBatch.EachInKeyOrder(func(kv.OpKind, []byte, []byte) error { return nil })
		},
		"Batch.EachInKeyOrder(nil)": func() error { return new(kv.Batch).EachInKeyOrder(nil) },
		"Open(nil context)": func() error {
			_, err := kv.Open(nilCtx, kv.Config{Backend: "memory"})
			return err
		},
		"Dump(nil context)": func() error { _, err := kv.Dump(nilCtx, db, &bytes.Buffer{}); return err },
		"Load(nil context)": func() error { _, err := kv.Load(nilCtx, db, bytes.NewReader(dump.Bytes())); return err },
		"NewBulkWriter(nil context).Close": func() error {
			w := kv.NewBulkWriter(nilCtx, db)
			if err := w.Set([]byte("k"), []byte("v")); err != nil {
				return err
			}
			return w.Close()
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, kv.ErrInvalidConfig) {
			t.Errorf("%s = %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestNilContextAndZeroDB: every method of *DB that takes a context,
// given a nil one, and every method of a nil or zero *DB (not made by
// Open) returns an error matching ErrInvalidConfig that names the mistake,
// instead of panicking. The methods are found by reflection, so that a new
// one is checked too; every other argument is valid, so that the error can
// only come from the context or the receiver.
func TestNilContextAndZeroDB(t *testing.T) {
	db, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := []struct {
		name string
		db   func() *kv.DB
		ctx  context.Context
		want string
	}{
		{"nil context", func() *kv.DB { return db }, nil, "nil context"},
		{"nil DB", func() *kv.DB { return nil }, context.Background(), "not made by Open"},
		{"zero DB", func() *kv.DB { return new(kv.DB) }, context.Background(), "not made by Open"},
	}
	ctxType := reflect.TypeFor[context.Context]()
	errType := reflect.TypeFor[error]()
	dbType := reflect.TypeFor[*kv.DB]()
	for _, c := range cases {
		for i := range dbType.NumMethod() {
			m := dbType.Method(i)
			ft := m.Type
			takesCtx := ft.NumIn() > 1 && ft.In(1) == ctxType
			d := c.db()
			if d == db && !takesCtx {
				continue
			}
			args := []reflect.Value{reflect.ValueOf(d)}
			for j := 1; j < ft.NumIn(); j++ {
				if ft.In(j) == ctxType {
					args = append(args, reflect.ValueOf(&c.ctx).Elem())
					continue
				}
				args = append(args, validArg(ft.In(j)))
			}
			var out []reflect.Value
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s: %s panicked: %v", c.name, m.Name, p)
					}
				}()
				out = m.Func.Call(args)
			}()
			if out == nil || ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != errType {
				continue // panicked (reported), or returns no error: not panicking is the test
			}
			err, _ := out[len(out)-1].Interface().(error)
			if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %s = %v, want ErrInvalidConfig saying %q", c.name, m.Name, err, c.want)
			}
		}
	}
}

// validArg returns a valid argument of type typ for a method of *DB: a
// key, a batch of one write, a writer, a function that does nothing.
func validArg(typ reflect.Type) reflect.Value {
	switch typ {
	case reflect.TypeFor[[]byte]():
		return reflect.ValueOf([]byte("k"))
	case reflect.TypeFor[*kv.Batch]():
		b := new(kv.Batch)
		if err := b.Set([]byte("k"), []byte("v")); err != nil {
			panic(err)
		}
		return reflect.ValueOf(b)
	case reflect.TypeFor[io.Writer]():
		return reflect.ValueOf(&bytes.Buffer{})
	}
	if typ.Kind() == reflect.Func {
		return reflect.MakeFunc(typ, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, typ.NumOut())
			for i := range out {
				out[i] = reflect.Zero(typ.Out(i))
			}
			return out
		})
	}
	return reflect.Zero(typ)
}

// A nil *Batch reads as an empty one: Len and Size 0, every write fits,
// Reset does nothing (each panicked before).
func TestNilBatchReadsEmpty(t *testing.T) {
	var b *kv.Batch
	b.Reset()
	if b.Len() != 0 || b.Size() != 0 || !b.Fits([]byte("k"), []byte("v")) {
		t.Errorf("nil Batch: Len %d, Size %d, Fits %v; want 0, 0, true", b.Len(), b.Size(), b.Fits([]byte("k"), []byte("v")))
	}
}

// Op of an index outside [0, Len()), every index of a nil *Batch
// included, returns the zero OpKind (neither OpSet nor OpDelete) and nil
// slices instead of panicking.
func TestBatchOpOutOfRange(t *testing.T) {
	var nilBatch *kv.Batch
	b := new(kv.Batch)
	if err := b.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    *kv.Batch
		i    int
	}{
		{"nil Batch, 0", nilBatch, 0},
		{"nil Batch, -1", nilBatch, -1},
		{"empty Batch, 0", new(kv.Batch), 0},
		{"Batch of 1, 1", b, 1},
		{"Batch of 1, -1", b, -1},
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: Op panicked: %v", c.name, p)
				}
			}()
			if kind, k, v := c.b.Op(c.i); kind != 0 || k != nil || v != nil {
				t.Errorf("%s: Op = %v, %q, %q; want 0, nil, nil", c.name, kind, k, v)
			}
		}()
	}
	if kind, k, v := b.Op(0); kind != kv.OpSet || string(k) != "k" || string(v) != "v" {
		t.Errorf("Op(0) = %v, %q, %q; want OpSet, k, v", kind, k, v)
	}
}
