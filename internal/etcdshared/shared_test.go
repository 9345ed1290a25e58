package etcdshared_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/conformance/linearize"
	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// Three worker processes, each through another member, traverse one tree:
// every folder listed once, the store exact, the claims' history
// linearizable (RunSharedTraversal checks it all).
//
// Twice: as an engine would run it (shares, counter stripes), and
// contended, where every worker races for every folder and writes the
// same counters (no shares, no stripes), so that an Update that is not
// serializable across processes loses updates where the checks see them.
func TestSharedTraversal(t *testing.T) {
	for _, c := range []struct {
		name string
		tree conformance.SharedTraversal
	}{
		{"default", conformance.SharedTraversal{}},
		{"contended", conformance.SharedTraversal{NoShares: true, Nodestore: &nodestore.Options{CounterStripes: nodestore.StripesOff}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cfgs []kv.Config
			if !conformance.InChild() {
				cfgs = memberConfigs(cluster, newPrefix())
			}
			res := conformance.RunSharedTraversal(t, conformance.SharedOptions{Configs: cfgs, Workers: 3, Tree: c.tree})
			for i, n := range res.Listed {
				if n == 0 {
					t.Logf("worker %d listed nothing (the others were faster)", i)
				}
			}
		})
	}
}

// waitListed waits until the workers have listed n folders or ctx ends.
func waitListed(ctx context.Context, listed func() int, n int) {
	for listed() < n && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// One of three members stops a quarter into the traversal and stays down:
// the traversal completes with nothing lost, its history linearizable.
func TestMemberLossOne(t *testing.T) {
	var c *etcdtest.Cluster
	var cfgs []kv.Config
	if !conformance.InChild() {
		c = etcdtest.Start(t, 3)
		cfgs = memberConfigs(c, newPrefix())
	}
	tree := conformance.SharedOptions{Tree: conformance.SharedTraversal{CallTimeout: 5 * time.Second}}.Traversal()
	folders := len(tree.Folders())
	var stoppedAt, doneAt int
	res := conformance.RunSharedTraversal(t, conformance.SharedOptions{
		Configs: cfgs, Workers: 3, Tree: tree,
		Disrupt: func(ctx context.Context, listed func() int) {
			waitListed(ctx, listed, folders/4)
			stoppedAt = listed()
			if err := c.Stop(0); err != nil {
				t.Errorf("stop member 0: %v", err)
			}
			waitListed(ctx, listed, folders)
			doneAt = listed()
			if err := c.Restart(0); err != nil {
				t.Errorf("restart member 0: %v", err)
			}
		},
	})
	t.Logf("member 0 stopped after %d of %d folders; %d listed while it was down; %d calls failed meanwhile", stoppedAt, folders, doneAt-stoppedAt, len(res.Failures))
	if doneAt != folders {
		t.Errorf("with one member of three down the workers listed %d of %d folders", doneAt, folders)
	}
}

// Two of three members stop a quarter into the traversal: writes fail
// with a clear error within the caller's deadline, none hangs, none that
// failed is applied; restarted, the same store resumes and completes.
func TestMemberLossTwo(t *testing.T) {
	var c *etcdtest.Cluster
	var cfgs []kv.Config
	var probe kv.Store
	if !conformance.InChild() {
		c = etcdtest.Start(t, 3)
		prefix := newPrefix()
		cfgs = memberConfigs(c, prefix)
		cfg := c.Config(prefix)
		cfg.Endpoints = cfg.Endpoints[:1] // the member that stays up
		probe = open(t, cfg)
	}
	const callTimeout = 2 * time.Second
	tree := conformance.SharedOptions{Tree: conformance.SharedTraversal{CallTimeout: callTimeout}}.Traversal()
	folders := len(tree.Folders())
	type probed struct {
		key      string
		deadline time.Duration // 0: none
		elapsed  time.Duration
		err      error
	}
	var probes []probed
	var stalled [2]int
	res := conformance.RunSharedTraversal(t, conformance.SharedOptions{
		Configs: cfgs, Workers: 3, Tree: tree,
		Disrupt: func(ctx context.Context, listed func() int) {
			waitListed(ctx, listed, folders/4)
			// Both at once and at once each: a graceful stop (a leader
			// handing over, requests in flight finishing) let the
			// workers list the rest of the tree before quorum was lost.
			var stops sync.WaitGroup
			for _, i := range []int{1, 2} {
				stops.Go(func() {
					if err := c.StopNow(i); err != nil {
						t.Errorf("stop member %d: %v", i, err)
					}
				})
			}
			stops.Wait()
			stalled[0] = listed()
			if stalled[0] == folders {
				t.Errorf("the workers listed the whole tree (%d folders) before two members were stopped: the outage came too late to test anything", folders)
			}
			for i, d := range []time.Duration{500 * time.Millisecond, 2 * time.Second, 0} {
				p := probed{key: fmt.Sprintf("probe/%d", i), deadline: d}
				pctx, cancel := context.WithCancel(ctx)
				if d > 0 {
					pctx, cancel = context.WithTimeout(ctx, d)
				}
				start := time.Now()
				p.err = probe.Set(pctx, []byte(p.key), []byte("x"))
				p.elapsed = time.Since(start)
				cancel()
				probes = append(probes, p)
			}
			// The workers meet the outage too, for a few call timeouts.
			time.Sleep(2 * callTimeout)
			stalled[1] = listed()
			for _, i := range []int{1, 2} {
				if err := c.Restart(i); err != nil {
					t.Errorf("restart member %d: %v", i, err)
				}
			}
			waitListed(ctx, listed, folders)
		},
	})
	if conformance.InChild() {
		return
	}
	for _, p := range probes {
		t.Logf("write with deadline %v during the outage: %v after %v", p.deadline, p.err, p.elapsed.Round(time.Millisecond))
		limit := p.deadline + time.Second
		if p.deadline == 0 {
			limit = time.Minute // the backend's default deadline, whatever it is, ends it
		}
		switch {
		case p.err == nil:
			t.Errorf("a write succeeded with two of three members stopped")
		case !errors.Is(p.err, kv.ErrUnavailable) && !errors.Is(p.err, context.DeadlineExceeded) && !errors.Is(p.err, kv.ErrOutcomeUnknown):
			t.Errorf("write during the outage: %v: want kv.ErrUnavailable, kv.ErrOutcomeUnknown or the context's deadline", p.err)
		case p.elapsed > limit:
			t.Errorf("write with deadline %v took %v to fail", p.deadline, p.elapsed)
		}
		// Nothing reported failed is applied, even once the members are back.
		_, err := probe.Get(t.Context(), []byte(p.key))
		if err == nil && !errors.Is(p.err, kv.ErrOutcomeUnknown) {
			t.Errorf("%s: its write failed (%v), yet after the restart it is there", p.key, p.err)
		} else if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("read %s after the restart: %v", p.key, err)
		}
	}
	if stalled[1]-stalled[0] > 3 {
		t.Errorf("the workers listed %d folders with two of three members down", stalled[1]-stalled[0])
	}
	slow, unclear := 0, 0
	for _, f := range res.Failures {
		msg := f.Err.Error()
		// Every call, read or write, ends at the caller's deadline (reads
		// carry it to the engine: kv.ContextReader).
		limit := callTimeout + time.Second
		if f.Elapsed > limit {
			slow++
			t.Errorf("a worker's call failed after %v, past its deadline: %v", f.Elapsed.Round(time.Millisecond), f.Err)
		}
		if !strings.Contains(msg, kv.ErrUnavailable.Error()) && !strings.Contains(msg, context.DeadlineExceeded.Error()) &&
			!strings.Contains(msg, kv.ErrOutcomeUnknown.Error()) && !strings.Contains(msg, kv.ErrConflict.Error()) {
			unclear++
			if unclear <= 3 {
				t.Errorf("a worker's call failed with %q: want kv.ErrUnavailable or a deadline", msg)
			}
		}
	}
	if len(res.Failures) == 0 {
		t.Errorf("no worker call failed while two of three members were down")
	}
	t.Logf("outage: %d folders listed before, %d during; %d worker calls failed, %d past the caller's deadline of %v",
		stalled[0], stalled[1]-stalled[0], len(res.Failures), slow, callTimeout)
}

