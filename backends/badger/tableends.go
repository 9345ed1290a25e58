package badger

import (
	"bytes"
	"slices"
	"sync"
	"time"
)

// tableEnds is the engine's list of the largest keys of Badger's tables,
// which checkTail reads at the natural end of every forward iteration.
//
// Badger's DB.Tables builds that list afresh on each call: a pass over
// every table of every level, its statistics included, and a sort. At the
// end of every prefix scan that was most of the scan's cost on a large
// store (traverse-gen, badger, 1M nodes: DB.Tables was 7.6% of the
// process's CPU, and its garbage a share of the collector's). The list
// only changes when Badger flushes a memtable or compacts, so the engine
// keeps a copy, sorted by key, and rebuilds it when it is older than
// tableEndsMaxAge.
//
// A stale copy keeps checkTail sound: every end key it tries is Got in the
// iteration's own snapshot, and a key that the snapshot sees inside the
// iteration's remaining range means the iteration was cut short, whichever
// table that key came from. What a stale copy can miss is a cut at the end
// of a table created since it was built (at most tableEndsMaxAge ago);
// the tables that table replaced usually end on keys it still holds.
type tableEnds struct {
	mu    sync.Mutex
	built time.Time
	ends  []tableEnd // sorted by key
}

// tableEnd is the largest key of one table, in stored form, without
// Badger's version suffix, copied (a table's memory goes away with it).
type tableEnd struct {
	key []byte
	id  uint64
}

// tableEndsMaxAge is how long a copy of the list serves.
const tableEndsMaxAge = 250 * time.Millisecond

// between returns the table ends k with after < k (when after is not nil),
// lower <= k (when lower is not nil) and k < upper (when upper is not
// nil), in key order, from a copy of the list at most tableEndsMaxAge old.
// The result must not be modified.
func (e *engine) tableEndsBetween(after, lower, upper []byte) []tableEnd {
	ends := e.tableEnds.current(e)
	i := 0
	if after != nil {
		i, _ = slices.BinarySearchFunc(ends, after, func(t tableEnd, k []byte) int {
			if bytes.Compare(t.key, k) <= 0 {
				return -1
			}
			return 1
		})
	}
	if lower != nil {
		j, _ := slices.BinarySearchFunc(ends, lower, func(t tableEnd, k []byte) int { return bytes.Compare(t.key, k) })
		i = max(i, j)
	}
	j := len(ends)
	if upper != nil {
		j, _ = slices.BinarySearchFunc(ends, upper, func(t tableEnd, k []byte) int { return bytes.Compare(t.key, k) })
	}
	if i >= j {
		return nil
	}
	return ends[i:j]
}

// current returns the list, rebuilt from Badger's when it is stale. The
// slice returned is never modified afterwards (a rebuild makes a new one).
func (te *tableEnds) current(e *engine) []tableEnd {
	te.mu.Lock()
	defer te.mu.Unlock()
	if te.built.IsZero() || time.Since(te.built) > tableEndsMaxAge {
		te.ends = buildTableEnds(e)
		te.built = time.Now()
	}
	return te.ends
}

// buildTableEnds copies the end keys of Badger's tables, leaving out
// Badger's own keys (which no iteration shows).
func buildTableEnds(e *engine) []tableEnd {
	tables := e.db.Tables()
	ends := make([]tableEnd, 0, len(tables))
	for _, t := range tables {
		if len(t.Right) <= 8 {
			continue
		}
		k := t.Right[:len(t.Right)-8] // Badger appends an 8-byte version
		if needsEscape(k) {
			if _, ok := appendUserKey(nil, k); !ok {
				continue // one of Badger's own keys
			}
		}
		ends = append(ends, tableEnd{key: bytes.Clone(k), id: t.ID})
	}
	slices.SortFunc(ends, func(a, b tableEnd) int { return bytes.Compare(a.key, b.key) })
	return ends
}
