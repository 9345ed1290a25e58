package etcd

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// Commit outcomes. etcd may answer a write with "request timed out" or
// lose the connection or the leader after the request left, and still
// apply it (measured: Txns of 32,768 puts timed out after ~8 s and were
// applied). kv promises that an error from a commit means nothing was
// applied, so every write of this package (Apply, DeleteRange, a
// transaction's Commit) carries a commit token:
//
//   - a unique key P + "/t/" + token, compared absent (CreateRevision 0) in
//     the Txn's If and put with value "c" in its Then, on a lease;
//   - when the Txn fails in a way that does not prove it was refused
//     (notApplied), the outcome is resolved with a fence: a Txn that puts
//     the token with value "a" if it is still absent, else reads it. The
//     fence succeeding proves the commit did not apply and never will (its
//     compare on the token now fails, even if its request is still in
//     flight inside Raft); the fence finding "c" proves it applied.
//   - the fence is retried until it gets an answer, within the caller's
//     deadline (the commit's own attempt gets three quarters of the time
//     left, so that some remains for the fence). When none comes, the error
//     wraps kv.ErrOutcomeUnknown (and kv.ErrUnavailable).
//
// Tokens live on a lease of tokenTTL, renewed (a new lease) when half of it
// has passed, so a token outlives its commit's resolution (at most
// tokenTTL/2 - resolveMargin after the commit started). The tokens of
// commits known to be applied are deleted by the next commits of this
// store, a few per Txn; a killed process's tokens expire with their lease.
const (
	tokenTTL      = 10 * 60 // seconds
	resolveMargin = 30 * time.Second
	// tokenDeletesPerCommit is the most old tokens one commit deletes.
	tokenDeletesPerCommit = 16
	tokenApplied          = "c"
	tokenAborted          = "a"
)

// tokenState is an engine's lease and its applied tokens to delete.
type tokenState struct {
	mu      sync.Mutex
	lease   clientv3.LeaseID
	leaseAt time.Time
	applied []string
}

// lease returns a lease with at least tokenTTL/2 to live.
func (e *engine) lease(ctx context.Context) (clientv3.LeaseID, time.Time, error) {
	ts := &e.tokens
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.lease != 0 && time.Since(ts.leaseAt) < tokenTTL*time.Second/2 {
		return ts.lease, ts.leaseAt, nil
	}
	at := time.Now()
	resp, err := e.cli.Grant(ctx, tokenTTL)
	if err != nil {
		return 0, at, e.fail("grant token lease", err)
	}
	ts.lease, ts.leaseAt = resp.ID, at
	return ts.lease, at, nil
}

// dropLease forgets lease (the server no longer knows it).
func (e *engine) dropLease(lease clientv3.LeaseID) {
	e.tokens.mu.Lock()
	if e.tokens.lease == lease {
		e.tokens.lease = 0
	}
	e.tokens.mu.Unlock()
}

// takeApplied returns up to n tokens to delete.
func (e *engine) takeApplied(n int) []string {
	ts := &e.tokens
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n = max(0, min(n, len(ts.applied)))
	out := append([]string(nil), ts.applied[len(ts.applied)-n:]...)
	ts.applied = ts.applied[:len(ts.applied)-n]
	return out
}

func (e *engine) giveApplied(tokens ...string) {
	ts := &e.tokens
	ts.mu.Lock()
	// Bounded: a store that stops committing leaves the rest to the lease.
	if len(ts.applied) < 4096 {
		ts.applied = append(ts.applied, tokens...)
	}
	ts.mu.Unlock()
}

