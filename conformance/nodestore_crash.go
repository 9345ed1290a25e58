package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// NodestoreCrashWorkload is a CrashWorkload for RunCrash that drives
// nodestore the way the engine does: transaction i completes the i-th
// folder of a fixed tree in breadth-first order together with all its
// children (CompleteWithChildren); a child process first seeds the root if
// needed and resumes at the first folder still pending. Once every folder
// is completed it returns ErrWorkloadExhausted.
//
// After each kill, Check verifies that the completed folders are exactly a
// prefix of the order (no gap), that each completed folder has all of its
// children and every other folder none (nothing half applied), and that
// nodestore.Check finds the store consistent: every node in exactly one
// status key, path keys and children index in agreement, counters equal to
// a scan.
//
// Fanout and Depth size the tree; zero means the default tree: 4
// subfolders per folder down to depth 6, 3 files each: 5,461 folders,
// enough for about 50 kill cycles in which every commit survives (Sync)
// before the workload is exhausted (ErrWorkloadExhausted). A networked
// store, where Check's reads of every folder are round trips, takes a
// smaller one.
type NodestoreCrashWorkload struct {
	Fanout, Depth int
}

var _ CrashWorkload = NodestoreCrashWorkload{}

// The default crash tree.
const (
	nsCrashFanout = 4
	nsCrashDepth  = 6
	nsCrashFiles  = 3
)

func (w NodestoreCrashWorkload) shape() (fanout, depth int) {
	fanout, depth = w.Fanout, w.Depth
	if fanout <= 0 {
		fanout = nsCrashFanout
	}
	if depth <= 0 {
		depth = nsCrashDepth
	}
	return fanout, depth
}

var nsCrashOrders sync.Map // [2]int{fanout, depth} -> []string

// order returns the folders of the tree, breadth first.
func (w NodestoreCrashWorkload) order() []string {
	fanout, depth := w.shape()
	if o, ok := nsCrashOrders.Load([2]int{fanout, depth}); ok {
		return o.([]string)
	}
	order := []string{"/"}
	for i := 0; i < len(order); i++ {
		if nsDepth(order[i]) >= depth {
			continue
		}
		for c := range fanout {
			order = append(order, nsJoin(order[i], fmt.Sprintf("d%d", c)))
		}
	}
	nsCrashOrders.Store([2]int{fanout, depth}, order)
	return order
}

func nsDepth(p string) int {
	if p == "/" {
		return 0
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			n++
		}
	}
	return n
}

func (w NodestoreCrashWorkload) children(folder string) []nodestore.Node {
	fanout, depth := w.shape()
	d := nsDepth(folder)
	var kids []nodestore.Node
	if d < depth {
		for c := range fanout {
			kids = append(kids, nodestore.Node{Traversal: nsP, Copy: nsCP,
				State: nsGenState(nodestore.QueueSrc, folder, fmt.Sprintf("d%d", c), true, d+1)})
		}
	}
	for f := range nsCrashFiles {
		kids = append(kids, nodestore.Node{Traversal: nsS, Copy: nsCP,
			State: nsGenState(nodestore.QueueSrc, folder, fmt.Sprintf("f%d", f), false, d+1)})
	}
	return kids
}

// Child seeds the root if needed and completes folders from the first
// pending one.
func (w NodestoreCrashWorkload) Child(ctx context.Context, s kv.Store, ack func(i int)) error {
	ns := nodestore.New(s)
	if _, err := ns.Get(ctx, nodestore.QueueSrc, "/"); errors.Is(err, nodestore.ErrNotFound) {
		st := nsGenState(nodestore.QueueSrc, "", "", true, 0)
		st.Path, st.Name, st.ParentPath, st.ParentID = "/", "root", "", ""
		if err := ns.Insert(ctx, nodestore.Node{Queue: nodestore.QueueSrc, Traversal: nsP, Copy: nsCP, State: st}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	order := w.order()
	next := len(order)
	for i, f := range order {
		n, err := ns.Get(ctx, nodestore.QueueSrc, f)
		if err != nil {
			return fmt.Errorf("resume: folder %d %s: %w", i, f, err)
		}
		if n.Traversal != nsS {
			next = i
			break
		}
	}
	for i := next; i < len(order) && ctx.Err() == nil; i++ {
		res, err := ns.CompleteWithChildren(ctx, nodestore.QueueSrc, order[i], nsS, w.children(order[i]))
		if err != nil {
			return err
		}
		if len(res.Skipped) != 0 {
			return fmt.Errorf("folder %d %s: %d children already there before its completion", i, order[i], len(res.Skipped))
		}
		ack(i)
	}
	if ctx.Err() != nil {
		return nil
	}
	return ErrWorkloadExhausted // every folder is completed
}

// Check verifies the prefix property, the completeness of every completed
// folder and nodestore's own invariants.
func (w NodestoreCrashWorkload) Check(t testing.TB, s kv.Store, lastAck int) CrashResult {
	ctx := context.Background()
	ns := nodestore.New(s)
	var res CrashResult
	add := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }
	rep, err := ns.Check(ctx)
	if err != nil {
		add("nodestore.Check: %v", err)
		return res
	}
	for _, p := range rep.Problems {
		add("nodestore.Check: %s", p)
	}
	order := w.order()
	done := true
	want := 0
	for i, f := range order {
		n, err := ns.Get(ctx, nodestore.QueueSrc, f)
		switch {
		case errors.Is(err, nodestore.ErrNotFound):
			// Missing is fine for the root (nothing committed) and for a
			// folder whose parent is not completed.
			if done && i > 0 {
				add("folder %d %s is missing although folders 0..%d are completed", i, f, i-1)
			}
			done = false
			continue
		case err != nil:
			add("Get(%s): %v", f, err)
			return res
		}
		want++ // the folder itself
		kids, err := ns.Children(ctx, nodestore.QueueSrc, f)
		if err != nil {
			add("Children(%s): %v", f, err)
			return res
		}
		completed := n.Traversal == nsS
		switch {
		case completed && !done:
			add("folder %d %s is completed after a folder that is not (a gap)", i, f)
		case completed && len(kids) != len(w.children(f)):
			add("folder %d %s is completed with %d of its %d children (half applied)", i, f, len(kids), len(w.children(f)))
		case !completed && len(kids) != 0:
			add("folder %d %s is %s but has %d children (half applied)", i, f, n.Traversal, len(kids))
		}
		if completed && done {
			res.Committed = i + 1
			want += len(kids) - w.fanoutOf(f) // files; subfolders are counted as folders
		} else {
			done = false
		}
	}
	if got := rep.Nodes[nodestore.QueueSrc]; got != want {
		add("%d src nodes, want %d for %d completed folders", got, want, res.Committed)
	}
	return res
}

func (w NodestoreCrashWorkload) fanoutOf(folder string) int {
	fanout, depth := w.shape()
	if nsDepth(folder) < depth {
		return fanout
	}
	return 0
}
