package nodestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Completion is one step of CompleteBatch: what one CompleteWithChildren
// call takes. Path is the parent (normalized first), Status its new
// traversal status, Children the nodes to insert under it (as for
// CompleteWithChildren; none for a file, whose completion only sets its
// status).
type Completion struct {
	Path     string
	Status   TraversalStatus
	Children []Node
	// Listed, if not nil, is the parent as the caller listed it (from
	// PendingPage, say): CompleteBatch reads the node key at its level and
	// statuses directly, one point read instead of two (path key, then
	// node key). A stale or wrong hint costs the second read and changes
	// nothing else: the parent is then found through its path key.
	Listed *Node
}

// CompletionResult is what CompleteBatch did with one Completion.
type CompletionResult struct {
	// Applied is the number of children written.
	Applied int
	// Skipped lists the children not written because their path was
	// already stored (ErrExists); Index is the child's position in
	// Completion.Children.
	Skipped []Skip
	// Err is set when nothing of the completion was applied: the parent
	// is missing (ErrNotFound) or a file with children, a child or the
	// status is invalid, the completion alone exceeds a transaction
	// (kv.ErrTxnTooLarge), or the call failed before its chunk committed.
	Err error
}

// CompleteBatch applies many completions, each exactly as one
// CompleteWithChildren call would, in as few transactions as kv's limits
// and the store's chunk size allow: a worker completing a page of
// pending folders (and files, with no children) pays one commit for the
// page instead of one per folder.
//
// Each completion is atomic: its parent's status, its children (each
// with index entry and path key) and its counts change in one
// transaction, never split across chunks, so after a crash a completion
// is applied entirely or not at all. The batch as a whole is NOT atomic.
// A completion that fails (see CompletionResult.Err) applies nothing and
// does not stop the others; completions are applied in order, so a later
// completion of a folder inserted by an earlier one finds it, and a
// repeated completion skips the children already stored.
//
// The returned slice has one result per completion. An invalid queue
// fails the call before anything is written. An error from the store (or
// ctx) stops the call: the chunks committed before stay, and every
// completion not committed has Err set to that error, which is also
// returned. comps is not modified.
func (s *Store) CompleteBatch(ctx context.Context, q QueueType, comps []Completion) ([]CompletionResult, error) {
	if err := s.ready(ctx, "CompleteBatch"); err != nil {
		return nil, err
	}
	const op = "complete batch"
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("nodestore: %s: %w", op, err)
	}
	res, _, err := s.completeBatch(ctx, q, comps)
	for i := range res {
		if r := &res[i]; r.Err != nil && !errors.Is(r.Err, errNotCommitted) {
			r.Err = opErr("complete", q, comps[i].Path, r.Err)
		}
	}
	if err != nil {
		err = fmt.Errorf("nodestore: %s: %w", op, err)
		for i := range res {
			if errors.Is(res[i].Err, errNotCommitted) {
				res[i].Err = err
			}
		}
	}
	return res, err
}

// errNotCommitted marks, inside completeBatch, the completions of a chunk
// that did not commit.
var errNotCommitted = errors.New("nodestore: not committed")

// completeFolder is a completion being planned in a chunk.
type completeFolder struct {
	parent   Node
	lo, hi   int // its children in the chunk's items
	to       position
	ops, siz int
}

// completionReads is how many keys a completion's planning reads, at most,
// besides its children's existence checks: its parent (a hinted read, then
// the path key and node key when the hint was stale) and the range of its
// children index. The children's reads stay below their planned writes (on
// a shared store one path key each, against three writes).
const completionReads = 4

