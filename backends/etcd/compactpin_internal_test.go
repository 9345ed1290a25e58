package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// A Compact of this process never removes the revision a transaction or
// snapshot of it reads, even when it runs between the first read's
// answer and the pin of its revision: the transaction's next read at
// that revision succeeds.
func TestCompactBetweenFirstReadAndPin(t *testing.T) {
	e := openTestEngines(t, etcdtest.Start(t, 1), "/compactpin", 1)[0]
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	set := func(k, v string) {
		t.Helper()
		b := new(kv.Batch)
		_ = b.Set([]byte(k), []byte(v))
		if err := e.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		first func() (second func() error, err error)
	}{
		{"txn", func() (func() error, error) {
			tx, err := e.BeginTxn(ctx)
			if err != nil {
				return nil, err
			}
			if _, err := tx.Get([]byte("k"), nil); err != nil {
				return nil, err
			}
			return func() error {
				defer tx.Discard()
				_, err := tx.Get([]byte("other"), nil)
				if errors.Is(err, kv.ErrNotFound) {
					err = nil
				}
				return err
			}, nil
		}},
		{"snapshot", func() (func() error, error) {
			s, err := e.NewSnapshotContext(ctx)
			if err != nil {
				return nil, err
			}
			return func() error {
				defer s.Close()
				_, err := s.Get([]byte("k"), nil)
				return err
			}, nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			set("k", "1")
			inWindow, release := make(chan struct{}), make(chan struct{})
			hook := func() {
				testHookBeforePin.Store(nil)
				close(inWindow)
				<-release
			}
			testHookBeforePin.Store(&hook)
			defer testHookBeforePin.Store(nil)
			done := make(chan error, 1)
			go func() {
				second, err := c.first()
				if err == nil {
					err = second()
				}
				done <- err
			}()
			<-inWindow
			set("k", "2") // a newer revision, which Compact would go up to
			if err := e.Compact(ctx); err != nil {
				t.Fatal(err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Errorf("a read at the revision read before the Compact: %v", err)
			}
		})
	}
	// Iterations over the latest state hold a floor too; nothing stays
	// pinned once every reader has ended.
	it, err := e.NewIter(kv.IterRange{})
	if err != nil {
		t.Fatal(err)
	}
	if e.oldestLive() == 0 {
		t.Error("an iteration over the latest state pins nothing before its first read")
	}
	for it.Next() {
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if old := e.oldestLive(); old != 0 {
		t.Errorf("revision %d still pinned with every transaction, snapshot and iteration ended", old)
	}
}

// TestPinsSharedPerCluster: the engines of one cluster, whatever their
// prefix, share their pins; a snapshot left open when its engine closes
// pins nothing any more, and the cluster's pinSet goes with its last
// engine.
func TestPinsSharedPerCluster(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a := openTestEngines(t, c, "/pins/a", 1)[0]
	b := openTestEngines(t, c, "/pins/b", 1)[0]
	if a.pins != b.pins || a.cluster == 0 {
		t.Fatalf("two engines of cluster %x do not share a pinSet", a.cluster)
	}
	s, err := a.NewSnapshotContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get([]byte("k"), nil); !errors.Is(err, kv.ErrNotFound) {
		t.Fatal(err)
	}
	if b.oldestLive() == 0 {
		t.Error("another engine of the cluster does not see the snapshot's revision")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if old := b.oldestLive(); old != 0 {
		t.Errorf("revision %d still pinned by a snapshot of a closed engine", old)
	}
	_ = s.Close() // after its engine: nothing to unpin
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	pinSets.Lock()
	_, held := pinSets.m[a.cluster]
	pinSets.Unlock()
	if held {
		t.Error("the cluster's pinSet outlived its engines")
	}
}
