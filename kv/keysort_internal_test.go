package kv

import (
	"bytes"
	"cmp"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortKeyPos must order as a stable sort by bytes.Compare does, whatever
// the keys: equal keys, prefixes of one another, empty keys, 0x00 and
// 0xFF bytes, long shared prefixes, parts below and above the insertion
// sort's size.
func TestSortKeyPosMatchesStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabets := [][]byte{{'a', 'b'}, {0x00, 0xFF, 'x'}, []byte("0123456789abcdef")}
	for round := range 2000 {
		n := r.IntN(200)
		if round%100 == 0 {
			n = 3000
		}
		alpha := alphabets[round%len(alphabets)]
		prefix := bytes.Repeat([]byte("src:00000003:"), r.IntN(3))
		a := make([]keyPos, n)
		for i := range a {
			k := slices.Clone(prefix)
			for range r.IntN(6) {
				k = append(k, alpha[r.IntN(len(alpha))])
			}
			a[i] = keyPos{k, int32(i)}
		}
		want := slices.Clone(a)
		slices.SortStableFunc(want, func(x, y keyPos) int { return bytes.Compare(x.key, y.key) })
		sortKeyPos(a)
		for i := range a {
			if a[i].pos != want[i].pos {
				t.Fatalf("round %d (%d keys): position %d holds write %d (%q), want write %d (%q)", round, n, i, a[i].pos, a[i].key, want[i].pos, want[i].key)
			}
		}
	}
}

// Batches built against a multikey quicksort (keys that are prefixes of
// one another, keys that leave a long shared prefix one depth after the
// other) exhaust its budget: it must then give the comparison sort's
// order all the same, and its count of work must have stopped at the
// budget, which bounds the time such a batch takes (an audit measured
// 2.4 s for one of 3,900 keys before the budget; about 8 ms after).
func TestSortKeyPosAdversarial(t *testing.T) {
	chain := func(n int, descending bool) []keyPos {
		a := make([]keyPos, n)
		for i := range a {
			l := i
			if descending {
				l = n - 1 - i
			}
			a[i] = keyPos{make([]byte, l), int32(i)}
		}
		return a
	}
	diverging := func(n int) []keyPos {
		prefix := bytes.Repeat([]byte{'p'}, n)
		var a []keyPos
		for i := range n {
			a = append(a, keyPos{prefix, int32(len(a))})
			k := append(slices.Clone(prefix[:i]), 'a')
			a = append(a, keyPos{k, int32(len(a))})
		}
		rand.New(rand.NewPCG(5, 6)).Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		return a
	}
	for name, a := range map[string][]keyPos{
		"prefix chain, descending": chain(3000, true),
		"prefix chain, ascending":  chain(3000, false),
		"diverging from a prefix":  diverging(1500),
	} {
		want := slices.Clone(a) // ties by position (a is shuffled after numbering)
		slices.SortFunc(want, func(x, y keyPos) int {
			if c := bytes.Compare(x.key, y.key); c != 0 {
				return c
			}
			return cmp.Compare(x.pos, y.pos)
		})
		ks := keySorter{budget: keySortBudget * len(a) * (bits.Len(uint(len(a))) + 1)}
		finished := ks.mkqs(slices.Clone(a), 0)
		if ks.work > ks.budget+len(a)*(len(a[0].key)/commonChunk+2) {
			t.Errorf("%s: %d steps of work against a budget of %d", name, ks.work, ks.budget)
		}
		sortKeyPos(a)
		if !slices.EqualFunc(a, want, func(x, y keyPos) bool { return x.pos == y.pos }) {
			t.Errorf("%s (multikey quicksort finished within budget: %v): not the order by key, then position", name, finished)
		}
		if name == "prefix chain, descending" && finished {
			t.Errorf("%s: sorted within the budget; the test no longer reaches the comparison sort", name)
		}
	}
}

func FuzzSortKeyPos(f *testing.F) {
	f.Add([]byte("b\x00a\x00ab\x00a\x00\x00b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a []keyPos
		for i, k := range bytes.Split(data, []byte{0}) {
			a = append(a, keyPos{k, int32(i)})
		}
		want := slices.Clone(a)
		slices.SortStableFunc(want, func(x, y keyPos) int { return bytes.Compare(x.key, y.key) })
		sortKeyPos(a)
		if !slices.EqualFunc(a, want, func(x, y keyPos) bool { return x.pos == y.pos }) {
			t.Fatalf("sortKeyPos = %v, want %v", a, want)
		}
	})
}

// BenchmarkSortKeyPos sorts the writes of one page of traverse-gen's
// completions, in the order nodestore makes them: per folder, each child's
// node key, children index key and path key, then the folder's old node
// key (deleted), new node key and path key. "pdq" is the comparison sort
// EachInKeyOrder used before (pdqsort, ties by position).
func BenchmarkSortKeyPos(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	hash := func() string { return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()) }
	var keys [][]byte
	for len(keys) < 6000 {
		parent := hash()
		for range 1 + r.IntN(19) {
			child := hash()
			keys = append(keys,
				[]byte("src:00000004:pending:pending:"+child),
				[]byte("src:children:"+parent+":"+child),
				[]byte("src:path:"+child))
		}
		keys = append(keys,
			[]byte("src:00000003:pending:pending:"+parent),
			[]byte("src:00000003:successful:pending:"+parent),
			[]byte("src:path:"+parent))
	}
	base := make([]keyPos, len(keys))
	for i, k := range keys {
		base[i] = keyPos{k, int32(i)}
	}
	a := make([]keyPos, len(base))
	b.Run("mkqs", func(b *testing.B) {
		for b.Loop() {
			copy(a, base)
			sortKeyPos(a)
		}
	})
	b.Run("pdq", func(b *testing.B) {
		for b.Loop() {
			copy(a, base)
			slices.SortFunc(a, func(x, y keyPos) int {
				if c := bytes.Compare(x.key, y.key); c != 0 {
					return c
				}
				return cmp.Compare(x.pos, y.pos)
			})
		}
	})
}
