package nodestore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// combineStore returns a store with a src root and folders /a0../a{n-1}.
func combineStore(t *testing.T, n int) *Store {
	t.Helper()
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := New(db)
	root := Node{Queue: QueueSrc, Traversal: TraversalStatusSuccessful, Copy: CopyStatusPending,
		State: NodeState{ID: "r", Path: "/", Name: "root", Type: NodeTypeFolder}}
	if err := s.Insert(ctx, root); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := fmt.Sprintf("/a%d", i)
		f := Node{Queue: QueueSrc, Level: 1, Traversal: TraversalStatusPending, Copy: CopyStatusPending,
			State: NodeState{ID: p, Path: p, Name: p[1:], Type: NodeTypeFolder, Depth: 1, ParentPath: "/", ParentID: "r"}}
		if err := s.Insert(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func combineKids(parent string) []Node {
	return []Node{{Traversal: TraversalStatusPending, Copy: CopyStatusPending, State: NodeState{
		ID: parent + "/f", Path: parent + "/f", Name: "f", Type: NodeTypeFile, Depth: 2, ParentPath: parent, ParentID: parent}}}
}

// waitWaiting waits until cb holds n waiting calls.
func waitWaiting(t *testing.T, cb *combiner, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		cb.mu.Lock()
		got := len(cb.waiting)
		cb.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("combiner: never %d calls waiting", n)
}

type callResult struct {
	res BatchResult
	err error
}

// While a group commits (busy, held here by the test), calls wait; the
// first is handed the lead and commits every call waiting with it in one
// group. A call whose context ends while it waits leaves with the
// context's error and nothing applied, and a lead handed to it passes on.
func TestCombinerWaitLeadAndLeave(t *testing.T) {
	s := combineStore(t, 3)
	ctx := context.Background()
	cb := s.combinerFor(QueueSrc)
	cb.mu.Lock()
	cb.busy = true // a group "commits"
	cb.mu.Unlock()

	start := func(ctx context.Context, path string) chan callResult {
		ch := make(chan callResult, 1)
		go func() {
			res, err := s.CompleteWithChildren(ctx, QueueSrc, path, TraversalStatusSuccessful, combineKids(path))
			ch <- callResult{res, err}
		}()
		return ch
	}
	leaving, cancel := context.WithCancel(ctx)
	first := start(leaving, "/a0")
	waitWaiting(t, cb, 1)
	second := start(ctx, "/a1")
	waitWaiting(t, cb, 2)
	third := start(ctx, "/a2")
	waitWaiting(t, cb, 3)

	// The "group" ends: hand the lead to the first waiting call, whose
	// context ends at the same moment. Whichever it sees first, the lead
	// must reach the others or it must commit them.
	cb.mu.Lock()
	cb.waiting[0].lead <- struct{}{}
	cancel()
	cb.mu.Unlock()

	r1 := <-first
	for _, ch := range []chan callResult{second, third} {
		if r := <-ch; r.err != nil || r.res.Applied != 1 {
			t.Errorf("a call waiting with a leaving one: %+v", r)
		}
	}
	// The first either committed (it took the lead before it saw its
	// context end) or left: its outcome must match the store.
	n, err := s.Get(ctx, QueueSrc, "/a0")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case r1.err == nil && (r1.res.Applied != 1 || n.Traversal != TraversalStatusSuccessful):
		t.Errorf("leader /a0: %+v, stored %s", r1.res, n.Traversal)
	case r1.err != nil && (!errors.Is(r1.err, context.Canceled) || n.Traversal != TraversalStatusPending):
		t.Errorf("leaving /a0: %v, stored %s; want context.Canceled and pending", r1.err, n.Traversal)
	}
	cb.mu.Lock()
	busy, waiting := cb.busy, len(cb.waiting)
	cb.mu.Unlock()
	if busy || waiting != 0 {
		t.Errorf("combiner after the group: busy %v, %d waiting", busy, waiting)
	}
	rep, err := s.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("Check: %v %q", err, rep.Problems)
	}
}

