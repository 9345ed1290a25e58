package kv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// damagedDriver opens memory engines whose iterations fail with
// kv.ErrCorrupt after goodKeys keys, and whose whole-store check
// (kv.Verifier, when verifier is set) reports verifyErr.
type damagedDriver struct {
	memory.Driver
	goodKeys  int
	verifier  bool
	verifyErr error
}

func (d *damagedDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	e, err := d.Driver.Open(ctx, dir, cfg)
	if err != nil {
		return nil, err
	}
	de := &damagedEngine{Engine: e, d: d}
	if d.verifier {
		return &verifyingEngine{de}, nil
	}
	return de, nil
}

type damagedEngine struct {
	kv.Engine // hides the memory engine's Scanner: iterations step NewIter
	d         *damagedDriver
}

func (e *damagedEngine) NewIter(r kv.IterRange) (kv.Iter, error) {
	it, err := e.Engine.NewIter(r)
	return &damagedIter{Iter: it, left: e.d.goodKeys}, err
}

type verifyingEngine struct{ *damagedEngine }

func (e *verifyingEngine) Verify(context.Context) error { return e.d.verifyErr }
func (e *verifyingEngine) VerifyName() string           { return "test check" }

// damagedIter ends with kv.ErrCorrupt after left keys.
type damagedIter struct {
	kv.Iter
	left int
	err  error
}

func (it *damagedIter) Next() bool {
	if it.left == 0 {
		it.err = fmt.Errorf("test engine: block 7 of table 3: %w", kv.ErrCorrupt)
		return false
	}
	it.left--
	return it.Iter.Next()
}

func (it *damagedIter) Err() error { return it.err }

func TestVerify(t *testing.T) {
	ctx := context.Background()
	open := func(d *damagedDriver) *kv.DB {
		t.Helper()
		db, err := kv.OpenDriver(ctx, kv.Config{Backend: "memory"}, d)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		for i := range 10 {
			if err := db.Set(ctx, fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}

	t.Run("intact", func(t *testing.T) {
		rep, err := open(&damagedDriver{goodKeys: -1, verifier: true}).Verify(ctx)
		if err != nil || rep.Keys != 10 || rep.Bytes != 30 || rep.LastGoodKey != nil || rep.EngineCheck != "test check" {
			t.Fatalf("Verify = %+v, %v; want 10 keys, 30 bytes, the engine's check named", rep, err)
		}
	})
	t.Run("scan meets damage", func(t *testing.T) {
		rep, err := open(&damagedDriver{goodKeys: 4}).Verify(ctx)
		if !errors.Is(err, kv.ErrCorrupt) || rep.Keys != 4 || string(rep.LastGoodKey) != "k3" ||
			!strings.Contains(err.Error(), `after key "k3"`) || !strings.Contains(err.Error(), "block 7 of table 3") {
			t.Fatalf("Verify = %+v, %v; want ErrCorrupt after key k3 with the engine's message", rep, err)
		}
	})
	t.Run("damage before the first key", func(t *testing.T) {
		rep, err := open(&damagedDriver{goodKeys: 0}).Verify(ctx)
		if !errors.Is(err, kv.ErrCorrupt) || rep.LastGoodKey != nil || !strings.Contains(err.Error(), "before the first key") {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
	})
	t.Run("engine check finds damage, scan still runs", func(t *testing.T) {
		damage := fmt.Errorf("test engine: meta page 1: %w", kv.ErrCorrupt)
		rep, err := open(&damagedDriver{goodKeys: -1, verifier: true, verifyErr: damage}).Verify(ctx)
		if !errors.Is(err, kv.ErrCorrupt) || !strings.Contains(err.Error(), "meta page 1") || rep.Keys != 10 {
			t.Fatalf("Verify = %+v, %v; want the engine's ErrCorrupt and a full scan", rep, err)
		}
	})
	t.Run("engine check cannot run", func(t *testing.T) {
		failure := errors.New("test engine: i/o error")
		_, err := open(&damagedDriver{goodKeys: -1, verifier: true, verifyErr: failure}).Verify(ctx)
		if !errors.Is(err, failure) || errors.Is(err, kv.ErrCorrupt) {
			t.Fatalf("Verify = %v; want the failure, not ErrCorrupt", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := open(&damagedDriver{goodKeys: -1}).Verify(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Verify with a cancelled context = %v", err)
		}
	})
}