// Clients through different members, one member stopped and restarted
// midway, the other two then stopped together for a moment: the history
// of a random workload on a few keys is linearizable.
func TestLinearizableThroughMemberLoss(t *testing.T) {
	c := etcdtest.Start(t, 3)
	prefix := newPrefix()
	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix("lin/")})
	const clients = 6
	stores := make([]kv.Store, clients)
	for i := range stores {
		cfg := c.Config(prefix)
		cfg.Endpoints = append(slices.Clone(cfg.Endpoints[i%3:]), cfg.Endpoints[:i%3]...)
		stores[i] = h.Wrap(open(t, cfg))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Second)
	defer cancel()
	done := make(chan linearize.WorkloadStats, clients)
	for i, s := range stores {
		go func() {
			// Each call under a short deadline, so that an outage shows.
			done <- linearize.Workload{}.Run(ctx, deadlineStore{s, time.Second}, i, 1)
		}()
	}
	time.Sleep(2 * time.Second)
	c.Stop(0)
	time.Sleep(2 * time.Second)
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	c.Stop(1)
	c.Stop(2)
	time.Sleep(2 * time.Second)
	if err := errors.Join(c.Restart(1), c.Restart(2)); err != nil {
		t.Fatal(err)
	}
	var total linearize.WorkloadStats
	for range clients {
		st := <-done
		total.Ok += st.Ok
		total.Failed += st.Failed
		total.Unknown += st.Unknown
	}
	res := linearize.Check(h.Ops(), 2*time.Minute)
	t.Logf("%d calls ok, %d failed, %d outcome unknown; %v", total.Ok, total.Failed, total.Unknown, res)
	if res.Illegal() {
		t.Error(res)
	}
	if total.Ok == 0 || total.Failed == 0 {
		t.Errorf("the workload should both succeed and fail during the run")
	}
}

// deadlineStore gives each call of Workload a deadline of its own.
type deadlineStore struct {
	kv.Store
	d time.Duration
}

func (s deadlineStore) with(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.d)
}

func (s deadlineStore) Get(ctx context.Context, k []byte) ([]byte, error) {
	ctx, cancel := s.with(ctx)
	defer cancel()
	return s.Store.Get(ctx, k)
}

func (s deadlineStore) Set(ctx context.Context, k, v []byte) error {
	ctx, cancel := s.with(ctx)
	defer cancel()
	return s.Store.Set(ctx, k, v)
}

func (s deadlineStore) Delete(ctx context.Context, k []byte) error {
	ctx, cancel := s.with(ctx)
	defer cancel()
	return s.Store.Delete(ctx, k)
}

func (s deadlineStore) Iterate(ctx context.Context, o kv.IterOptions, fn func(k, v []byte) error) error {
	ctx, cancel := s.with(ctx)
	defer cancel()
	return s.Store.Iterate(ctx, o, fn)
}

func (s deadlineStore) View(ctx context.Context, fn func(kv.ReadTxn) error) error {
	ctx, cancel := s.with(ctx)
	defer cancel()
	return s.Store.View(ctx, fn)
}

func (s deadlineStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	ctx, cancel := s.with(ctx)
	defer cancel()
	return s.Store.Update(ctx, fn)
}