// A waiting call whose context ends leaves the group at once, with
// nothing applied, while the group before it still commits.
func TestCombinerCancelWhileWaiting(t *testing.T) {
	s := combineStore(t, 1)
	cb := s.combinerFor(QueueSrc)
	cb.mu.Lock()
	cb.busy = true
	cb.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.CompleteWithChildren(ctx, QueueSrc, "/a0", TraversalStatusSuccessful, combineKids("/a0"))
		done <- err
	}()
	waitWaiting(t, cb, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiting call: %v, want context.Canceled", err)
	}
	waitWaiting(t, cb, 0)
	if n, err := s.Get(context.Background(), QueueSrc, "/a0"); err != nil || n.Traversal != TraversalStatusPending {
		t.Fatalf("/a0 after a cancelled call: %s, %v", n.Traversal, err)
	}
}

// A group's commit is cancelled only when every call's context is done,
// with the error of the last (a deadline stays a deadline, also in the
// contexts derived from it); its deadline is the latest of the calls', or
// none when one has none.
func TestGroupContext(t *testing.T) {
	c1, cancel1 := context.WithCancel(context.Background())
	c2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	ctx, stop := groupContext([]*combinedCall{{ctx: c1}, {ctx: c2}})
	defer stop()
	if _, ok := ctx.Deadline(); ok {
		t.Error("a group with a call without deadline has a deadline")
	}
	derived, cancelDerived := context.WithCancel(ctx)
	defer cancelDerived()
	cancel1()
	select {
	case <-ctx.Done():
		t.Fatal("the group's context ended with one call's context still live")
	case <-time.After(20 * time.Millisecond):
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the group's context lives on after every call's context ended")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Errorf("the group ended by a deadline: Err %v, Cause %v", ctx.Err(), context.Cause(ctx))
	}
	<-derived.Done()
	if !errors.Is(derived.Err(), context.DeadlineExceeded) {
		t.Errorf("a context derived from the group: Err %v, want the deadline", derived.Err())
	}

	d1, cancelD1 := context.WithTimeout(context.Background(), time.Hour)
	defer cancelD1()
	d2, cancelD2 := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancelD2()
	ctx, stop = groupContext([]*combinedCall{{ctx: d1}, {ctx: d2}})
	defer stop()
	want, _ := d2.Deadline()
	if got, ok := ctx.Deadline(); !ok || !got.Equal(want) {
		t.Errorf("deadline %v %v, want the latest, %v", got, ok, want)
	}
	cancelD1()
	cancelD2()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("the group ended by cancellations: %v", ctx.Err())
	}
}

// panicOnce is a kv.Store wrapper (a metrics layer, say) whose next Update
// panics once armed.
type panicOnce struct {
	kv.Store
	armed atomic.Bool
}

func (p *panicOnce) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if p.armed.CompareAndSwap(true, false) {
		panic("panicOnce: Update")
	}
	return p.Store.Update(ctx, fn)
}

// A panic in a group's commit goes on in the leader's goroutine; the other
// calls of the group return kv.ErrOutcomeUnknown instead of waiting for
// ever, and the combiner is not left busy: later calls commit. (Before,
// the leader's turn never ended and every later call hung.)
func TestCombinerSurvivesPanicInCommit(t *testing.T) {
	base := combineStore(t, 3)
	ps := &panicOnce{Store: base.kv}
	s := New(ps)
	ctx := context.Background()
	cb := s.combinerFor(QueueSrc)
	cb.mu.Lock()
	cb.busy = true // a group "commits"
	cb.mu.Unlock()
	type outcome struct {
		err      error
		panicked any
	}
	start := func(path string) chan outcome {
		ch := make(chan outcome, 1)
		go func() {
			var o outcome
			defer func() {
				o.panicked = recover()
				ch <- o
			}()
			_, o.err = s.CompleteWithChildren(ctx, QueueSrc, path, TraversalStatusSuccessful, combineKids(path))
		}()
		return ch
	}
	leader := start("/a0")
	waitWaiting(t, cb, 1)
	member := start("/a1")
	waitWaiting(t, cb, 2)
	ps.armed.Store(true)
	cb.handOn() // the "group" ends: /a0 leads /a0 and /a1

	wait := func(ch chan outcome, what string) outcome {
		t.Helper()
		select {
		case o := <-ch:
			return o
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no return within 10 s", what)
			return outcome{}
		}
	}
	if o := wait(leader, "leader"); o.panicked == nil {
		t.Errorf("leader: %v, want the store's panic", o.err)
	}
	if o := wait(member, "the other call of the group"); o.panicked != nil || !errors.Is(o.err, kv.ErrOutcomeUnknown) {
		t.Errorf("the other call of the group: %v (panic %v), want kv.ErrOutcomeUnknown", o.err, o.panicked)
	}
	if o := wait(start("/a2"), "a call after the panic"); o.panicked != nil || o.err != nil {
		t.Errorf("a call after the panic: %v (panic %v)", o.err, o.panicked)
	}
	cb.mu.Lock()
	busy := cb.busy
	cb.mu.Unlock()
	if busy {
		t.Error("combiner still busy after the calls returned")
	}
}

