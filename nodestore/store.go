package nodestore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/polykv/polykv/kv"
)

// Store keeps the traversal state of a migration in a kv.Store. It holds no
// state of its own besides the kv.Store: any number of Stores (in one
// process) may share one kv.Store, and every method is safe for concurrent
// use.
//
// Every write is one kv Update (or, for the batch operations, one Update per
// chunk), so a node key, its children index entry, its path key and the
// counters always change together. kv serializes writers, so concurrent
// workers never lose a count.
//
// After the kv.Store is closed every method returns an error wrapping
// kv.ErrClosed.
//
// Make a Store with New or NewWithOptions: the zero Store has no kv.Store,
// and every method of it (or of a nil *Store) returns an error matching
// ErrInvalidArgument, as does every method given a nil context.
type Store struct {
	kv         kv.Store
	chunkBytes int
	lim        kv.Limits // the kv store's (kv.LimitsOf)
	// pointExists makes batch inserts check each path with a point read
	// instead of scanning the children index of each parent. On the
	// memory backend a point read is a tree lookup while a scan of more
	// than 256 keys (the root's children index, say) clones the tree, and
	// the commit that follows then copies every tree node it touches
	// (measured on 2026-11-26: 0.76-0.79 of the raw speed with point
	// reads, 0.63-0.67 with scans). On a shared (networked) store too:
	// the point reads of a chunk go in one kv.GetMany, one round trip,
	// where scans cost one per parent.
	pointExists bool
	// scanListed lets CompleteBatch read a page's hinted parents with one
	// iteration (listedReads.scan): on local engines but memory. A shared
	// engine reads them with GetMany, one request per group.
	scanListed bool
	// scanSlack is how many keys of a parent's children index beyond
	// twice the batch's children under it findExisting scans before it
	// falls back to point reads: 64, and 0 where it never scans
	// (pointExists).
	scanSlack int
	// manyReads: the store's point reads are round trips (a shared,
	// networked store): reads a transaction needs together go in one
	// kv.GetMany (counters, existence checks).
	manyReads bool
	// boundReads: the store compares what a transaction read at its
	// commit, within its limits (a shared store): chunks end on their
	// reads too (chunkPlan).
	boundReads bool
	// combiners gather concurrent CompleteWithChildren calls per queue
	// type (dst, src) into shared commits (combine.go), when combine is
	// set: not on a store whose kv commits concurrent writers together
	// itself (kv.Info.GroupCommit: bbolt), where 8 workers completed 8-21%
	// fewer nodes per second through the combiner than without it
	// (traverse-gen-workers, 2026-12-06).
	combine   bool
	combiners [2]combiner
	// listed remembers where recently listed nodes were, as hints for
	// completions that name their parent by path (listed.go).
	listed listedPositions
	// stripes picks the counter stripe of each writing transaction on a
	// shared store (stripes.go); nil on a local store, which writes
	// stripe 0 only.
	stripes *stripePicker
	// stripeReads says whether counter reads outside a transaction sum
	// stripes (sumsStripes): stripeReadsUnknown until first asked.
	stripeReads atomic.Int32
}

// DefaultChunkBytes is the default Options.ChunkBytes on bbolt and on
// backends nodestore does not know: just below kv.MaxTxnBytes, as
// kv.BulkWriter does for keys out of order. On bbolt each commit rewrites the pages it touches,
// so fewer and larger chunks load faster.
const DefaultChunkBytes = kv.MaxTxnBytes - chunkByteSlack

// SmallChunkBytes is the default Options.ChunkBytes on the badger, pebble
// and memory backends, which load faster with smaller transactions: the
// transaction's write batch stays small enough for kv to reuse its buffer
// instead of growing a new one of several MiB for every chunk, and the
// engine copies less per commit.
const SmallChunkBytes = 768 << 10

// defaultChunkBytes is the default chunk size for a store on backend.
func defaultChunkBytes(backend string) int {
	switch backend {
	case "badger", "pebble", "memory":
		return SmallChunkBytes
	}
	return DefaultChunkBytes
}

