package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// failingSyncDriver opens memory engines whose commits apply and then
// fail to sync: kv.DB returns kv.ErrOutcomeUnknown, with the fault.
type failingSyncDriver struct{ memory.Driver }

type failingSyncEngine struct{ kv.Engine }

func (e failingSyncEngine) ApplyDeferred(ctx context.Context, b *kv.Batch) (func() error, error) {
	if err := e.Engine.Apply(ctx, b); err != nil {
		return nil, err
	}
	return func() error { return fmt.Errorf("%w: %w", kv.Fault(syscall.EIO), kv.ErrNeedsReopen) }, nil
}

func (d failingSyncDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	e, err := d.Driver.Open(ctx, dir, cfg)
	return failingSyncEngine{e}, err
}

// An Update whose outcome is unknown counts under
// error="outcome_unknown", not under the label of the fault it carries
// (io), which says that nothing was applied.
func TestOutcomeUnknownLabel(t *testing.T) {
	ctx := context.Background()
	db, err := kv.OpenDriver(ctx, kv.Config{Backend: "memory", Durability: kv.Sync}, failingSyncDriver{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewPedanticRegistry()
	w, err := metrics.Wrap(db, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) })
	if !errors.Is(err, kv.ErrOutcomeUnknown) || !errors.Is(err, kv.ErrIO) {
		t.Fatalf("Update: %v, want kv.ErrOutcomeUnknown carrying kv.ErrIO", err)
	}
	got := gather(t, reg)
	if n := got[`polykv_kv_op_errors_total{error="outcome_unknown",op="update"}`]; n != 1 {
		t.Errorf(`polykv_kv_op_errors_total{error="outcome_unknown",op="update"} = %v, want 1`, n)
	}
	if n := got[`polykv_kv_op_errors_total{error="io",op="update"}`]; n != 0 {
		t.Errorf(`polykv_kv_op_errors_total{error="io",op="update"} = %v, want 0: the commit may be applied`, n)
	}
}