// A call made from inside an Update (with its Txn's context) does not
// join a group: a group led by another call would commit with that
// call's context and wait for the writer lock the Update holds, while the
// caller waits for the group; led by the caller, its mark would refuse
// the other calls' completions. It commits alone, with its own context:
// refused with kv.ErrNestedUpdate when the Update is of the same store,
// applied when it is of another.
func TestCombinerNotJoinedFromInsideUpdate(t *testing.T) {
	ctx := context.Background()
	other, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, c := range []struct {
		name    string
		store   func(s *Store) kv.Store // whose Update the call is made from
		wantErr error
		want    TraversalStatus
	}{
		{"same store", func(s *Store) kv.Store { return s.kv }, kv.ErrNestedUpdate, TraversalStatusPending},
		{"other store", func(*Store) kv.Store { return other }, nil, TraversalStatusSuccessful},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := combineStore(t, 1)
			cb := s.combinerFor(QueueSrc)
			cb.mu.Lock()
			cb.busy = true // a group "commits": a call joining would wait
			cb.mu.Unlock()
			done := make(chan error, 1)
			go func() {
				done <- c.store(s).Update(ctx, func(tx kv.Txn) error {
					_, err := s.CompleteWithChildren(tx.Context(), QueueSrc, "/a0", TraversalStatusSuccessful, combineKids("/a0"))
					if !errors.Is(err, c.wantErr) {
						return fmt.Errorf("CompleteWithChildren from inside the Update = %v, want %v", err, c.wantErr)
					}
					return nil
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(10 * time.Second):
				cb.handOn() // let the call lead its group, so that the test ends
				<-done
				t.Fatal("a call from inside an Update waited for a group")
			}
			n, err := s.Get(ctx, QueueSrc, "/a0")
			if err != nil || n.Traversal != c.want {
				t.Errorf("/a0: %v, %v; want %s", n.Traversal, err, c.want)
			}
		})
	}
}

// A caller alone does not yield before its commit (nobody is on the way
// to join it); once a group had company, the next leader yields, and
// after a group of one again it stops.
func TestCombinerYieldsOnlyWithCompany(t *testing.T) {
	s := combineStore(t, 6)
	ctx := context.Background()
	cb := s.combinerFor(QueueSrc)
	yields := func() int {
		cb.mu.Lock()
		defer cb.mu.Unlock()
		return cb.yields
	}
	complete := func(path string) {
		t.Helper()
		if _, err := s.CompleteWithChildren(ctx, QueueSrc, path, TraversalStatusSuccessful, combineKids(path)); err != nil {
			t.Fatal(err)
		}
	}
	complete("/a0")
	complete("/a1")
	if n := yields(); n != 0 {
		t.Fatalf("one caller, two calls: %d yields, want 0", n)
	}

	// A group of two: hold the combiner busy while two calls queue.
	cb.mu.Lock()
	cb.busy = true
	cb.mu.Unlock()
	done := make(chan error, 2)
	for _, p := range []string{"/a2", "/a3"} {
		go func() {
			_, err := s.CompleteWithChildren(ctx, QueueSrc, p, TraversalStatusSuccessful, combineKids(p))
			done <- err
		}()
	}
	waitWaiting(t, cb, 2)
	cb.mu.Lock()
	cb.waiting[0].lead <- struct{}{}
	cb.mu.Unlock()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := yields(); n != 1 {
		t.Fatalf("a leader that waited: %d yields, want 1", n)
	}
	complete("/a4") // after a group of two: yields, commits alone
	complete("/a5") // after a group of one: does not
	if n := yields(); n != 2 {
		t.Fatalf("after a group of two and then one: %d yields, want 2", n)
	}
	rep, err := s.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("Check: %v %q", err, rep.Problems)
	}
}
