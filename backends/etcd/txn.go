package etcd

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// Optimistic transactions (kv.Transactor), as etcd's own STM does them:
//
//   - The transaction reads at one revision R. It is pinned lazily: the
//     first read goes to the latest revision (a linearizable read) and its
//     answer's revision becomes R; every later read is WithRev(R).
//   - Each Get records its key with the ModRevision it had at R (0 when
//     missing). Each iteration records the part of its range it covered (up
//     to the key where it stopped, or all of it when it ran to the end) and
//     every key it stepped on, with its ModRevision.
//   - Commit is one etcd Txn: If every key read or seen still has the
//     recorded ModRevision (a key deleted since fails: its ModRevision is
//     now 0), and for every covered range no key in it has a ModRevision
//     above R (a key created or changed in the range since R fails), Then
//     the writes. Together the compares say: everything read is as it was
//     at R, so the transaction is serializable at its commit revision.
//
// etcd limits a Txn to --max-txn-ops compares (and as many operations,
// counted separately). A read set larger than that (keys read + ranges + 2
// for the commit token and the priority turn) fails the commit with kv.ErrTxnTooLarge naming the
// sizes; it is never weakened to fit.

var _ kv.Transactor = (*engine)(nil)

// BeginTxn starts a transaction; it reads nothing until its first read.
func (e *engine) BeginTxn(ctx context.Context) (kv.EngineTxn, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &txn{e: e, ctx: ctx, keys: make(map[string]int64), floor: e.pinFloor()}, nil
}

type txn struct {
	e   *engine
	ctx context.Context
	rev int64 // R, 0 until the first read
	// floor is pinned until R is (engine.pinFloor); 0 once released.
	floor int64
	// keys maps each etcd key read or seen to its ModRevision at R.
	keys   map[string]int64
	ranges []*rangeRead
	done   bool
	// turn, turnLease and stopKeepAlive: a priority transaction's hold
	// of the store's turn (priority.go); turn is "" otherwise.
	turn          string
	turnLease     clientv3.LeaseID
	stopKeepAlive context.CancelFunc
}

func (t *txn) pinned(rev int64) {
	if t.rev == 0 {
		beforePin()
		t.rev = rev
		t.e.pin(rev)
		t.releaseFloor()
	}
}

func (t *txn) releaseFloor() {
	if t.floor != 0 {
		t.e.unpin(t.floor)
		t.floor = 0
	}
}

func (t *txn) Get(key, dst []byte) ([]byte, error) {
	if t.e.closed.Load() {
		return nil, errClosed
	}
	ctx, cancel := t.e.callCtx(t.ctx)
	defer cancel()
	v, mod, at, err := t.e.get(ctx, key, dst, t.rev)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	t.pinned(at)
	t.keys[t.e.l.key(key)] = mod
	return v, err
}

func (t *txn) NewIter(r kv.IterRange) (kv.Iter, error) {
	if t.e.closed.Load() {
		return nil, errClosed
	}
	it := t.e.newIter(t.ctx, r, t.rev, nil)
	rec := &rangeRead{lo: it.lo, hi: it.hi, reverse: r.Reverse, seen: make(map[string]int64)}
	it.rec = rec
	if t.rev == 0 {
		it.txn = t
	}
	t.ranges = append(t.ranges, rec)
	return it, nil
}

// Commit applies b if nothing read has changed since R (see above).
func (t *txn) Commit(ctx context.Context, b *kv.Batch) error {
	if t.e.closed.Load() {
		return errClosed
	}
	var cmps []clientv3.Cmp
	for _, rr := range t.ranges {
		lo, hi, ok := rr.covered()
		if !ok {
			continue
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(lo), "<", t.rev+1).WithRange(hi))
		for k, mod := range rr.seen {
			t.keys[k] = mod
		}
	}
	for k, mod := range t.keys {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", mod))
	}
	if n := len(cmps) + 2; n > t.e.set.maxTxnOps {
		return fmt.Errorf("%w: etcd: the transaction read %d keys and %d ranges: its commit needs %d compares, more than the cluster's max-txn-ops %d (read less in one Update)",
			kv.ErrTxnTooLarge, len(t.keys), len(cmps)-len(t.keys), n, t.e.set.maxTxnOps)
	}
	readBytes := 0 // what the compares add to the request
	for _, c := range cmps {
		readBytes += compareBytes(c)
	}
	if limit := t.e.set.maxRequestBytes / 4; readBytes > limit {
		// The declared MaxTxnBytes leaves a quarter of a request for the
		// compares (see settings.limits): past it the server may refuse
		// the request, with a message that does not say the reads are
		// the cause.
		return fmt.Errorf("%w: etcd: the transaction read %d keys and %d ranges: its commit's compares, %d bytes with their keys, exceed a quarter of the cluster's max-request-bytes %d (read less in one Update)",
			kv.ErrTxnTooLarge, len(t.keys), len(cmps)-len(t.keys), readBytes, t.e.set.maxRequestBytes)
	}
	return t.e.commit(ctx, "commit", cmps, batchOps(&t.e.l, b), t.turn)
}

func (t *txn) Discard() {
	if !t.done {
		t.done = true
		if t.rev != 0 {
			t.e.unpin(t.rev)
		}
		t.releaseFloor()
		t.releaseTurn()
	}
}
