package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// tree is a directory tree held compactly in memory, in BFS order: node 0
// is the root, and the children of each folder are contiguous. The
// traverse workloads build one in their load phase (generated, or read from
// a real directory) and then list it from memory, so the measured phase
// times the store, not the file system.
//
// The names share one byte arena (no string header or allocation per
// node), and a generated tree's arrays are sized once: about 30 bytes per
// node, which at 10M nodes keeps the harness's own share of the peak RSS
// (the tree lives through the whole run) near 300 MiB.
type tree struct {
	parent   []int32
	first    []int32 // index of the first child (folders)
	count    []int32 // number of children (0 for files)
	folder   []bool
	size     []int64
	names    []byte   // every name, one after the other
	nameEnd  []uint32 // end of node i's name in names (its start: nameEnd[i-1])
	levels   []int    // nodes per level
	maxLevel int
}

// newTree returns an empty tree with room for n nodes (names of about 5
// bytes each).
func newTree(n int) *tree {
	return &tree{
		parent: make([]int32, 0, n), first: make([]int32, 0, n), count: make([]int32, 0, n),
		folder: make([]bool, 0, n), size: make([]int64, 0, n),
		names: make([]byte, 0, 5*n), nameEnd: make([]uint32, 0, n),
	}
}

func (t *tree) len() int { return len(t.parent) }

// name returns node i's name. It does not copy: the arena's bytes are never
// written twice (add only appends, and an append that moves the arena
// leaves the old bytes as they were), so the string stays valid.
func (t *tree) name(i int32) string {
	start := uint32(0)
	if i > 0 {
		start = t.nameEnd[i-1]
	}
	if start == t.nameEnd[i] {
		return ""
	}
	return unsafe.String(&t.names[start], int(t.nameEnd[i]-start))
}

// errTreeTooLarge: the arena's offsets are 32-bit.
var errTreeTooLarge = fmt.Errorf("tree too large: its names pass %d bytes", math.MaxUint32)

func (t *tree) add(parent int32, name string, folder bool, size int64, level int) (int32, error) {
	if len(t.names)+len(name) > math.MaxUint32 || len(t.parent) == math.MaxInt32 {
		return 0, errTreeTooLarge
	}
	i := int32(len(t.parent))
	t.parent = append(t.parent, parent)
	t.first = append(t.first, 0)
	t.count = append(t.count, 0)
	t.folder = append(t.folder, folder)
	t.size = append(t.size, size)
	t.names = append(t.names, name...)
	t.nameEnd = append(t.nameEnd, uint32(len(t.names)))
	for len(t.levels) <= level {
		t.levels = append(t.levels, 0)
	}
	t.levels[level]++
	t.maxLevel = max(t.maxLevel, level)
	return i, nil
}

// path returns node i's path: "/" for the root, "/a/b" below it.
func (t *tree) path(i int32) string {
	if i == 0 {
		return "/"
	}
	var parts []string
	for ; i != 0; i = t.parent[i] {
		parts = append(parts, t.name(i))
	}
	var b strings.Builder
	for j := len(parts) - 1; j >= 0; j-- {
		b.WriteByte('/')
		b.WriteString(parts[j])
	}
	return b.String()
}

// hasPath reports whether p is node i's path, without building it.
func (t *tree) hasPath(i int32, p string) bool {
	if i == 0 {
		return p == "/"
	}
	for ; i != 0; i = t.parent[i] {
		name := t.name(i)
		if len(p) < len(name)+1 || p[len(p)-len(name)-1] != '/' || p[len(p)-len(name):] != name {
			return false
		}
		p = p[:len(p)-len(name)-1]
	}
	return p == ""
}

// genTree builds a tree of n nodes, level by level: each folder gets about
// fanout children (uniform between 1 and 2×fanout−1, or, when skewed, a
// Pareto draw: most folders small, a few with thousands of entries), of
// which a third are folders, until n nodes exist or depth levels are
// filled. Names are "d<j>" and "f<j>".
func genTree(r *rand.Rand, n, fanout, depth int, skew bool) (*tree, error) {
	if n < 1 || n > math.MaxInt32 {
		return nil, fmt.Errorf("tree of %d nodes: want 1 to %d", n, math.MaxInt32)
	}
	t := newTree(n)
	if _, err := t.add(0, "", true, 0, 0); err != nil {
		return nil, err
	}
	frontier := []int32{0}
	for level := 1; level <= depth && t.len() < n && len(frontier) > 0; level++ {
		var next []int32
		for _, p := range frontier {
			if t.len() >= n {
				break
			}
			k := 1 + r.IntN(2*fanout-1)
			if skew {
				// Pareto-like: most folders hold a few entries, one in
				// about 500 holds 1000 or more, and the largest are past
				// what one transaction holds (the workload inserts those
				// in chunks).
				k = int(float64(fanout) * 0.2 / max(1e-9, 1-r.Float64()))
				k = max(1, min(k, 20000))
			}
			k = min(k, n-t.len())
			t.first[p] = int32(t.len())
			t.count[p] = int32(k)
			for j := range k {
				folder := level < depth && r.IntN(3) == 0
				var size int64
				name := "f" + strconv.Itoa(j)
				if folder {
					name = "d" + strconv.Itoa(j)
				} else {
					size = r.Int64N(1 << 20)
				}
				c, err := t.add(p, name, folder, size, level)
				if err != nil {
					return nil, err
				}
				if folder {
					next = append(next, c)
				}
			}
		}
		frontier = next
	}
	return t, nil
}

// dirTree reads the directory tree under root, in BFS order, with entries
// sorted by name. Symbolic links are files (never followed); entries that
// cannot be read are skipped, the count reported.
func dirTree(root string) (*tree, int, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, 0, err
	}
	if !st.IsDir() {
		return nil, 0, fmt.Errorf("%s is not a directory", root)
	}
	t := newTree(0)
	if _, err := t.add(0, "", true, 0, 0); err != nil {
		return nil, 0, err
	}
	type item struct {
		idx   int32
		path  string
		level int
	}
	queue := []item{{0, root, 0}}
	unreadable := 0
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		entries, err := os.ReadDir(it.path)
		if err != nil {
			unreadable++
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		t.first[it.idx] = int32(t.len())
		t.count[it.idx] = int32(len(entries))
		for _, e := range entries {
			folder := e.Type().IsDir()
			var size int64
			if e.Type().IsRegular() {
				if info, err := e.Info(); err == nil {
					size = info.Size()
				}
			}
			c, err := t.add(it.idx, e.Name(), folder, size, it.level+1)
			if err != nil {
				return nil, unreadable, err
			}
			if folder {
				queue = append(queue, item{c, filepath.Join(it.path, e.Name()), it.level + 1})
			}
		}
	}
	return t, unreadable, nil
}

// defaultTree is the real tree traverse-dir walks by default: the Go
// toolchain's own source tree, present wherever Go is.
func defaultTree() string { return filepath.Join(goroot(), "src") }

// goroot is the Go toolchain's root as the go command reports it (the
// binary may run far from where it was built), else $GOROOT.
func goroot() string {
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if r := strings.TrimSpace(string(out)); r != "" {
			return r
		}
	}
	return os.Getenv("GOROOT")
}
