package nodestore

import (
	"context"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// moveNode moves the stored node n (as read in this transaction) to
// position to: it deletes the old node key, writes the new one with
// State.Status updated, rewrites the path key and records the counter
// change in d (unless d is nil: the caller has counted it). Moving a node
// where it already is does nothing.
func moveNode(tx kv.Txn, n *Node, to position, d *deltas, buf []byte) ([]byte, error) {
	from := position{n.Level, n.Traversal, n.Copy}
	if from == to {
		return buf, nil
	}
	h := hashNormal(n.State.Path)
	buf = appendNodeKey(buf[:0], n.Queue, from.level, from.ts, from.cs, h)
	if err := tx.Delete(buf); err != nil {
		return buf, err
	}
	n.Traversal, n.Copy, n.State.Status = to.ts, to.cs, to.ts
	buf = appendNodeKey(buf[:0], n.Queue, to.level, to.ts, to.cs, h)
	kl := len(buf)
	buf = appendState(buf, &n.State)
	if err := tx.Set(buf[:kl], buf[kl:]); err != nil {
		return buf, err
	}
	buf = appendPathKey(buf[:0], n.Queue, h)
	kl = len(buf)
	buf = appendStatusSuffix(buf, to.level, to.ts, to.cs)
	if err := tx.Set(buf[:kl], buf[kl:]); err != nil {
		return buf, err
	}
	if d != nil {
		d.add(n.Queue, from, -1)
		d.add(n.Queue, to, 1)
	}
	return buf, nil
}

// change runs one read-move transaction on the node (q, path). decide gets
// the node as stored and returns where it must go, or an error.
func (s *Store) change(ctx context.Context, op string, q QueueType, path string, decide func(n *Node) (position, error)) (Node, error) {
	h, err := HashPath(path)
	if err != nil {
		return Node{}, opErr(op, q, path, err)
	}
	var out Node
	err = s.update(ctx, func(tx kv.Txn, stripe int) error {
		n, err := getNode(tx, q, h)
		if err != nil {
			return err
		}
		to, err := decide(&n)
		if err != nil {
			return err
		}
		// Counters are read before the first write (a read after a write
		// makes kv index the transaction's writes).
		d := deltas{stripe: stripe}
		if from := (position{n.Level, n.Traversal, n.Copy}); from != to {
			d.add(q, from, -1)
			d.add(q, to, 1)
		}
		if err := d.load(tx, s.manyReads); err != nil {
			return err
		}
		if _, err := moveNode(tx, &n, to, nil, nil); err != nil {
			return err
		}
		out = n
		return d.write(tx)
	})
	if err != nil {
		return Node{}, opErr(op, q, path, err)
	}
	return out, nil
}

// SetStatus sets the traversal status of the node (q, path) to ts, whatever
// its current status and level, and returns the node as stored afterwards.
// Setting the status a node already has changes nothing. The node key, the
// path key and the counters change in one transaction. A missing node is an
// error wrapping ErrNotFound.
func (s *Store) SetStatus(ctx context.Context, q QueueType, path string, ts TraversalStatus) (Node, error) {
	if err := s.ready(ctx, "SetStatus"); err != nil {
		return Node{}, err
	}
	if err := checkTraversal(q, ts); err != nil {
		return Node{}, opErr("set status", q, path, err)
	}
	return s.change(ctx, "set status", q, path, func(n *Node) (position, error) {
		return position{n.Level, ts, n.Copy}, nil
	})
}

// SetCopyStatus sets the copy status of the src node at path to cs,
// whatever its current statuses, and returns the node as stored afterwards.
// q must be QueueSrc: dst nodes have no copy status (ErrInvalidStatus).
func (s *Store) SetCopyStatus(ctx context.Context, q QueueType, path string, cs CopyStatus) (Node, error) {
	if err := s.ready(ctx, "SetCopyStatus"); err != nil {
		return Node{}, err
	}
	if err := checkCopy(q, cs); err != nil {
		return Node{}, opErr("set copy status", q, path, err)
	}
	return s.change(ctx, "set copy status", q, path, func(n *Node) (position, error) {
		return position{n.Level, n.Traversal, cs}, nil
	})
}

// UpdateNodeStatus is the seed's status transition: the node at path must
// be at level in traversal status oldTS and copy status cs; it moves to
// newTS (cs unchanged) and the new state is returned. A node stored
// elsewhere is an error wrapping ErrStatusMismatch that says where it is;
// a missing node wraps ErrNotFound. Nothing is written on error.
func (s *Store) UpdateNodeStatus(ctx context.Context, q QueueType, level int, oldTS, newTS TraversalStatus, cs CopyStatus, path string) (NodeState, error) {
	if err := s.ready(ctx, "UpdateNodeStatus"); err != nil {
		return NodeState{}, err
	}
	from := position{level, oldTS, cs}
	if err := checkPosition(q, level, oldTS, cs); err != nil {
		return NodeState{}, opErr("update status", q, path, err)
	}
	if err := checkTraversal(q, newTS); err != nil {
		return NodeState{}, opErr("update status", q, path, err)
	}
	n, err := s.change(ctx, "update status", q, path, func(n *Node) (position, error) {
		if at := (position{n.Level, n.Traversal, n.Copy}); at != from {
			return position{}, fmt.Errorf("%w: want %s, node is at %s", ErrStatusMismatch, from, at)
		}
		return position{level, newTS, cs}, nil
	})
	return n.State, err
}

// UpdateNodeCopyStatus is the seed-style copy-status transition: the src
// node at path must be at level in traversal status ts and copy status
// oldCS; it moves to newCS. Errors as UpdateNodeStatus.
func (s *Store) UpdateNodeCopyStatus(ctx context.Context, q QueueType, level int, ts TraversalStatus, oldCS, newCS CopyStatus, path string) (NodeState, error) {
	if err := s.ready(ctx, "UpdateNodeCopyStatus"); err != nil {
		return NodeState{}, err
	}
	from := position{level, ts, oldCS}
	if err := checkPosition(q, level, ts, oldCS); err != nil {
		return NodeState{}, opErr("update copy status", q, path, err)
	}
	if err := checkCopy(q, newCS); err != nil {
		return NodeState{}, opErr("update copy status", q, path, err)
	}
	n, err := s.change(ctx, "update copy status", q, path, func(n *Node) (position, error) {
		if at := (position{n.Level, n.Traversal, n.Copy}); at != from {
			return position{}, fmt.Errorf("%w: want %s, node is at %s", ErrStatusMismatch, from, at)
		}
		return position{level, ts, newCS}, nil
	})
	return n.State, err
}
