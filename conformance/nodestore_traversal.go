package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// The scripted traversal: a deterministic generated tree (a pure function
// of a fixed seed and each folder's path, so every backend sees the same
// tree), walked the way the migration engine walks it — seed the roots,
// pull pending nodes by pages, complete each folder with its children —
// on the source and on a destination that differs from it (missing nodes,
// extra nodes in status not_on_src), with some listings failing, then a
// copy phase with some failures. The full ordered dump of the store must
// hash to the digest in testdata/nodestore_traversal.golden on every
// backend.

const nsTraversalSeed = 0x5eed_2026_0004

// nsMix is the splitmix64 finalizer: a fixed, documented bit mixer, so the
// tree never changes with the Go version.
func nsMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// nsHash hashes a path with a salt (FNV-1a, then mixed).
func nsHash(salt, path string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range []string{salt, "\x00", path} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	return nsMix(h ^ nsTraversalSeed)
}

type nsEntry struct {
	name   string
	folder bool
}

// nsFolderFanout is the base number of subfolders of a folder at each depth.
var nsFolderFanout = []int{4, 3, 3, 2, 2, 2, 1, 0}

// nsSrcChildren lists a source folder.
func nsSrcChildren(path string, depth int) []nsEntry {
	h := nsHash("src", path)
	var out []nsEntry
	if depth < len(nsFolderFanout) && nsFolderFanout[depth] > 0 {
		for i := range nsFolderFanout[depth] + int(h%2) {
			out = append(out, nsEntry{fmt.Sprintf("d%d", i), true})
		}
	}
	for i := range int(h>>8) % 11 {
		out = append(out, nsEntry{fmt.Sprintf("f%d.dat", i), false})
	}
	return out
}

// nsDstChildren lists the same folder on the destination: about a tenth of
// the source entries are missing, some folders hold extra entries.
func nsDstChildren(path string, depth int) (entries []nsEntry, onSrc []bool) {
	for _, c := range nsSrcChildren(path, depth) {
		if nsHash("dstmissing", nsJoin(path, c.name))%10 == 0 {
			continue
		}
		entries = append(entries, c)
		onSrc = append(onSrc, true)
	}
	h := nsHash("dstextra", path)
	for i := range int(h % 3) {
		entries = append(entries, nsEntry{fmt.Sprintf("extra%d.old", i), false})
		onSrc = append(onSrc, false)
	}
	if h%9 == 0 {
		entries = append(entries, nsEntry{"extra-dir", true})
		onSrc = append(onSrc, false)
	}
	return entries, onSrc
}

