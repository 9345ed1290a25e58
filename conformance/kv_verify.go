package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
)

// verifier is what a store offers for the damage check (kv.DB.Verify).
type verifier interface {
	Verify(ctx context.Context) (kv.VerifyReport, error)
}

// verifyRules: DB.Verify of an intact store passes on every backend, and
// reads every key and value. (What each backend reports on damaged files is
// the corruption matrix's job: backends/all.)
func verifyRules() []rule {
	return []rule{
		{"IntactStorePasses", func(t *testing.T, e *env) {
			// Written in chunks below the store's limits (BulkWriter): a
			// store may declare smaller ones than kv's (etcd).
			bw := kv.NewBulkWriter(e.ctx, e.s)
			var bytes int64
			const n = 5000
			for i := range n {
				k, v := fmt.Appendf(nil, "verify/%05d", i), fmt.Appendf(nil, "value %d", i*i)
				if err := bw.Set(k, v); err != nil {
					t.Fatal(err)
				}
				bytes += int64(len(k) + len(v))
			}
			if err := bw.Close(); err != nil {
				t.Fatal(err)
			}
			if e.persistent() {
				e.reopen() // the keys are read back from the engine's files
			}
			v, ok := e.s.(verifier)
			if !ok {
				t.Skipf("%T has no Verify", e.s)
			}
			rep, err := v.Verify(e.ctx)
			if err != nil || rep.Keys != n || rep.Bytes != bytes || rep.LastGoodKey != nil {
				t.Fatalf("Verify of an intact store = %+v, %v; want %d keys, %d bytes, no error", rep, err, n, bytes)
			}
		}},
		{"WritesMeanwhileAreNotDamage", func(t *testing.T, e *env) {
			// Verify while other goroutines commit: the store is intact,
			// so Verify reports nothing. (bbolt's page check read the
			// free list that commits change, without a lock, and reported
			// pages "reachable freed" or "unreachable unfreed" in most
			// runs, beside a data race.)
			v, ok := e.s.(verifier)
			if !ok {
				t.Skipf("%T has no Verify", e.s)
			}
			const keys = 1000
			bw := kv.NewBulkWriter(e.ctx, e.s)
			for i := range keys {
				if err := bw.Set(fmt.Appendf(nil, "verify/%05d", i), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			if err := bw.Close(); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						err := e.s.Update(e.ctx, func(tx kv.Txn) error {
							for j := range 20 {
								if err := tx.Set(fmt.Appendf(nil, "verify/%05d", (i*20+j+g*7)%keys), fmt.Appendf(nil, "%d", i)); err != nil {
									return err
								}
							}
							return tx.Delete(fmt.Appendf(nil, "verify/%05d", (i*13+g)%keys))
						})
						if err != nil && !errors.Is(err, kv.ErrConflict) {
							t.Errorf("writer %d: %v", g, err)
							return
						}
					}
				})
			}
			for i := range 10 {
				if _, err := v.Verify(e.ctx); err != nil {
					t.Errorf("Verify %d of an intact store during writes: %v", i, err)
					break
				}
			}
			close(stop)
			wg.Wait()
		}},
	}
}
