package conformance

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// SharedTraversal is a traversal of one generated tree by several workers
// sharing one store, the way engine workers on several machines share one
// cluster: each worker repeatedly finds the lowest level with pending
// folders, claims a few that nobody has claimed (one Update that reads
// each folder's claim key, writes those that are absent, and adds their
// number to a shared counter of claims), lists them and completes them
// with their children (one nodestore.CompleteBatch). A worker goes
// through errors (a lost member, a deadline): a failed call is reported
// and tried again, and a folder whose claim or completion failed is
// resumed by the worker that holds its claim; after a completion that
// failed, each of its folders is read back (a CompleteBatch of several
// transactions may have applied some, and one whose outcome is unknown,
// kv.ErrOutcomeUnknown, may have been applied), and counts as listed if
// it was completed.
//
// If Update is serializable across the workers, every folder is claimed
// and listed exactly once, the counter of claims equals the number of
// folders, and the store holds every node of the tree once, with exact
// counters (CheckShared). RunSharedTraversal runs the workers as separate
// processes; a test may also run Work in goroutines.
//
// The tree: Fanout subfolders per folder down to Depth, Files files in
// every folder.
type SharedTraversal struct {
	Fanout, Depth, Files int
	// CallTimeout bounds each call a worker makes; 0 means 10 s.
	CallTimeout time.Duration
	// ClaimBatch is the most folders a worker claims in one Update and
	// completes in one CompleteBatch (fewer when few are free: at most
	// half of them, so that other workers find some); 0 means 8, 1 one
	// folder at a time.
	ClaimBatch int
	// Workers is how many workers share the traversal, when known:
	// worker i takes first the free folders of its share (those whose
	// path hashes to i modulo Workers), then the others', so that workers
	// rarely race for one folder until a level runs out, and a slow or
	// stopped worker's share still gets done. 0 or 1: every worker takes
	// the free folders in a random order. RunSharedTraversal sets it to
	// its number of workers unless NoShares.
	Workers int
	// NoShares keeps Workers at 0 in RunSharedTraversal: workers race for
	// every folder, the harshest test of a store's serializability.
	NoShares bool
	// Nodestore are the options of the workers' nodestore.Store (nil:
	// the defaults). With CounterStripes off, every worker's completions
	// read and write the same counters: a lost update there shows in
	// nodestore.Check, which stripes would hide from it.
	Nodestore *nodestore.Options
	// NoClaimCounter leaves out the counter of claims: for measurements.
	// The counter is the lost-update check of the correctness tests, and
	// the traversal's hottest key (every claim reads and writes it).
	NoClaimCounter bool
}

// Keys of the claims: work/claim/<level>/<path>, and the counter
// work/claims. The prefix "work/" is what the histories record.
const (
	sharedPrefix     = "work/"
	sharedClaimsKey  = "work/claims"
	sharedClaimEvery = 20 * time.Millisecond // poll interval while others hold every pending folder
)

func sharedClaimPrefix(level int) []byte {
	return fmt.Appendf(nil, "work/claim/%04d/", level)
}

func (w SharedTraversal) withDefaults() SharedTraversal {
	if w.Fanout <= 0 {
		w.Fanout = 3
	}
	if w.Depth <= 0 {
		w.Depth = 4
	}
	if w.Files < 0 {
		w.Files = 0
	}
	if w.CallTimeout <= 0 {
		w.CallTimeout = 10 * time.Second
	}
	if w.ClaimBatch <= 0 {
		w.ClaimBatch = 8
	}
	return w
}

// Folders returns every folder path of the tree, breadth first.
func (w SharedTraversal) Folders() []string {
	w = w.withDefaults()
	order := []string{"/"}
	for i := 0; i < len(order); i++ {
		if nsDepth(order[i]) >= w.Depth {
			continue
		}
		for c := range w.Fanout {
			order = append(order, nsJoin(order[i], fmt.Sprintf("d%d", c)))
		}
	}
	return order
}