// completeBatch does CompleteBatch; per-completion errors are returned
// unwrapped, and the number of transactions committed.
func (s *Store) completeBatch(ctx context.Context, q QueueType, comps []Completion) ([]CompletionResult, int, error) {
	res := make([]CompletionResult, len(comps))
	paths := make([]string, len(comps))
	hashes := make([]PathHash, len(comps))
	valid := make([]bool, len(comps))
	for i, c := range comps {
		if err := checkTraversal(q, c.Status); err != nil {
			res[i].Err = err
			continue
		}
		pp, err := NormalizePath(c.Path)
		if err != nil {
			res[i].Err = err
			continue
		}
		paths[i], hashes[i], valid[i] = pp, hashNormal(pp), true
	}
	comps = s.listed.hints(q, comps, hashes, valid)
	var (
		items []prepared
		// A chunk holds at most every completion: sized once, not grown
		// by appends (a completeFolder holds its parent Node).
		folders = make([]completeFolder, 0, len(comps))
		owner   = make([]int, 0, len(comps)) // the completion of each folder
		plan    deltas
		d       deltas
		touched = map[PathHash]struct{}{}
		buf     []byte
		chunks  int
	)
	for start := 0; start < len(comps); {
		end := start
		// Forget the committed chunk before Update: when Update fails
		// before fn runs (the store closed, the context ended), owner
		// must not still name the last chunk's completions, which are
		// applied.
		folders, owner = folders[:0], owner[:0]
		err := s.update(ctx, func(tx kv.Txn, stripe int) error {
			// fn may run again after a conflict: start from scratch.
			items, folders, owner = items[:0], folders[:0], owner[:0]
			d.stripe = stripe
			plan.reset()
			clear(touched)
			cp := s.newChunkPlan()
			parents := newListedReads(q, comps, hashes, valid, s.lim, s.scanListed)
			parents.next = start
			// Reads first (the parents, then which children exist, then the
			// counters); the writes follow.
			for end = start; end < len(comps); end++ {
				if !valid[end] {
					continue
				}
				res[end] = CompletionResult{}
				if _, ok := touched[hashes[end]]; ok {
					// The parent is written earlier in this chunk (completed
					// twice, or inserted as a child): let the next chunk read
					// it as this one leaves it.
					break
				}
				// The parent (hinted, then path key and node key), and the
				// scan of its children index.
				if !cp.readsFit(completionReads) {
					break
				}
				cp.reads += completionReads
				f, err := s.planFolder(tx, q, &comps[end], paths[end], hashes[end], &items, parents, end)
				if errors.Is(err, errFolderInvalid) {
					res[end].Err = errors.Unwrap(err)
					continue
				}
				if err != nil {
					return err
				}
				// The size of the completion with its counter writes.
				ops, bytes := f.ops, f.siz
				for i := f.lo; i < f.hi; i++ {
					it := &items[i]
					pos := position{it.n.Level, it.n.Traversal, it.n.Copy}
					co, cb := counterCost(&plan, q, pos)
					ops, bytes = ops+co, bytes+cb
					plan.add(q, pos, 1)
				}
				if from := (position{f.parent.Level, f.parent.Traversal, f.parent.Copy}); from != f.to {
					o1, b1 := counterCost(&plan, q, from)
					plan.add(q, from, -1)
					o2, b2 := counterCost(&plan, q, f.to)
					plan.add(q, f.to, 1)
					ops, bytes = ops+o1+o2, bytes+b1+b2
				}
				if !cp.fits(ops, bytes) {
					items = items[:f.lo]
					if len(folders) == 0 {
						res[end].Err = fmt.Errorf("%w: the completion alone (%d children, %d writes, %d bytes) exceeds one transaction: insert the children with BatchInsertNodes, then SetStatus",
							kv.ErrTxnTooLarge, f.hi-f.lo, ops, bytes)
						// The chunk is empty: forget this folder's counters.
						plan.reset()
						continue
					}
					break
				}
				cp.add(ops, bytes)
				folders = append(folders, f)
				owner = append(owner, end)
				touched[hashes[end]] = struct{}{}
				for i := f.lo; i < f.hi; i++ {
					touched[items[i].h] = struct{}{}
				}
			}
			if len(folders) == 0 {
				return nil
			}
			if err := s.readBeforeWrites(tx, items, &d, func(d *deltas) {
				for i := range items {
					if it := &items[i]; it.skip == nil {
						d.add(q, position{it.n.Level, it.n.Traversal, it.n.Copy}, 1)
					}
				}
				for i := range folders {
					f := &folders[i]
					if from := (position{f.parent.Level, f.parent.Traversal, f.parent.Copy}); from != f.to {
						d.add(q, from, -1)
						d.add(q, f.to, 1)
					}
				}
			}); err != nil {
				return err
			}
			for fi := range folders {
				f := &folders[fi]
				r := &res[owner[fi]]
				for i := f.lo; i < f.hi; i++ {
					it := &items[i]
					if it.skip != nil {
						r.Skipped = append(r.Skipped, Skip{Index: it.index, Path: it.n.State.Path, Err: it.skip})
						continue
					}
					var err error
					if buf, err = writeNew(tx, &it.n, it.h, it.parent, it.root, nil, buf); err != nil {
						return err
					}
					r.Applied++
				}
				var err error
				if buf, err = moveNode(tx, &f.parent, f.to, nil, buf); err != nil {
					return err
				}
			}
			return d.write(tx)
		})
		if err != nil {
			for _, i := range owner {
				res[i] = CompletionResult{Err: errNotCommitted}
			}
			for i := end; i < len(comps); i++ {
				if valid[i] {
					res[i] = CompletionResult{Err: errNotCommitted}
				}
			}
			return res, chunks, err
		}
		if len(folders) > 0 {
			chunks++
		}
		start = end
	}
	return res, chunks, nil
}

