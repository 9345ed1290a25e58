package nodestore

import (
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// This file is the insert's check of a node against its parent. A node
// whose parent is stored must sit one level below it, and the parent must
// be a folder: anything else is what Check reports as damage (an index
// entry under a file, a child at the wrong level), so Insert refuses it
// and the batch inserts skip it. A node whose parent is not stored is not
// checked against it: nodes may be inserted before their parent (Check
// reports them if the parent never comes), and a batch's own items stand
// for parents that it writes.

// parentFits says why n cannot be a child of parent, or nil.
func parentFits(n, parent *Node) error {
	if parent.State.Type != NodeTypeFolder {
		return fmt.Errorf("field ParentPath: %w: the parent %q is a %s, which cannot have children", ErrInvalidNode, parent.State.Path, parent.State.Type)
	}
	if n.Level != parent.Level+1 {
		return fmt.Errorf("field Level: %w: %d, want the parent's level + 1 = %d (%s %q is at level %d)",
			ErrInvalidLevel, n.Level, parent.Level+1, parent.Queue, parent.State.Path, parent.Level)
	}
	return nil
}

// storedParentFits reads the parent of n (hash parent) in tx and says why
// n cannot be its child, or nil (also when the parent is not stored).
func storedParentFits(tx kv.ReadTxn, n *Node, parent PathHash) error {
	p, err := getNode(tx, n.Queue, parent)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("parent %q: %w", n.State.ParentPath, err)
	}
	return parentFits(n, &p)
}

// batchParents maps the parents of a batch's items that are items of the
// same batch to those items, every item of each such path in batch order
// (checkParents takes the first that fits its own parent).
func batchParents(items []prepared) map[queueHash][]*prepared {
	wanted := map[queueHash]bool{}
	for i := range items {
		if !items[i].root {
			wanted[queueHash{items[i].n.Queue, items[i].parent}] = true
		}
	}
	in := map[queueHash][]*prepared{}
	for i := range items {
		if k := (queueHash{items[i].n.Queue, items[i].h}); wanted[k] {
			in[k] = append(in[k], &items[i])
		}
	}
	return in
}

// checkParents sets bad on every non-root item of chunk whose parent does
// not fit it: the stored parent, or else the batch's item of that path
// (in) that will be written: the first not found misfit itself, in batch
// order (a path given first at a wrong level, then at the right one, is
// written as the second, and its children must be judged against that;
// when every item of the path misfits, the first, as a stand-in for a
// parent that will not be written).
// Items are judged in order, so an earlier item of the chunk is judged
// before its children are; one in a later chunk is not judged yet and
// counts as fitting. The chunk's parents are read together (readParents).
// Reads only.
func checkParents(tx kv.ReadTxn, chunk []prepared, in map[queueHash][]*prepared) error {
	var want []queueHash
	seen := map[queueHash]bool{}
	for i := range chunk {
		it := &chunk[i]
		it.bad = nil
		if k := (queueHash{it.n.Queue, it.parent}); !it.root && !seen[k] {
			seen[k] = true
			want = append(want, k)
		}
	}
	if len(want) == 0 {
		return nil
	}
	stored, err := readParents(tx, want)
	if err != nil {
		return err
	}
	for i := range chunk {
		it := &chunk[i]
		if it.root {
			continue
		}
		k := queueHash{it.n.Queue, it.parent}
		if p, ok := stored[k]; ok {
			it.bad = parentFits(&it.n, &p)
			continue
		}
		if cands := in[k]; len(cands) > 0 {
			b := cands[0] // when every item of the path misfits: as before, the first
			for _, c := range cands {
				if c.bad == nil {
					b = c
					break
				}
			}
			it.bad = parentFits(&it.n, &b.n)
		}
	}
	return nil
}

// readParents reads the stored nodes of keys with two kv.GetMany (their
// path keys, then their node keys: two requests on a store whose reads
// are round trips, whatever the number of parents). A node not stored is
// absent from the result.
func readParents(tx kv.ReadTxn, keys []queueHash) (map[queueHash]Node, error) {
	rk := make([][]byte, len(keys))
	for i, k := range keys {
		rk[i] = appendPathKey(nil, k.q, k.h)
	}
	pos := make([]position, len(keys))
	found := make([]bool, len(keys))
	err := kv.GetMany(tx, rk, func(i int, v []byte) error {
		level, ts, cs, err := parseStatusSuffix(keys[i].q, v)
		if err != nil {
			return fmt.Errorf("path key of %s: %w", keys[i].h, err)
		}
		pos[i], found[i] = position{level, ts, cs}, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	var at []int // the keys found, whose node keys are read
	for i, k := range keys {
		if found[i] {
			p := pos[i]
			rk[len(at)] = appendNodeKey(nil, k.q, p.level, p.ts, p.cs, k.h)
			at = append(at, i)
		}
	}
	out := make(map[queueHash]Node, len(at))
	got := 0
	err = kv.GetMany(tx, rk[:len(at)], func(j int, v []byte) error {
		i := at[j]
		n := Node{Queue: keys[i].q, Level: pos[i].level, Traversal: pos[i].ts, Copy: pos[i].cs}
		if err := decodeState(v, &n.State); err != nil {
			return fmt.Errorf("%s: %w", rk[j], err)
		}
		out[keys[i]] = n
		got++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if got != len(at) {
		for j, i := range at {
			if _, ok := out[keys[i]]; !ok {
				return nil, fmt.Errorf("%w: path key says %s but %s is missing", ErrCorrupt, pos[i], rk[j])
			}
		}
	}
	return out, nil
}
