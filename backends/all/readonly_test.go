package all_test

import (
	"context"
	"errors"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// TestReadOnlyRefusesEveryWrite: on a store opened read-only, every way to
// write — kv's blind writes and transactions, range deletes, Compact,
// BulkWriter, and the layers over kv — fails with kv.ErrReadOnly, and the
// data is unchanged (kv/errors.go: "every write returns ErrReadOnly").
func TestReadOnlyRefusesEveryWrite(t *testing.T) {
	ctx := context.Background()
	for _, b := range persistent {
		t.Run(b, func(t *testing.T) {
			dir := newStore(t, b)
			ro, err := openWithin(t, kv.Config{Backend: b, Path: dir, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			k := key(0)
			var batch kv.Batch
			if err := batch.Set(k, []byte("x")); err != nil {
				t.Fatal(err)
			}
			writes := map[string]func() error{
				"Set":          func() error { return ro.Set(ctx, k, []byte("x")) },
				"Delete":       func() error { return ro.Delete(ctx, k) },
				"Write":        func() error { return ro.Write(ctx, &batch) },
				"Update":       func() error { return ro.Update(ctx, func(tx kv.Txn) error { return tx.Set(k, []byte("x")) }) },
				"DeleteRange":  func() error { return ro.DeleteRange(ctx, nil, nil) },
				"DeletePrefix": func() error { return ro.DeletePrefix(ctx, []byte("matrix/")) },
				"Compact":      func() error { return ro.Compact(ctx) },
				"BulkWriter": func() error {
					w := kv.NewBulkWriter(ctx, ro)
					if err := w.Add(kv.SetOp(k, []byte("x"))); err != nil {
						return err
					}
					return w.Close()
				},
				"nodestore.Insert": func() error {
					return nodestore.New(ro).Insert(ctx, nodestore.Node{Queue: nodestore.QueueDst, Traversal: nodestore.TraversalStatusPending,
						State: nodestore.NodeState{ID: "r", Name: "root", Path: "/", Type: nodestore.NodeTypeFolder}})
				},
			}
			for name, write := range writes {
				if err := write(); !errors.Is(err, kv.ErrReadOnly) {
					t.Errorf("%s on a read-only store = %v, want ErrReadOnly", name, err)
				}
			}
			checkData(t, ro)
		})
	}
}
