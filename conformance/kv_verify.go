package conformance

import (
	"context"
	"fmt"
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
	}
}