// errFolderInvalid wraps, from planFolder, an error that fails one
// completion only.
var errFolderInvalid = errors.New("nodestore: invalid completion")

// planFolder reads the parent of c (completion ci: through parents when
// its Listed hint is right, else through its path key) and validates its
// children, appending them to items. An error of the completion itself wraps errFolderInvalid
// (errors.Unwrap gives it back); any other error is the store's.
func (s *Store) planFolder(tx kv.ReadTxn, q QueueType, c *Completion, pp string, ph PathHash, items *[]prepared, parents *listedReads, ci int) (completeFolder, error) {
	invalid := func(err error) (completeFolder, error) {
		return completeFolder{}, &folderErr{err}
	}
	parent, ok, err := parents.node(tx, ci)
	if err != nil {
		return completeFolder{}, fmt.Errorf("parent %q: %w", pp, err)
	}
	if !ok {
		parent, err = getNode(tx, q, ph)
	}
	if errors.Is(err, ErrNotFound) {
		return invalid(fmt.Errorf("parent: %w", err))
	}
	if err != nil {
		return completeFolder{}, fmt.Errorf("parent %q: %w", pp, err)
	}
	if parent.State.Type != NodeTypeFolder && len(c.Children) > 0 {
		return invalid(fmt.Errorf("parent: %w: a %s cannot have children", ErrInvalidNode, parent.State.Type))
	}
	f := completeFolder{parent: parent, lo: len(*items), to: position{parent.Level, c.Status, parent.Copy}}
	level := parent.Level + 1
	var hc hashCache
	for i := range c.Children {
		*items = append(*items, prepared{index: i, n: c.Children[i]})
		it := &(*items)[len(*items)-1]
		if it.n.Queue == "" {
			it.n.Queue = q
		}
		if it.n.Level == 0 {
			it.n.Level = level
		}
		var err error
		switch {
		case it.n.Queue != q:
			err = fmt.Errorf("field Queue: %w: %q, the parent is in %q", ErrInvalidQueue, it.n.Queue, q)
		case it.n.Level != level:
			err = fmt.Errorf("field Level: %w: %d, want the parent's level + 1 = %d", ErrInvalidLevel, it.n.Level, level)
		case it.n.State.ParentPath != pp:
			err = fmt.Errorf("field ParentPath: %w: %q is not the parent %q", ErrInvalidNode, it.n.State.ParentPath, pp)
		default:
			it.h, it.parent, it.root, err = s.validateNode(&it.n, &hc)
		}
		if err != nil {
			*items = (*items)[:f.lo]
			return invalid(fmt.Errorf("child %d (%q): %w", i, c.Children[i].State.Path, err))
		}
		it.ops, it.bytes = insertCost(&it.n, it.root)
		f.ops += it.ops
		f.siz += it.bytes
	}
	f.hi = len(*items)
	if from := (position{parent.Level, parent.Traversal, parent.Copy}); from != f.to {
		f.ops += 3
		f.siz += nodeKeyLen(from) + nodeKeyLen(f.to) + encodedSize(&parent.State) + pathKeyLen + suffixLen(f.to) + 3*kv.TxnEntryOverhead
	}
	return f, nil
}

// folderErr is an error of one completion (see errFolderInvalid).
type folderErr struct{ err error }

func (e *folderErr) Error() string        { return e.err.Error() }
func (e *folderErr) Unwrap() error        { return e.err }
func (e *folderErr) Is(target error) bool { return target == errFolderInvalid }