// commit runs If(cmps) Then(ops) as one etcd Txn with a commit token, and
// resolves its outcome when the answer is lost (see above). A failed
// compare is an error wrapping kv.ErrConflict.
//
// turn is the priority transaction's turn it holds, or "" (see
// priority.go): a commit without it also requires that no one holds the
// turn; when someone does, a blind write (no cmps) waits for the turn to
// be released and goes again, a transaction waits too and then reports
// its conflict (it runs again). The holder's commit requires that it still
// holds the turn, and releases it.
func (e *engine) commit(ctx context.Context, op string, cmps []clientv3.Cmp, ops []clientv3.Op, turn string) error {
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		lease, leaseAt, err := e.lease(ctx)
		if err != nil {
			return err
		}
		token := e.l.tokens + rand.Text()
		old := e.takeApplied(min(e.tokenDeletes, e.set.maxTxnOps-len(ops)-2))
		tops := append(ops[:len(ops):len(ops)], clientv3.OpPut(token, tokenApplied, clientv3.WithLease(lease)))
		for _, k := range old {
			tops = append(tops, clientv3.OpDelete(k))
		}
		tcmps := append(cmps[:len(cmps):len(cmps)], clientv3.Compare(clientv3.CreateRevision(token), "=", 0))
		if turn == "" {
			tcmps = append(tcmps, clientv3.Compare(clientv3.CreateRevision(e.l.turn), "=", 0))
		} else {
			tcmps = append(tcmps, clientv3.Compare(clientv3.Value(e.l.turn), "=", turn))
			tops = append(tops, clientv3.OpDelete(e.l.turn))
		}

		actx, acancel := attemptCtx(ctx)
		resp, err := e.cli.Txn(actx).If(tcmps...).Then(tops...).Else(clientv3.OpGet(e.l.turn, clientv3.WithCountOnly())).Commit()
		acancel()
		switch {
		case err == nil && resp.Succeeded:
			e.giveApplied(token)
			return nil
		case err == nil:
			e.giveApplied(old...)
			if turn == "" && resp.Responses[0].GetResponseRange().GetCount() > 0 {
				// Someone holds the turn: wait for it, then go again
				// (a blind write) or run again (a transaction).
				if err := e.waitTurn(ctx); err != nil {
					return fmt.Errorf("kv: etcd: %s: waiting for a priority transaction of another writer: %w", op, err)
				}
				if len(cmps) == 0 {
					continue
				}
				return fmt.Errorf("kv: etcd: %s: %w: a priority transaction of another writer held the store", op, kv.ErrConflict)
			}
			if turn != "" {
				return fmt.Errorf("kv: etcd: %s: %w: the transaction lost its priority turn (its lease expired) or read a changed key", op, kv.ErrConflict)
			}
			return fmt.Errorf("kv: etcd: %s: %w: a key or range the transaction read has changed since it was read", op, kv.ErrConflict)
		case notApplied(err):
			e.giveApplied(old...)
			if isLeaseNotFound(err) && attempt == 0 {
				// The lease expired or was lost with a cluster restore:
				// nothing applied, take a new one once.
				e.dropLease(lease)
				continue
			}
			return e.fail(op, err)
		}
		// The answer was lost: resolve before returning.
		applied, rerr := e.resolve(ctx, token, leaseAt, start)
		e.giveApplied(old...)
		switch {
		case rerr != nil:
			return fmt.Errorf("kv: etcd: %s %s: %w: %w (and resolving it: %w)", op, e.l.prefix, kv.ErrOutcomeUnknown, translate("txn", err), rerr)
		case applied:
			e.giveApplied(token)
			return nil
		default:
			return fmt.Errorf("kv: etcd: %s %s: not applied (confirmed): %w", op, e.l.prefix, translate("txn", err))
		}
	}
}

// attemptCtx gives a commit's Txn three quarters of the time left before
// ctx's deadline, keeping the rest to resolve a lost answer.
func attemptCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	left := time.Until(dl)
	return context.WithTimeout(ctx, left*3/4)
}

// resolve learns whether the commit that carried token applied, fencing it
// out when it did not: see the comment at the top of this file.
func (e *engine) resolve(ctx context.Context, token string, leaseAt, start time.Time) (applied bool, err error) {
	// The token must outlive the resolution: its lease has at least
	// tokenTTL - time since leaseAt to live.
	until := leaseAt.Add(tokenTTL*time.Second - resolveMargin)
	if dl, ok := ctx.Deadline(); !ok || dl.After(until) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, until)
		defer cancel()
	}
	wait := 20 * time.Millisecond
	for {
		lease, _, lerr := e.lease(ctx)
		var opts []clientv3.OpOption
		if lerr == nil {
			opts = append(opts, clientv3.WithLease(lease))
		}
		resp, err := e.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(token), "=", 0)).
			Then(clientv3.OpPut(token, tokenAborted, opts...)).
			Else(clientv3.OpGet(token)).
			Commit()
		if err == nil {
			if resp.Succeeded {
				return false, nil
			}
			kvs := resp.Responses[0].GetResponseRange().Kvs
			if len(kvs) == 1 {
				return string(kvs[0].Value) == tokenApplied, nil
			}
		} else if isLeaseNotFound(err) {
			e.dropLease(lease)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				err = ctx.Err()
			}
			return false, e.fail(fmt.Sprintf("resolve commit (%s after it started)", time.Since(start).Round(time.Millisecond)), err)
		case <-t.C:
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

func isLeaseNotFound(err error) bool {
	return etcdError(err) == rpctypes.ErrLeaseNotFound
}
