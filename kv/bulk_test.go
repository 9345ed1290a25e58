package kv_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/polykv/polykv/kv"
)

// bulkLoad writes n keys of order (i -> key index) with 100-byte values
// through w and returns the chunks it took.
func bulkLoad(t *testing.T, w *kv.BulkWriter, n int, order func(i int) uint64) int {
	t.Helper()
	value := make([]byte, 100)
	for i := range n {
		if err := w.Set(binary.BigEndian.AppendUint64([]byte("k"), order(i)), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writes, chunks := w.Written()
	if writes != n {
		t.Fatalf("Written() = %d writes, want %d", writes, n)
	}
	return chunks
}

func openMemory(t *testing.T) *kv.DB {
	t.Helper()
	db, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBulkWriterChunkFollowsOrder checks NewBulkWriter's chunk sizes:
// OrderedChunkBytes while keys ascend, MaxTxnBytes once they do not.
func TestBulkWriterChunkFollowsOrder(t *testing.T) {
	ctx := context.Background()
	const n = 100_000 // 100,000 writes of about 130 bytes: 12 MiB or more
	entry := kv.EntrySize(make([]byte, 9), make([]byte, 100))
	total := n * entry
	ascending := func(i int) uint64 { return uint64(i) }
	descending := func(i int) uint64 { return uint64(n - i) }

	t.Run("ascending", func(t *testing.T) {
		got := bulkLoad(t, kv.NewBulkWriter(ctx, openMemory(t)), n, ascending)
		if want := total / kv.OrderedChunkBytes; got < want {
			t.Errorf("ascending keys: %d chunks, want at least %d (chunks of OrderedChunkBytes)", got, want)
		}
	})
	t.Run("descending", func(t *testing.T) {
		got := bulkLoad(t, kv.NewBulkWriter(ctx, openMemory(t)), n, descending)
		if want := total/kv.MaxTxnBytes + 1; got > want {
			t.Errorf("descending keys: %d chunks, want at most %d (chunks of MaxTxnBytes)", got, want)
		}
	})
	t.Run("ascending then not", func(t *testing.T) {
		// The first half ascends (chunks of 1 MiB), then one key repeats
		// and the rest go in large chunks.
		half := func(i int) uint64 {
			if i < n/2 {
				return uint64(i)
			}
			return uint64(i - 1)
		}
		got := bulkLoad(t, kv.NewBulkWriter(ctx, openMemory(t)), n, half)
		lo, hi := total/2/kv.OrderedChunkBytes, total/2/kv.OrderedChunkBytes+total/2/kv.MaxTxnBytes+2
		if got < lo || got > hi {
			t.Errorf("half ascending: %d chunks, want %d to %d", got, lo, hi)
		}
	})
	t.Run("fixed size ignores order", func(t *testing.T) {
		got := bulkLoad(t, kv.NewBulkWriterSize(ctx, openMemory(t), kv.MaxTxnBytes), n, ascending)
		if want := total/kv.MaxTxnBytes + 1; got > want {
			t.Errorf("NewBulkWriterSize(MaxTxnBytes): %d chunks, want at most %d", got, want)
		}
	})
}
