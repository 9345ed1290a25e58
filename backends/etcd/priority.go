package etcd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// Priority transactions (kv.PriorityTransactor). An Update that keeps
// conflicting (a long transaction among short writers of what it read,
// in other processes) gets the store's turn: the key P + "/turn", created
// only if absent, holding a random id, on a lease of turnTTL kept alive
// while the transaction runs. Every other commit of the store, from any
// process, requires the turn absent (one compare; see commit), so while it
// is held they fail and wait for its release; the holder's commit requires
// that it still holds the turn and deletes it. A holder that dies releases
// the turn when its lease expires, so the store's writers wait at most
// turnTTL for a dead one.
const turnTTL = 5 // seconds

var _ kv.PriorityTransactor = (*engine)(nil)

// BeginPriorityTxn waits for the store's turn (within ctx, or
// request_timeout when ctx has no deadline; then an error wrapping
// kv.ErrConflict, so that kv runs the Update again) and begins a
// transaction that holds it.
func (e *engine) BeginPriorityTxn(ctx context.Context) (kv.EngineTxn, error) {
	et, err := e.BeginTxn(ctx)
	if err != nil {
		return nil, err
	}
	t := et.(*txn)
	// Waiting for the turn can take up to request_timeout: hold no floor
	// meanwhile (it would stop this process's Compacts there), take one
	// once the turn is held.
	t.releaseFloor()
	began := false
	defer func() {
		if !began {
			t.Discard() // releases its floor (pinFloor)
		}
	}()
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	grant, err := e.cli.Grant(cctx, turnTTL)
	if err != nil {
		return nil, e.fail("grant priority lease", err)
	}
	id := rand.Text()
	wait := 10 * time.Millisecond
	for {
		resp, err := e.cli.Txn(cctx).
			If(clientv3.Compare(clientv3.CreateRevision(e.l.turn), "=", 0)).
			Then(clientv3.OpPut(e.l.turn, id, clientv3.WithLease(grant.ID))).
			Commit()
		if err == nil && resp.Succeeded {
			break
		}
		if isLeaseNotFound(err) {
			// The lease is not kept alive before the turn is taken: it
			// expired while another held the turn longer than turnTTL.
			// Nothing was applied; take a new one.
			var g *clientv3.LeaseGrantResponse
			if g, err = e.cli.Grant(cctx, turnTTL); err == nil {
				grant = g
				continue
			}
		} else if err == nil {
			err = e.sleep(cctx, &wait)
		}
		if err != nil {
			e.revoke(ctx, grant.ID)
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil, fmt.Errorf("kv: etcd: %w: another writer held the store's priority turn until the request timeout", kv.ErrConflict)
			}
			return nil, e.fail("take the priority turn", err)
		}
	}
	kctx, stop := context.WithCancel(context.Background())
	ch, err := e.cli.KeepAlive(kctx, grant.ID)
	if err != nil {
		stop()
		e.revoke(ctx, grant.ID)
		return nil, e.fail("keep the priority lease alive", err)
	}
	go func() {
		for range ch { // drained until stop: the client warns when it fills
		}
	}()
	t.turn, t.turnLease, t.stopKeepAlive = id, grant.ID, stop
	t.floor = e.pinFloor()
	began = true
	return t, nil
}

// releaseTurn ends a priority transaction's hold: its lease is revoked,
// which deletes the turn if the commit did not, within the transaction's
// context (see revoke).
func (t *txn) releaseTurn() {
	if t.turn == "" {
		return
	}
	t.stopKeepAlive()
	t.e.revoke(t.ctx, t.turnLease)
	t.turn = ""
}

// revoke revokes lease, best effort: an unrevoked lease expires by itself
// within turnTTL. The revoke runs in the background, within
// request_timeout, and the caller waits for it until ctx ends: when the
// cluster answers, the turn is released before revoke returns, so the
// store's other writers wait no longer for it; when it does not (its
// commit failed at the caller's deadline), the caller is not held past
// its context. Close cancels a revoke still running, and waits for it.
func (e *engine) revoke(ctx context.Context, lease clientv3.LeaseID) {
	done := make(chan struct{})
	started := e.goBackground(func() {
		defer close(done)
		rctx, cancel := e.callCtx(e.bg)
		defer cancel()
		_, _ = e.cli.Revoke(rctx, lease)
	})
	if !started {
		return // closed: the client is going away, the lease expires
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// waitTurn waits until no one holds the store's turn, within ctx (or
// request_timeout).
func (e *engine) waitTurn(ctx context.Context) error {
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	wait := 10 * time.Millisecond
	for {
		resp, err := e.cli.Get(ctx, e.l.turn, clientv3.WithCountOnly())
		if err != nil {
			if ctx.Err() != nil {
				return busyPastDeadline(ctx)
			}
			return e.fail("read the priority turn", err)
		}
		if resp.Count == 0 {
			return nil
		}
		if err := e.sleep(ctx, &wait); err != nil {
			return busyPastDeadline(ctx)
		}
	}
}

// busyPastDeadline is waitTurn's error when ctx ends while another writer
// holds the turn: the context's own error, not kv.ErrUnavailable (which
// translate makes of a deadline), since the cluster answered and the
// store was busy; without a deadline of the caller's, request_timeout
// (callCtx) ended the wait.
func busyPastDeadline(ctx context.Context) error {
	return fmt.Errorf("another writer held the priority turn until the deadline: %w", context.Cause(ctx))
}

// sleep waits *wait (then doubles it, up to 200 ms) or until ctx ends.
func (e *engine) sleep(ctx context.Context, wait *time.Duration) error {
	t := time.NewTimer(*wait)
	defer t.Stop()
	*wait = min(*wait*2, 200*time.Millisecond)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
