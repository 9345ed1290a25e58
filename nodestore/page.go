package nodestore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Cursor marks how far a paged pass has gone: it holds the last key
// returned. The empty Cursor is the start of a pass. A Cursor is plain
// bytes in a string: it may be saved and reused after a restart.
type Cursor string

// ListByStatus returns up to limit nodes of queue q at level in traversal
// status ts (for src: in any copy status), in key order, starting after
// cursor, and the cursor to pass for the next page. A page shorter than
// limit ends the pass.
//
// Each page seeks directly to the cursor, so a pass that pulls every page
// while moving the returned nodes out of ts (the engine's loop) costs
// O(nodes) in total: it never rescans keys it has passed, nor the deleted
// keys they leave behind in LSM engines. A node that enters ts behind the
// cursor during the pass is not seen by that pass: start a new pass (empty
// cursor) to pick it up, for example when LevelDone still says false.
// A cursor outside the pass's keys (another queue, level or status) or
// not a node key is an error wrapping ErrInvalidKey.
func (s *Store) ListByStatus(ctx context.Context, q QueueType, level int, ts TraversalStatus, after Cursor, limit int) ([]Node, Cursor, error) {
	if err := s.ready(ctx, "ListByStatus"); err != nil {
		return nil, after, err
	}
	prefix, err := PrefixForStatus(q, level, ts)
	if err != nil {
		return nil, after, fmt.Errorf("nodestore: list: %w", err)
	}
	return s.listPrefix(ctx, prefix, after, limit)
}

// ListByCopyStatus is ListByStatus for the src nodes at level in traversal
// status ts and copy status cs: the pages of the copy phase. Moving the
// returned nodes to another copy status keeps the pass O(nodes) in total.
func (s *Store) ListByCopyStatus(ctx context.Context, q QueueType, level int, ts TraversalStatus, cs CopyStatus, after Cursor, limit int) ([]Node, Cursor, error) {
	if err := s.ready(ctx, "ListByCopyStatus"); err != nil {
		return nil, after, err
	}
	prefix, err := PrefixForCopyStatus(q, level, ts, cs)
	if err != nil {
		return nil, after, fmt.Errorf("nodestore: list: %w", err)
	}
	return s.listPrefix(ctx, prefix, after, limit)
}

func (s *Store) listPrefix(ctx context.Context, prefix []byte, after Cursor, limit int) ([]Node, Cursor, error) {
	if limit <= 0 {
		return nil, after, fmt.Errorf("nodestore: list %s: %w: limit %d: want > 0", prefix, ErrInvalidArgument, limit)
	}
	opts := kv.IterOptions{Prefix: prefix, Limit: limit}
	if after != "" {
		if !bytes.HasPrefix([]byte(after), prefix) {
			return nil, after, fmt.Errorf("nodestore: list %s: %w: cursor %q belongs to another pass", prefix, ErrInvalidKey, after)
		}
		// A cursor is the last node key of a page. Anything else with the
		// pass's prefix (truncated or edited while saved for a restart)
		// would seek to an arbitrary place: list again nodes already
		// listed, or skip pending ones, up to all of them, so that the
		// pass would look finished.
		if _, err := ParseNodeKey([]byte(after)); err != nil {
			return nil, after, fmt.Errorf("nodestore: list %s: cursor: %w", prefix, err)
		}
		opts.Start = kv.KeySuccessor([]byte(after))
	}
	out := make([]Node, 0, min(limit, 1024))
	hashes := make([]PathHash, 0, cap(out))
	next := after
	err := s.kv.Iterate(ctx, opts, func(k, v []byte) error {
		ki, err := ParseNodeKey(k)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		n := Node{Queue: ki.Queue, Level: ki.Level, Traversal: ki.Traversal, Copy: ki.Copy}
		if err := decodeState(v, &n.State); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, n)
		hashes = append(hashes, ki.Hash)
		next = Cursor(k)
		return nil
	})
	if err != nil {
		return nil, after, fmt.Errorf("nodestore: list %s: %w", prefix, err)
	}
	s.listed.remember(hashes, out)
	return out, next, nil
}

// PendingPage is ListByStatus for traversal status pending: the next page
// of nodes waiting to be listed at level.
func (s *Store) PendingPage(ctx context.Context, q QueueType, level int, after Cursor, limit int) ([]Node, Cursor, error) {
	return s.ListByStatus(ctx, q, level, TraversalStatusPending, after, limit)
}
