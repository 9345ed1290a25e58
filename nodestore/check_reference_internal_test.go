package nodestore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// TestCheckMatchesReference damages a store at random, a few keys at a
// time, and wants Check to report exactly what referenceCheckQueue (the
// first Check: every node in a map, simple and plainly right, but memory
// in proportion to the store) reports, with pages of a few keys so that
// every merge crosses many page boundaries.
func TestCheckMatchesReference(t *testing.T) {
	defer func(p, b int) { checkPage, checkBuffered = p, b }(checkPage, checkBuffered)
	checkPage, checkBuffered = 7, 40
	seeds := 300
	if testing.Short() {
		seeds = 60
	}
	ctx := context.Background()
	for seed := range seeds {
		db, err := memory.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		ns := New(db)
		if _, err := ns.BatchInsertNodes(ctx, randomTree(rng)); err != nil {
			t.Fatal(err)
		}
		var damage []string
		if seed > 0 { // seed 0: the consistent store
			damage = damageStore(t, db, rng, 1+rng.IntN(3))
		}
		got, err := ns.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := referenceCheck(t, db)
		slices.Sort(got.Problems)
		slices.Sort(want.Problems)
		if !slices.Equal(got.Problems, want.Problems) || fmt.Sprint(got.Nodes) != fmt.Sprint(want.Nodes) {
			t.Fatalf("seed %d, damage %q:\nCheck:     %v %q\nreference: %v %q", seed, damage, got.Nodes, got.Problems, want.Nodes, want.Problems)
		}
		if seed == 0 && !got.OK() {
			t.Fatalf("consistent store: %q", got.Problems)
		}
		_ = db.Close()
	}
}

