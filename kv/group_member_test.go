package kv_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// failingGroupDriver opens bbolt engines whose group commit can be made to
// fail as a full disk does before bbolt's meta page: the transaction is
// rolled back, nothing applied, and the error says so (ErrNoSpace).
type failingGroupDriver struct {
	bbolt.Driver
	failCommit atomic.Bool
}

type failingGroupEngine struct {
	kv.Engine
	d *failingGroupDriver
}

type failingGroup struct {
	kv.WriteGroup
	d *failingGroupDriver
}

func (d *failingGroupDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	e, err := d.Driver.Open(ctx, dir, cfg)
	if err != nil {
		return nil, err
	}
	return &failingGroupEngine{Engine: e, d: d}, nil
}

func (e *failingGroupEngine) BeginGroup(ctx context.Context) (kv.WriteGroup, error) {
	g, err := e.Engine.(kv.GroupCommitter).BeginGroup(ctx)
	if err != nil {
		return nil, err
	}
	return &failingGroup{WriteGroup: g, d: e.d}, nil
}

func (g *failingGroup) Commit() error {
	if g.d.failCommit.Load() {
		_ = g.WriteGroup.Rollback()
		return kv.Fault(&fs.PathError{Op: "write", Path: "data.bolt", Err: syscall.ENOSPC})
	}
	return g.WriteGroup.Commit()
}

// A group member that adds nothing (it only read, or its function
// failed) has read the writes of the members before it: it returns only
// once they are committed, and runs again when their commit fails.
// Writer A writes x; B, queued behind A, reads x in A's group and writes
// nothing or returns its own error; the group's commit then fails with
// nothing applied. B must not end with A's write as what it read.
func TestGroupMemberAddingNothingSeesNoFailedWrite(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"read-only member", "member returns its own error"} {
		t.Run(mode, func(t *testing.T) {
			d := &failingGroupDriver{}
			db, err := kv.OpenDriver(ctx, kv.Config{Backend: "bbolt", Path: t.TempDir(), Durability: kv.Sync}, d)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if !db.Info().GroupCommit {
				t.Fatal("no group commit")
			}

			release, first := holdWriter(t, db, "x") // A: sets x = "held"
			var seen atomic.Value
			errExists := errors.New("x exists")
			bres := make(chan error, 1)
			go func() {
				bres <- db.Update(ctx, func(tx kv.Txn) error {
					v, err := tx.Get([]byte("x"))
					if err != nil {
						seen.Store(err.Error())
						return nil
					}
					seen.Store(string(v))
					if mode == "member returns its own error" {
						return errExists
					}
					return nil // read-only
				})
			}()
			waitWriters(t, db, 1)
			d.failCommit.Store(true)
			release()
			aerr := <-first
			berr := <-bres
			_, gerr := db.Get(ctx, []byte("x"))
			if aerr == nil || errors.Is(aerr, kv.ErrOutcomeUnknown) {
				t.Fatalf("A: %v, want a definite failure", aerr)
			}
			if !errors.Is(gerr, kv.ErrNotFound) {
				t.Fatalf("x is there after a failed commit: %v", gerr)
			}
			if seen.Load() == "held" {
				t.Errorf("B's Update returned %v, its last run having read x=%q, a write of A whose commit failed with %q (nothing applied)",
					berr, "held", fmt.Sprint(aerr))
			}
			if mode == "read-only member" && berr != nil {
				t.Errorf("B: %v, want nil once it ran again on the committed state", berr)
			}
		})
	}
}

// A group member that only read an earlier member's write returns once
// that write is committed: the same goroutine's next Get sees it, even
// while a later member keeps the group open.
func TestGroupReadOnlyMemberReturnsAfterTheCommit(t *testing.T) {
	ctx := context.Background()
	db, err := bbolt.Open(ctx, kv.Config{Path: t.TempDir(), Durability: kv.Sync})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	releaseA, aDone := holdWriter(t, db, "x") // A: x = "held", in a group
	gateC, cRuns := make(chan struct{}), make(chan struct{})
	cDone := make(chan error, 1)
	type read struct {
		inUpdate, after string
		err             error
	}
	bDone := make(chan read, 1)
	go func() {
		var r read
		r.err = db.Update(ctx, func(tx kv.Txn) error {
			v, err := tx.Get([]byte("x"))
			r.inUpdate = string(v)
			if err != nil {
				r.inUpdate = err.Error()
			}
			// C queues behind B: the group has another writer to come.
			go func() {
				cDone <- db.Update(ctx, func(tx kv.Txn) error {
					close(cRuns)
					<-gateC
					return tx.Set([]byte("c"), []byte("1"))
				})
			}()
			waitWriters(t, db, 1)
			return nil
		})
		v, err := db.Get(ctx, []byte("x"))
		r.after = string(v)
		if err != nil {
			r.after = err.Error()
		}
		bDone <- r
	}()
	waitWriters(t, db, 1) // B waits behind A
	releaseA()
	<-cRuns // B has returned its function; C holds the group open
	select {
	case r := <-bDone:
		t.Fatalf("B returned (%v, read x=%q, then Get %q) before the group holding A's write committed", r.err, r.inUpdate, r.after)
	case <-time.After(50 * time.Millisecond):
	}
	close(gateC)
	r := <-bDone
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if err := <-cDone; err != nil {
		t.Fatal(err)
	}
	if r.err != nil || r.inUpdate != "held" || r.after != "held" {
		t.Errorf("B: Update %v having read x=%q, then Get(x)=%q; want nil, \"held\", \"held\"", r.err, r.inUpdate, r.after)
	}
}
