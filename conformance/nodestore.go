package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

// RunNodestore runs the nodestore section of the suite against the stores f
// opens: the key layout byte for byte, input validation (nothing written on
// error), the node-only iteration helpers, lookups and transitions without
// the old status, duplicates, atomic completion of a parent with its
// children, chunked batches, paging, counters under concurrent workers, dump
// and load, and a scripted traversal of a generated tree whose full ordered
// dump must match a checked-in SHA-256 digest on every backend.
//
// Golden files live in conformance/testdata (nodestore_*.golden). To
// regenerate them after a deliberate change of layout or encoding, run the
// suite with POLYKV_UPDATE_GOLDEN=1 on one backend (for example
// `POLYKV_UPDATE_GOLDEN=1 go test ./nodestore -run TestConformance/memory`)
// and review the diff: every other backend must then produce the same bytes.
func RunNodestore(t *testing.T, f Factory) {
	t.Helper()
	runNodestore(t, f, Options{})
}

// RunNodestoreWith is RunNodestore with options (Options.Nodestore and
// Options.LongTraversalOnlyUnderStress apply).
func RunNodestoreWith(t *testing.T, f Factory, o Options) {
	t.Helper()
	runNodestore(t, f, o)
}

func runNodestore(t *testing.T, f Factory, o Options) {
	t.Helper()
	for _, r := range nsRules() {
		t.Run(r.name, func(t *testing.T) {
			if r.name == "Traversal" && o.LongTraversalOnlyUnderStress != "" && !stress() {
				t.Skipf("runs only with POLYKV_STRESS=1 on this backend, as its conformance.Options declares: %s", o.LongTraversalOnlyUnderStress)
			}
			r.fn(t, newNSEnv(t, f, o.Nodestore))
		})
	}
}

type nsRule struct {
	name string
	fn   func(t *testing.T, e *nsEnv)
}

func nsRules() []nsRule {
	return []nsRule{
		{"KeyLayout", nsKeyLayout},
		{"PathNormalization", nsPathNormalization},
		{"SmallDumpGolden", nsSmallDumpGolden},
		{"InvalidInputWritesNothing", nsInvalidInput},
		{"AllLevelsOnlyNodeKeys", nsAllLevelsOnlyNodes},
		{"GetAndTransitions", nsGetAndTransitions},
		{"DuplicatePathNeverTwoKeys", nsDuplicates},
		{"ExistingPathsFound", nsExistingFound},
		{"ChildFitsStoredParent", nsChildFitsStoredParent},
		{"CompleteWithChildrenAtomic", nsCompleteAtomic},
		{"CompleteBatchAsSingleCalls", nsCompleteBatch},
		{"CompleteBatchListedPage", nsCompleteListedPage},
		{"BatchChunks", nsBatchChunks},
		{"BatchUpdateSkips", nsBatchUpdateSkips},
		{"BatchReadsBounded", nsBatchReadsBounded},
		{"BatchLargeNode", nsBatchLargeNode},
		{"ChildrenMany", nsChildrenMany},
		{"PagingCursor", nsPaging},
		{"LowestPendingLevelOfMany", nsLowestPendingLevel},
		{"ConcurrentWorkersExactCounts", nsConcurrent},
		{"ConcurrentCompletionsAsSingleCalls", nsConcurrentComplete},
		{"CounterStripes", nsCounterStripes},
		{"RebuildCounts", nsRebuildCounts},
		{"RebuildCountsWhileWriting", nsRebuildCountsWhileWriting},
		{"DumpLoad", nsDumpLoad},
		{"AfterClose", nsAfterClose},
		{"Traversal", nsTraversal},
	}
}

// nsEnv is one subtest's store.
type nsEnv struct {
	t    *testing.T
	ctx  context.Context
	f    Factory
	open func() (kv.Store, error)
	kv   kv.Store
	ns   *nodestore.Store
	// nsOpts are the options of ns (and of every Store the rule makes);
	// striped says whether they write counter stripes, which dump and
	// digest fold first (nodestore.FoldCounts) so that the bytes compared
	// are the layout's.
	nsOpts  *nodestore.Options
	striped bool

	mu     sync.Mutex
	opened []kv.Store
}

