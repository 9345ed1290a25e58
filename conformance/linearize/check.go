package linearize

import (
	"fmt"
	"hash/fnv"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// state is the model's state: the value of every key present. Steps never
// modify a state; they copy it.
type state map[string]string

// apply runs the steps of o on st. ok is false when a read does not match
// st: the operation cannot take effect in that state.
func apply(st state, o *Op) (next state, ok bool) {
	next = st
	copied := false
	mutate := func() {
		if !copied {
			next = maps.Clone(st)
			if next == nil {
				next = state{}
			}
			copied = true
		}
	}
	for i := range o.Steps {
		s := &o.Steps[i]
		switch s.Kind {
		case Read:
			v, found := next[string(s.Key)]
			if found != s.Found || found && v != string(s.Value) {
				return st, false
			}
		case Write:
			mutate()
			next[string(s.Key)] = string(s.Value)
		case Delete:
			if _, found := next[string(s.Key)]; found {
				mutate()
				delete(next, string(s.Key))
			}
		case Scan:
			if !scanMatches(next, s) {
				return st, false
			}
		case DeleteRange:
			for k := range next {
				if inRange(k, s.Key, s.Upper) {
					mutate()
					delete(next, k)
				}
			}
		}
	}
	return next, true
}

func inRange(k string, lower, upper []byte) bool {
	return k >= string(lower) && (len(upper) == 0 || k < string(upper))
}

// scanMatches reports whether the keys of st in the scan's range are
// exactly the ones it saw, with the values it saw.
func scanMatches(st state, s *Step) bool {
	n := 0
	for k := range st {
		if inRange(k, s.Key, s.Upper) {
			n++
		}
	}
	if n != len(s.Seen) {
		return false
	}
	for _, p := range s.Seen {
		v, found := st[string(p.Key)]
		if !found || !s.KeysOnly && v != string(p.Value) {
			return false
		}
	}
	return true
}

// model is the porcupine specification: Input is *Op, Output unused (the
// outcome is in the Op).
var model = porcupine.Model{
	Init: func() any { return state{} },
	Step: func(st, in, _ any) (bool, any) {
		o := in.(*Op)
		next, ok := apply(st.(state), o)
		if o.Unknown() {
			// It may not have taken effect at all: when its reads do not
			// match it simply did not commit. (When they do, taking effect
			// is never the wrong choice: an operation that never returns
			// can be placed after every other.)
			return true, next
		}
		return ok, next
	},
	Equal: func(a, b any) bool { return maps.Equal(a.(state), b.(state)) },
	Hash: func(st any) uint64 {
		var sum uint64
		for k, v := range st.(state) {
			h := fnv.New64a()
			h.Write([]byte(k))
			h.Write([]byte{0})
			h.Write([]byte(v))
			sum += h.Sum64()
		}
		return sum
	},
	DescribeOperation: func(in, _ any) string { return in.(*Op).String() },
	DescribeState: func(st any) string {
		keys := make([]string, 0, len(st.(state)))
		for k := range st.(state) {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%q=%q ", k, abbrev([]byte(st.(state)[k])))
		}
		return b.String()
	},
}

// Result is what Check found.
type Result struct {
	// Outcome is porcupine's verdict: Ok, Illegal (not linearizable) or
	// Unknown (the check ran out of time, or the history holds an
	// operation the model cannot express).
	Outcome porcupine.CheckResult
	// Ops and Partitions count what was checked; Pending counts the
	// operations whose outcome is unknown.
	Ops, Partitions, Pending int
	// Problem explains an outcome other than Ok: for Illegal, the keys of
	// the first group of operations that cannot be linearized, how far the
	// longest linearization got, and the operations of the group.
	Problem string

	info  porcupine.LinearizationInfo
	model porcupine.Model
}

// Ok reports whether the history is linearizable.
func (r Result) Ok() bool { return r.Outcome == porcupine.Ok }

// Illegal reports whether the history is proven not linearizable.
func (r Result) Illegal() bool { return r.Outcome == porcupine.Illegal }

// String summarizes r.
func (r Result) String() string {
	s := fmt.Sprintf("linearize: %d operations (%d pending) in %d groups: %s", r.Ops, r.Pending, r.Partitions, r.Outcome)
	if r.Problem != "" {
		s += ": " + r.Problem
	}
	return s
}

// Visualize writes porcupine's HTML view of the failing group to path.
func (r Result) Visualize(path string) error {
	if r.model.Init == nil {
		return fmt.Errorf("linearize: no failing group to visualize")
	}
	return porcupine.VisualizePath(r.model, r.info, path)
}

// Check checks that ops are linearizable, giving up after timeout (then the
// Outcome is Unknown).
func Check(ops []Op, timeout time.Duration) Result {
	res := Result{Ops: len(ops)}
	for _, o := range ops {
		if o.Unknown() {
			res.Pending++
		}
		if o.Unchecked != "" {
			res.Outcome = porcupine.Unknown
			res.Problem = "the history cannot be checked: " + o.Unchecked
			return res
		}
	}
	groups := partition(ops)
	res.Partitions = len(groups)
	deadline := time.Now().Add(timeout)
	for _, g := range groups {
		hist := make([]porcupine.Operation, len(g))
		for i, o := range g {
			hist[i] = porcupine.Operation{ClientId: o.Client, Input: o, Call: o.Call, Return: o.Return}
		}
		left := time.Until(deadline)
		if left <= 0 {
			res.Outcome = porcupine.Unknown
			res.Problem = fmt.Sprintf("ran out of time after %v", timeout)
			return res
		}
		out, info := porcupine.CheckOperationsVerbose(model, hist, left)
		switch out {
		case porcupine.Ok:
			continue
		case porcupine.Unknown:
			res.Outcome = out
			res.Problem = fmt.Sprintf("ran out of time after %v on a group of %d operations", timeout, len(g))
			return res
		}
		res.Outcome = out
		res.info, res.model = info, model
		res.Problem = explain(g, info)
		return res
	}
	res.Outcome = porcupine.Ok
	return res
}

// explain describes a group that cannot be linearized.
func explain(g []*Op, info porcupine.LinearizationInfo) string {
	keys := map[string]bool{}
	for _, o := range g {
		for _, s := range o.Steps {
			switch s.Kind {
			case Read, Write, Delete:
				keys[string(s.Key)] = true
			case Scan:
				for _, p := range s.Seen {
					keys[string(p.Key)] = true
				}
			}
		}
	}
	var names []string
	for k := range keys {
		names = append(names, fmt.Sprintf("%q", k))
	}
	sort.Strings(names)
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("... %d keys", len(keys)))
	}
	longest := 0
	for _, part := range info.PartialLinearizations() {
		for _, lin := range part {
			longest = max(longest, len(lin))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no order of the %d operations on keys %s explains what they saw (the longest linearization places %d of them); the operations by start:",
		len(g), strings.Join(names, " "), longest)
	t0 := g[0].Call
	for i, o := range g {
		if i == 40 {
			fmt.Fprintf(&b, "\n  ... %d more", len(g)-i)
			break
		}
		ret := "never returns"
		if !o.Unknown() {
			ret = fmt.Sprintf("+%v", time.Duration(o.Return-t0))
		}
		fmt.Fprintf(&b, "\n  +%v..%s %s", time.Duration(o.Call-t0), ret, o)
	}
	return b.String()
}