func nsJoin(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// nsGenState is the NodeState of a generated entry.
func nsGenState(q nodestore.QueueType, parent, name string, folder bool, depth int) nodestore.NodeState {
	path := nsJoin(parent, name)
	h := nsHash(string(q)+"meta", path)
	st := nodestore.NodeState{
		ID:         fmt.Sprintf("%s-%016x", q, h),
		ParentID:   fmt.Sprintf("%s-%016x", q, nsHash(string(q)+"meta", parent)),
		ParentPath: parent,
		Name:       name,
		Path:       path,
		Type:       nodestore.NodeTypeFile,
		Depth:      depth,
		MTime:      time.Unix(1600000000+int64(h%100000000), int64(h%1000000000)).UTC(),
	}
	if folder {
		st.Type = nodestore.NodeTypeFolder
	} else {
		st.Size = int64(h % (1 << 30))
		st.CopyNeeded = q == nodestore.QueueSrc
	}
	return st
}

type nsPos struct {
	level int
	ts    nodestore.TraversalStatus
	cs    nodestore.CopyStatus
}

// nsModel is what the script expects the store to hold.
type nsModel map[nodestore.QueueType]map[string]nsPos

func (m nsModel) set(q nodestore.QueueType, path string, p nsPos) { m[q][path] = p }

// nsTraversalRun walks the tree; it fails t on any unexpected result.
func nsTraversalRun(t *testing.T, e *nsEnv) nsModel {
	src, dst := nodestore.QueueSrc, nodestore.QueueDst
	model := nsModel{src: {}, dst: {}}
	root := func(q nodestore.QueueType, cs nodestore.CopyStatus) {
		st := nsGenState(q, "", "", true, 0)
		st.Path, st.Name, st.ParentPath, st.ParentID = "/", "root", "", ""
		e.insert(nodestore.Node{Queue: q, Level: 0, Traversal: nsP, Copy: cs, State: st})
		model.set(q, "/", nsPos{0, nsP, cs})
	}
	root(src, nsCP)
	root(dst, "")

	const pageSize = 50
	for level := 0; ; level++ {
		any := false
		for _, q := range nodestore.Queues {
			lowest, ok, err := e.ns.LowestPendingLevel(e.ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			if lowest != level {
				t.Fatalf("LowestPendingLevel(%s) = %d before level %d", q, lowest, level)
			}
			any = true
			var cur nodestore.Cursor
			for {
				page, next, err := e.ns.PendingPage(e.ctx, q, level, cur, pageSize)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range page {
					nsListFolder(t, e, model, n)
				}
				cur = next
				if len(page) < pageSize {
					break
				}
			}
			if done, err := e.ns.LevelDone(e.ctx, q, level); err != nil || !done {
				t.Fatalf("LevelDone(%s, %d) = %v, %v after the pass", q, level, done, err)
			}
		}
		if !any {
			break
		}
		if level > 20 {
			t.Fatal("the traversal does not end")
		}
	}

	// Copy phase: every traversed src node is copied, some copies fail.
	for level := 0; ; level++ {
		n, err := e.ns.Count(e.ctx, src, level, nsS, nsCP)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if level > 12 {
				break
			}
			continue
		}
		var cur nodestore.Cursor
		for {
			page, next, err := e.ns.ListByCopyStatus(e.ctx, src, level, nsS, nsCP, cur, 100)
			if err != nil {
				t.Fatal(err)
			}
			var ok []string
			for _, nd := range page {
				p := nd.State.Path
				if nsHash("copyfail", p)%13 == 0 {
					if _, err := e.ns.UpdateNodeCopyStatus(e.ctx, src, level, nsS, nsCP, nsCF, p); err != nil {
						t.Fatal(err)
					}
					model.set(src, p, nsPos{level, nsS, nsCF})
					continue
				}
				ok = append(ok, p)
				model.set(src, p, nsPos{level, nsS, nsCS})
			}
			res, err := e.ns.BatchSetCopyStatus(e.ctx, src, ok, nsCS)
			if err != nil || res.Applied != len(ok) || len(res.Skipped) != 0 {
				t.Fatalf("BatchSetCopyStatus = %+v, %v", res, err)
			}
			cur = next
			if len(page) < 100 {
				break
			}
		}
	}
	return model
}

// nsListFolder is the engine's work on one pending node.
func nsListFolder(t *testing.T, e *nsEnv, model nsModel, n nodestore.Node) {
	q, p, level := n.Queue, n.State.Path, n.Level
	if n.State.Type != nodestore.NodeTypeFolder {
		t.Fatalf("a pending file: %s %s", q, p)
	}
	if p != "/" && nsHash(string(q)+"fail", p)%37 == 0 {
		if q == nodestore.QueueSrc {
			if _, err := e.ns.UpdateNodeStatus(e.ctx, q, level, nsP, nsF, n.Copy, p); err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.ns.SetStatus(e.ctx, q, p, nsF); err != nil {
			t.Fatal(err)
		}
		model.set(q, p, nsPos{level, nsF, n.Copy})
		return
	}
	var kids []nodestore.Node
	if q == nodestore.QueueSrc {
		for _, c := range nsSrcChildren(p, level) {
			st := nsGenState(q, p, c.name, c.folder, level+1)
			k := nodestore.Node{Traversal: nsS, Copy: nsCP, State: st}
			if c.folder {
				k.Traversal = nsP
			}
			kids = append(kids, k)
		}
	} else {
		entries, onSrc := nsDstChildren(p, level)
		for i, c := range entries {
			st := nsGenState(q, p, c.name, c.folder, level+1)
			k := nodestore.Node{Traversal: nsS, State: st}
			switch {
			case !onSrc[i]:
				k.Traversal = nsN
			case c.folder:
				k.Traversal = nsP
			}
			kids = append(kids, k)
		}
	}
	h := nsHash("mode", p)
	if q == nodestore.QueueSrc && h%5 == 0 {
		// Large-folder path: chunked batch insert, then the status.
		ops := make([]nodestore.InsertOperation, len(kids))
		for i := range kids {
			ops[i] = nodestore.InsertOperation{QueueType: q, Level: level + 1, TraversalStatus: kids[i].Traversal,
				CopyStatus: kids[i].Copy, State: &kids[i].State, IndexPrefix: nodestore.IndexPrefixSrcChildren}
		}
		res, err := e.ns.BatchInsertNodes(e.ctx, ops)
		if err != nil || res.Applied != len(kids) {
			t.Fatalf("BatchInsertNodes(children of %s) = %+v, %v", p, res, err)
		}
		if _, err := e.ns.SetStatus(e.ctx, q, p, nsS); err != nil {
			t.Fatal(err)
		}
	} else {
		res, err := e.ns.CompleteWithChildren(e.ctx, q, p, nsS, kids)
		if err != nil || res.Applied != len(kids) {
			t.Fatalf("CompleteWithChildren(%s %s) = %+v, %v", q, p, res, err)
		}
	}
	if h%50 == 7 {
		// A replay, as after a crash: everything is reported as skipped.
		res, err := e.ns.CompleteWithChildren(e.ctx, q, p, nsS, kids)
		if err != nil || res.Applied != 0 || len(res.Skipped) != len(kids) {
			t.Fatalf("replayed CompleteWithChildren(%s %s) = %+v, %v", q, p, res, err)
		}
	}
	model.set(q, p, nsPos{level, nsS, n.Copy})
	for _, k := range kids {
		model.set(q, k.State.Path, nsPos{level + 1, k.Traversal, k.Copy})
	}
}

func nsTraversal(t *testing.T, e *nsEnv) {
	model := nsTraversalRun(t, e)

	// Every node is where the model says, in exactly one status key.
	seen := 0
	err := e.ns.IterateNodes(e.ctx, kv.IterOptions{}, func(n nodestore.Node) error {
		want, ok := model[n.Queue][n.State.Path]
		if !ok {
			return fmt.Errorf("unexpected node %s %s", n.Queue, n.State.Path)
		}
		if got := (nsPos{n.Level, n.Traversal, n.Copy}); got != want {
			return fmt.Errorf("%s %s is at %+v, want %+v", n.Queue, n.State.Path, got, want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := len(model[nodestore.QueueSrc]) + len(model[nodestore.QueueDst])
	if seen != total {
		t.Fatalf("%d node keys, want %d (one per node)", seen, total)
	}
	levels, notOnSrc := 0, 0
	for _, p := range model[nodestore.QueueSrc] {
		levels = max(levels, p.level+1)
	}
	for _, p := range model[nodestore.QueueDst] {
		if p.ts == nsN {
			notOnSrc++
		}
	}
	if total < 15000 || levels < 6 || notOnSrc == 0 {
		t.Fatalf("the generated tree is too small: %d nodes, %d levels, %d not_on_src", total, levels, notOnSrc)
	}

	// Counters: equal to the model and to a scan.
	want := map[string]int64{}
	for q, m := range model {
		for _, p := range m {
			want[fmt.Sprintf("%s %d %s %s", q, p.level, p.ts, p.cs)]++
		}
	}
	counts, err := e.ns.Counts(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[fmt.Sprintf("%s %d %s %s", c.Queue, c.Level, c.Traversal, c.Copy)] = c.N
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Counts = %v\nwant %v", got, want)
	}
	rep := e.wantConsistent("after the traversal")

	d, keys := e.digest()
	summary := fmt.Sprintf("sha256 %s\nkeys %d\nnodes src %d dst %d\n", d, keys, rep.Nodes[nodestore.QueueSrc], rep.Nodes[nodestore.QueueDst])
	t.Logf("traversal: %d nodes on %d levels (%d not_on_src), %d keys", total, levels, notOnSrc, keys)
	checkGolden(t, "nodestore_traversal.golden", summary)

	if e.kv.Info().Guarantees.Persistent {
		e.reopen()
		if d2, _ := e.digest(); d2 != d {
			t.Errorf("after reopen the dump digest is %s, want %s", d2, d)
		}
		e.wantConsistent("after reopen")
	}
}
