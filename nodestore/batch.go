package nodestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// InsertOperation is one node for BatchInsertNodes, as the seed defines it.
type InsertOperation struct {
	QueueType       QueueType
	Level           int
	TraversalStatus TraversalStatus
	CopyStatus      CopyStatus
	State           *NodeState
	// IndexPrefix must be the children index prefix of QueueType
	// (IndexPrefixSrcChildren or IndexPrefixDstChildren); empty means that
	// one.
	IndexPrefix string
}

// Skip is an item of a batch that was not applied, and why.
type Skip struct {
	// Index is the item's position in the input.
	Index int
	// Path is the item's (normalized) path.
	Path string
	// Err says why: it wraps ErrExists (insert of a stored path),
	// ErrInvalidLevel or ErrInvalidNode (insert of a node that does not fit
	// its parent), ErrStatusMismatch (the node had already moved) or
	// ErrNotFound.
	Err error
}

// Error describes the skipped item and the reason.
func (s Skip) Error() string { return fmt.Sprintf("item %d (%s): %v", s.Index, s.Path, s.Err) }

// BatchResult reports what a batch operation did.
type BatchResult struct {
	// Applied is the number of items written.
	Applied int
	// Skipped lists the items not written, in input order.
	Skipped []Skip
	// Chunks is the number of transactions committed.
	Chunks int
}

// Sizes of the keys and values nodestore writes, for planning chunks that
// fit kv's transaction limits (kv.MaxTxnOps, kv.MaxTxnBytes).
const (
	hashHexLen     = 32
	childKeyLen    = 4 + len("children:") + hashHexLen + 1 + hashHexLen
	pathKeyLen     = 4 + len(familyPath) + hashHexLen
	pendingKeyLen  = 4 + len(familyPendingLevel) + 8 + stripeSuffixLen
	counterValLen  = 8
	chunkHeadroom  = 64 // writes kept free below kv.MaxTxnOps
	chunkByteSlack = 4 << 10
)

func suffixLen(pos position) int { return 8 + 1 + len(pos.ts) + 1 + len(pos.cs) }

func nodeKeyLen(pos position) int { return 4 + suffixLen(pos) + 1 + hashHexLen }

// countKeyLen is the length of a counter key at pos, with a stripe's
// suffix (stripes.go).
func countKeyLen(pos position) int {
	return 4 + len(familyCount) + suffixLen(pos) + stripeSuffixLen
}

// chunkPlan tracks the size of the transaction being planned.
type chunkPlan struct {
	ops, bytes int
	maxBytes   int
	lim        kv.Limits // the store's transaction limits
	// reads counts the keys the chunk has read, at most, when
	// boundReads: a shared store's engine compares every key a
	// transaction read at its commit and bounds them as it bounds writes
	// (kv.Limits.MaxTxnOps), so a chunk that reads many nodes it does not
	// write (skipped, already there) must end on its reads too. Local
	// engines read without limit.
	reads      int
	boundReads bool
}

// newChunkPlan starts the plan of one chunk.
func (s *Store) newChunkPlan() chunkPlan {
	return chunkPlan{maxBytes: s.chunkBytes, lim: s.lim, boundReads: s.boundReads}
}

// readsFit reports whether n more reads may join the chunk: always when
// reads are not bounded, and for a chunk that has read nothing yet (every
// chunk makes progress).
func (c *chunkPlan) readsFit(n int) bool {
	return !c.boundReads || c.reads == 0 || c.reads+n <= readBudget(c.lim)
}

// readBudget is what a chunk may read of nodes and parents: the
// transaction's budget less room for the counter reads planned last and a
// group of reads ahead (listedReads).
func readBudget(lim kv.Limits) int {
	return txnOpsBudget(lim) - min(256, lim.MaxTxnOps/8)
}

