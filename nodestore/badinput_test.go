package nodestore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// TestZeroStoreAndNilContext: every method of a nil or zero Store (not made
// by New) and every method given a nil context returns an error matching
// ErrInvalidArgument that says which, instead of panicking. The methods
// are found by reflection, so that a new one is checked too.
func TestZeroStoreAndNilContext(t *testing.T) {
	_, opened := newMemory(t)
	cases := []struct {
		name  string
		store func() *nodestore.Store
		ctx   context.Context
		want  string
	}{
		{"nil Store", func() *nodestore.Store { return nil }, context.Background(), "not made with nodestore.New"},
		{"zero Store", func() *nodestore.Store { return new(nodestore.Store) }, context.Background(), "not made with nodestore.New"},
		{"nil context", func() *nodestore.Store { return opened }, nil, "nil context"},
	}
	ctxType := reflect.TypeFor[context.Context]()
	errType := reflect.TypeFor[error]()
	st := reflect.TypeFor[*nodestore.Store]()
	for _, c := range cases {
		for i := range st.NumMethod() {
			m := st.Method(i)
			ft := m.Type
			args := []reflect.Value{reflect.ValueOf(c.store())}
			for j := 1; j < ft.NumIn(); j++ {
				if ft.In(j) == ctxType {
					args = append(args, reflect.ValueOf(&c.ctx).Elem())
				} else {
					args = append(args, reflect.Zero(ft.In(j)))
				}
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
				continue // panicked (reported), or returns no error (KV, below)
			}
			err, _ := out[len(out)-1].Interface().(error)
			if !errors.Is(err, nodestore.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %s = %v, want ErrInvalidArgument saying %q", c.name, m.Name, err, c.want)
			}
		}
	}
	// KV of a Store not made by New is a kv.Store whose calls say so.
	for _, s := range []*nodestore.Store{nil, new(nodestore.Store)} {
		_, err := s.KV().Get(context.Background(), []byte("k"))
		if !errors.Is(err, nodestore.ErrInvalidArgument) {
			t.Errorf("KV().Get of a Store not made by New = %v, want ErrInvalidArgument", err)
		}
	}
}

// TestNilNodeKey: Key of a nil *Node is an error, as for any invalid Node.
func TestNilNodeKey(t *testing.T) {
	if _, err := (*nodestore.Node)(nil).Key(); !errors.Is(err, nodestore.ErrInvalidNode) {
		t.Errorf("Key of a nil *Node = %v, want ErrInvalidNode", err)
	}
}

// A nil report is not OK (no check ran); OK panicked before.
func TestNilCheckReportNotOK(t *testing.T) {
	var r *nodestore.CheckReport
	if r.OK() {
		t.Error("a nil CheckReport is OK")
	}
	if !(&nodestore.CheckReport{}).OK() {
		t.Error("an empty CheckReport is not OK")
	}
}
