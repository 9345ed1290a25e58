package pebble_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

// TestGroupCommit checks that concurrent commits under kv.Sync share WAL
// syncs. The first commit's sync is held back; while it waits, 15 more
// Updates must be able to commit (each visible at once) and wait too;
// once released, their durability takes one or two more syncs, not 15,
// and every Update returns only then.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	var armed atomic.Bool
	var syncs atomic.Int64
	inject := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !armed.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if syncs.Add(1) == 1 {
				<-gate
			}
		}
		return nil
	})
	restore := pebble.SetWrapFS(func(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, inject) })
	defer restore()
	db, err := pebble.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.Sync})
	require.NoError(t, err)
	defer db.Close()

	armed.Store(true)
	const writers = 16
	var returned atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	update := func(i int) {
		defer wg.Done()
		k := fmt.Appendf(nil, "k%02d", i)
		errs <- db.Update(ctx, func(tx kv.Txn) error { return tx.Set(k, k) })
		returned.Add(1)
	}
	wg.Add(1)
	go update(0)
	for syncs.Load() == 0 { // the first commit is waiting for its sync
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < writers; i++ {
		wg.Add(1)
		go update(i)
	}
	// Every commit becomes visible although the first sync has not
	// finished: no writer waits for another's sync.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < writers; i++ {
		for {
			if _, err := db.Get(ctx, fmt.Appendf(nil, "k%02d", i)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				close(gate)
				t.Fatalf("commit %d not visible while the first sync waits: writers wait for each other's syncs", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	require.Zero(t, returned.Load(), "an Update returned before its commit was synced")
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, syncs.Load(), int64(4), "%d WAL syncs for %d concurrent commits", syncs.Load(), writers)
}