// fits reports whether writes of ops and bytes may join the chunk. The
// first writes of a chunk may use all of a transaction, whatever maxBytes:
// a node larger than the chunk size but within kv's limits gets a chunk of
// its own, as Insert would store it.
func (c *chunkPlan) fits(ops, bytes int) bool {
	maxBytes := c.maxBytes
	if c.ops == 0 {
		maxBytes = max(maxBytes, txnBytesBudget(c.lim))
	}
	return c.ops+ops <= txnOpsBudget(c.lim) && c.bytes+bytes <= maxBytes
}

// txnOpsBudget and txnBytesBudget are what one of nodestore's transactions
// may hold on a store with limits lim: a little below the limits, so that
// the counter writes planned last always fit.
func txnOpsBudget(lim kv.Limits) int {
	return lim.MaxTxnOps - min(chunkHeadroom, lim.MaxTxnOps/8)
}

func txnBytesBudget(lim kv.Limits) int {
	return lim.MaxTxnBytes - min(chunkByteSlack, lim.MaxTxnBytes/8)
}

func (c *chunkPlan) add(ops, bytes int) { c.ops += ops; c.bytes += bytes }

// counterCost is the size of the counter writes a node at pos adds to d.
func counterCost(d *deltas, q QueueType, pos position) (ops, bytes int) {
	n := d.willAdd(q, pos)
	if n == 0 {
		return 0, 0
	}
	ops = n
	bytes = countKeyLen(pos) + counterValLen + kv.TxnEntryOverhead
	if n == 2 {
		bytes += pendingKeyLen + counterValLen + kv.TxnEntryOverhead
	}
	return ops, bytes
}

// insertCost is the size of the writes that insert n.
func insertCost(n *Node, root bool) (ops, bytes int) {
	pos := position{n.Level, n.Traversal, n.Copy}
	ops = 2
	bytes = nodeKeyLen(pos) + encodedSize(&n.State) + pathKeyLen + suffixLen(pos) + 2*kv.TxnEntryOverhead
	if !root {
		ops++
		bytes += childKeyLen + kv.TxnEntryOverhead
	}
	return ops, bytes
}

// prepared is a validated node ready to insert.
type prepared struct {
	n          Node
	h, parent  PathHash
	root       bool
	ops, bytes int
	index      int
	skip       error
	// bad says why the item does not fit its parent (checkParents).
	bad error
}

// BatchInsertNodes inserts many nodes, each with its index entry, path key
// and counts, in as few transactions as kv's limits allow.
//
// Every operation is validated before anything is written: one invalid
// operation fails the whole call (the error names its index and field) and
// nothing is written. The valid batch is then split into chunks, each one
// atomic transaction below kv.MaxTxnOps and kv.MaxTxnBytes; a node is never
// separated from its index entry, path key or counts. The batch as a whole
// is NOT atomic: after an error (returned with the result so far) or a
// crash, the chunks committed before stay.
//
// A node whose path is already stored in its queue (from an earlier call,
// or earlier in this batch) is not written: it is listed in the result's
// Skipped with an error wrapping ErrExists. Re-running a batch after a crash
// is therefore safe: it completes what is missing and reports the rest.
//
// A node whose parent is stored, or is an item of this batch, must be one
// level below it, and the parent a folder: one that is not is skipped with
// an error wrapping ErrInvalidLevel or ErrInvalidNode (Insert says why).
// ops is not modified.
func (s *Store) BatchInsertNodes(ctx context.Context, ops []InsertOperation) (BatchResult, error) {
	if err := s.ready(ctx, "BatchInsertNodes"); err != nil {
		return BatchResult{}, err
	}
	items := make([]prepared, len(ops))
	var hc hashCache
	for i, op := range ops {
		if op.State == nil {
			return BatchResult{}, fmt.Errorf("nodestore: batch insert: operation %d: field State: %w: nil", i, ErrInvalidNode)
		}
		it := &items[i]
		it.index = i
		it.n = Node{Queue: op.QueueType, Level: op.Level, Traversal: op.TraversalStatus, Copy: op.CopyStatus, State: *op.State}
		if op.IndexPrefix != "" {
			q, err := queueOfIndexPrefix(op.IndexPrefix)
			if err == nil && q != op.QueueType {
				err = fmt.Errorf("%w: index prefix %q is not the prefix of queue %q", ErrInvalidQueue, op.IndexPrefix, op.QueueType)
			}
			if err != nil {
				return BatchResult{}, fmt.Errorf("nodestore: batch insert: operation %d: field IndexPrefix: %w", i, err)
			}
		}
		var err error
		if it.h, it.parent, it.root, err = s.validateNode(&it.n, &hc); err != nil {
			return BatchResult{}, fmt.Errorf("nodestore: batch insert: operation %d (%s %q): %w", i, op.QueueType, op.State.Path, err)
		}
		it.ops, it.bytes = insertCost(&it.n, it.root)
	}
	return s.insertItems(ctx, "batch insert", items)
}

