package nodestore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/polykv/polykv/kv"
)

// Concurrent CompleteWithChildren calls share commits.
//
// The engine's workers complete one folder at a time, each in its own
// goroutine. Alone, every call pays one transaction; a store's writers
// commit one after the other (kv's writer lock), so sixteen workers wait
// in line for sixteen commits. Instead, the calls of one queue type that
// arrive while a completion is being committed wait together, and the
// first of them, once the commit before it is done, applies all of them
// with one completeBatch: one transaction for the group, chunked as
// CompleteBatch chunks, each completion still atomic (its parent's
// status, its children and its counts in one transaction, never split)
// and each caller told its own outcome. A call on an idle store is a
// group of one: the same single transaction as before, and no wait.
//
// What a caller sees is what it saw with a transaction of its own: it
// returns after the transaction holding its completion committed (or
// failed, with nothing of the completion applied); another call's invalid
// child or missing parent is that call's error, not its own. Two calls
// that race have no order between them either way.
//
// Contexts: a call whose context ends while it still waits for a group
// leaves it and returns the context's error, nothing applied. Once its
// group is being committed it waits for the outcome, so that an error
// still means that nothing was applied: the group's commit is cancelled
// only when the context of every call in it has ended.

// maxCombined bounds the calls one group takes (completeBatch chunks
// them further by the store's limits).
const maxCombined = 1024

// combiner gathers the concurrent completions of one queue type.
type combiner struct {
	mu      sync.Mutex
	busy    bool            // a group is being committed
	waiting []*combinedCall // arrived since, in order
	// company: the last group had more than one call, so other callers
	// are about and a leader yields before taking its group.
	company bool
	yields  int // leaders that yielded (read by tests)
}

// combinedCall is one CompleteWithChildren call in a combiner.
type combinedCall struct {
	ctx  context.Context
	comp Completion
	// lead is signalled when this call is to commit the next group.
	lead chan struct{}
	// done is closed once res and err are set.
	done chan struct{}
	res  CompletionResult
	err  error
}

// complete applies c through cb, with the calls that arrive meanwhile.
func (s *Store) complete(ctx context.Context, q QueueType, cb *combiner, c Completion) (CompletionResult, error) {
	if err := ctx.Err(); err != nil {
		return CompletionResult{}, err
	}
	call := &combinedCall{ctx: ctx, comp: c, lead: make(chan struct{}, 1), done: make(chan struct{})}
	cb.mu.Lock()
	yield := cb.company
	if cb.busy {
		yield = true // others are committing: not alone
		cb.waiting = append(cb.waiting, call)
		cb.mu.Unlock()
		select {
		case <-call.lead:
		case <-call.done:
			return call.res, call.err
		case <-ctx.Done():
			if cb.leave(call) {
				return CompletionResult{}, ctx.Err()
			}
			// Taken into a group already: wait for it (or lead it).
			select {
			case <-call.lead:
			case <-call.done:
				return call.res, call.err
			}
		}
		// Leading: the group is every call waiting, this one first.
		cb.mu.Lock()
	}
	cb.busy = true
	// Before taking the group, let the goroutines that are runnable reach
	// the queue: on a local engine without sync a commit is short and
	// CPU-bound, so the callers released by the last one are often still
	// on their way. Measured (traverse-gen-workers, 8 goroutines, pebble,
	// 20,000 nodes): 3.3 completions per group without the yield, 5.9 with
	// it. A caller alone (its last group was a group of one, and it found
	// the combiner idle) does not yield: nobody is on the way, and the
	// yield, which wakes another thread, was 7% of the CPU of one
	// goroutine calling CompleteWithChildren on the memory backend.
	if yield {
		cb.yields++
		cb.mu.Unlock()
		runtime.Gosched()
		cb.mu.Lock()
	}
	group := cb.take(call)
	cb.company = len(group) > 1
	cb.mu.Unlock()
	// Deferred: a panic in the commit (a kv.Store wrapper's, say) must
	// not leave the combiner busy with no leader, which would hang every
	// later call.
	defer cb.handOn()
	s.commitGroup(q, group)
	return call.res, call.err
}

// handOn ends a leader's turn: the first call waiting leads the next
// group, or the combiner is idle.
func (cb *combiner) handOn() {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if len(cb.waiting) > 0 {
		// Still in cb.waiting: take removes it.
		cb.waiting[0].lead <- struct{}{}
	} else {
		cb.busy = false
	}
}

