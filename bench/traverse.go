package bench

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// The traverse workloads run the migration engine's breadth-first
// traversal through nodestore, as the engine does:
//
//   - src pass: seed the root; for each level, pull the pending nodes page
//     by page (PendingPage, a resumable cursor); list the children of each
//     folder and complete the page's folders with their children and its
//     files in one call (CompleteBatch: each folder atomic, the page in as
//     few transactions as the chunk size allows); then count what is left
//     pending at the level (PendingAt, must be 0) before the next level.
//     traverse-gen-folder does the same with one CompleteWithChildren per
//     folder and one BatchSetStatus for the page's files.
//   - dst pass: the same traversal of a destination tree that lacks every
//     25th file of the source, where each destination folder is compared
//     with its source folder by fetching the source children: those of a
//     page's folders with one ChildrenMany (traverse-gen, traverse-dir),
//     or one Children per folder (traverse-gen-folder, -workers).
//
// The tree is built in the load phase (generated, or read from a real
// directory) and listed from memory in the measured phase, so the timing is
// the store's. The run verifies that every node was traversed exactly once
// in each pass, that every level ends with nothing pending and the
// per-level counts match the tree, and that the comparison found exactly
// the missing files. Besides the peak RSS of every workload, they report
// the largest RssAnon and RssFile seen after each page (rss_anon_max_MiB,
// rss_file_max_MiB): the heap against the resident pages of memory-mapped
// files (bbolt's data file, Badger's tables and memtable logs), which the
// kernel can reclaim and VmHWM counts all the same.

const (
	traverseDefault = 200_000
	traverseFanout  = 10
	traverseDepth   = 12
	traversePage    = 1000 // Spec.Page's default
	// dstMissEvery: the destination lacks every 25th file of the source.
	dstMissEvery = 25
	// bigFolder: folders with more children than this are inserted with
	// BatchInsertNodes (chunked) and completed with SetStatus, as
	// CompleteWithChildren must fit one transaction.
	bigFolder = 10_000
)