// insertItems writes validated items in chunks.
func (s *Store) insertItems(ctx context.Context, op string, items []prepared) (BatchResult, error) {
	var res BatchResult
	var d deltas
	var buf []byte
	parents := map[queueHash]struct{}{} // the parents of the chunk's items (boundReads)
	inBatch := batchParents(items)
	for start := 0; start < len(items); {
		// Plan the chunk: as many items as fit with their worst-case counter
		// writes.
		plan := s.newChunkPlan()
		d.reset()
		clear(parents)
		end := start
		for end < len(items) {
			it := &items[end]
			co, cb := counterCost(&d, it.n.Queue, position{it.n.Level, it.n.Traversal, it.n.Copy})
			if !plan.fits(it.ops+co, it.bytes+cb) {
				break
			}
			if s.boundReads {
				// findExisting's reads, at most: the item's share of its
				// parent's scan and a point read (on a shared store, which
				// does not scan: its path key, read twice if it exists),
				// and once per parent the scan's slack and checkParents'
				// two reads (the parent's path key and node key).
				reads := 3
				if _, ok := parents[queueHash{it.n.Queue, it.parent}]; !ok {
					reads += s.scanSlack + 2
				}
				if !plan.readsFit(reads) {
					break
				}
				plan.reads += reads
				parents[queueHash{it.n.Queue, it.parent}] = struct{}{}
			}
			plan.add(it.ops+co, it.bytes+cb)
			d.add(it.n.Queue, position{it.n.Level, it.n.Traversal, it.n.Copy}, 1)
			end++
		}
		if end == start {
			it := &items[start]
			return res, fmt.Errorf("nodestore: %s: item %d (%s %q): %w: the node alone exceeds one transaction",
				op, it.index, it.n.Queue, it.n.State.Path, kv.ErrTxnTooLarge)
		}
		chunk := items[start:end]
		err := s.update(ctx, func(tx kv.Txn, stripe int) error {
			// fn may run again after a conflict: start from scratch.
			d.reset()
			d.stripe = stripe
			// Reads first (no read follows a write, which keeps kv's
			// read-your-writes index out of the hot path).
			if err := checkParents(tx, chunk, inBatch); err != nil {
				return err
			}
			if err := s.readBeforeWrites(tx, chunk, &d, func(d *deltas) {
				for i := range chunk {
					if it := &chunk[i]; it.skip == nil && it.bad == nil {
						d.add(it.n.Queue, position{it.n.Level, it.n.Traversal, it.n.Copy}, 1)
					}
				}
			}); err != nil {
				return err
			}
			for i := range chunk {
				if it := &chunk[i]; it.skip == nil {
					it.skip = it.bad // a stored path is ErrExists, whatever its parent
				}
			}
			for i := range chunk {
				it := &chunk[i]
				if it.skip != nil {
					continue
				}
				var err error
				if buf, err = writeNew(tx, &it.n, it.h, it.parent, it.root, nil, buf); err != nil {
					return err
				}
			}
			return d.write(tx)
		})
		if err != nil {
			return res, fmt.Errorf("nodestore: %s: chunk %d (items %d..%d): %w", op, res.Chunks+1, chunk[0].index, chunk[len(chunk)-1].index, err)
		}
		res.Chunks++
		for i := range chunk {
			if chunk[i].skip != nil {
				res.Skipped = append(res.Skipped, Skip{Index: chunk[i].index, Path: chunk[i].n.State.Path, Err: chunk[i].skip})
			} else {
				res.Applied++
			}
		}
		start = end
	}
	return res, nil
}

