package bench

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// hasPath must agree with path on every node, and reject near misses.
func TestTreeHasPath(t *testing.T) {
	tr, err := genTree(rand.New(rand.NewPCG(1, 2)), 2000, 5, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(tr.len()) {
		p := tr.path(i)
		if !tr.hasPath(i, p) {
			t.Fatalf("node %d: hasPath(%q) = false", i, p)
		}
		for _, bad := range []string{p + "x", p + "/", "/x" + p, "", p[:len(p)-1]} {
			if bad != p && tr.hasPath(i, bad) {
				t.Fatalf("node %d (%q): hasPath(%q) = true", i, p, bad)
			}
		}
		if i > 0 && tr.hasPath(i, tr.path(tr.parent[i])) {
			t.Fatalf("node %d: hasPath accepts its parent's path", i)
		}
	}
}

// The names in the arena are the generated ones: child j of a folder is
// "d<j>" or "f<j>", the root's name is empty.
func TestTreeNames(t *testing.T) {
	tr, err := genTree(rand.New(rand.NewPCG(3, 4)), 5000, 7, 12, false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.len() != 5000 || tr.name(0) != "" {
		t.Fatalf("len %d, root name %q", tr.len(), tr.name(0))
	}
	for p := range int32(tr.len()) {
		for j := range tr.count[p] {
			c := tr.first[p] + j
			want := "f" + strconv.Itoa(int(j))
			if tr.folder[c] {
				want = "d" + strconv.Itoa(int(j))
			}
			if got := tr.name(c); got != want || tr.parent[c] != p {
				t.Fatalf("node %d: name %q parent %d, want %q parent %d", c, got, tr.parent[c], want, p)
			}
		}
	}
	if _, err := genTree(rand.New(rand.NewPCG(3, 4)), 0, 7, 5, false); err == nil {
		t.Fatal("genTree(0 nodes): no error")
	}
}