func init() {
	register(Workload{
		Name:        "traverse-gen",
		Group:       "traverse",
		DefaultSize: traverseDefault,
		Doc: fmt.Sprintf("BFS traversal through nodestore of a generated tree of --size nodes (fan-out %d, a third folders, "+
			"depth ≤ %d; --skew for a few huge folders), then a dst pass comparing with src; unit: node (src+dst)",
			traverseFanout, traverseDepth),
		Run: func(e *Env) error {
			n := e.Spec.sizeOr(traverseDefault)
			var t *tree
			err := e.Load(0, func() (err error) {
				t, err = genTree(e.Rand("tree"), n, traverseFanout, traverseDepth, e.Spec.Skew)
				return err
			})
			if err != nil {
				return err
			}
			return runTraverse(e, t, perPage)
		},
	})
	register(Workload{
		Name:        "traverse-gen-folder",
		Group:       "traverse",
		DefaultSize: traverseDefault,
		Doc: "traverse-gen with one CompleteWithChildren transaction per folder and one BatchSetStatus per page of files " +
			"(the shape before CompleteBatch), to compare with traverse-gen's CompleteBatch per page; unit: node (src+dst)",
		Run: func(e *Env) error {
			n := e.Spec.sizeOr(traverseDefault)
			var t *tree
			err := e.Load(0, func() (err error) {
				t, err = genTree(e.Rand("tree"), n, traverseFanout, traverseDepth, e.Spec.Skew)
				return err
			})
			if err != nil {
				return err
			}
			return runTraverse(e, t, perFolder)
		},
	})
	register(Workload{
		Name:        "traverse-gen-workers",
		Group:       "traverse",
		DefaultSize: traverseDefault,
		Doc: fmt.Sprintf("traverse-gen-folder with each page's folders shared by --producers goroutines (default %d), "+
			"each calling CompleteWithChildren per folder (an engine's worker pool; nodestore commits concurrent calls together); unit: node (src+dst)", traverseWorkers),
		Run: func(e *Env) error {
			n := e.Spec.sizeOr(traverseDefault)
			var t *tree
			err := e.Load(0, func() (err error) {
				t, err = genTree(e.Rand("tree"), n, traverseFanout, traverseDepth, e.Spec.Skew)
				return err
			})
			if err != nil {
				return err
			}
			return runTraverse(e, t, perFolderWorkers)
		},
	})
	register(Workload{
		Name:        "traverse-dir",
		Group:       "traverse",
		DefaultSize: 0,
		Doc:         "the same traversal of a real directory tree read in the load phase (--tree; default: GOROOT/src, about 15,000 nodes); --size is ignored; unit: node",
		Run: func(e *Env) error {
			root := e.Spec.Tree
			if root == "" {
				root = goSourceTree()
			}
			var t *tree
			err := e.Load(0, func() error {
				var err error
				var unreadable int
				t, unreadable, err = dirTree(root)
				if err == nil {
					e.Extra("tree_nodes", float64(t.len()))
					if unreadable > 0 {
						e.Extra("unreadable_dirs", float64(unreadable))
					}
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("read tree %s: %w", root, err)
			}
			return runTraverse(e, t, perPage)
		},
	})
}

// goSourceTree returns GOROOT/src, asking the go command when the
// GOROOT this binary was built with is gone.
func goSourceTree() string {
	root := defaultTree()
	if _, err := os.Stat(root); err == nil {
		return root
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		return strings.TrimSpace(string(out)) + "/src"
	}
	return root
}

// completion says how a traversal records a page.
type completion int

const (
	perPage          completion = iota // one CompleteBatch per page
	perFolder                          // one CompleteWithChildren per folder, one BatchSetStatus per page of files
	perFolderWorkers                   // perFolder, the page's folders shared by Spec.Producers goroutines
)

// traverseWorkers is the default number of goroutines of
// traverse-gen-workers.
const traverseWorkers = 8

// traversal runs one pass over one queue.
type traversal struct {
	mode  completion
	e     *Env
	ns    *nodestore.Store
	t     *tree
	q     nodestore.QueueType
	seen  []bool
	skip  func(i int32) bool // nodes absent from this queue's tree
	count []int64            // nodes traversed per level
	ops   int64
	rss   *rssPeaks
	// record takes the latency of each page: its listing and its
	// completion, the wait between them left out (nil: not recorded).
	record func(time.Duration)
	comps  []nodestore.Completion // the page's completions (perPage)
	// srcKids: the src children of the page's folders (dst pass of
	// perPage), by path.
	srcKids map[string][]nodestore.Node
	// dst comparison (atomic: perFolderWorkers compares from many
	// goroutines)
	matched, missing atomic.Int64
}

func runTraverse(e *Env, t *tree, mode completion) error {
	e.SetUnit("node")
	st, err := e.OpenStore()
	if err != nil {
		return err
	}
	ns := nodestore.New(st)
	rss := &rssPeaks{}
	src, dst := newPasses(t, mode, e, ns, rss, e.Record)
	err = e.MeasureFunc(func() (int64, error) {
		if err := src.run(); err != nil {
			return src.ops, fmt.Errorf("src pass: %w", err)
		}
		if err := dst.run(); err != nil {
			return src.ops + dst.ops, fmt.Errorf("dst pass: %w", err)
		}
		return src.ops + dst.ops, nil
	})
	if err != nil {
		return err
	}
	if err := verifyTraversal(e.Ctx, t, ns, src, dst); err != nil {
		return err
	}
	e.Wrote(int64(src.ops+dst.ops) * 150) // about: a node key, its value, its index entry
	e.Extra("levels", float64(len(t.levels)))
	if rss.anon > 0 {
		e.Extra("rss_anon_max_MiB", float64(rss.anon>>20))
		e.Extra("rss_file_max_MiB", float64(rss.file>>20))
	}
	verified := ""
	if e.Spec.Ceiling {
		// The ceiling's replay is timed alone: the measured store's
		// flushes and compactions must not take the machine from it
		// (closing twice is harmless: Env closes it again at the end).
		if err := st.Close(); err != nil {
			return err
		}
		if verified, err = ceiling(e, t, mode); err != nil {
			return err
		}
	}
	e.Verified(verified + fmt.Sprintf("%d src + %d dst nodes traversed exactly once over %d levels, nothing left pending, counts and Check consistent, %d missing dst files found",
		src.ops, dst.ops, len(t.levels), dst.missing.Load()))
	return nil
}

// newPasses returns the src and dst passes of a traversal of t through
// ns; record takes each page's latency (nil: none).
func newPasses(t *tree, mode completion, e *Env, ns *nodestore.Store, rss *rssPeaks, record func(time.Duration)) (src, dst *traversal) {
	src = &traversal{mode: mode, e: e, ns: ns, t: t, q: nodestore.QueueSrc, rss: rss, record: record}
	dst = &traversal{mode: mode, e: e, ns: ns, t: t, q: nodestore.QueueDst, rss: rss, record: record, skip: func(i int32) bool {
		return !t.folder[i] && i%dstMissEvery == 0
	}}
	return src, dst
}

// verifyTraversal checks what the passes did against the tree and the
// store: every node traversed exactly once, the dst comparison's
// matches and misses, each level's successful count in both queues, and
// nodestore.Check.
func verifyTraversal(ctx context.Context, t *tree, ns *nodestore.Store, src, dst *traversal) error {
	var wantMissing int64
	for i := range int32(t.len()) {
		if dst.skip(i) {
			wantMissing++
		}
	}
	for _, p := range []*traversal{src, dst} {
		for i := range int32(t.len()) {
			if !p.seen[i] && (p.skip == nil || !p.skip(i)) {
				return fmt.Errorf("%s: node %d (%s) never traversed", p.q, i, t.path(i))
			}
		}
	}
	if matched, missing := dst.matched.Load(), dst.missing.Load(); missing != wantMissing || matched+missing != int64(t.len()-1) {
		return fmt.Errorf("dst comparison: %d matched, %d missing; want %d missing of %d", matched, missing, wantMissing, t.len()-1)
	}
	// Every node of each level is successful in its queue: src holds the
	// whole tree, dst what its pass traversed (the tree but the files it
	// found missing).
	for level, want := range t.levels {
		got, err := ns.Count(ctx, nodestore.QueueSrc, level, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusPending)
		if err != nil {
			return err
		}
		if got != int64(want) || src.count[level] != int64(want) {
			return fmt.Errorf("src level %d: %d successful nodes counted, %d traversed, tree has %d", level, got, src.count[level], want)
		}
		got, err = ns.Count(ctx, nodestore.QueueDst, level, nodestore.TraversalStatusSuccessful, nodestore.CopyStatusNone)
		if err != nil {
			return err
		}
		if level >= len(dst.count) || got != dst.count[level] {
			return fmt.Errorf("dst level %d: %d successful nodes counted, %v traversed per level", level, got, dst.count)
		}
	}
	rep, err := ns.Check(ctx)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("nodestore check: %d problems, first: %s", len(rep.Problems), rep.Problems[0])
	}
	return nil
}

// node returns node i of the tree as the engine would list it: parentPath
// and parentID are its parent's (as pulled from the store), empty for the
// root.
func (p *traversal) node(i int32, level int, parentPath, parentID string) nodestore.Node {
	t := p.t
	n := nodestore.Node{Queue: p.q, Level: level, Traversal: nodestore.TraversalStatusPending, State: nodestore.NodeState{
		ID: strconv.Itoa(int(i)), Name: t.name(i), Type: nodestore.NodeTypeFile,
		Size: t.size[i], Depth: level, CopyNeeded: p.q == nodestore.QueueSrc,
		ParentPath: parentPath, ParentID: parentID,
	}}
	if p.q == nodestore.QueueSrc {
		n.Copy = nodestore.CopyStatusPending
	}
	if t.folder[i] {
		n.State.Type = nodestore.NodeTypeFolder
	}
	switch {
	case i == 0:
		n.State.Name, n.State.Path = "root", "/"
	case parentPath == "/":
		n.State.Path = "/" + t.name(i)
	default:
		n.State.Path = parentPath + "/" + t.name(i)
	}
	return n
}

func (p *traversal) run() error {
	ctx := p.e.Ctx
	p.seen = make([]bool, p.t.len())
	if err := p.ns.Insert(ctx, p.node(0, 0, "", "")); err != nil {
		return fmt.Errorf("seed root: %w", err)
	}
	for level := 0; ; level++ {
		done := 0
		cur := p.fetchPage(ctx, level, "")
		for {
			if cur.err != nil {
				return cur.err
			}
			page := cur.page
			// The next page is listed (and its src children read) while
			// this one is completed: see fetchPage.
			var ahead chan fetchedPage
			if len(page) == p.e.Spec.pageOr(traversePage) {
				ahead = make(chan fetchedPage, 1)
				go func(c nodestore.Cursor) { ahead <- p.fetchPage(ctx, level, c) }(cur.next)
			}
			if err := p.completePage(ctx, level, cur); err != nil {
				if ahead != nil {
					<-ahead
				}
				return err
			}
			done += len(page)
			if ahead == nil {
				break
			}
			cur = <-ahead
		}
		left, err := p.ns.PendingAt(ctx, p.q, level)
		if err != nil {
			return err
		}
		if left != 0 {
			return fmt.Errorf("level %d: %d nodes still pending after the pass", level, left)
		}
		for len(p.count) <= level {
			p.count = append(p.count, 0)
		}
		p.count[level] = int64(done)
		if done == 0 {
			if level <= p.t.maxLevel {
				return fmt.Errorf("level %d: no node found, the tree has %d", level, p.t.levels[level])
			}
			return nil
		}
	}
}

// fetchedPage is a page of pending nodes as fetchPage read it.
type fetchedPage struct {
	page []nodestore.Node
	next nodestore.Cursor
	// srcKids: the src children of the page's folders (dst pass of
	// perPage), read with one ChildrenMany.
	srcKids map[string][]nodestore.Node
	// listing is how long the fetch took: a page's latency is its
	// listing and its completion, not the time it waited between them
	// for the page before it.
	listing time.Duration
	err     error
}

// fetchPage lists the page of pending nodes at level after cursor and, in
// the dst pass of perPage, reads the src children of its folders. run
// calls it for the next page while the current one is completed, as an
// engine that lists ahead of its committer would: the next page's pending
// nodes come after the cursor, which the current page's completions do
// not touch (they move the nodes they complete out of the pending status
// and insert nodes one level down), and src does not change in the dst
// pass. The workload's verification (every node exactly once, the
// counts, nodestore.Check) holds it to that.
func (p *traversal) fetchPage(ctx context.Context, level int, cursor nodestore.Cursor) fetchedPage {
	start := time.Now()
	var f fetchedPage
	f.page, f.next, f.err = p.ns.PendingPage(ctx, p.q, level, cursor, p.e.Spec.pageOr(traversePage))
	if f.err == nil {
		f.srcKids, f.err = p.prefetchChildren(ctx, f.page)
	}
	f.listing = time.Since(start)
	return f
}

// completePage claims and completes the nodes of page f at level.
func (p *traversal) completePage(ctx context.Context, level int, f fetchedPage) error {
	start := time.Now()
	page := f.page
	p.srcKids = f.srcKids
	var files []string
	var folders []listedFolder
	comps := p.comps[:0]
	for _, n := range page {
		i, err := p.claim(n, level)
		if err != nil {
			return err
		}
		switch {
		case p.t.folder[i] && p.mode == perFolderWorkers:
			folders = append(folders, listedFolder{n, i})
		case p.t.folder[i]:
			c, err := p.complete(ctx, n, i, level)
			if err != nil {
				return err
			}
			if c != nil {
				comps = append(comps, *c)
			}
		case p.mode != perPage:
			files = append(files, n.State.Path)
		default:
			comps = append(comps, nodestore.Completion{Path: n.State.Path, Status: nodestore.TraversalStatusSuccessful, Listed: &n})
		}
	}
	if err := p.completeConcurrently(ctx, folders, level); err != nil {
		return err
	}
	p.comps = comps
	if len(comps) > 0 {
		res, err := p.ns.CompleteBatch(ctx, p.q, comps)
		if err != nil {
			return err
		}
		for j, r := range res {
			if r.Err != nil {
				return fmt.Errorf("level %d: %w", level, r.Err)
			}
			if len(r.Skipped) > 0 {
				return fmt.Errorf("complete %s: %d children skipped: %v", comps[j].Path, len(r.Skipped), r.Skipped[0])
			}
		}
	}
	if len(files) > 0 {
		res, err := p.ns.BatchSetStatus(ctx, p.q, files, nodestore.TraversalStatusSuccessful)
		if err != nil {
			return err
		}
		if res.Applied != len(files) {
			return fmt.Errorf("level %d: %d of %d files marked traversed: %v", level, res.Applied, len(files), res.Skipped)
		}
	}
	if p.record != nil {
		p.record(f.listing + time.Since(start))
	}
	p.rss.sample()
	return nil
}

// claim checks a pulled node and marks it seen.
func (p *traversal) claim(n nodestore.Node, level int) (int32, error) {
	id, err := strconv.Atoi(n.State.ID)
	if err != nil || id < 0 || id >= p.t.len() {
		return 0, fmt.Errorf("level %d: node %q has a foreign ID %q", level, n.State.Path, n.State.ID)
	}
	i := int32(id)
	if p.seen[i] {
		return 0, fmt.Errorf("level %d: node %d (%s) traversed twice", level, i, n.State.Path)
	}
	if !p.t.hasPath(i, n.State.Path) || n.Level != level {
		return 0, fmt.Errorf("node %d: path %q level %d, want %q level %d", i, n.State.Path, n.Level, p.t.path(i), level)
	}
	p.seen[i] = true
	p.ops++
	return i, nil
}

// complete lists folder i and compares it with src (dst pass). A folder
// of more than bigFolder children is completed here (chunked insert, then
// SetStatus), and so is every folder in perFolder mode (one
// CompleteWithChildren each); otherwise complete returns the folder's
// completion, for the page's CompleteBatch.
func (p *traversal) complete(ctx context.Context, n nodestore.Node, i int32, level int) (*nodestore.Completion, error) {
	t := p.t
	first, count := t.first[i], t.count[i]
	children := make([]nodestore.Node, 0, count)
	for c := first; c < first+count; c++ {
		if p.skip != nil && p.skip(c) {
			continue
		}
		children = append(children, p.node(c, level+1, n.State.Path, n.State.ID))
	}
	if p.q == nodestore.QueueDst {
		srcKids, ok := p.srcKids[n.State.Path]
		if !ok {
			var err error
			if srcKids, err = p.ns.Children(ctx, nodestore.QueueSrc, n.State.Path); err != nil {
				return nil, fmt.Errorf("fetch src children of %s: %w", n.State.Path, err)
			}
		}
		if len(srcKids) != int(count) {
			return nil, fmt.Errorf("src folder %s has %d children, tree %d", n.State.Path, len(srcKids), count)
		}
		have := make(map[string]bool, len(children))
		for _, c := range children {
			have[c.State.Name] = true
		}
		for _, s := range srcKids {
			if have[s.State.Name] {
				p.matched.Add(1)
			} else {
				p.missing.Add(1)
			}
		}
	}
	switch {
	case len(children) > bigFolder:
		res, err := p.ns.BatchInsertNodes(ctx, insertOps(children))
		if err != nil {
			return nil, err
		}
		if res.Applied != len(children) {
			return nil, fmt.Errorf("folder %s: %d of %d children inserted", n.State.Path, res.Applied, len(children))
		}
		if _, err := p.ns.SetStatus(ctx, p.q, n.State.Path, nodestore.TraversalStatusSuccessful); err != nil {
			return nil, err
		}
	case p.mode != perPage:
		res, err := p.ns.CompleteWithChildren(ctx, p.q, n.State.Path, nodestore.TraversalStatusSuccessful, children)
		if err != nil {
			return nil, fmt.Errorf("complete %s: %w", n.State.Path, err)
		}
		if len(res.Skipped) > 0 {
			return nil, fmt.Errorf("complete %s: %d children skipped: %v", n.State.Path, len(res.Skipped), res.Skipped[0])
		}
	default:
		return &nodestore.Completion{Path: n.State.Path, Status: nodestore.TraversalStatusSuccessful, Children: children, Listed: &n}, nil
	}
	return nil, nil
}

// prefetchChildren reads, in the dst pass of perPage, the src children of
// every folder of the page with one ChildrenMany (a batch form, as the
// page's completions are one CompleteBatch); complete takes them from
// p.srcKids. The per-folder modes read them with Children, folder by
// folder (nil map).
func (p *traversal) prefetchChildren(ctx context.Context, page []nodestore.Node) (map[string][]nodestore.Node, error) {
	if p.q != nodestore.QueueDst || p.mode != perPage {
		return nil, nil
	}
	var paths []string
	for _, n := range page {
		if n.State.Type == nodestore.NodeTypeFolder {
			paths = append(paths, n.State.Path)
		}
	}
	kids, err := p.ns.ChildrenMany(ctx, nodestore.QueueSrc, paths)
	if err != nil {
		return nil, fmt.Errorf("fetch src children of %d folders: %w", len(paths), err)
	}
	srcKids := make(map[string][]nodestore.Node, len(paths))
	for i, path := range paths {
		srcKids[path] = kids[i]
	}
	return srcKids, nil
}

// listedFolder is a folder of a pending page and its tree index.
type listedFolder struct {
	n nodestore.Node
	i int32
}

// completeConcurrently completes folders (perFolderWorkers) from
// Spec.Producers goroutines, each taking the next folder of the page.
func (p *traversal) completeConcurrently(ctx context.Context, folders []listedFolder, level int) error {
	if len(folders) == 0 {
		return nil
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(p.e.Spec.producersOr(traverseWorkers), len(folders)) {
		wg.Go(func() {
			for {
				j := next.Add(1) - 1
				if j >= int64(len(folders)) {
					return
				}
				if _, err := p.complete(ctx, folders[j].n, folders[j].i, level); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					next.Store(int64(len(folders))) // the others stop
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func insertOps(nodes []nodestore.Node) []nodestore.InsertOperation {
	ops := make([]nodestore.InsertOperation, len(nodes))
	for j := range nodes {
		n := &nodes[j]
		ops[j] = nodestore.InsertOperation{QueueType: n.Queue, Level: n.Level, TraversalStatus: n.Traversal, CopyStatus: n.Copy, State: &n.State}
	}
	return ops
}

// rssPeaks keeps the largest RssAnon (heap, stacks) and RssFile (resident
// pages of memory-mapped files) seen after each page of nodes: what the
// peak RSS (VmHWM, both together) is made of.
type rssPeaks struct{ anon, file int64 }

func (r *rssPeaks) sample() {
	a, f := rssSplit()
	r.anon, r.file = max(r.anon, a), max(r.file, f)
}

// ceiling runs the traversal again, unmeasured, on a store of its own
// wrapped by a recorder (reads counted, committed writes logged), then
// replays the log as blind batches (kv.BulkWriter) on a fresh store and
// checks that it ends identical to the recorded one. The batches are of
// the size nodestore's batch operations use on the backend (the faster
// size there), and the replay's time includes reading the log back (a
// sequential read of a file the page cache holds). traverse_vs_ceiling
// is the replay's time over the measured traversal's: the measured pass
// runs without the recorder, and the ceiling's stores and log live
// beside the run's directory, outside its disk usage and write
// amplification (Env.unmeasured). The replay runs alone: the measured
// store and the recorded one are closed before it (runTraverse closes
// the first), so that no other store's background work shares the
// machine with it.
func ceiling(e *Env, t *tree, mode completion) (verified string, err error) {
	err = e.unmeasured(func() error {
		dir, err := e.asideDir()
		if err != nil {
			return err
		}
		st, err := e.openAside(filepath.Join(dir, "recorded"))
		if err != nil {
			return err
		}
		defer st.Close()
		rec, err := newRecorder(st, filepath.Join(dir, "writes.log"))
		if err != nil {
			return err
		}
		ns := nodestore.New(rec)
		src, dst := newPasses(t, mode, e, ns, &rssPeaks{}, nil)
		if err := src.run(); err != nil {
			return fmt.Errorf("ceiling: recorded src pass: %w", err)
		}
		if err := dst.run(); err != nil {
			return fmt.Errorf("ceiling: recorded dst pass: %w", err)
		}
		reads := rec.reads()
		if err := rec.finish(); err != nil {
			return err
		}
		// The recorded store's digest now, and the store closed, so that
		// its flushes and compactions do not run beside the timed replay
		// (on badger they made the replay slower than the traversal).
		want, keys, err := digest(e.Ctx, st)
		if err != nil {
			return err
		}
		if err := st.Close(); err != nil {
			return err
		}
		fresh, err := e.openAside(filepath.Join(dir, "replay"))
		if err != nil {
			return err
		}
		defer fresh.Close()
		chunk := nodestore.SmallChunkBytes
		if e.Spec.Backend == "bbolt" {
			chunk = nodestore.DefaultChunkBytes
		}
		cpu0 := cpuTime()
		took, err := replay(rec.f.Name(), kv.NewBulkWriterSize(e.Ctx, fresh, chunk))
		if err != nil {
			return err
		}
		replayCPU := cpuTime() - cpu0
		got, gotKeys, err := digest(e.Ctx, fresh)
		if err != nil {
			return err
		}
		if got != want || gotKeys != keys {
			return fmt.Errorf("ceiling: the replayed store (%d keys) differs from the recorded one (%d keys)", gotKeys, keys)
		}
		n := float64(src.ops + dst.ops)
		e.Extra("ceiling_node_per_s", n/took.Seconds())
		e.Extra("traverse_vs_ceiling", took.Seconds()/e.measured.Seconds())
		// The same ratio in CPU time (the process's, engine goroutines
		// included): steadier than wall time on a loaded machine.
		if e.cpu > 0 {
			e.Extra("traverse_vs_ceiling_cpu", replayCPU.Seconds()/e.cpu.Seconds())
		}
		e.Extra("kv_gets_per_node", float64(reads.gets)/n)
		e.Extra("kv_scans_per_node", float64(reads.scans)/n)
		e.Extra("kv_scanned_per_node", float64(reads.scanned)/n)
		e.Extra("kv_sets_per_node", float64(rec.sets)/n)
		e.Extra("kv_deletes_per_node", float64(rec.deletes)/n)
		e.Extra("kv_written_B_per_node", float64(rec.bytes)/n)
		verified = fmt.Sprintf("ceiling: %d writes of a second, recorded traversal replayed to a store identical to it (%d keys); ", rec.sets+rec.deletes, keys)
		return nil
	})
	return verified, err
}

// digest hashes every key and value of s, each with its length, in order.
func digest(ctx context.Context, s kv.Store) ([sha256.Size]byte, int64, error) {
	h := sha256.New()
	var n int64
	err := s.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
		var l [8]byte
		binary.BigEndian.PutUint32(l[:4], uint32(len(k)))
		binary.BigEndian.PutUint32(l[4:], uint32(len(v)))
		h.Write(l[:])
		h.Write(k)
		h.Write(v)
		n++
		return nil
	})
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, n, err
}
