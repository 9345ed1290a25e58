package kv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/polykv/polykv/kv"
)

// A write given to a BulkWriter after Close was accepted (nil) and never
// written: Close had written the last chunk, and nothing wrote the next.
// It must fail instead; Close again returns what the first Close did.
func TestBulkWriterUseAfterClose(t *testing.T) {
	ctx := context.Background()
	db := openMemory(t)
	w := kv.NewBulkWriter(ctx, db)
	if err := w.Set([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Set([]byte("late"), []byte("2")); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("Set after Close = %v, want an error matching ErrInvalidConfig", err)
	}
	if err := w.Add(kv.DeleteOp([]byte("a"))); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("Add after Close = %v, want an error matching ErrInvalidConfig", err)
	}
	if err := w.Flush(); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("Flush after Close = %v, want an error matching ErrInvalidConfig", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil as the first", err)
	}
	if _, err := db.Get(ctx, []byte("a")); err != nil {
		t.Errorf("Get(a) = %v: the write before Close is lost", err)
	}
	if writes, chunks := w.Written(); writes != 1 || chunks != 1 {
		t.Errorf("Written() = %d, %d, want 1, 1", writes, chunks)
	}

	// A Close whose write failed returns that failure again.
	w = kv.NewBulkWriter(ctx, kv.FailingStore(kv.ErrReadOnly))
	_ = w.Set([]byte("a"), nil)
	first := w.Close()
	if !errors.Is(first, kv.ErrReadOnly) {
		t.Fatalf("Close on a failing store = %v", first)
	}
	if err := w.Close(); err == nil || err.Error() != first.Error() {
		t.Errorf("second Close = %v, want %v", err, first)
	}
}