// BatchUpdateNodeStatus is the seed's batch transition: every node at paths
// that is at level in traversal status oldTS and copy status cs moves to
// newTS. A node that is not there (already moved, or missing) is skipped
// and listed in the result with an error wrapping ErrStatusMismatch or
// ErrNotFound; the others are applied. Paths are normalized; an invalid
// argument or path fails the call before anything is written.
//
// The work is split into chunks, one atomic transaction each, below kv's
// limits; the batch as a whole is not atomic (see BatchInsertNodes).
func (s *Store) BatchUpdateNodeStatus(ctx context.Context, q QueueType, level int, oldTS, newTS TraversalStatus, cs CopyStatus, paths []string) (BatchResult, error) {
	if err := s.ready(ctx, "BatchUpdateNodeStatus"); err != nil {
		return BatchResult{}, err
	}
	if err := checkPosition(q, level, oldTS, cs); err != nil {
		return BatchResult{}, fmt.Errorf("nodestore: batch update status: %w", err)
	}
	if err := checkTraversal(q, newTS); err != nil {
		return BatchResult{}, fmt.Errorf("nodestore: batch update status: %w", err)
	}
	from := position{level, oldTS, cs}
	to := position{level, newTS, cs}
	return s.batchMove(ctx, "batch update status", q, paths, func(n *Node) (position, error) {
		if at := (position{n.Level, n.Traversal, n.Copy}); at != from {
			return position{}, fmt.Errorf("%w: want %s, node is at %s", ErrStatusMismatch, from, at)
		}
		return to, nil
	})
}

// BatchSetStatus sets the traversal status of every node at paths to ts,
// whatever their current status (SetStatus for many nodes). Missing nodes
// are skipped and reported (ErrNotFound); a node already in ts counts as
// applied. Chunked like BatchUpdateNodeStatus.
func (s *Store) BatchSetStatus(ctx context.Context, q QueueType, paths []string, ts TraversalStatus) (BatchResult, error) {
	if err := s.ready(ctx, "BatchSetStatus"); err != nil {
		return BatchResult{}, err
	}
	if err := checkTraversal(q, ts); err != nil {
		return BatchResult{}, fmt.Errorf("nodestore: batch set status: %w", err)
	}
	return s.batchMove(ctx, "batch set status", q, paths, func(n *Node) (position, error) {
		return position{n.Level, ts, n.Copy}, nil
	})
}

// BatchSetCopyStatus sets the copy status of every src node at paths to
// cs, whatever their current statuses. Missing nodes are skipped and
// reported.
func (s *Store) BatchSetCopyStatus(ctx context.Context, q QueueType, paths []string, cs CopyStatus) (BatchResult, error) {
	if err := s.ready(ctx, "BatchSetCopyStatus"); err != nil {
		return BatchResult{}, err
	}
	if err := checkCopy(q, cs); err != nil {
		return BatchResult{}, fmt.Errorf("nodestore: batch set copy status: %w", err)
	}
	return s.batchMove(ctx, "batch set copy status", q, paths, func(n *Node) (position, error) {
		return position{n.Level, n.Traversal, cs}, nil
	})
}

