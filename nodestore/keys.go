package nodestore

import (
	"bytes"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Key families. Every key nodestore writes starts with the queue type and a
// colon; the node keys are the only ones whose next byte is a digit, so the
// range of all node keys of a queue ("src:0" up to "src::") holds nothing
// else. The seed's two formats are kept byte for byte.
//
//	node      {q}:{level:08d}:{traversal}:{copy}:{hash}   value: NodeState (encoding v1)
//	children  {q}:children:{parent hash}:{child hash}     value: empty
//	path      {q}:path:{hash}                             value: "{level:08d}:{traversal}:{copy}"
//	count     {q}:count:{level:08d}:{traversal}:{copy}    value: 8-byte big-endian count, > 0
//	pending   {q}:pendinglevel:{level:08d}                value: 8-byte big-endian count of
//	                                                             traversal-pending nodes, > 0
//
// {copy} is empty for dst. {hash} is a PathHash in 32 lowercase hex digits.
// A count or pending key whose count drops to zero is deleted. On a shared
// store a count or pending key may also have stripes, the key followed by
// ":01" to ":99" (stripes.go). The one key outside the queues is
// "nodestore:rebuild", held only while a RebuildCounts runs
// (rebuildlock.go).
const (
	// IndexPrefixSrcChildren is the prefix of the src children index keys:
	// IndexPrefixSrcChildren + parent hash + ":" + child hash.
	IndexPrefixSrcChildren = "src:children:"
	// IndexPrefixDstChildren is the same for dst.
	IndexPrefixDstChildren = "dst:children:"

	familyPath         = "path:"
	familyCount        = "count:"
	familyPendingLevel = "pendinglevel:"
)

// IndexPrefix returns the children index prefix of q.
func IndexPrefix(q QueueType) (string, error) {
	switch q {
	case QueueSrc:
		return IndexPrefixSrcChildren, nil
	case QueueDst:
		return IndexPrefixDstChildren, nil
	}
	return "", q.check()
}

// queueOfIndexPrefix returns the queue of an index prefix.
func queueOfIndexPrefix(p string) (QueueType, error) {
	switch p {
	case IndexPrefixSrcChildren:
		return QueueSrc, nil
	case IndexPrefixDstChildren:
		return QueueDst, nil
	}
	return "", fmt.Errorf("%w: index prefix %q: want %q or %q", ErrInvalidQueue, p, IndexPrefixSrcChildren, IndexPrefixDstChildren)
}

func appendLevel(dst []byte, level int) []byte {
	var d [8]byte
	for i := 7; i >= 0; i-- {
		d[i] = byte('0' + level%10)
		level /= 10
	}
	return append(dst, d[:]...)
}

func appendQueue(dst []byte, q QueueType) []byte {
	dst = append(dst, q...)
	return append(dst, ':')
}

// appendStatusSuffix appends "{level:08d}:{traversal}:{copy}".
func appendStatusSuffix(dst []byte, level int, ts TraversalStatus, cs CopyStatus) []byte {
	dst = appendLevel(dst, level)
	dst = append(dst, ':')
	dst = append(dst, ts...)
	dst = append(dst, ':')
	return append(dst, cs...)
}

func checkPosition(q QueueType, level int, ts TraversalStatus, cs CopyStatus) error {
	if err := checkTraversal(q, ts); err != nil {
		return err
	}
	if err := checkCopy(q, cs); err != nil {
		return err
	}
	return checkLevel(level)
}

// AppendNodeKey appends the key of a node to dst and returns it:
// {q}:{level:08d}:{traversal}:{copy}:{hash}. It checks every argument: an
// invalid one is an error and dst is returned unchanged.
func AppendNodeKey(dst []byte, q QueueType, level int, ts TraversalStatus, cs CopyStatus, h PathHash) ([]byte, error) {
	if err := checkPosition(q, level, ts, cs); err != nil {
		return dst, err
	}
	return appendNodeKey(dst, q, level, ts, cs, h), nil
}

func appendNodeKey(dst []byte, q QueueType, level int, ts TraversalStatus, cs CopyStatus, h PathHash) []byte {
	dst = appendQueue(dst, q)
	dst = appendStatusSuffix(dst, level, ts, cs)
	dst = append(dst, ':')
	return h.AppendHex(dst)
}

// KeySrc returns the key of a src node at level with the given statuses and
// path (normalized before hashing), as the seed prints it:
// src:00000002:successful:successful:<32 hex digits>.
func KeySrc(level int, ts TraversalStatus, cs CopyStatus, path string) ([]byte, error) {
	return nodeKey(QueueSrc, level, ts, cs, path)
}

// KeyDst returns the key of a dst node: dst:00000001:successful::<32 hex
// digits>. cs must be CopyStatusNone.
func KeyDst(level int, ts TraversalStatus, cs CopyStatus, path string) ([]byte, error) {
	return nodeKey(QueueDst, level, ts, cs, path)
}

func nodeKey(q QueueType, level int, ts TraversalStatus, cs CopyStatus, path string) ([]byte, error) {
	h, err := HashPath(path)
	if err != nil {
		return nil, err
	}
	return AppendNodeKey(nil, q, level, ts, cs, h)
}

// AppendChildKey appends the children index key of child under parent:
// {q}:children:{parent hash}:{child hash}.
func AppendChildKey(dst []byte, q QueueType, parent, child PathHash) ([]byte, error) {
	if err := q.check(); err != nil {
		return dst, err
	}
	return appendChildKey(dst, q, parent, child), nil
}

func appendChildKey(dst []byte, q QueueType, parent, child PathHash) []byte {
	dst = appendQueue(dst, q)
	dst = append(dst, "children:"...)
	dst = parent.AppendHex(dst)
	dst = append(dst, ':')
	return child.AppendHex(dst)
}

func appendChildrenPrefix(dst []byte, q QueueType, parent PathHash) []byte {
	dst = appendQueue(dst, q)
	dst = append(dst, "children:"...)
	dst = parent.AppendHex(dst)
	return append(dst, ':')
}

func appendPathKey(dst []byte, q QueueType, h PathHash) []byte {
	dst = appendQueue(dst, q)
	dst = append(dst, familyPath...)
	return h.AppendHex(dst)
}

func appendCountKey(dst []byte, q QueueType, level int, ts TraversalStatus, cs CopyStatus) []byte {
	dst = appendQueue(dst, q)
	dst = append(dst, familyCount...)
	return appendStatusSuffix(dst, level, ts, cs)
}

func appendPendingLevelKey(dst []byte, q QueueType, level int) []byte {
	dst = appendQueue(dst, q)
	dst = append(dst, familyPendingLevel...)
	return appendLevel(dst, level)
}

// PrefixForStatus returns the prefix of the keys of q's nodes at level in
// traversal status ts: src:00000000:pending: (for src it covers every copy
// status).
func PrefixForStatus(q QueueType, level int, ts TraversalStatus) ([]byte, error) {
	if err := checkTraversal(q, ts); err != nil {
		return nil, err
	}
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	b := appendQueue(nil, q)
	b = appendLevel(b, level)
	b = append(b, ':')
	b = append(b, ts...)
	return append(b, ':'), nil
}

// PrefixForCopyStatus returns the prefix of the keys of q's nodes at level
// in traversal status ts and copy status cs: src:00000003:successful:pending:
// (for dst, cs is CopyStatusNone and the prefix is that of PrefixForStatus
// plus ":").
func PrefixForCopyStatus(q QueueType, level int, ts TraversalStatus, cs CopyStatus) ([]byte, error) {
	if err := checkPosition(q, level, ts, cs); err != nil {
		return nil, err
	}
	b := appendQueue(nil, q)
	b = appendStatusSuffix(b, level, ts, cs)
	return append(b, ':'), nil
}

// PrefixForLevel returns the prefix of the keys of q's nodes at level:
// src:00000000:.
func PrefixForLevel(q QueueType, level int) ([]byte, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	b := appendQueue(nil, q)
	b = appendLevel(b, level)
	return append(b, ':'), nil
}

// PrefixForAllLevels returns the iteration options that select every node
// key of q and nothing else. It is a range, not a prefix: the bare prefix
// "src:" would also select the children index and the other families. The
// range is [q+":0", q+"::"), which holds exactly the keys whose level
// segment starts with a digit.
func PrefixForAllLevels(q QueueType) (kv.IterOptions, error) {
	if err := q.check(); err != nil {
		return kv.IterOptions{}, err
	}
	lo := appendQueue(nil, q)
	return kv.IterOptions{Start: append(lo, '0'), End: append(appendQueue(nil, q), ':')}, nil
}

// KeyInfo is what a node key says.
type KeyInfo struct {
	Queue     QueueType
	Level     int
	Traversal TraversalStatus
	Copy      CopyStatus
	Hash      PathHash
}

// ParseNodeKey parses a node key. Any other key (an index key, a key of
// another family, a malformed key) is an error wrapping ErrInvalidKey.
func ParseNodeKey(key []byte) (KeyInfo, error) {
	var ki KeyInfo
	bad := func(why string) (KeyInfo, error) {
		return KeyInfo{}, fmt.Errorf("%w: %q is not a node key: %s", ErrInvalidKey, key, why)
	}
	rest, ok := cutQueue(key, &ki.Queue)
	if !ok {
		return bad("want a src: or dst: prefix")
	}
	if len(rest) < 9 || rest[8] != ':' {
		return bad("want an 8-digit level")
	}
	for _, c := range rest[:8] {
		if c < '0' || c > '9' {
			return bad("want an 8-digit level")
		}
		ki.Level = ki.Level*10 + int(c-'0')
	}
	rest = rest[9:]
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return bad("no traversal status")
	}
	ts, ok := traversalOf(rest[:i])
	if !ok || !ts.ValidFor(ki.Queue) {
		return bad("unknown traversal status")
	}
	ki.Traversal = ts
	rest = rest[i+1:]
	i = bytes.IndexByte(rest, ':')
	if i < 0 {
		return bad("no copy status")
	}
	cs, ok := copyOf(rest[:i])
	if !ok || !cs.ValidFor(ki.Queue) {
		return bad("copy status not allowed for the queue")
	}
	ki.Copy = cs
	h, ok := parseHashHex(rest[i+1:])
	if !ok {
		return bad("bad path hash")
	}
	ki.Hash = h
	return ki, nil
}

