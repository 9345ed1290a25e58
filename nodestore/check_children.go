package nodestore

import (
	"errors"

	"github.com/polykv/polykv/kv"
)

// checkChildren names every disagreement between q's nodes and its
// children index, when checkQueue's sums say there is one: a node without
// its index entry (one point read per non-root node), an index entry whose
// child is missing, has another parent, or sits at the wrong level (two
// node lookups per entry). Its memory is a page of keys.
func checkChildren(tx kv.ReadTxn, q QueueType, groups []nodeGroup, rep *CheckReport) error {
	if err := checkNodesIndexed(tx, q, groups, rep); err != nil {
		return err
	}
	return checkIndexEntries(tx, q, groups, rep)
}

// checkNodesIndexed reports each non-root node whose children index entry
// is missing. It merges the groups again, to meet each node as
// checkQueue did (the first of its node keys); what does not parse or
// decode was reported there.
func checkNodesIndexed(tx kv.ReadTxn, q QueueType, groups []nodeGroup, rep *CheckReport) error {
	quiet := &CheckReport{Nodes: map[QueueType]int{}}
	nodes, err := newNodeMerge(tx, q, groups, map[countID]int64{}, quiet)
	if err != nil {
		return err
	}
	type node struct {
		h   PathHash
		pos position
	}
	var page []node
	var keys [][]byte
	for {
		// A page of nodes, then one GetMany of their index keys.
		page, keys = page[:0], keys[:0]
		for len(keys) < checkPage {
			h, ok := nodes.lowest()
			if !ok {
				break
			}
			rec, have, err := nodes.take(h)
			if err != nil {
				return err
			}
			if have && !rec.root {
				page = append(page, node{h, rec.pos})
				keys = append(keys, appendChildKey(nil, q, rec.parent, h))
			}
		}
		if len(keys) == 0 {
			return nil
		}
		found := make([]bool, len(keys))
		if err := kv.GetMany(tx, keys, func(i int, _ []byte) error {
			found[i] = true
			return nil
		}); err != nil {
			return err
		}
		for i, n := range page {
			if !found[i] {
				rep.addf("%s: node %s at %s has no children index entry", q, n.h, n.pos)
			}
		}
	}
}

// checkIndexEntries reports each index entry whose child is missing, has
// another parent, or is not one level below its parent. (An entry under a
// missing parent or a file was reported by checkQueue.)
func checkIndexEntries(tx kv.ReadTxn, q QueueType, groups []nodeGroup, rep *CheckReport) error {
	index, err := newHashCursor(tx, append(appendQueue(nil, q), "children:"...), parseIndexKeyHashes, "", nil)
	if err != nil {
		return err
	}
	var keys [][]byte
	var parents, children []PathHash
	for index.ok {
		keys, parents, children = keys[:0], parents[:0], children[:0]
		for index.ok && len(keys) < checkPage/2 {
			keys = append(keys, append([]byte(nil), index.cur.key()...))
			parents = append(parents, index.first)
			children = append(children, index.second)
			if err := index.step(); err != nil {
				return err
			}
		}
		recs, found, err := lookupNodes(tx, q, groups, append(append([]PathHash(nil), children...), parents...))
		if err != nil {
			return err
		}
		for i, k := range keys {
			c, cok := recs[i], found[i]
			p, pok := recs[len(keys)+i], found[len(keys)+i]
			switch {
			case !cok:
				rep.addf("%s: index entry of a missing child", k)
			case c.root || c.parent != parents[i]:
				rep.addf("%s: the child's ParentPath is not this parent", k)
			}
			if cok && pok && p.folder && c.pos.level != p.pos.level+1 {
				rep.addf("%s: child at level %d under a parent at level %d", k, c.pos.level, p.pos.level)
			}
		}
	}
	return nil
}

// lookupNodes finds the node of each hash: through its path key, and,
// where that path key is missing or points to no node key of the hash,
// by trying every group in key order. A node whose value does not decode
// is not found (as in checkQueue).
func lookupNodes(tx kv.ReadTxn, q QueueType, groups []nodeGroup, hashes []PathHash) ([]checkedNode, []bool, error) {
	recs := make([]checkedNode, len(hashes))
	found := make([]bool, len(hashes))
	keys := make([][]byte, len(hashes))
	for i, h := range hashes {
		keys[i] = appendPathKey(nil, q, h)
	}
	// The node keys the path keys point to.
	nodeKeys := make([][]byte, len(hashes))
	kis := make([]KeyInfo, len(hashes))
	if err := kv.GetMany(tx, keys, func(i int, v []byte) error {
		level, ts, cs, err := parseStatusSuffix(q, v)
		if err == nil && checkPosition(q, level, ts, cs) == nil {
			kis[i] = KeyInfo{Queue: q, Level: level, Traversal: ts, Copy: cs, Hash: hashes[i]}
			nodeKeys[i] = appendNodeKey(nil, q, level, ts, cs, hashes[i])
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	var asked [][]byte
	var which []int
	for i, k := range nodeKeys {
		if k != nil {
			asked, which = append(asked, k), append(which, i)
		}
	}
	if err := kv.GetMany(tx, asked, func(j int, v []byte) error {
		i := which[j]
		recs[i], found[i], _ = decodeChecked(kis[i], asked[j], v)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	// The others: the first group holding a node key of the hash.
	for i, h := range hashes {
		if found[i] {
			continue
		}
		asked = asked[:0]
		for _, g := range groups {
			asked = append(asked, h.AppendHex(append([]byte(nil), g.prefix...)))
		}
		if err := kv.GetMany(tx, asked, func(j int, v []byte) error {
			g := groups[j]
			ki := KeyInfo{Queue: q, Level: g.pos.level, Traversal: g.pos.ts, Copy: g.pos.cs, Hash: h}
			if recs[i], found[i], _ = decodeChecked(ki, asked[j], v); found[i] {
				return kv.SkipAll
			}
			return nil
		}); err != nil && !errors.Is(err, kv.SkipAll) {
			return nil, nil, err
		}
	}
	return recs, found, nil
}
