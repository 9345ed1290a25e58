package etcd

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// TestResolveFencesLostCommits: resolve reports a commit whose token is
// stored as applied; for a token never written it reports not applied
// and fences it, so that a commit carrying that token, arriving late
// (still in flight inside Raft), cannot apply any more.
func TestResolveFencesLostCommits(t *testing.T) {
	e := openTestEngines(t, etcdtest.Start(t, 1), "/resolve", 1)[0]
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// An applied commit: its token says so.
	b := new(kv.Batch)
	_ = b.Set([]byte("a"), []byte("1"))
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	applied := e.takeApplied(1)
	if len(applied) != 1 {
		t.Fatalf("no applied token recorded after a commit")
	}
	_, leaseAt, err := e.lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.resolve(ctx, applied[0], leaseAt, time.Now())
	if err != nil || !ok {
		t.Errorf("resolve(applied token) = %v, %v; want applied", ok, err)
	}

	// A commit that never arrived: not applied, and fenced.
	lost := e.l.tokens + rand.Text()
	ok, err = e.resolve(ctx, lost, leaseAt, time.Now())
	if err != nil || ok {
		t.Fatalf("resolve(unknown token) = %v, %v; want not applied", ok, err)
	}
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(lost), "=", 0)).
		Then(clientv3.OpPut(e.l.key([]byte("late")), "x"), clientv3.OpPut(lost, tokenApplied)).
		Commit()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Succeeded {
		t.Error("a late commit carrying a fenced token applied")
	}
	if _, err := e.Get([]byte("late"), nil); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(late) = %v, want ErrNotFound", err)
	}
	ok, err = e.resolve(ctx, lost, leaseAt, time.Now())
	if err != nil || ok {
		t.Errorf("second resolve(fenced token) = %v, %v; want not applied", ok, err)
	}
}

// openTestEngines opens n engines of the store prefix on c, closed at the
// end of the test.
func openTestEngines(t testing.TB, c *etcdtest.Cluster, prefix string, n int) []*engine {
	t.Helper()
	cfg := c.Config(prefix)
	s, err := parseSettings(cfg.Options)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = nil
	out := make([]*engine, n)
	for i := range out {
		e, err := openEngine(t.Context(), &cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		out[i] = e
	}
	return out
}
