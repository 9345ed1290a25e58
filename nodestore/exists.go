package nodestore

import (
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Finding which nodes of a batch already exist.
//
// A stored node with path P is either a root (level 0, no index entry) or
// the child of parentOf(P), with an index entry under that parent. So
// instead of one point read of a path key per new node (about 1-2 µs on
// an LSM engine, more than writing the node), findExisting reads, for each
// parent in the batch, the parent's children index prefix — usually empty
// or small, one seek — and the level-0 node keys (the roots, a handful).
// When a parent already has many more children than the batch inserts
// under it, or a store has many roots, it falls back to point reads, so
// the cost stays proportional to the batch. On the memory backend and on a
// shared (networked) store it reads the path keys only (Store.pointExists),
// on the latter all of them with one kv.GetMany, which also reads the
// transaction's counters (readBeforeWrites).

// rootScanLimit bounds the number of roots findExisting reads per queue.
const rootScanLimit = 1024

type queueHash struct {
	q QueueType
	h PathHash
}

// findExisting sets skip on every item whose path is already stored in
// its queue, or repeated earlier in items. It only reads, so it is called
// before a transaction's first write. With pointOnly it reads the path key
// of every item and never iterates (see Store.pointExists), with one
// kv.GetMany where point reads are round trips (Store.manyReads). A parent's
// children index is scanned up to twice the items under it plus slack
// keys (Store.scanSlack), then read by point reads instead.
func (s *Store) findExisting(tx kv.ReadTxn, items []prepared) error {
	pointOnly, slack := s.pointExists, s.scanSlack
	found := make([]bool, len(items))
	var order []queueHash
	groups := map[queueHash][]int{}
	var point []int
	for i := range items {
		it := &items[i]
		it.skip = nil
		if it.root || pointOnly {
			point = append(point, i)
			continue
		}
		k := queueHash{it.n.Queue, it.parent}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	roots := map[QueueType]map[PathHash]bool{}
	rootsOf := func(q QueueType) (map[PathHash]bool, error) {
		if m, ok := roots[q]; ok {
			return m, nil
		}
		m, err := scanHashes(tx, appendLevelPrefix(nil, q, 0), rootScanLimit, hashOfNodeKey)
		roots[q] = m // nil when there are too many roots
		return m, err
	}
	for _, k := range order {
		idx := groups[k]
		have, err := scanHashes(tx, appendChildrenPrefix(nil, k.q, k.h), 2*len(idx)+slack, hashOfIndexKey)
		if err != nil {
			return err
		}
		rootSet, err := rootsOf(k.q)
		if err != nil {
			return err
		}
		if have == nil || rootSet == nil {
			point = append(point, idx...)
			continue
		}
		for _, i := range idx {
			h := items[i].h
			found[i] = have[h] || rootSet[h]
		}
	}
	var at []position // the positions read with the path keys, when known
	if s.manyReads {
		at = make([]position, len(items))
		if err := pathsExist(tx, items, point, found, at, nil, nil); err != nil {
			return err
		}
	} else {
		buf := make([]byte, 0, pathKeyLen)
		for _, i := range point {
			it := &items[i]
			_, ok, err := getPosition(tx, it.n.Queue, it.h, buf[:0])
			if err != nil {
				return err
			}
			found[i] = ok
		}
	}
	if !pointOnly {
		at = nil // items found by a scan have no position read
	}
	return markExisting(tx, items, found, at)
}

// markExisting sets skip on the items found stored (saying where: at[i]
// when at holds it, else read from the path key) and on those repeated
// earlier in items by an item that fits its parent (bad nil).
func markExisting(tx kv.ReadTxn, items []prepared, found []bool, at []position) error {
	buf := make([]byte, 0, pathKeyLen)
	seen := make(map[queueHash]struct{}, len(items))
	for i := range items {
		it := &items[i]
		k := queueHash{it.n.Queue, it.h}
		if found[i] {
			var pos position
			ok := true
			if at != nil {
				pos = at[i]
			} else {
				var err error
				if pos, ok, err = getPosition(tx, it.n.Queue, it.h, buf[:0]); err != nil {
					return err
				}
			}
			if ok {
				it.skip = fmt.Errorf("%w (at %s)", ErrExists, pos)
			} else {
				it.skip = fmt.Errorf("%w (in the children index)", ErrExists)
			}
			continue
		}
		if _, dup := seen[k]; dup {
			it.skip = fmt.Errorf("%w (earlier in this batch)", ErrExists)
			continue
		}
		// An item that does not fit its parent (bad, set by
		// checkParents) is not written: a later item of its path that
		// fits must be, not skipped as stored earlier in this batch.
		if it.bad == nil {
			seen[k] = struct{}{}
		}
	}
	return nil
}

// pathsExist sets found[i] and at[i] for each item i of point whose path
// key is stored, reading them with one kv.GetMany (on a networked engine
// one round trip, not one per item). extra keys are read in the same
// GetMany, after the path keys; other(j, value) gets the value of each
// extra[j] that is present.
func pathsExist(tx kv.ReadTxn, items []prepared, point []int, found []bool, at []position, extra [][]byte, other func(j int, v []byte) error) error {
	if len(point)+len(extra) == 0 {
		return nil
	}
	buf := make([]byte, 0, len(point)*pathKeyLen)
	ends := make([]int, len(point))
	for j, i := range point {
		buf = appendPathKey(buf, items[i].n.Queue, items[i].h)
		ends[j] = len(buf)
	}
	keys := make([][]byte, len(point), len(point)+len(extra))
	start := 0
	for j, end := range ends {
		keys[j] = buf[start:end:end]
		start = end
	}
	keys = append(keys, extra...)
	return kv.GetMany(tx, keys, func(j int, v []byte) error {
		if j >= len(point) {
			return other(j-len(point), v)
		}
		i := point[j]
		level, ts, cs, err := parseStatusSuffix(items[i].n.Queue, v)
		if err != nil {
			return fmt.Errorf("path key of %s: %w", items[i].h, err)
		}
		found[i], at[i] = true, position{level, ts, cs}
		return nil
	})
}

// scanHashes reads the path hashes at the end of the keys under prefix. It
// returns nil (and no error) when there are limit keys or more.
func scanHashes(tx kv.ReadTxn, prefix []byte, limit int, parse func(key []byte) (PathHash, bool)) (map[PathHash]bool, error) {
	m := map[PathHash]bool{}
	n := 0
	err := tx.Iterate(kv.IterOptions{Prefix: prefix, KeysOnly: true, Limit: limit}, func(k, _ []byte) error {
		n++
		h, ok := parse(k)
		if !ok {
			return fmt.Errorf("%w: key %q", ErrCorrupt, k)
		}
		m[h] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n >= limit {
		return nil, nil
	}
	return m, nil
}

func hashOfIndexKey(k []byte) (PathHash, bool) { return hashSuffix(k) }

func hashOfNodeKey(k []byte) (PathHash, bool) { return hashSuffix(k) }

// hashSuffix parses the 32 hex digits ending k, after a colon.
func hashSuffix(k []byte) (PathHash, bool) {
	if len(k) < hashHexLen+1 || k[len(k)-hashHexLen-1] != ':' {
		return PathHash{}, false
	}
	return parseHashHex(k[len(k)-hashHexLen:])
}

func appendLevelPrefix(dst []byte, q QueueType, level int) []byte {
	dst = appendQueue(dst, q)
	dst = appendLevel(dst, level)
	return append(dst, ':')
}