// partition splits ops into groups that share no key, each sorted by
// start: a point step touches its key, a range step every key of the
// history inside its range.
func partition(ops []Op) [][]*Op {
	set := map[string]bool{}
	for _, o := range ops {
		for _, s := range o.Steps {
			switch s.Kind {
			case Read, Write, Delete:
				set[string(s.Key)] = true
			case Scan:
				for _, p := range s.Seen {
					set[string(p.Key)] = true
				}
			}
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	parent := make([]int, len(keys))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		if ra, rb := find(a), find(b); ra != rb {
			parent[ra] = rb
		}
	}
	first := make([]int, len(ops)) // a key of each op, or -1
	for i, o := range ops {
		first[i] = -1
		touch := func(k int) {
			if first[i] < 0 {
				first[i] = k
			} else {
				union(first[i], k)
			}
		}
		for _, s := range o.Steps {
			switch s.Kind {
			case Read, Write, Delete:
				touch(index[string(s.Key)])
			case Scan, DeleteRange:
				lo := sort.SearchStrings(keys, string(s.Key))
				hi := len(keys)
				if len(s.Upper) > 0 {
					hi = sort.SearchStrings(keys, string(s.Upper))
				}
				for k := lo; k < hi; k++ {
					touch(k)
				}
			}
		}
	}
	byRoot := map[int][]*Op{}
	var roots []int
	for i := range ops {
		if first[i] < 0 {
			continue // a range step over keys nobody ever had: nothing to check
		}
		r := find(first[i])
		if _, ok := byRoot[r]; !ok {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], &ops[i])
	}
	groups := make([][]*Op, 0, len(roots))
	for _, r := range roots {
		g := byRoot[r]
		sort.SliceStable(g, func(i, j int) bool { return g[i].Call < g[j].Call })
		groups = append(groups, g)
	}
	return groups
}