func newNSEnv(t *testing.T, f Factory, nsOpts *nodestore.Options) *nsEnv {
	t.Helper()
	e := &nsEnv{t: t, ctx: context.Background(), f: f, open: f(t), nsOpts: nsOpts}
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, s := range e.opened {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	e.kv = e.mustOpen()
	e.ns = e.newStore(0)
	mode := nodestore.StripesAuto
	if nsOpts != nil {
		mode = nsOpts.CounterStripes
	}
	e.striped = mode == nodestore.StripesOn || mode == nodestore.StripesAuto && e.kv.Info().Guarantees.Shared
	return e
}

// newStore returns a nodestore.Store over e.kv with e's options and
// chunkBytes (0: the default).
func (e *nsEnv) newStore(chunkBytes int) *nodestore.Store {
	var o nodestore.Options
	if e.nsOpts != nil {
		o = *e.nsOpts
	}
	o.ChunkBytes = chunkBytes
	return nodestore.NewWithOptions(e.kv, &o)
}

// sibling returns a new env over a new store of e's factory, with e's
// nodestore options.
func (e *nsEnv) sibling(t *testing.T) *nsEnv { return newNSEnv(t, e.f, e.nsOpts) }

// fold folds the counter stripes of a striped env, so that its bytes are
// the layout's.
func (e *nsEnv) fold() {
	e.t.Helper()
	if !e.striped {
		return
	}
	if _, err := e.ns.FoldCounts(e.ctx); err != nil {
		e.t.Fatalf("FoldCounts: %v", err)
	}
}

func (e *nsEnv) mustOpen() kv.Store {
	e.t.Helper()
	s, err := e.open()
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.mu.Lock()
	e.opened = append(e.opened, s)
	e.mu.Unlock()
	return s
}

func (e *nsEnv) reopen() {
	e.t.Helper()
	if err := e.kv.Close(); err != nil {
		e.t.Fatalf("Close before reopen: %v", err)
	}
	e.kv = e.mustOpen()
	e.ns = e.newStore(0)
}

// dump returns every key and value of the kv store, in order, as text.
func (e *nsEnv) dump() string {
	e.t.Helper()
	e.fold()
	var b strings.Builder
	err := e.kv.Iterate(e.ctx, kv.IterOptions{}, func(k, v []byte) error {
		fmt.Fprintf(&b, "%s %s\n", k, hex.EncodeToString(v))
		return nil
	})
	if err != nil {
		e.t.Fatalf("dump: %v", err)
	}
	return b.String()
}

// digest returns the SHA-256 of every key and value of the kv store, each
// as a 4-byte big-endian length and the bytes, in key order, and the
// number of keys.
func (e *nsEnv) digest() (string, int) {
	e.t.Helper()
	e.fold()
	h := sha256.New()
	n := 0
	var lb [4]byte
	err := e.kv.Iterate(e.ctx, kv.IterOptions{}, func(k, v []byte) error {
		for _, b := range [][]byte{k, v} {
			lb[0], lb[1], lb[2], lb[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
			h.Write(lb[:])
			h.Write(b)
		}
		n++
		return nil
	})
	if err != nil {
		e.t.Fatalf("digest: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// wantConsistent fails the test unless Check finds nothing.
func (e *nsEnv) wantConsistent(what string) nodestore.CheckReport {
	e.t.Helper()
	rep, err := e.ns.Check(e.ctx)
	if err != nil {
		e.t.Fatalf("%s: Check: %v", what, err)
	}
	for i, p := range rep.Problems {
		if i == 20 {
			e.t.Errorf("%s: ... %d problems in all", what, len(rep.Problems))
			break
		}
		e.t.Errorf("%s: Check: %s", what, p)
	}
	return rep
}

// folder and file build NodeStates with deterministic fields.
func nsFolder(path string, depth int) nodestore.NodeState {
	return nsState(path, depth, nodestore.NodeTypeFolder)
}

func nsFile(path string, depth int) nodestore.NodeState {
	return nsState(path, depth, nodestore.NodeTypeFile)
}

func nsState(path string, depth int, typ nodestore.NodeType) nodestore.NodeState {
	s := nodestore.NodeState{
		ID:    "id:" + path,
		Path:  path,
		Type:  typ,
		Depth: depth,
		MTime: time.Unix(1700000000+int64(len(path)), int64(len(path))*1000).UTC(),
	}
	if depth == 0 {
		s.Name = "root"
		return s
	}
	i := strings.LastIndexByte(path, '/')
	s.Name = path[i+1:]
	s.ParentPath = path[:i]
	if s.ParentPath == "" {
		s.ParentPath = "/"
	}
	s.ParentID = "id:" + s.ParentPath
	if typ == nodestore.NodeTypeFile {
		s.Size = int64(len(path)) * 100
		s.CopyNeeded = true
	}
	return s
}

func nsSrc(level int, ts nodestore.TraversalStatus, cs nodestore.CopyStatus, st nodestore.NodeState) nodestore.Node {
	return nodestore.Node{Queue: nodestore.QueueSrc, Level: level, Traversal: ts, Copy: cs, State: st}
}

func nsDst(level int, ts nodestore.TraversalStatus, st nodestore.NodeState) nodestore.Node {
	return nodestore.Node{Queue: nodestore.QueueDst, Level: level, Traversal: ts, State: st}
}

func (e *nsEnv) insert(n nodestore.Node) {
	e.t.Helper()
	if err := e.ns.Insert(e.ctx, n); err != nil {
		e.t.Fatalf("Insert(%s %s): %v", n.Queue, n.State.Path, err)
	}
}

// seedSmallTree stores a root with two folders and three files in src, and
// a root with one folder in dst.
func (e *nsEnv) seedSmallTree() {
	e.t.Helper()
	P, S := nodestore.TraversalStatusPending, nodestore.TraversalStatusSuccessful
	CP := nodestore.CopyStatusPending
	e.insert(nsSrc(0, S, CP, nsFolder("/", 0)))
	e.insert(nsSrc(1, P, CP, nsFolder("/a", 1)))
	e.insert(nsSrc(1, P, CP, nsFolder("/b", 1)))
	e.insert(nsSrc(1, S, CP, nsFile("/c.txt", 1)))
	e.insert(nsDst(0, P, nsFolder("/", 0)))
}

// goldenPath returns the path of a golden file in conformance/testdata.
func goldenPath(t testing.TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the conformance sources for golden files")
	}
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

func updateGolden() bool { return os.Getenv("POLYKV_UPDATE_GOLDEN") == "1" }

// checkGolden compares got with the golden file name, or rewrites it when
// POLYKV_UPDATE_GOLDEN=1.
func checkGolden(t testing.TB, name, got string) {
	t.Helper()
	p := goldenPath(t, name)
	if updateGolden() {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatalf("update golden %s: %v", p, err)
		}
		t.Logf("updated %s", p)
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden %s: %v (POLYKV_UPDATE_GOLDEN=1 regenerates it)", p, err)
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s", name, i+1, g, w)
			}
		}
	}
}

func wantErrIs(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}