// take returns the next group, led by call: call first, then the calls
// waiting, up to maxCombined in all. The caller holds cb.mu.
func (cb *combiner) take(call *combinedCall) []*combinedCall {
	group := []*combinedCall{call}
	rest := cb.waiting[:0]
	for _, w := range cb.waiting {
		if w != call && len(group) < maxCombined {
			group = append(group, w)
		} else if w != call {
			rest = append(rest, w)
		}
	}
	clear(cb.waiting[len(rest):])
	cb.waiting = rest
	return group
}

// leave removes call from the waiting calls, reporting whether it was
// there (false: a group has taken it).
func (cb *combiner) leave(call *combinedCall) bool {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	for i, w := range cb.waiting {
		if w == call {
			if i == 0 {
				// A lead signal may be on its way to this call: drain it
				// and pass it on.
				select {
				case <-call.lead:
					if len(cb.waiting) > 1 {
						cb.waiting[1].lead <- struct{}{}
					} else {
						cb.busy = false
					}
				default:
				}
			}
			cb.waiting = append(cb.waiting[:i], cb.waiting[i+1:]...)
			return true
		}
	}
	return false
}

// commitGroup applies the group's completions with one completeBatch and
// gives each call its outcome.
func (s *Store) commitGroup(q QueueType, group []*combinedCall) {
	ctx, stop := groupContext(group)
	defer stop()
	settled := false
	defer func() {
		if settled {
			return
		}
		// completeBatch panicked: the panic goes on in the leader's
		// goroutine, and every other call of the group returns an error
		// instead of waiting forever. Whether the commit happened is not
		// known (the panic may have come after it).
		for _, c := range group {
			select {
			case <-c.done:
			default:
				c.res, c.err = CompletionResult{}, errGroupPanicked
				close(c.done)
			}
		}
	}()
	comps := make([]Completion, len(group))
	for i, c := range group {
		comps[i] = c.comp
	}
	res, _, err := s.completeBatch(ctx, q, comps)
	for i, c := range group {
		c.res, c.err = res[i], res[i].Err
		if errors.Is(c.err, errNotCommitted) {
			c.err = err // its chunk failed: the store's (or context's) error
		}
		if c.err != nil {
			c.res = CompletionResult{}
		}
		close(c.done)
	}
	settled = true
}

// errGroupPanicked is the error of the calls whose group's commit panicked
// in another call's goroutine.
var errGroupPanicked = fmt.Errorf("nodestore: the commit of a group of completions panicked in the goroutine of another call: %w", kv.ErrOutcomeUnknown)

// combinerFor returns the combiner of queue q (valid).
func (s *Store) combinerFor(q QueueType) *combiner {
	if q == QueueSrc {
		return &s.combiners[1]
	}
	return &s.combiners[0]
}

// groupContext returns a context for a group's commit: the values of its
// first call's context; done only once the context of every call in the
// group is done, with the error of the last to end (a deadline stays a
// deadline: context.DeadlineExceeded, not Canceled, for the engine to
// report as such); and the latest of their deadlines, or none when one
// of them has none (the engine then applies its own default). stop
// releases it. A group of one call commits with that call's context.
func groupContext(group []*combinedCall) (ctx context.Context, stop func()) {
	if len(group) == 1 {
		return group[0].ctx, func() {}
	}
	g := &groupCtx{Context: context.WithoutCancel(group[0].ctx), done: make(chan struct{}), left: len(group)}
	g.hasDeadline = true
	for _, c := range group {
		d, ok := c.ctx.Deadline()
		if !ok {
			g.hasDeadline = false
		} else if d.After(g.deadline) {
			g.deadline = d
		}
	}
	if !g.hasDeadline {
		g.deadline = time.Time{}
	}
	stops := make([]func() bool, 0, len(group))
	for _, c := range group {
		cc := c.ctx
		stops = append(stops, context.AfterFunc(cc, func() { g.end(cc.Err()) }))
	}
	return g, func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// groupCtx is groupContext's context. Its Done channel is its own (not a
// context package cancelCtx's), so that contexts derived from it take
// its Err when it ends.
type groupCtx struct {
	context.Context // the values; never done
	deadline        time.Time
	hasDeadline     bool
	done            chan struct{}

	mu   sync.Mutex
	left int   // calls whose context has not ended
	err  error // set when the last one ends
}

func (g *groupCtx) Deadline() (time.Time, bool) { return g.deadline, g.hasDeadline }
func (g *groupCtx) Done() <-chan struct{}       { return g.done }

func (g *groupCtx) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// end records that one call's context ended with err.
func (g *groupCtx) end(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.left--
	if g.left == 0 && g.err == nil {
		g.err = err
		close(g.done)
	}
}