func (w SharedTraversal) children(folder string) []nodestore.Node {
	d := nsDepth(folder)
	var kids []nodestore.Node
	if d < w.Depth {
		for c := range w.Fanout {
			kids = append(kids, nodestore.Node{Traversal: nsP, Copy: nsCP,
				State: nsGenState(nodestore.QueueSrc, folder, fmt.Sprintf("d%d", c), true, d+1)})
		}
	}
	for f := range w.Files {
		kids = append(kids, nodestore.Node{Traversal: nsS, Copy: nsCP,
			State: nsGenState(nodestore.QueueSrc, folder, fmt.Sprintf("f%d", f), false, d+1)})
	}
	return kids
}

// Seed inserts the root folder, pending, unless it is there.
func (w SharedTraversal) Seed(ctx context.Context, s kv.Store) error {
	ns := nodestore.NewWithOptions(s, w.Nodestore)
	_, err := ns.Get(ctx, nodestore.QueueSrc, "/")
	if !errors.Is(err, nodestore.ErrNotFound) {
		return err
	}
	st := nsGenState(nodestore.QueueSrc, "", "", true, 0)
	st.Path, st.Name, st.ParentPath, st.ParentID = "/", "root", "", ""
	return ns.Insert(ctx, nodestore.Node{Queue: nodestore.QueueSrc, Traversal: nsP, Copy: nsCP, State: st})
}

// SharedEvent is what a worker reports as it goes.
type SharedEvent struct {
	// Listed is the folder whose completion returned nil.
	Listed string
	// Err is a failed call, which took Elapsed (the worker goes on).
	Err     error
	Elapsed time.Duration
}

// Work runs one worker until the tree is traversed or ctx is done. worker
// names it in its claims. Errors of single calls go to report and the
// worker goes on; Work returns ctx's error if the tree is not traversed
// by then.
func (w SharedTraversal) Work(ctx context.Context, s kv.Store, worker int, report func(SharedEvent)) error {
	w = w.withDefaults()
	ns := nodestore.NewWithOptions(s, w.Nodestore)
	me := "w" + strconv.Itoa(worker)
	rng := rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))
	// call runs one call under CallTimeout and reports its failure.
	call := func(f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, w.CallTimeout)
		defer cancel()
		start := time.Now()
		err := f(cctx)
		if err != nil && ctx.Err() == nil {
			report(SharedEvent{Err: err, Elapsed: time.Since(start)})
		}
		return err
	}
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(sharedClaimEvery + time.Duration(rng.Int64N(int64(sharedClaimEvery)))):
		}
	}
	// unsure are the folders of a completion that failed: some may have
	// been applied (an earlier transaction of the CompleteBatch, or one
	// whose outcome is unknown). Such a folder is no longer pending if it
	// was, so the worker reads each back, as an engine must, before going
	// on: completed means this worker listed it (only the holder of a
	// folder's claim completes it).
	var unsure []string
	for ctx.Err() == nil {
		for len(unsure) > 0 {
			var n nodestore.Node
			if call(func(ctx context.Context) (err error) {
				n, err = ns.Get(ctx, nodestore.QueueSrc, unsure[0])
				return err
			}) != nil {
				break
			}
			if n.Traversal == nsS {
				report(SharedEvent{Listed: unsure[0]})
			}
			unsure = unsure[1:]
		}
		if len(unsure) > 0 {
			pause()
			continue
		}
		var level int
		var any bool
		if call(func(ctx context.Context) (err error) {
			level, any, err = ns.LowestPendingLevel(ctx, nodestore.QueueSrc)
			return err
		}) != nil {
			pause()
			continue
		}
		if !any {
			return nil
		}
		var page []nodestore.Node
		claims := map[string]string{}
		if call(func(ctx context.Context) (err error) {
			page, _, err = ns.PendingPage(ctx, nodestore.QueueSrc, level, "", 1000)
			if err != nil {
				return err
			}
			clear(claims)
			return s.Iterate(ctx, kv.IterOptions{Prefix: sharedClaimPrefix(level)}, func(k, v []byte) error {
				claims[string(k)] = string(v)
				return nil
			})
		}) != nil {
			pause()
			continue
		}
		// Folders this worker holds come first (their completion failed);
		// then unclaimed ones, in random order to spread the workers. The
		// worker goes through the whole listing, a batch at a time, before
		// it lists again: a claim reads each folder's claim key, so a
		// folder that another worker took meanwhile is skipped, and
		// listing a page for every batch would read far more keys than
		// the traversal writes.
		var mine, free []nodestore.Node
		for _, n := range page {
			switch claims[sharedClaimKey(level, n.State.Path)] {
			case me:
				mine = append(mine, n)
			case "":
				free = append(free, n)
			}
		}
		if len(mine) == 0 && len(free) == 0 {
			pause() // every pending folder is held by another worker
			continue
		}
		rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
		w.shareFirst(free, worker)
		if !w.workListing(ctx, ns, s, level, mine, free, me, call, report, &unsure) {
			pause() // a call failed: list again after a pause
		}
	}
	return ctx.Err()
}

