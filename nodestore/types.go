package nodestore

import (
	"fmt"
	"time"
)

// QueueType names one of the two trees a migration traverses.
type QueueType string

const (
	// QueueSrc is the source tree. Its nodes have a traversal status and a
	// copy status.
	QueueSrc QueueType = "src"
	// QueueDst is the destination tree. Its nodes have a traversal status
	// only (the copy status segment of their key is empty).
	QueueDst QueueType = "dst"
)

// Queues lists the queue types in the order of their keys.
var Queues = [...]QueueType{QueueDst, QueueSrc}

// Valid reports whether q is QueueSrc or QueueDst.
func (q QueueType) Valid() bool { return q == QueueSrc || q == QueueDst }

func (q QueueType) check() error {
	if !q.Valid() {
		return fmt.Errorf("%w: queue type %q: want %q or %q", ErrInvalidQueue, string(q), QueueSrc, QueueDst)
	}
	return nil
}

// TraversalStatus is where a node stands in the breadth-first traversal.
type TraversalStatus string

const (
	// TraversalStatusPending: the node waits to be listed.
	TraversalStatusPending TraversalStatus = "pending"
	// TraversalStatusSuccessful: the node was listed (its children, if
	// any, are stored).
	TraversalStatusSuccessful TraversalStatus = "successful"
	// TraversalStatusFailed: listing the node failed.
	TraversalStatusFailed TraversalStatus = "failed"
	// TraversalStatusNotOnSrc: the node exists on the destination but not
	// on the source. Allowed on dst nodes only.
	TraversalStatusNotOnSrc TraversalStatus = "not_on_src"
)

// traversalCodes are the one-byte codes of the traversal statuses in values
// and counters; 0 is never used.
var traversalStatuses = [...]TraversalStatus{
	TraversalStatusPending, TraversalStatusSuccessful, TraversalStatusFailed, TraversalStatusNotOnSrc,
}

// ValidFor reports whether ts is a traversal status nodes of queue q may
// have.
func (ts TraversalStatus) ValidFor(q QueueType) bool {
	switch ts {
	case TraversalStatusPending, TraversalStatusSuccessful, TraversalStatusFailed:
		return q.Valid()
	case TraversalStatusNotOnSrc:
		return q == QueueDst
	}
	return false
}

func (ts TraversalStatus) code() byte {
	for i, s := range traversalStatuses {
		if s == ts {
			return byte(i + 1)
		}
	}
	return 0
}

func checkTraversal(q QueueType, ts TraversalStatus) error {
	if err := q.check(); err != nil {
		return err
	}
	if !ts.ValidFor(q) {
		if ts == TraversalStatusNotOnSrc {
			return fmt.Errorf("%w: traversal status %q: allowed on dst nodes only", ErrInvalidStatus, string(ts))
		}
		return fmt.Errorf("%w: traversal status %q: want pending, successful, failed or (dst only) not_on_src", ErrInvalidStatus, string(ts))
	}
	return nil
}

// CopyStatus is where a source node stands in the copy phase. Destination
// nodes have no copy status: CopyStatusNone.
type CopyStatus string

const (
	// CopyStatusNone is the copy status of every dst node (an empty
	// segment in its key). It is invalid on a src node.
	CopyStatusNone CopyStatus = ""
	// CopyStatusPending: the node waits to be copied.
	CopyStatusPending CopyStatus = "pending"
	// CopyStatusSuccessful: the node was copied.
	CopyStatusSuccessful CopyStatus = "successful"
	// CopyStatusFailed: copying the node failed.
	CopyStatusFailed CopyStatus = "failed"
)

var copyStatuses = [...]CopyStatus{CopyStatusNone, CopyStatusPending, CopyStatusSuccessful, CopyStatusFailed}

// ValidFor reports whether cs is a copy status nodes of queue q may have:
// pending, successful or failed for src, CopyStatusNone for dst.
func (cs CopyStatus) ValidFor(q QueueType) bool {
	switch cs {
	case CopyStatusPending, CopyStatusSuccessful, CopyStatusFailed:
		return q == QueueSrc
	case CopyStatusNone:
		return q == QueueDst
	}
	return false
}

func checkCopy(q QueueType, cs CopyStatus) error {
	if err := q.check(); err != nil {
		return err
	}
	if !cs.ValidFor(q) {
		switch {
		case q == QueueDst:
			return fmt.Errorf("%w: copy status %q on a dst node: dst nodes have no copy status (want \"\")", ErrInvalidStatus, string(cs))
		case cs == CopyStatusNone:
			return fmt.Errorf("%w: copy status \"\" on a src node: want pending, successful or failed", ErrInvalidStatus)
		default:
			return fmt.Errorf("%w: copy status %q: want pending, successful or failed", ErrInvalidStatus, string(cs))
		}
	}
	return nil
}

// NodeType says whether a node is a folder (it may have children) or a file.
type NodeType string

const (
	// NodeTypeFolder is a directory: it may have children.
	NodeTypeFolder NodeType = "folder"
	// NodeTypeFile is a leaf.
	NodeTypeFile NodeType = "file"
)

// MaxLevel is the deepest level a key can hold: 8 decimal digits.
const MaxLevel = 99999999

func checkLevel(level int) error {
	if level < 0 || level > MaxLevel {
		return fmt.Errorf("%w: level %d: want 0..%d (8 digits)", ErrInvalidLevel, level, MaxLevel)
	}
	return nil
}

// NodeState is what nodestore keeps about one node, as the seed defines it.
// It is stored as the value of the node's key (see "Value encoding" in the
// package documentation) and reads back field for field.
type NodeState struct {
	// ID and ParentID are the caller's identifiers (for example the
	// file system's or the cloud API's). nodestore stores them as given.
	ID       string
	ParentID string
	// ParentPath is the normalized path of the parent, or "" for a root
	// (a node at level 0 that has no parent in the store).
	ParentPath string
	// Name is the last element of Path. For a root it may be anything.
	Name string
	// Path is the node's normalized path (see NormalizePath). It
	// identifies the node within its queue.
	Path string
	// Type is NodeTypeFolder or NodeTypeFile.
	Type NodeType
	// Size in bytes; never negative.
	Size int64
	// MTime is the modification time. It reads back as the same instant in
	// UTC, without a monotonic clock reading (use Equal, or store UTC
	// times); the zero Time reads back as the zero Time.
	MTime time.Time
	// Depth is the node's BFS level; it must equal the level of its key.
	Depth int
	// CopyNeeded is the caller's flag, stored as given.
	CopyNeeded bool
	// Status is the node's traversal status. nodestore keeps it equal to
	// the status segment of the node's key: on insert it may be empty
	// (it is filled in) or equal to the key's status; every status change
	// updates it.
	Status TraversalStatus
}

// Node is a stored node: where its key puts it, and its state.
type Node struct {
	Queue     QueueType
	Level     int
	Traversal TraversalStatus
	Copy      CopyStatus
	State     NodeState
}

// Key returns the node's key (the seed's format). It fails only for a Node
// whose fields are invalid.
func (n *Node) Key() ([]byte, error) {
	if n == nil {
		return nil, fmt.Errorf("%w: Key of a nil *Node", ErrInvalidNode)
	}
	h, err := HashPath(n.State.Path)
	if err != nil {
		return nil, err
	}
	return AppendNodeKey(nil, n.Queue, n.Level, n.Traversal, n.Copy, h)
}