// Options tune a Store. The zero value (or a nil *Options) gives the
// defaults.
type Options struct {
	// ChunkBytes is the size a batch operation aims for in each of its
	// transactions, counted as kv counts transaction sizes. 0 means the
	// backend's default: SmallChunkBytes on badger, pebble and memory,
	// which load faster with smaller transactions, and DefaultChunkBytes
	// (just below kv.MaxTxnBytes, as kv.BulkWriter for keys out of order)
	// on bbolt and any other backend. Larger values are capped; chunks
	// also stay below kv.MaxTxnOps writes.
	ChunkBytes int
	// CounterStripes says whether writers spread their counter changes
	// over stripes (see the package doc, "Counts on a shared store").
	// StripesAuto, the zero value, turns them on for a shared store
	// (kv.Guarantees.Shared) and off for the others. Stores of one local
	// kv.Store should agree: a Store that writes no stripes checks once,
	// at its first Count, PendingAt or LevelDone, whether the store holds
	// any, and reads single keys after that if not.
	CounterStripes StripeMode
}

// StripeMode is Options.CounterStripes.
type StripeMode int

const (
	// StripesAuto: stripes on a shared store only.
	StripesAuto StripeMode = iota
	// StripesOn: stripes on any store, for instance one whose Update runs
	// optimistically in one process (memory:?opt.txn=optimistic) with
	// many concurrent writers.
	StripesOn
	// StripesOff: every counter in its one key, also on a shared store,
	// where concurrent writers then conflict on them.
	StripesOff
)

// New returns a Store over s with the default options. It reads and writes
// nothing.
func New(s kv.Store) *Store { return NewWithOptions(s, nil) }

// NewWithOptions returns a Store over s tuned by opts (nil: defaults).
//
// A nil s gives a Store whose every call fails with ErrInvalidArgument.
func NewWithOptions(s kv.Store, opts *Options) *Store {
	if s == nil {
		s = kv.FailingStore(fmt.Errorf("%w: nodestore.New: nil kv.Store", ErrInvalidArgument))
	}
	backend := s.Info().Backend
	lim := kv.LimitsOf(s)
	shared := s.Info().Guarantees.Shared
	st := &Store{kv: s, lim: lim, chunkBytes: defaultChunkBytes(backend), pointExists: backend == "memory" || shared}
	st.scanListed = !st.pointExists
	st.scanSlack = 64
	if st.pointExists {
		st.scanSlack = 0
	}
	st.boundReads, st.manyReads = shared, shared
	mode := StripesAuto
	if opts != nil {
		mode = opts.CounterStripes
	}
	if mode == StripesOn || mode == StripesAuto && shared {
		st.stripes = newStripePicker()
	}
	if st.stripes != nil || shared {
		st.stripeReads.Store(stripeReadsYes)
	}
	st.combine = !s.Info().GroupCommit
	if opts != nil && opts.ChunkBytes > 0 {
		st.chunkBytes = opts.ChunkBytes
	}
	st.chunkBytes = min(st.chunkBytes, txnBytesBudget(lim))
	return st
}

// KV returns the kv.Store under s; for a Store not made by New, one whose
// every call fails with ErrInvalidArgument.
func (s *Store) KV() kv.Store {
	if s == nil || s.kv == nil {
		return kv.FailingStore(errNotMade)
	}
	return s.kv
}

// errNotMade is the error of a Store not made by New (nil, or the zero
// Store).
var errNotMade = fmt.Errorf("%w: Store not made with nodestore.New or NewWithOptions", ErrInvalidArgument)

// ready is the first check of every method: a Store not made by New and a
// nil ctx are errors naming the method op, not panics.
func (s *Store) ready(ctx context.Context, op string) error {
	if s == nil || s.kv == nil {
		return fmt.Errorf("nodestore: %s: %w", op, errNotMade)
	}
	if ctx == nil {
		return fmt.Errorf("nodestore: %s: %w: nil context", op, ErrInvalidArgument)
	}
	return nil
}

// position is where a node's key puts it.
type position struct {
	level int
	ts    TraversalStatus
	cs    CopyStatus
}

func (p position) String() string {
	return fmt.Sprintf("level %d, traversal %q, copy %q", p.level, p.ts, p.cs)
}

// validate checks a node about to be stored and fills in State.Status. It
// returns the path hash and, for a non-root, the parent's hash.
func validate(n *Node) (h, parent PathHash, root bool, err error) {
	return validateCached(n, nil)
}