// workListing claims and completes, a batch at a time, the folders of one
// listing: first mine (claimed by this worker before), then free, until a
// claim gets none of its folders (the caller lists again). It returns
// false when a call failed (the caller lists again after a pause); a
// completion that failed leaves its folders in unsure.
func (w SharedTraversal) workListing(ctx context.Context, ns *nodestore.Store, s kv.Store, level int, mine, free []nodestore.Node, me string,
	call func(func(context.Context) error) error, report func(SharedEvent), unsure *[]string) bool {
	for (len(mine) > 0 || len(free) > 0) && ctx.Err() == nil {
		var todo []nodestore.Node
		if len(mine) > 0 {
			todo, mine = mine[:min(len(mine), w.ClaimBatch)], mine[min(len(mine), w.ClaimBatch):]
		} else {
			n := min(w.ClaimBatch, max(1, len(free)/2))
			batch := free[:n]
			free = free[n:]
			got, err := w.claim(s, level, batch, me, call)
			if err != nil {
				return false // the next listing sees whether the claim was applied
			}
			if len(got) == 0 {
				// Others claimed them since the listing, and likely the
				// rest of it too: list again (no pause) rather than try
				// folder after folder.
				return true
			}
			todo = got
		}
		comps := make([]nodestore.Completion, len(todo))
		for i := range todo {
			p := todo[i].State.Path
			comps[i] = nodestore.Completion{Path: p, Status: nsS, Children: w.children(p), Listed: &todo[i]}
		}
		var res []nodestore.CompletionResult
		if err := call(func(ctx context.Context) (err error) {
			res, err = ns.CompleteBatch(ctx, nodestore.QueueSrc, comps)
			return err
		}); err != nil {
			for _, c := range comps {
				*unsure = append(*unsure, c.Path)
			}
			return false
		}
		for i, r := range res {
			if r.Err != nil {
				// Left pending and claimed: this worker tries it again
				// after its next listing.
				report(SharedEvent{Err: fmt.Errorf("complete %s: %w", comps[i].Path, r.Err)})
				continue
			}
			report(SharedEvent{Listed: comps[i].Path})
		}
	}
	return true
}

// shareFirst moves the folders of worker's share (Workers) to the front
// of free, keeping their order otherwise.
func (w SharedTraversal) shareFirst(free []nodestore.Node, worker int) {
	if w.Workers <= 1 {
		return
	}
	own := func(n nodestore.Node) bool {
		h := fnv.New32a()
		h.Write([]byte(n.State.Path))
		return int(h.Sum32()%uint32(w.Workers)) == worker%w.Workers
	}
	slices.SortStableFunc(free, func(a, b nodestore.Node) int {
		switch oa, ob := own(a), own(b); {
		case oa == ob:
			return 0
		case oa:
			return -1
		}
		return 1
	})
}

func sharedClaimKey(level int, path string) string {
	return string(sharedClaimPrefix(level)) + path
}

