package nodestore

import "sync"

// Where recently listed nodes were, for completions that name their
// parent by path alone.
//
// A worker lists a page of pending folders (PendingPage) and completes
// each one with CompleteWithChildren, which takes the folder's path, not
// the node listed: found through its path key, the parent costs two point
// reads (path key, then node key), on a cluster two round trips. The
// listing has just read where each node is, so the Store remembers it: a
// completion without a Listed hint whose parent was listed recently gets
// that position as its hint, and the parent costs one read. A hint is only
// a guess: the node key read at the remembered position either holds the
// node (a node has exactly one node key) or is absent, and then the parent
// is read through its path key as before. A stale entry (the node moved
// since, by this process or another) costs one read more, nothing else.
//
// Memory stays bounded: two generations of at most listedMax entries
// each; when the current one is full it becomes the old one and the one
// before is dropped. An entry is removed when a completion takes it (the
// completion moves the node, so the position is stale afterwards).
type listedPositions struct {
	mu       sync.Mutex
	cur, old map[queueHash]position
}

// listedMax is the number of entries in one generation: a few pages of
// the engine's usual size (a thousand to a few thousand nodes) per
// queue, at about 100 bytes each.
const listedMax = 1 << 14

// remember records where the nodes of a page were listed: nodes[i], whose
// path hash is hashes[i].
func (lp *listedPositions) remember(hashes []PathHash, nodes []Node) {
	if len(hashes) == 0 {
		return
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	for i, h := range hashes {
		if lp.cur == nil || len(lp.cur) >= listedMax {
			lp.old, lp.cur = lp.cur, make(map[queueHash]position, min(listedMax, 2*len(hashes)))
		}
		n := &nodes[i]
		lp.cur[queueHash{n.Queue, h}] = position{n.Level, n.Traversal, n.Copy}
	}
}

// empty reports whether no position is remembered.
func (lp *listedPositions) empty() bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return len(lp.cur) == 0 && len(lp.old) == 0
}

// hints returns comps with a Listed hint for each valid completion that
// has none and whose parent was listed recently (a copy: comps, the
// caller's, is never modified), taking those entries; comps itself when
// there is none.
func (lp *listedPositions) hints(q QueueType, comps []Completion, hashes []PathHash, valid []bool) []Completion {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if len(lp.cur) == 0 && len(lp.old) == 0 {
		return comps
	}
	var out []Completion
	var nodes []Node
	for i := range comps {
		if !valid[i] || comps[i].Listed != nil {
			continue
		}
		k := queueHash{q, hashes[i]}
		pos, ok := lp.cur[k]
		if ok {
			delete(lp.cur, k)
		} else if pos, ok = lp.old[k]; ok {
			delete(lp.old, k)
		}
		if !ok {
			continue
		}
		if out == nil {
			out = append([]Completion(nil), comps...)
			nodes = make([]Node, len(comps))
		}
		nodes[i] = Node{Queue: q, Level: pos.level, Traversal: pos.ts, Copy: pos.cs}
		out[i].Listed = &nodes[i]
	}
	if out == nil {
		return comps
	}
	return out
}

// asCompletions returns a completion per path, naming it and nothing else:
// the form hints takes, for the batch operations that move nodes by path.
func asCompletions(paths []string) []Completion {
	comps := make([]Completion, len(paths))
	for i, p := range paths {
		comps[i].Path = p
	}
	return comps
}
