package kv

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"
)

// sortKeyPos sorts a batch's keys for EachInKeyOrder: by key, ties by
// position (stable). It is a multikey quicksort (Bentley and Sedgewick,
// "Fast algorithms for sorting and searching strings", 1997): a
// three-way partition on the byte at depth d, then the equal part goes on
// at depth d+1. A batch's keys share long prefixes (every node key of a
// level "src:00000003:pending:pending:", every children index key of a
// folder its parent's hash), which a comparison sort reads again in each
// of its n log n comparisons and this sort reads once per key and byte.
// Small parts are finished by insertion sort from depth d.
//
// A batch built to defeat it (keys that are prefixes of one another,
// thousands of bytes long) would make it read the same bytes again at
// every depth: it counts its work, and past a budget of keySortBudget
// steps per key and doubling of the batch it stops and finishes with a
// comparison sort, so that no batch sorts much slower than pdqsort would.
func sortKeyPos(a []keyPos) {
	ks := keySorter{budget: keySortBudget * len(a) * (bits.Len(uint(len(a))) + 1)}
	if !ks.mkqs(a, 0) {
		slices.SortFunc(a, func(x, y keyPos) int {
			if c := bytes.Compare(x.key, y.key); c != 0 {
				return c
			}
			return cmp.Compare(x.pos, y.pos)
		})
	}
}

// keySortBudget is sortKeyPos's budget of steps (a key visited by a
// partition, a column of commonChunk bytes compared, an insertion step)
// per key and doubling; node-shaped batches take about a quarter of it
// (1.6, BenchmarkSortKeyPos's page).
const keySortBudget = 6

// keySorter counts the work of one sortKeyPos.
type keySorter struct {
	work, budget int
}

// spend adds n steps and reports whether the budget still holds.
func (ks *keySorter) spend(n int) bool {
	ks.work += n
	return ks.work <= ks.budget
}

// mkqsSmall is the part size below which mkqs sorts by insertion.
const mkqsSmall = 16

// byteAt returns the byte of k at depth d, or -1 past its end (a key
// sorts before every longer key it is a prefix of).
func byteAt(k []byte, d int) int {
	if d < len(k) {
		return int(k[d])
	}
	return -1
}

// mkqs sorts a, whose keys agree on their first d bytes; false when it
// ran out of budget (a is then a permutation of itself, unsorted).
func (ks *keySorter) mkqs(a []keyPos, d int) bool {
	for len(a) > mkqsSmall {
		// Skip the bytes every key of a shares from d on in one pass
		// (a level's node keys share 29), not one partition per byte.
		skip, cols := commonFrom(a, d)
		d += skip
		if !ks.spend(len(a) * (cols + 1)) {
			return false
		}
		pivot := median3(byteAt(a[0].key, d), byteAt(a[len(a)/2].key, d), byteAt(a[len(a)-1].key, d))
		// a[:lt] < pivot, a[lt:i] == pivot, a[gt:] > pivot.
		lt, i, gt := 0, 0, len(a)
		for i < gt {
			switch c := byteAt(a[i].key, d); {
			case c < pivot:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case c > pivot:
				gt--
				a[i], a[gt] = a[gt], a[i]
			default:
				i++
			}
		}
		if !ks.mkqs(a[:lt], d) || !ks.mkqs(a[gt:], d) {
			return false
		}
		a = a[lt:gt]
		if pivot < 0 {
			// Every key here ended at d: equal keys, in position order.
			slices.SortFunc(a, func(x, y keyPos) int { return cmp.Compare(x.pos, y.pos) })
			return true
		}
		d++
	}
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && lessFrom(a[j], a[j-1], d); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
	return ks.spend(len(a) * len(a) / 2)
}

// lessFrom orders x before y by their keys from depth d on (the bytes
// before agree), then by position.
func lessFrom(x, y keyPos, d int) bool {
	if c := bytes.Compare(x.key[d:], y.key[d:]); c != 0 {
		return c < 0
	}
	return x.pos < y.pos
}

// commonFrom returns how many bytes from depth d on every key of a
// shares with a[0]. It compares a column of commonChunk bytes across all
// the keys before it goes on to the next, so that a call costs at most
// len(a) × (the bytes it skips + commonChunk): a key that differs early,
// found last, does not make it read every other key to its end (on
// adversarial batches, 2,000 keys each a prefix of the next, that made
// the sort cubic: seconds where a comparison sort takes milliseconds).
//
// It also returns how many columns it compared, for the sort's budget.
func commonFrom(a []keyPos, d int) (skip, cols int) {
	first := a[0].key[d:]
	for n := 0; n < len(first); n += commonChunk {
		cols++
		col := first[n:min(n+commonChunk, len(first))]
		for _, x := range a[1:] {
			k := x.key[d+n:]
			if len(k) >= len(col) && bytes.Equal(k[:len(col)], col) {
				continue
			}
			// Some key leaves the column: the common part ends in it.
			m := len(col)
			for _, y := range a[1:] {
				k := y.key[d+n:]
				j := 0
				for j < m && j < len(k) && k[j] == col[j] {
					j++
				}
				if m = j; m == 0 {
					break
				}
			}
			return n + m, cols
		}
	}
	return len(first), cols
}

// commonChunk is the width of commonFrom's columns.
const commonChunk = 32

func median3(a, b, c int) int {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}