// referenceCheck is Check with referenceCheckQueue.
func referenceCheck(t *testing.T, db kv.Store) CheckReport {
	rep := CheckReport{Nodes: map[QueueType]int{}}
	err := db.View(context.Background(), func(tx kv.ReadTxn) error {
		scanned := map[countID]int64{}
		for _, q := range Queues {
			if err := referenceCheckQueue(tx, q, scanned, &rep); err != nil {
				return err
			}
		}
		mm, err := compareCounts(tx, scanned, func(err error) error {
			rep.addf("counter: %v", err)
			return nil
		})
		for _, m := range mm {
			rep.addf("counter: %s", m)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// randomTree returns the operations that insert a tree of about a hundred
// nodes in each queue, at random statuses.
func randomTree(rng *rand.Rand) []InsertOperation {
	var ops []InsertOperation
	for _, q := range Queues {
		var folders []*NodeState
		add := func(level int, parent *NodeState, name string, folder bool) {
			st := &NodeState{ID: fmt.Sprint(len(ops)), Name: name, Path: "/", Depth: level, Type: NodeTypeFile}
			if parent != nil {
				st.ParentPath, st.Path = parent.Path, joinPath(parent.Path, name)
			}
			if folder {
				st.Type = NodeTypeFolder
				folders = append(folders, st)
			}
			ts := traversalStatuses[rng.IntN(3)]
			cs := CopyStatusNone
			if q == QueueSrc {
				cs = copyStatuses[1+rng.IntN(3)]
			} else if rng.IntN(8) == 0 {
				ts = TraversalStatusNotOnSrc
			}
			ops = append(ops, InsertOperation{QueueType: q, Level: level, TraversalStatus: ts, CopyStatus: cs, State: st})
		}
		add(0, nil, "", true)
		for level := 1; level <= 3; level++ {
			parents := folders
			folders = nil
			for _, p := range parents {
				for i := range 2 + rng.IntN(4) {
					add(level, p, fmt.Sprintf("n%d", i), rng.IntN(2) == 0)
				}
			}
		}
	}
	return ops
}

func joinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// damageStore applies n random damages to the nodestore keys of db, behind
// nodestore's back, and says what it did.
func damageStore(t *testing.T, db kv.Store, rng *rand.Rand, n int) []string {
	ctx := context.Background()
	var keys, values [][]byte
	if err := db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
		keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pick := func() int { return rng.IntN(len(keys)) }
	hashIn := func(k []byte) []byte { // the last path hash of a key, or a new one
		if len(k) >= hashHexLen && rng.IntN(4) > 0 {
			return k[len(k)-hashHexLen:]
		}
		return fmt.Appendf(nil, "%032x", rng.Uint64())
	}
	var did []string
	for range n {
		i := pick()
		k := keys[i]
		var err error
		switch rng.IntN(8) {
		case 0:
			did = append(did, "delete "+string(k))
			err = db.Delete(ctx, k)
		case 1: // another key's value
			did = append(did, "value of "+string(keys[pick()])+" into "+string(k))
			err = db.Set(ctx, k, values[pick()])
		case 2: // a node key copied to another position
			ki, perr := ParseNodeKey(k)
			if perr != nil {
				continue
			}
			ts := traversalStatuses[rng.IntN(3)]
			cs := CopyStatusNone
			if ki.Queue == QueueSrc {
				cs = copyStatuses[1+rng.IntN(3)]
			}
			nk := appendNodeKey(nil, ki.Queue, ki.Level+rng.IntN(2), ts, cs, ki.Hash)
			did = append(did, "copy "+string(k)+" to "+string(nk))
			err = db.Set(ctx, nk, values[i])
		case 3: // an index entry between two hashes
			q := []string{"src", "dst"}[rng.IntN(2)]
			ik := fmt.Appendf(nil, "%s:children:%s:%s", q, hashIn(keys[pick()]), hashIn(keys[pick()]))
			did = append(did, "add "+string(ik))
			err = db.Set(ctx, ik, nil)
		case 4: // a path key pointing elsewhere
			q := []string{"src", "dst"}[rng.IntN(2)]
			pk := fmt.Appendf(nil, "%s:path:%s", q, hashIn(keys[pick()]))
			v := fmt.Appendf(nil, "%08d:%s:%s", rng.IntN(4), traversalStatuses[rng.IntN(3)], []string{"", "pending", "successful"}[rng.IntN(3)])
			did = append(did, "set "+string(pk)+" to "+string(v))
			err = db.Set(ctx, pk, v)
		case 5: // a byte of a value changed
			if len(values[i]) == 0 {
				continue
			}
			v := bytes.Clone(values[i])
			v[rng.IntN(len(v))] ^= byte(1 + rng.IntN(255))
			did = append(did, "flip a byte of "+string(k))
			err = db.Set(ctx, k, v)
		case 6: // a key that does not parse, inside a family
			bad := slices.Clone(k[:len(k)-min(len(k), 5)])
			bad = append(bad, "zz"...)
			did = append(did, "add "+string(bad))
			err = db.Set(ctx, bad, values[i])
		case 7: // a non-empty index value
			if !bytes.Contains(k, []byte(":children:")) {
				continue
			}
			did = append(did, "value into "+string(k))
			err = db.Set(ctx, k, []byte("x"))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return did
}
func referenceCheckQueue(tx kv.ReadTxn, q QueueType, scanned map[countID]int64, rep *CheckReport) error {
	nodes := map[PathHash]checkedNode{}
	opts, _ := PrefixForAllLevels(q)
	err := tx.Iterate(opts, func(k, v []byte) error {
		ki, err := ParseNodeKey(k)
		if err != nil {
			rep.addf("%s: %v", q, err)
			return nil
		}
		rep.Nodes[q]++
		pos := position{ki.Level, ki.Traversal, ki.Copy}
		scanned[countID{q, pos}]++
		if prev, dup := nodes[ki.Hash]; dup {
			rep.addf("%s: path hash %s is in two node keys: %s and %s", q, ki.Hash, prev.pos, pos)
			return nil
		}
		n := Node{Queue: q, Level: ki.Level, Traversal: ki.Traversal, Copy: ki.Copy}
		if err := decodeState(v, &n.State); err != nil {
			rep.addf("%s: %v", k, err)
			return nil
		}
		st := n.State.Status
		n.State.Status = ""
		h, parent, root, err := validate(&n)
		switch {
		case err != nil:
			rep.addf("%s: stored node is invalid: %v", k, err)
		case st != ki.Traversal:
			rep.addf("%s: value says status %q", k, st)
		case h != ki.Hash:
			rep.addf("%s: value's Path %q hashes to %s", k, n.State.Path, h)
		}
		nodes[ki.Hash] = checkedNode{pos: pos, parent: parent, root: root, folder: n.State.Type == NodeTypeFolder}
		return nil
	})
	if err != nil {
		return err
	}

	// Path keys: one per node, pointing to it.
	pathPrefix := append(appendQueue(nil, q), familyPath...)
	havePath := map[PathHash]bool{}
	err = tx.Iterate(kv.IterOptions{Prefix: pathPrefix}, func(k, v []byte) error {
		h, err := ParsePathHash(string(k[len(pathPrefix):]))
		if err != nil {
			rep.addf("%s: bad path key", k)
			return nil
		}
		havePath[h] = true
		level, ts, cs, err := parseStatusSuffix(q, v)
		if err != nil {
			rep.addf("%s: %v", k, err)
			return nil
		}
		n, ok := nodes[h]
		switch {
		case !ok:
			rep.addf("%s: path key points to %s, but no node key holds this path", k, position{level, ts, cs})
		case n.pos != (position{level, ts, cs}):
			rep.addf("%s: path key says %s, node key is at %s", k, position{level, ts, cs}, n.pos)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Children index: each entry links stored nodes; each non-root has one.
	idxPrefix := append(appendQueue(nil, q), "children:"...)
	haveIndex := map[PathHash]bool{}
	err = tx.Iterate(kv.IterOptions{Prefix: idxPrefix}, func(k, v []byte) error {
		rest := k[len(idxPrefix):]
		if len(rest) != 2*hashHexLen+1 || rest[hashHexLen] != ':' {
			rep.addf("%s: bad index key", k)
			return nil
		}
		ph, err1 := ParsePathHash(string(rest[:hashHexLen]))
		ch, err2 := ParsePathHash(string(rest[hashHexLen+1:]))
		if err1 != nil || err2 != nil {
			rep.addf("%s: bad index key", k)
			return nil
		}
		if len(v) != 0 {
			rep.addf("%s: index value is not empty", k)
		}
		c, childOK := nodes[ch]
		switch {
		case !childOK:
			rep.addf("%s: index entry of a missing child", k)
		case c.root || c.parent != ph:
			rep.addf("%s: the child's ParentPath is not this parent", k)
		default:
			haveIndex[ch] = true
		}
		p, ok := nodes[ph]
		switch {
		case !ok:
			rep.addf("%s: index entry under a missing parent", k)
		case !p.folder:
			rep.addf("%s: index entry under a file", k)
		case childOK && c.pos.level != p.pos.level+1:
			rep.addf("%s: child at level %d under a parent at level %d", k, c.pos.level, p.pos.level)
		}
		return nil
	})
	if err != nil {
		return err
	}
	hashes := make([]PathHash, 0, len(nodes))
	for h := range nodes {
		hashes = append(hashes, h)
	}
	slices.SortFunc(hashes, func(a, b PathHash) int { return bytes.Compare(a[:], b[:]) })
	for _, h := range hashes {
		n := nodes[h]
		if !havePath[h] {
			rep.addf("%s: node %s at %s has no path key", q, h, n.pos)
		}
		if !n.root && !haveIndex[h] {
			rep.addf("%s: node %s at %s has no children index entry", q, h, n.pos)
		}
	}
	return nil
}
