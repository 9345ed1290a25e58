package nodestore_test

// An optimistic memory engine with etcd's default limits (max_txn_ops
// 128: MaxTxnOps 126, and at most 126 compares = keys read + ranges
// iterated, as backends/etcd/txn.go counts them at Commit), declared
// Shared so that nodestore writes stripes.

import (
	"context"
	"fmt"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

const etcdLikeOps = 126

const etcdLikeFolders = 40

type etcdLikeEngine struct {
	kv.Engine
	tr kv.Transactor
}

func (e etcdLikeEngine) Limits() kv.Limits {
	return kv.Limits{MaxKeySize: kv.MaxKeySize, MaxValueSize: kv.MaxValueSize, MaxTxnOps: etcdLikeOps, MaxTxnBytes: 1 << 20}
}

func (e etcdLikeEngine) BeginTxn(ctx context.Context) (kv.EngineTxn, error) {
	t, err := e.tr.BeginTxn(ctx)
	if err != nil {
		return nil, err
	}
	return &comparesCountingTxn{EngineTxn: t, keys: map[string]bool{}}, nil
}

type comparesCountingTxn struct {
	kv.EngineTxn
	keys   map[string]bool
	ranges int
}

func (t *comparesCountingTxn) Get(key, dst []byte) ([]byte, error) {
	t.keys[string(key)] = true
	return t.EngineTxn.Get(key, dst)
}

func (t *comparesCountingTxn) NewIter(r kv.IterRange) (kv.Iter, error) {
	it, err := t.EngineTxn.NewIter(r)
	if err != nil {
		return nil, err
	}
	t.ranges++
	return &comparesCountingIter{Iter: it, t: t}, nil
}

func (t *comparesCountingTxn) Commit(ctx context.Context, b *kv.Batch) error {
	if n := len(t.keys) + t.ranges + 2; n > etcdLikeOps+2 {
		return fmt.Errorf("%w: emulated etcd: %d keys and %d ranges read: %d compares > max-txn-ops %d",
			kv.ErrTxnTooLarge, len(t.keys), t.ranges, n, etcdLikeOps+2)
	}
	return t.EngineTxn.Commit(ctx, b)
}

type comparesCountingIter struct {
	kv.Iter
	t *comparesCountingTxn
}

func (i *comparesCountingIter) Next() bool {
	if !i.Iter.Next() {
		return false
	}
	i.t.keys[string(i.Iter.Key())] = true
	return true
}

func openEtcdLike(t *testing.T) kv.Store {
	t.Helper()
	cfg, err := kv.ParseDSN("memory:?opt.txn=optimistic")
	if err != nil {
		t.Fatal(err)
	}
	e, err := memory.Driver{}.Open(t.Context(), "", &cfg)
	if err != nil {
		t.Fatal(err)
	}
	info := kv.Info{Backend: "memory", Guarantees: kv.Guarantees{Shared: true, AtomicDeleteRange: true}}
	db := kv.NewDB(etcdLikeEngine{Engine: e, tr: e.(kv.Transactor)}, info, nil)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// RebuildCounts on a small striped store (a root, 40 folders, 1 file
// each: 81 nodes) written by 40 worker Stores, under etcd's default
// limits: it leaves no stripe key (it folds them last, in chunks). When it
// read and deleted every stripe key in one transaction it failed with 146
// compares over the 128; TestRebuildCountsBeyondTxnLimits has more nodes.
func TestRebuildCountsFoldsStripesFirst(t *testing.T) {
	ctx := t.Context()
	s := openEtcdLike(t)
	ns := nodestore.New(s) // Auto: shared, so stripes
	if err := ns.Insert(ctx, root(nodestore.QueueSrc)); err != nil {
		t.Fatal(err)
	}
	for i := range etcdLikeFolders {
		n := file(nodestore.QueueSrc, "/", fmt.Sprintf("d%02d", i), 1)
		n.Traversal, n.State.Type = nodestore.TraversalStatusPending, nodestore.NodeTypeFolder
		if err := ns.Insert(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ns.SetStatus(ctx, nodestore.QueueSrc, "/", nodestore.TraversalStatusSuccessful); err != nil {
		t.Fatal(err)
	}
	// Each folder completed by a Store of its own (a worker process each,
	// one after the other): each picks its own random stripe.
	for i := range etcdLikeFolders {
		w := nodestore.New(s)
		dir := fmt.Sprintf("/d%02d", i)
		fs := []nodestore.Node{file(nodestore.QueueSrc, dir, "a", 2)}
		if _, err := w.CompleteWithChildren(ctx, nodestore.QueueSrc, dir, nodestore.TraversalStatusSuccessful, fs); err != nil {
			t.Fatal(err)
		}
	}
	if st := len(stripeKeys(t, s)); st < 20 {
		t.Fatalf("only %d stripe keys: the test needs many", st)
	}
	if err := ns.RebuildCounts(ctx); err != nil {
		t.Fatalf("RebuildCounts on a striped store under etcd's limits: %v", err)
	}
	if st := stripeKeys(t, s); len(st) != 0 {
		t.Errorf("stripe keys left after RebuildCounts: %q", st)
	}
	wantOK(t, ns)
}