func cutQueue(key []byte, q *QueueType) ([]byte, bool) {
	switch {
	case bytes.HasPrefix(key, []byte("src:")):
		*q = QueueSrc
	case bytes.HasPrefix(key, []byte("dst:")):
		*q = QueueDst
	default:
		return nil, false
	}
	return key[4:], true
}

func traversalOf(b []byte) (TraversalStatus, bool) {
	for _, s := range traversalStatuses {
		if string(b) == string(s) {
			return s, true
		}
	}
	return "", false
}

func copyOf(b []byte) (CopyStatus, bool) {
	for _, s := range copyStatuses {
		if string(b) == string(s) {
			return s, true
		}
	}
	return "", false
}

// parseStatusSuffix parses "{level:08d}:{traversal}:{copy}", the value of a
// path key and the tail of a count key.
func parseStatusSuffix(q QueueType, b []byte) (level int, ts TraversalStatus, cs CopyStatus, err error) {
	bad := func() (int, TraversalStatus, CopyStatus, error) {
		return 0, "", "", fmt.Errorf("%w: %q is not a level:traversal:copy position", ErrCorrupt, b)
	}
	if len(b) < 9 || b[8] != ':' {
		return bad()
	}
	for _, c := range b[:8] {
		if c < '0' || c > '9' {
			return bad()
		}
		level = level*10 + int(c-'0')
	}
	rest := b[9:]
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return bad()
	}
	var ok bool
	if ts, ok = traversalOf(rest[:i]); !ok || !ts.ValidFor(q) {
		return bad()
	}
	if cs, ok = copyOf(rest[i+1:]); !ok || !cs.ValidFor(q) {
		return bad()
	}
	return level, ts, cs, nil
}