// batchMove moves many nodes; decide returns the target of a node, or an
// error wrapping ErrStatusMismatch to skip it.
func (s *Store) batchMove(ctx context.Context, op string, q QueueType, paths []string, decide func(*Node) (position, error)) (BatchResult, error) {
	hashes := make([]PathHash, len(paths))
	norm := make([]string, len(paths))
	for i, p := range paths {
		n, err := NormalizePath(p)
		if err != nil {
			return BatchResult{}, fmt.Errorf("nodestore: %s: path %d: %w", op, i, err)
		}
		norm[i], hashes[i] = n, hashNormal(n)
	}
	// Nodes listed recently (PendingPage, ListByStatus) are read at the
	// position they were listed at (listed.go): one read instead of two,
	// a page's files in one iteration on local engines.
	var hinted []Completion
	var valid []bool
	if !s.listed.empty() {
		valid = make([]bool, len(paths))
		for i := range valid {
			valid[i] = true
		}
		hinted = s.listed.hints(q, asCompletions(norm), hashes, valid)
	}
	var res BatchResult
	var skips []Skip
	type move struct {
		n  Node
		to position
	}
	var moves []move
	inChunk := map[PathHash]struct{}{}
	for start := 0; start < len(paths); {
		var end int
		err := s.update(ctx, func(tx kv.Txn, stripe int) error {
			// fn may run again after a conflict: start from scratch.
			skips, moves = skips[:0], moves[:0]
			clear(inChunk)
			// Reads first: every node of the chunk, then the counters; the
			// writes follow (a read after a write makes kv index the
			// transaction's writes). A path repeated in the chunk ends it,
			// so that the next chunk reads the node as this one left it.
			d := deltas{stripe: stripe}
			cp := s.newChunkPlan()
			var listed *listedReads
			if hinted != nil {
				listed = newListedReads(q, hinted, hashes, valid, s.lim, s.scanListed)
				listed.next = start
			}
			end = start
			for ; end < len(paths); end++ {
				if _, dup := inChunk[hashes[end]]; dup {
					break
				}
				// At most a hinted read, then the path key and the node key
				// if the hint was stale.
				if !cp.readsFit(3) {
					break
				}
				var n Node
				var err error
				ok := false
				if listed != nil && hinted[end].Listed != nil {
					if n, ok, err = listed.node(tx, end); err != nil {
						return fmt.Errorf("path %d (%q): %w", end, norm[end], err)
					}
					cp.reads++
				}
				if !ok {
					n, err = getNode(tx, q, hashes[end])
					cp.reads += 2
				}
				if errors.Is(err, ErrNotFound) {
					skips = append(skips, Skip{Index: end, Path: norm[end], Err: err})
					continue
				}
				if err != nil {
					return fmt.Errorf("path %d (%q): %w", end, norm[end], err)
				}
				from := position{n.Level, n.Traversal, n.Copy}
				to, err := decide(&n)
				if errors.Is(err, ErrStatusMismatch) {
					skips = append(skips, Skip{Index: end, Path: norm[end], Err: err})
					continue
				}
				if err != nil {
					return fmt.Errorf("path %d (%q): %w", end, norm[end], err)
				}
				if to == from {
					continue
				}
				ops := 3
				bytes := nodeKeyLen(from) + nodeKeyLen(to) + encodedSize(&n.State) + pathKeyLen + suffixLen(to) + 3*kv.TxnEntryOverhead
				o1, b1 := counterCost(&d, q, from)
				d.add(q, from, -1)
				o2, b2 := counterCost(&d, q, to)
				d.add(q, to, 1)
				if !cp.fits(ops+o1+o2, bytes+b1+b2) {
					if end == start {
						return fmt.Errorf("%w: one node exceeds a transaction", kv.ErrTxnTooLarge)
					}
					d.add(q, to, -1)
					d.add(q, from, 1)
					break
				}
				cp.add(ops+o1+o2, bytes+b1+b2)
				moves = append(moves, move{n, to})
				inChunk[hashes[end]] = struct{}{}
			}
			if err := d.load(tx, s.manyReads); err != nil {
				return err
			}
			buf := make([]byte, 0, 256)
			for i := range moves {
				var err error
				if buf, err = moveNode(tx, &moves[i].n, moves[i].to, nil, buf); err != nil {
					return err
				}
			}
			return d.write(tx)
		})
		if err != nil {
			return res, fmt.Errorf("nodestore: %s: chunk %d (paths %d..): %w", op, res.Chunks+1, start, err)
		}
		res.Chunks++
		res.Applied += end - start - len(skips)
		res.Skipped = append(res.Skipped, skips...)
		start = end
	}
	return res, nil
}