// hashCache remembers the last two paths hashed: in a batch, siblings
// share their parent, and a folder is often followed by its children.
type hashCache struct {
	path [2]string
	h    [2]PathHash
	next int
}

// hash returns hashNormal(p), from the cache when c holds p (c may be nil).
func (c *hashCache) hash(p string) PathHash {
	if c == nil {
		return hashNormal(p)
	}
	for i := range c.path {
		if c.path[i] == p && p != "" {
			return c.h[i]
		}
	}
	h := hashNormal(p)
	c.path[c.next], c.h[c.next] = p, h
	c.next ^= 1
	return h
}

// validateCached is validate hashing through c (nil: no cache).
func validateCached(n *Node, c *hashCache) (h, parent PathHash, root bool, err error) {
	if err := checkPosition(n.Queue, n.Level, n.Traversal, n.Copy); err != nil {
		return h, parent, false, err
	}
	st := &n.State
	if err := checkNormal("Path", st.Path); err != nil {
		return h, parent, false, err
	}
	root = st.ParentPath == ""
	if root {
		if n.Level != 0 {
			return h, parent, false, fmt.Errorf("field ParentPath: %w: empty (a root) at level %d: roots live at level 0", ErrInvalidNode, n.Level)
		}
	} else {
		if err := checkNormal("ParentPath", st.ParentPath); err != nil {
			return h, parent, false, err
		}
		if want := parentOf(st.Path); st.ParentPath != want {
			return h, parent, false, fmt.Errorf("field ParentPath: %w: %q is not the parent of %q (want %q)", ErrInvalidNode, st.ParentPath, st.Path, want)
		}
		if n.Level == 0 {
			return h, parent, false, fmt.Errorf("field ParentPath: %w: %q at level 0: level 0 holds roots, whose ParentPath is empty", ErrInvalidNode, st.ParentPath)
		}
		if want := baseOf(st.Path); st.Name != want {
			return h, parent, false, fmt.Errorf("field Name: %w: %q is not the last element of %q (want %q)", ErrInvalidNode, st.Name, st.Path, want)
		}
	}
	for _, c := range []byte(st.Name) {
		if c == 0 {
			return h, parent, false, fmt.Errorf("field Name: %w: %q contains a NUL byte", ErrInvalidNode, st.Name)
		}
	}
	if st.Type != NodeTypeFolder && st.Type != NodeTypeFile {
		return h, parent, false, fmt.Errorf("field Type: %w: %q: want %q or %q", ErrInvalidNode, st.Type, NodeTypeFolder, NodeTypeFile)
	}
	if st.Size < 0 {
		return h, parent, false, fmt.Errorf("field Size: %w: %d is negative", ErrInvalidNode, st.Size)
	}
	if st.Depth != n.Level {
		return h, parent, false, fmt.Errorf("field Depth: %w: %d is not the level %d", ErrInvalidNode, st.Depth, n.Level)
	}
	switch st.Status {
	case "":
		st.Status = n.Traversal
	case n.Traversal:
	default:
		return h, parent, false, fmt.Errorf("field Status: %w: %q is not the traversal status %q", ErrInvalidStatus, st.Status, n.Traversal)
	}
	h = c.hash(st.Path)
	if !root {
		parent = c.hash(st.ParentPath)
	}
	return h, parent, root, nil
}

// validateNode is validateCached for a node to be written to s: its
// encoded value must also fit the store's value limit, or a batch would
// fail at that node's chunk after writing the chunks before it.
func (s *Store) validateNode(n *Node, c *hashCache) (h, parent PathHash, root bool, err error) {
	if h, parent, root, err = validateCached(n, c); err != nil {
		return h, parent, root, err
	}
	if size, limit := encodedSize(&n.State), s.lim.MaxValueSize; size > limit {
		return h, parent, root, fmt.Errorf("field State: %w: encodes to about %d bytes, more than this store's value limit %d (ID of %d bytes, Path of %d)",
			kv.ErrValueTooLarge, size, limit, len(n.State.ID), len(n.State.Path))
	}
	return h, parent, root, nil
}

func opErr(op string, q QueueType, path string, err error) error {
	return fmt.Errorf("nodestore: %s %s %q: %w", op, q, path, err)
}

