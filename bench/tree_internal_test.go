package bench

import (
	"math/rand/v2"
	"testing"
)

// hasPath must agree with path on every node, and reject near misses.
func TestTreeHasPath(t *testing.T) {
	tr := genTree(rand.New(rand.NewPCG(1, 2)), 2000, 5, 6, false)
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
