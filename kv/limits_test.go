package kv_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// limitedDriver opens memory engines that declare smaller limits
// (kv.LimitDeclarer), as a networked engine does.
type limitedDriver struct {
	memory.Driver
	lim kv.Limits
}

type limitedEngine struct {
	kv.Engine
	lim kv.Limits
}

func (d limitedDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	e, err := d.Driver.Open(ctx, dir, cfg)
	return &limitedEngine{Engine: e, lim: d.lim}, err
}

func (e *limitedEngine) Limits() kv.Limits { return e.lim }

// TestDeclaredLimits checks that a store's declared limits hold on every
// write path (Set, Write, Update, BulkWriter, Get's key check) with the
// sentinel errors, that nothing of a refused transaction is applied, and
// that LimitsOf reports them (and clamps what exceeds the constants).
func TestDeclaredLimits(t *testing.T) {
	ctx := context.Background()
	lim := kv.Limits{MaxKeySize: 16, MaxValueSize: 64, MaxTxnOps: 10, MaxTxnBytes: 1000}
	db, err := kv.OpenDriver(ctx, kv.Config{Backend: "memory"}, limitedDriver{lim: lim})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := kv.LimitsOf(db); got != lim {
		t.Fatalf("LimitsOf = %+v, want %+v", got, lim)
	}
	long := bytes.Repeat([]byte("k"), 17)
	if err := db.Set(ctx, long, nil); !errors.Is(err, kv.ErrKeyTooLarge) {
		t.Errorf("Set of a 17-byte key = %v, want ErrKeyTooLarge", err)
	}
	if _, err := db.Get(ctx, long); !errors.Is(err, kv.ErrKeyTooLarge) {
		t.Errorf("Get of a 17-byte key = %v, want ErrKeyTooLarge", err)
	}
	if err := db.Set(ctx, []byte("k"), make([]byte, 65)); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Errorf("Set of a 65-byte value = %v, want ErrValueTooLarge", err)
	}
	var b kv.Batch
	for i := range 11 {
		_ = b.Set([]byte{'b', byte('a' + i)}, nil)
	}
	if err := db.Write(ctx, &b); !errors.Is(err, kv.ErrTxnTooLarge) {
		t.Errorf("Write of 11 writes = %v, want ErrTxnTooLarge", err)
	}
	setErrs := 0
	err = db.Update(ctx, func(tx kv.Txn) error {
		for i := range 11 {
			if err := tx.Set([]byte{'u', byte('a' + i)}, nil); err != nil {
				setErrs++
			}
		}
		return nil // ignores the Set error: the commit must still fail
	})
	if !errors.Is(err, kv.ErrTxnTooLarge) || setErrs != 1 {
		t.Errorf("Update of 11 writes = %v with %d Set errors, want ErrTxnTooLarge and 1", err, setErrs)
	}
	n := 0
	_ = db.Iterate(ctx, kv.IterOptions{}, func(_, _ []byte) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d keys stored after refused writes, want 0", n)
	}
	w := kv.NewBulkWriter(ctx, db)
	for i := range 95 {
		if err := w.Set([]byte{'w', byte(i)}, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if writes, chunks := w.Written(); writes != 95 || chunks < 10 {
		t.Errorf("BulkWriter wrote %d writes in %d chunks, want 95 in at least 10 (10 writes per transaction)", writes, chunks)
	}
	group := make([]kv.Op, 11)
	for i := range group {
		group[i] = kv.SetOp([]byte{'g', byte(i)}, nil)
	}
	if err := kv.NewBulkWriter(ctx, db).Add(group...); !errors.Is(err, kv.ErrTxnTooLarge) {
		t.Errorf("BulkWriter.Add of a group of 11 = %v, want ErrTxnTooLarge", err)
	}

	big, err := kv.OpenDriver(ctx, kv.Config{Backend: "memory"}, limitedDriver{lim: kv.Limits{MaxTxnOps: kv.MaxTxnOps * 2, MaxTxnBytes: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	if got := kv.LimitsOf(big); got != kv.DefaultLimits() {
		t.Errorf("LimitsOf a store declaring limits above the constants = %+v, want the constants %+v", got, kv.DefaultLimits())
	}
}
