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
// same batch to those items' nodes (the first item of each path).
func batchParents(items []prepared) map[queueHash]*Node {
	wanted := map[queueHash]bool{}
	for i := range items {
		if !items[i].root {
			wanted[queueHash{items[i].n.Queue, items[i].parent}] = true
		}
	}
	in := map[queueHash]*Node{}
	for i := range items {
		k := queueHash{items[i].n.Queue, items[i].h}
		if _, dup := in[k]; wanted[k] && !dup {
			in[k] = &items[i].n
		}
	}
	return in
}

// checkParents sets bad on every non-root item of chunk whose parent does
// not fit it: the stored parent, read in tx once per parent, or else the
// batch's item of that path (in). Reads only.
func checkParents(tx kv.ReadTxn, chunk []prepared, in map[queueHash]*Node) error {
	type found struct {
		n  Node
		ok bool
	}
	parents := map[queueHash]found{}
	for i := range chunk {
		it := &chunk[i]
		it.bad = nil
		if it.root {
			continue
		}
		k := queueHash{it.n.Queue, it.parent}
		p, seen := parents[k]
		if !seen {
			n, err := getNode(tx, k.q, k.h)
			switch {
			case err == nil:
				p = found{n, true}
			case errors.Is(err, ErrNotFound):
				if b := in[k]; b != nil {
					p = found{*b, true}
				}
			default:
				return fmt.Errorf("parent %q of %q: %w", it.n.State.ParentPath, it.n.State.Path, err)
			}
			parents[k] = p
		}
		if p.ok {
			it.bad = parentFits(&it.n, &p.n)
		}
	}
	return nil
}
