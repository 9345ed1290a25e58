package nodestore

import (
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Errors returned by nodestore, matched with errors.Is. Every returned error
// wraps one of them (or a kv error, such as kv.ErrClosed or
// kv.ErrTxnTooLarge) with context: the operation, the queue, the path and,
// for invalid input, the name of the field at fault.

// These can occur when an argument or a NodeState is invalid. Nothing is
// written.
var (
	// ErrInvalidQueue: a queue type other than QueueSrc and QueueDst, or an
	// index prefix other than IndexPrefixSrcChildren and
	// IndexPrefixDstChildren.
	ErrInvalidQueue = errors.New("nodestore: invalid queue type")
	// ErrInvalidStatus: an unknown traversal or copy status, or one the
	// queue does not allow (a copy status on a dst node, no copy status on
	// a src node, not_on_src on a src node).
	ErrInvalidStatus = errors.New("nodestore: invalid status")
	// ErrInvalidLevel: a level below 0 or above MaxLevel.
	ErrInvalidLevel = errors.New("nodestore: invalid level")
	// ErrInvalidPath: an empty path, a path with a NUL byte or a ".."
	// segment, or (for a NodeState being stored) a path that is not in
	// normal form.
	ErrInvalidPath = errors.New("nodestore: invalid path")
	// ErrInvalidNode: a NodeState field that contradicts the others (a
	// parent path that is not the path's parent, a depth that is not the
	// level, an unknown node type, a negative size, ...).
	ErrInvalidNode = errors.New("nodestore: invalid node")
	// ErrInvalidArgument: another argument out of range (a page limit
	// below 1), or nil where a function, io.Reader or io.Writer is needed.
	ErrInvalidArgument = errors.New("nodestore: invalid argument")
	// ErrInvalidKey: a key given to a function expecting a node key (or an
	// index prefix) does not parse.
	ErrInvalidKey = errors.New("nodestore: invalid key")
)

// These can occur when the stored state does not allow an operation.
var (
	// ErrNotFound: no node with that queue and path. It wraps
	// kv.ErrNotFound, so errors.Is(err, kv.ErrNotFound) holds as well.
	ErrNotFound = fmt.Errorf("nodestore: node not found (%w)", kv.ErrNotFound)
	// ErrExists: a node with that queue and path is already stored (in any
	// level and status). Inserting never creates a second key for a path.
	ErrExists = errors.New("nodestore: node already exists")
	// ErrStatusMismatch: an operation named the node's current level or
	// status (the seed's "old status" forms) and the node is elsewhere.
	ErrStatusMismatch = errors.New("nodestore: node is not in the expected status")
)

// These can occur when stored bytes are not what nodestore wrote.
var (
	// ErrCorrupt: a stored value or key of a nodestore family does not
	// decode, or the families disagree (a lookup key pointing to a missing
	// node). Check and RebuildCounts help to diagnose and repair. It wraps
	// kv.ErrCorrupt, the sentinel of damaged data on every layer.
	ErrCorrupt = fmt.Errorf("nodestore: corrupt data: %w", kv.ErrCorrupt)
)
