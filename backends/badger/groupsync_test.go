package badger_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
)

// TestGroupCommit checks that concurrent commits under kv.Sync share
// syncs. The first commit's sync is held back; while it waits, 15 more
// Updates must commit (each visible at once) and wait too, none returning
// before a sync that covers it; once released, their durability takes one
// or two more syncs, not 15. With Badger's own SyncWrites each commit
// synced by itself, one after the other.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := openSynced(t)
	gate := make(chan struct{})
	var syncs atomic.Int64
	badger.SetBeforeSync(db, func() {
		if syncs.Add(1) == 1 {
			<-gate
		}
	})
	var returned atomic.Int64
	var wg sync.WaitGroup
	update := func(i int) {
		defer wg.Done()
		k := fmt.Appendf(nil, "k%02d", i)
		if err := db.Update(ctx, func(tx kv.Txn) error { return tx.Set(k, k) }); err != nil {
			t.Error(err)
		}
		returned.Add(1)
	}
	wg.Add(1)
	go update(0)
	waitFor(t, "the first sync to start", func() bool { return syncs.Load() == 1 })
	for i := 1; i < 16; i++ {
		wg.Add(1)
		go update(i)
	}
	waitFor(t, "16 commits visible while the first sync is held", func() bool {
		n := 0
		_ = db.Iterate(ctx, kv.IterOptions{KeysOnly: true}, func(_, _ []byte) error { n++; return nil })
		return n == 16
	})
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d Updates returned before any sync finished", n)
	}
	close(gate)
	wg.Wait()
	if n := syncs.Load(); n > 3 {
		t.Errorf("16 concurrent commits took %d syncs, want at most 3 (1 held + shared ones)", n)
	}
}

// TestGroupSyncLeavesCommitsRunning holds a sync in the middle of its fsync
// of the memtable's log: a second Update must still commit (become visible)
// meanwhile, and return only once a sync covering it has finished. Every
// sync fsyncs the newest memtable log (.mem), which holds the commits.
func TestGroupSyncLeavesCommitsRunning(t *testing.T) {
	ctx := context.Background()
	db := openSynced(t)
	gate := make(chan struct{})
	var mu sync.Mutex
	var memSyncs int
	var held atomic.Bool
	badger.SetBeforeFsync(db, func(name string) {
		if !strings.HasSuffix(name, ".mem") {
			return
		}
		mu.Lock()
		memSyncs++
		mu.Unlock()
		if held.CompareAndSwap(false, true) {
			<-gate
		}
	})
	set := func(k string, done chan<- error) {
		done <- db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte(k), []byte(k)) })
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go set("a", first)
	waitFor(t, "the first sync to reach the memtable's log", held.Load)
	go set("b", second)
	waitFor(t, "the second commit to be visible while the sync is held", func() bool {
		_, err := db.Get(ctx, []byte("b"))
		return err == nil
	})
	select {
	case err := <-first:
		t.Fatalf("first Update returned (%v) before its sync finished", err)
	case err := <-second:
		t.Fatalf("second Update returned (%v) before any sync covering it", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	for _, c := range []chan error{first, second} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if memSyncs < 2 {
		t.Errorf("the memtable's log was fsynced %d times for two syncs, want at least 2", memSyncs)
	}
}

// openSynced opens a store under kv.Sync in a temporary directory, closed
// at the end of the test.
func openSynced(t *testing.T) *kv.DB {
	t.Helper()
	db, err := badger.Open(context.Background(), kv.Config{Path: t.TempDir(), Durability: kv.Sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailedSyncOutcome: a commit applied and then left undurable by a
// failed sync is reported as such — kv.ErrOutcomeUnknown (it is visible in
// this process; whether it survives is not known), the fault (kv.ErrIO,
// syscall.EIO) and kv.ErrNeedsReopen — never as an error that would mean
// nothing was applied. Every later write is refused, before it is
// applied; reads work; after a reopen every acknowledged commit is there.
func TestFailedSyncOutcome(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := badger.Open(ctx, kv.Config{Path: dir, Durability: kv.Sync})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(ctx, []byte("before"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	badger.SetSyncFault(db, func() error { return &fs.PathError{Op: "fsync", Path: "000001.mem", Err: syscall.EIO} })
	err = db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("during"), []byte("2")) })
	for _, want := range []error{kv.ErrOutcomeUnknown, kv.ErrIO, syscall.EIO, kv.ErrNeedsReopen} {
		if !errors.Is(err, want) {
			t.Errorf("commit whose sync failed: %v; want it to match %v", err, want)
		}
	}
	badger.SetSyncFault(db, nil)
	err = db.Set(ctx, []byte("after"), []byte("3"))
	if !errors.Is(err, kv.ErrNeedsReopen) || !errors.Is(err, kv.ErrIO) || errors.Is(err, kv.ErrOutcomeUnknown) {
		t.Errorf("write after the failed sync: %v; want ErrNeedsReopen and ErrIO (refused before it was applied: not ErrOutcomeUnknown)", err)
	}
	if _, err := db.Get(ctx, []byte("after")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("the refused write is visible: Get = %v", err)
	}
	if v, err := db.Get(ctx, []byte("before")); err != nil || string(v) != "1" {
		t.Errorf("read after the failed sync: %q, %v", v, err)
	}
	_ = db.Close()
	db, err = badger.Open(ctx, kv.Config{Path: dir, Durability: kv.Sync})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Get(ctx, []byte("before")); err != nil || string(v) != "1" {
		t.Errorf("after reopen: before = %q, %v", v, err)
	}
	if _, err := db.Get(ctx, []byte("after")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("after reopen: the refused write is there: %v", err)
	}
	if err := db.Set(ctx, []byte("again"), nil); err != nil {
		t.Errorf("write after reopen: %v", err)
	}
}