// getPosition reads the path key of (q, h).
func getPosition(tx kv.ReadTxn, q QueueType, h PathHash, buf []byte) (position, bool, error) {
	v, err := tx.Get(appendPathKey(buf[:0], q, h))
	if errors.Is(err, kv.ErrNotFound) {
		return position{}, false, nil
	}
	if err != nil {
		return position{}, false, err
	}
	level, ts, cs, err := parseStatusSuffix(q, v)
	if err != nil {
		return position{}, false, fmt.Errorf("path key of %s: %w", h, err)
	}
	return position{level, ts, cs}, true, nil
}

// getNode reads the node (q, h) through its path key.
func getNode(tx kv.ReadTxn, q QueueType, h PathHash) (Node, error) {
	var buf [96]byte
	pos, ok, err := getPosition(tx, q, h, buf[:0])
	if err != nil {
		return Node{}, err
	}
	if !ok {
		return Node{}, ErrNotFound
	}
	key := appendNodeKey(buf[:0], q, pos.level, pos.ts, pos.cs, h)
	v, err := tx.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return Node{}, fmt.Errorf("%w: path key says %s but %s is missing", ErrCorrupt, pos, key)
	}
	if err != nil {
		return Node{}, err
	}
	n := Node{Queue: q, Level: pos.level, Traversal: pos.ts, Copy: pos.cs}
	if err := decodeState(v, &n.State); err != nil {
		return Node{}, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

// getNodes reads the nodes (q, h) of hashes, as getNode each would, and
// fails naming the hash of a missing node (wrapping ErrNotFound).
//
// Through their path keys, that is two point reads per node: the path key
// for the node's position, then the node key. Siblings are mostly at one
// position (the same level and statuses), so getNodes first reads the
// position of one node and then reads every node key at that position
// directly, one read per node; a node found there is the node, since a
// node has exactly one node key. The nodes not found there are read
// through their path keys. If fewer than guessHitsMin of the first
// guessProbe guesses hit, the rest go through their path keys at once, so
// a set of mixed positions costs at most guessProbe reads more than before.
// Each step is one kv.GetMany: on a networked engine, a round trip per step
// instead of one per node.
func getNodes(tx kv.ReadTxn, q QueueType, hashes []PathHash) ([]Node, error) {
	var out []Node
	for len(hashes) > 0 {
		n := min(len(hashes), getNodesChunk)
		part, err := getNodesGuessed(tx, q, hashes[:n])
		if err != nil {
			return nil, err
		}
		out, hashes = append(out, part...), hashes[n:]
	}
	return out, nil
}

// getNodesChunk is how many nodes getNodes reads with one GetMany.
const getNodesChunk = 4096

// guessProbe and guessHitsMin: getNodes reads the node keys of the first
// guessProbe nodes at the guessed position, and the rest only if at least
// guessHitsMin of those were there. Reading a node through its path key
// after a wrong guess costs three reads instead of two, so guessing pays
// when more than half hit; the margin keeps a mix near one half out.
const (
	guessProbe   = 64
	guessHitsMin = guessProbe * 6 / 10
)

// getNodesGuessed is getNodes of at most getNodesChunk hashes.
func getNodesGuessed(tx kv.ReadTxn, q QueueType, hashes []PathHash) ([]Node, error) {
	if len(hashes) < 2 {
		return getNodesChunked(tx, q, hashes)
	}
	var buf [pathKeyLen]byte
	pos, ok, err := getPosition(tx, q, hashes[0], buf[:0])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", hashes[0], ErrNotFound)
	}
	out := make([]Node, len(hashes))
	found := make([]bool, len(hashes))
	probe := min(len(hashes), 1+guessProbe)
	hits, err := readAt(tx, q, pos, hashes[:probe], out, found)
	if err != nil {
		return nil, err
	}
	if !found[0] {
		return nil, fmt.Errorf("%w: path key says %s but %s is missing", ErrCorrupt, pos, appendNodeKey(nil, q, pos.level, pos.ts, pos.cs, hashes[0]))
	}
	if probe < len(hashes) && hits-1 >= guessHitsMin {
		if _, err := readAt(tx, q, pos, hashes[probe:], out[probe:], found[probe:]); err != nil {
			return nil, err
		}
	}
	var missIdx []int
	var miss []PathHash
	for i, f := range found {
		if !f {
			missIdx = append(missIdx, i)
			miss = append(miss, hashes[i])
		}
	}
	if len(miss) == 0 {
		return out, nil
	}
	rest, err := getNodesChunked(tx, q, miss)
	if err != nil {
		return nil, err
	}
	for j, i := range missIdx {
		out[i] = rest[j]
	}
	return out, nil
}

