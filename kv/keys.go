package kv

import "bytes"

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix: the exclusive upper bound of a prefix scan. It returns nil (no
// upper bound) when prefix is empty or made only of 0xFF bytes. The result is
// a new slice.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, prefix[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}

// KeySuccessor returns the smallest key greater than key: key + 0x00. The
// result is a new slice.
func KeySuccessor(key []byte) []byte {
	s := make([]byte, len(key)+1)
	copy(s, key)
	return s
}

// Bounds turns Prefix, Start and End into the half-open interval
// [lower, upper) of the keys opts selects, nil meaning unbounded. empty is
// true when no key can match (Start >= End, or the bounds exclude the
// prefix).
func Bounds(opts IterOptions) (lower, upper []byte, empty bool) {
	lower = opts.Start
	if len(lower) == 0 {
		lower = nil
	}
	upper = opts.End
	if len(upper) == 0 {
		upper = nil
	}
	if len(opts.Prefix) > 0 {
		if lower == nil || bytes.Compare(opts.Prefix, lower) > 0 {
			lower = opts.Prefix
		}
		if pe := PrefixEnd(opts.Prefix); pe != nil && (upper == nil || bytes.Compare(pe, upper) < 0) {
			upper = pe
		}
	}
	if lower != nil && upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil, nil, true
	}
	return lower, upper, false
}