// claim claims, in one Update, each of folders that nobody has claimed
// for me, and returns those that are mine (claimed now or before). It
// reads the folders' claim keys with one kv.GetMany (one round trip on a
// cluster), and the counter of claims only when it claims one.
func (w SharedTraversal) claim(s kv.Store, level int, folders []nodestore.Node, me string, call func(func(context.Context) error) error) ([]nodestore.Node, error) {
	var mine []nodestore.Node
	keys := make([][]byte, len(folders))
	for i, f := range folders {
		keys[i] = []byte(sharedClaimKey(level, f.State.Path))
	}
	owner := make([]string, len(folders))
	err := call(func(ctx context.Context) error {
		return s.Update(ctx, func(tx kv.Txn) error {
			mine = mine[:0]
			clear(owner)
			if err := kv.GetMany(tx, keys, func(i int, v []byte) error {
				owner[i] = string(v)
				return nil
			}); err != nil {
				return err
			}
			claimed := 0
			for i, f := range folders {
				switch owner[i] {
				case me:
					mine = append(mine, f)
				case "":
					if err := tx.Set(keys[i], []byte(me)); err != nil {
						return err
					}
					mine = append(mine, f)
					claimed++
				}
			}
			if claimed == 0 || w.NoClaimCounter {
				return nil
			}
			n := 0
			c, err := tx.Get([]byte(sharedClaimsKey))
			switch {
			case err == nil:
				if n, err = strconv.Atoi(string(c)); err != nil {
					return fmt.Errorf("%s = %q: %w", sharedClaimsKey, c, err)
				}
			case !errors.Is(err, kv.ErrNotFound):
				return err
			}
			return tx.Set([]byte(sharedClaimsKey), []byte(strconv.Itoa(n+claimed)))
		})
	})
	return mine, err
}

// CheckShared checks a traversed store: every folder completed with all
// its children, nothing else there, nodestore.Check clean, one claim per
// folder and the counter of claims equal to their number; and, from the
// workers' reports, listed maps each folder to how many times a worker
// listed it: exactly once each. It returns the problems found.
func (w SharedTraversal) CheckShared(ctx context.Context, s kv.Store, listed map[string]int) []string {
	w = w.withDefaults()
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 30 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	ns := nodestore.NewWithOptions(s, w.Nodestore)
	rep, err := ns.Check(ctx)
	if err != nil {
		return []string{fmt.Sprintf("nodestore.Check: %v", err)}
	}
	for _, p := range rep.Problems {
		add("nodestore.Check: %s", p)
	}
	folders := w.Folders()
	want := 0
	for _, f := range folders {
		want += 1 + w.Files
		n, err := ns.Get(ctx, nodestore.QueueSrc, f)
		if err != nil {
			add("folder %s: %v", f, err)
			continue
		}
		if n.Traversal != nsS {
			add("folder %s is %s, want %s", f, n.Traversal, nsS)
		}
		if c := listed[f]; c != 1 {
			add("folder %s listed %d times, want exactly once", f, c)
		}
		v, err := s.Get(ctx, []byte(sharedClaimKey(n.Level, f)))
		if err != nil || len(v) == 0 {
			add("folder %s has no claim: %v", f, err)
		}
	}
	for f, c := range listed {
		if !slices.Contains(folders, f) {
			add("a worker listed %s (%d times), which is no folder of the tree", f, c)
		}
	}
	if got := rep.Nodes[nodestore.QueueSrc]; got != want {
		add("%d src nodes, want %d (one per node of the tree)", got, want)
	}
	claims := 0
	if err := s.Iterate(ctx, kv.IterOptions{Prefix: []byte("work/claim/")}, func(_, _ []byte) error {
		claims++
		return nil
	}); err != nil {
		add("iterate claims: %v", err)
	}
	c, err := s.Get(ctx, []byte(sharedClaimsKey))
	if claims != len(folders) || !w.NoClaimCounter && (err != nil || string(c) != strconv.Itoa(len(folders))) {
		add("%d claim keys and %s = %q (%v), want %d of each: a claim was lost or made twice", claims, sharedClaimsKey, c, err, len(folders))
	}
	return problems
}

// sharedEventLine encodes an event on one line of a child's output.
func sharedEventLine(e SharedEvent) string {
	if e.Err != nil {
		return "fail " + strconv.FormatInt(int64(e.Elapsed), 10) + " " + strings.ReplaceAll(e.Err.Error(), "\n", " ")
	}
	return "listed " + e.Listed
}

// parseSharedEvent decodes sharedEventLine; ok is false for other lines.
func parseSharedEvent(line string) (e SharedEvent, ok bool) {
	if p, found := strings.CutPrefix(line, "listed "); found {
		return SharedEvent{Listed: p}, true
	}
	if rest, found := strings.CutPrefix(line, "fail "); found {
		ns, msg, _ := strings.Cut(rest, " ")
		d, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			return e, false
		}
		return SharedEvent{Err: errors.New(msg), Elapsed: time.Duration(d)}, true
	}
	return e, false
}
