package badger

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTableEndsBetween checks the binary searches of tableEndsBetween
// against a filter of every end key, on random ends (duplicates included:
// tables of several levels may end on one key) and random bounds, nil
// ones included.
func TestTableEndsBetween(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(40)) }
	maybe := func() []byte {
		if rng.IntN(4) == 0 {
			return nil
		}
		return key()
	}
	for round := range 2000 {
		var ends []tableEnd
		for i := range rng.IntN(12) {
			ends = append(ends, tableEnd{key: key(), id: uint64(i)})
		}
		slices.SortFunc(ends, func(a, b tableEnd) int { return bytes.Compare(a.key, b.key) })
		e := &engine{}
		e.tableEnds.ends, e.tableEnds.built = ends, time.Now() // fresh: no rebuild from Badger
		after, lower, upper := maybe(), maybe(), maybe()
		var want []tableEnd
		for _, te := range ends {
			if (after == nil || bytes.Compare(te.key, after) > 0) &&
				(lower == nil || bytes.Compare(te.key, lower) >= 0) &&
				(upper == nil || bytes.Compare(te.key, upper) < 0) {
				want = append(want, te)
			}
		}
		got := e.tableEndsBetween(after, lower, upper)
		if !slices.EqualFunc(got, want, func(a, b tableEnd) bool { return a.id == b.id }) {
			t.Fatalf("round %d: ends %q, after %q, lower %q, upper %q: got %v, want %v", round, keysOf(ends), after, lower, upper, keysOf(got), keysOf(want))
		}
	}
}

func keysOf(ends []tableEnd) []string {
	var out []string
	for _, e := range ends {
		out = append(out, string(e.key))
	}
	return out
}
