package kv

import (
	"bytes"
	"cmp"
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
func sortKeyPos(a []keyPos) {
	mkqs(a, 0)
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

// mkqs sorts a, whose keys agree on their first d bytes.
func mkqs(a []keyPos, d int) {
	for len(a) > mkqsSmall {
		// Skip the bytes every key of a shares from d on in one pass
		// (a level's node keys share 29), not one partition per byte.
		d += commonFrom(a, d)
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
		mkqs(a[:lt], d)
		mkqs(a[gt:], d)
		a = a[lt:gt]
		if pivot < 0 {
			// Every key here ended at d: equal keys, in position order.
			slices.SortFunc(a, func(x, y keyPos) int { return cmp.Compare(x.pos, y.pos) })
			return
		}
		d++
	}
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && lessFrom(a[j], a[j-1], d); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
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
// shares with a[0].
func commonFrom(a []keyPos, d int) int {
	first := a[0].key[d:]
	n := len(first)
	for _, x := range a[1:] {
		k := x.key[d:]
		n = min(n, len(k))
		j := 0
		for j < n && k[j] == first[j] {
			j++
		}
		n = j
		if n == 0 {
			break
		}
	}
	return n
}

func median3(a, b, c int) int {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}