// readAt reads the node keys of hashes at pos with one GetMany, filling
// out[i] and found[i] for each present one; it returns how many were.
func readAt(tx kv.ReadTxn, q QueueType, pos position, hashes []PathHash, out []Node, found []bool) (int, error) {
	keys := make([][]byte, len(hashes))
	buf := make([]byte, 0, len(hashes)*nodeKeyLen(pos))
	for i, h := range hashes {
		start := len(buf)
		buf = appendNodeKey(buf, q, pos.level, pos.ts, pos.cs, h)
		keys[i] = buf[start:len(buf):len(buf)]
	}
	hits := 0
	err := kv.GetMany(tx, keys, func(i int, v []byte) error {
		n := &out[i]
		*n = Node{Queue: q, Level: pos.level, Traversal: pos.ts, Copy: pos.cs}
		if err := decodeState(v, &n.State); err != nil {
			return fmt.Errorf("%s: %w", keys[i], err)
		}
		found[i] = true
		hits++
		return nil
	})
	return hits, err
}

// getNodesChunked reads the nodes of hashes through their path keys, in
// two kv.GetMany (path keys, then node keys).
func getNodesChunked(tx kv.ReadTxn, q QueueType, hashes []PathHash) ([]Node, error) {
	keys := make([][]byte, len(hashes))
	buf := make([]byte, 0, len(hashes)*pathKeyLen)
	for i, h := range hashes {
		start := len(buf)
		buf = appendPathKey(buf, q, h)
		keys[i] = buf[start:len(buf):len(buf)]
	}
	out := make([]Node, len(hashes))
	found := make([]bool, len(hashes))
	err := kv.GetMany(tx, keys, func(i int, v []byte) error {
		level, ts, cs, err := parseStatusSuffix(q, v)
		if err != nil {
			return fmt.Errorf("path key of %s: %w", hashes[i], err)
		}
		out[i] = Node{Queue: q, Level: level, Traversal: ts, Copy: cs}
		found[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	buf = buf[:0]
	for i, h := range hashes {
		if !found[i] {
			return nil, fmt.Errorf("%s: %w", h, ErrNotFound)
		}
		n := &out[i]
		start := len(buf)
		buf = appendNodeKey(buf, q, n.Level, n.Traversal, n.Copy, h)
		keys[i] = buf[start:len(buf):len(buf)]
	}
	clear(found)
	err = kv.GetMany(tx, keys, func(i int, v []byte) error {
		found[i] = true
		if err := decodeState(v, &out[i].State); err != nil {
			return fmt.Errorf("%s: %w", keys[i], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range hashes {
		if !found[i] {
			n := &out[i]
			return nil, fmt.Errorf("%w: path key says %s but %s is missing", ErrCorrupt, position{n.Level, n.Traversal, n.Copy}, keys[i])
		}
	}
	return out, nil
}

// Get returns the node of queue q at path (normalized first), whatever its
// level and statuses, or an error wrapping ErrNotFound. It costs two point
// reads.
func (s *Store) Get(ctx context.Context, q QueueType, path string) (Node, error) {
	if err := s.ready(ctx, "Get"); err != nil {
		return Node{}, err
	}
	if err := q.check(); err != nil {
		return Node{}, opErr("get", q, path, err)
	}
	h, err := HashPath(path)
	if err != nil {
		return Node{}, opErr("get", q, path, err)
	}
	var n Node
	err = s.kv.View(ctx, func(tx kv.ReadTxn) error {
		var err error
		n, err = getNode(tx, q, h)
		return err
	})
	if err != nil {
		return Node{}, opErr("get", q, path, err)
	}
	return n, nil
}

// writeNew writes a validated new node: node key, index entry (unless
// root), path key; it records the counter change in d (unless d is nil:
// the caller has counted it).
func writeNew(tx kv.Txn, n *Node, h, parent PathHash, root bool, d *deltas, buf []byte) ([]byte, error) {
	buf = appendNodeKey(buf[:0], n.Queue, n.Level, n.Traversal, n.Copy, h)
	kl := len(buf)
	buf = appendState(buf, &n.State)
	if err := tx.Set(buf[:kl], buf[kl:]); err != nil {
		return buf, err
	}
	if !root {
		buf = appendChildKey(buf[:0], n.Queue, parent, h)
		if err := tx.Set(buf, nil); err != nil {
			return buf, err
		}
	}
	buf = appendPathKey(buf[:0], n.Queue, h)
	kl = len(buf)
	buf = appendStatusSuffix(buf, n.Level, n.Traversal, n.Copy)
	if err := tx.Set(buf[:kl], buf[kl:]); err != nil {
		return buf, err
	}
	if d != nil {
		d.add(n.Queue, position{n.Level, n.Traversal, n.Copy}, 1)
	}
	return buf, nil
}

// Insert stores a new node with its children index entry (unless it is a
// root), its path key and its counts, in one transaction. n.State.Status
// may be empty (it is set to n.Traversal).
//
// A path that is already stored in queue n.Queue, at any level and status,
// is never stored twice: Insert returns an error wrapping ErrExists that
// says where the node is, and writes nothing. (The batch operations skip
// such nodes and report them instead.) Every invalid field is an error
// naming the field, and nothing is written.
//
// When the parent (n.State.ParentPath) is stored, n must be one level
// below it and the parent must be a folder: otherwise Insert returns an
// error wrapping ErrInvalidLevel or ErrInvalidNode and writes nothing. The
// parent need not be stored: nodes may come before their parent, and the
// index entry is written regardless (Check reports children whose parent
// never came; such a node is not checked when its parent comes later).
func (s *Store) Insert(ctx context.Context, n Node) error {
	if err := s.ready(ctx, "Insert"); err != nil {
		return err
	}
	h, parent, root, err := s.validateNode(&n, nil)
	if err != nil {
		return opErr("insert", n.Queue, n.State.Path, err)
	}
	err = s.update(ctx, func(tx kv.Txn, stripe int) error {
		var buf [128]byte
		pos, ok, err := getPosition(tx, n.Queue, h, buf[:0])
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("%w (at %s)", ErrExists, pos)
		}
		if !root {
			if err := storedParentFits(tx, &n, parent); err != nil {
				return err
			}
		}
		d := deltas{stripe: stripe}
		d.add(n.Queue, position{n.Level, n.Traversal, n.Copy}, 1)
		if err := d.load(tx, s.manyReads); err != nil {
			return err
		}
		if _, err := writeNew(tx, &n, h, parent, root, nil, buf[:0]); err != nil {
			return err
		}
		return d.write(tx)
	})
	if err != nil {
		return opErr("insert", n.Queue, n.State.Path, err)
	}
	return nil
}

// InsertNodeWithIndex is the seed's form of Insert: key is a node key (from
// KeySrc or KeyDst) that gives the queue, level and statuses; its hash must
// be the hash of state.Path, and indexPrefix must be the children index
// prefix of the key's queue. state is not modified.
func (s *Store) InsertNodeWithIndex(ctx context.Context, key []byte, state *NodeState, indexPrefix string) error {
	if err := s.ready(ctx, "InsertNodeWithIndex"); err != nil {
		return err
	}
	if state == nil {
		return fmt.Errorf("nodestore: insert %q: %w: nil state", key, ErrInvalidNode)
	}
	ki, err := ParseNodeKey(key)
	if err != nil {
		return fmt.Errorf("nodestore: insert: %w", err)
	}
	q, err := queueOfIndexPrefix(indexPrefix)
	if err != nil {
		return opErr("insert", ki.Queue, state.Path, err)
	}
	if q != ki.Queue {
		return opErr("insert", ki.Queue, state.Path, fmt.Errorf("%w: index prefix %q is not the key's queue %q", ErrInvalidQueue, indexPrefix, ki.Queue))
	}
	if h, err := HashPath(state.Path); err == nil && h != ki.Hash {
		return opErr("insert", ki.Queue, state.Path, fmt.Errorf("%w: key %q does not hold the hash of Path (%s)", ErrInvalidKey, key, h))
	}
	return s.Insert(ctx, Node{Queue: ki.Queue, Level: ki.Level, Traversal: ki.Traversal, Copy: ki.Copy, State: *state})
}
