package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/polykv/polykv/nodestore"
)

// nsConcurrentComplete: CompleteWithChildren calls from many goroutines at
// once (which nodestore commits together) end exactly as the same calls
// one after the other: the store byte for byte the same, every call's own
// result (applied, skipped, error) the same, a failing call (missing
// parent, invalid child, cancelled context) applying nothing of itself and
// nothing less of the calls committed with it, on both queues.
func nsConcurrentComplete(t *testing.T, e *nsEnv) {
	workers, per := 8, 24
	if testing.Short() {
		per = 12
	}
	type call struct {
		q       nodestore.QueueType
		path    string
		kids    []nodestore.Node
		cancel  bool // with a context already cancelled
		want    error
		applied int
		skipped int
	}
	P, S := nodestore.TraversalStatusPending, nodestore.TraversalStatusSuccessful
	CP := nodestore.CopyStatusPending
	kid := func(q nodestore.QueueType, st nodestore.NodeState) nodestore.Node {
		n := nodestore.Node{Traversal: P, State: st}
		if q == nodestore.QueueSrc {
			n.Copy = CP
		}
		return n
	}
	plans := make([][]call, workers)
	for w := range workers {
		q := []nodestore.QueueType{nodestore.QueueSrc, nodestore.QueueDst}[w%2]
		for j := range per {
			dir := fmt.Sprintf("/w%d-%02d", w, j)
			kids := []nodestore.Node{kid(q, nsFile(dir+"/f1", 2)), kid(q, nsFile(dir+"/f2", 2)), kid(q, nsFolder(dir+"/d", 2))}
			switch j % 5 {
			case 0: // a cancelled call first: nothing of it applied
				plans[w] = append(plans[w], call{q: q, path: dir, kids: kids, cancel: true, want: context.Canceled})
			case 2: // a missing parent
				plans[w] = append(plans[w], call{q: q, path: dir + "-missing", kids: kids, want: nodestore.ErrNotFound})
			case 3: // an invalid child: nothing of the completion applied
				bad := nsFile(dir+"/x", 2)
				bad.ParentPath = "/elsewhere"
				plans[w] = append(plans[w], call{q: q, path: dir, kids: append(kids[:2:2], kid(q, bad)), want: nodestore.ErrInvalidNode})
			}
			plans[w] = append(plans[w], call{q: q, path: dir, kids: kids, applied: 3})
			if j%5 == 1 { // a replay: every child skipped
				plans[w] = append(plans[w], call{q: q, path: dir, kids: kids, skipped: 3})
			}
		}
	}
	seed := func(e *nsEnv) {
		e.insert(nsSrc(0, S, CP, nsFolder("/", 0)))
		e.insert(nsDst(0, S, nsFolder("/", 0)))
		for w := range workers {
			for j := range per {
				st := nsFolder(fmt.Sprintf("/w%d-%02d", w, j), 1)
				if w%2 == 0 {
					e.insert(nsSrc(1, P, CP, st))
				} else {
					e.insert(nsDst(1, P, st))
				}
			}
		}
	}
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	run := func(e *nsEnv, w int) error {
		for i, c := range plans[w] {
			ctx := e.ctx
			if c.cancel {
				ctx = cancelled
			}
			res, err := e.ns.CompleteWithChildren(ctx, c.q, c.path, S, c.kids)
			switch {
			case c.want == nil && err != nil, c.want != nil && !errors.Is(err, c.want):
				return fmt.Errorf("worker %d call %d (%s %s): %v, want %v", w, i, c.q, c.path, err, c.want)
			case res.Applied != c.applied || len(res.Skipped) != c.skipped:
				return fmt.Errorf("worker %d call %d (%s %s): %d applied, %d skipped; want %d, %d", w, i, c.q, c.path, res.Applied, len(res.Skipped), c.applied, c.skipped)
			}
		}
		return nil
	}

	// The reference: every call one after the other.
	ref := e.sibling(t)
	seed(ref)
	for w := range workers {
		if err := run(ref, w); err != nil {
			t.Fatalf("one after the other: %v", err)
		}
	}
	want := ref.dump()

	seed(e)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			if err := run(e, w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.dump(); got != want {
		t.Errorf("the store after concurrent CompleteWithChildren calls differs from the one after the same calls one after the other:\n%s\nwant\n%s", got, want)
	}
	for w := range workers {
		for _, c := range plans[w] {
			if c.want != nil {
				continue // the successful call on the same folder is checked
			}
			kids, err := e.ns.Children(e.ctx, c.q, c.path)
			if err != nil || len(kids) != 3 {
				t.Errorf("%s %s: %d children, %v; want 3", c.q, c.path, len(kids), err)
			}
		}
	}
	e.wantConsistent("after concurrent completions")
}
