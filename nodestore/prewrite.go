package nodestore

import "github.com/polykv/polykv/kv"

// readBeforeWrites does the reads of a transaction that inserts items:
// which of them are stored already (findExisting, which sets their skip)
// and the counters that change (d, filled by fill from the items' skips,
// then loaded). Reads come before the transaction's first write.
//
// Where point reads are round trips and existence is checked by path keys
// (a shared store: Store.manyReads, Store.pointExists), both go in one
// kv.GetMany: fill runs once as if no item existed, and the counters of
// every position it touches are read with the path keys — which items
// exist changes how much a counter changes, not which counters a
// transaction touches. Then fill runs again with the real skips and the
// counters take the values read. One round trip instead of two, and a
// shorter window in which another writer's commit to these counters makes
// the transaction conflict.
func (s *Store) readBeforeWrites(tx kv.ReadTxn, items []prepared, d *deltas, fill func(d *deltas)) error {
	if !s.manyReads || !s.pointExists {
		if err := s.findExisting(tx, items); err != nil {
			return err
		}
		d.reset()
		fill(d)
		return d.load(tx, s.manyReads)
	}
	point := make([]int, len(items))
	for i := range items {
		items[i].skip = nil
		point[i] = i
	}
	d.reset()
	fill(d)
	found := make([]bool, len(items))
	at := make([]position, len(items))
	if err := pathsExist(tx, items, point, found, at, d.counterKeys(true), d.take); err != nil {
		return err
	}
	if err := markExisting(tx, items, found, at); err != nil {
		return err
	}
	var l loaded
	d.keep(&l)
	d.reset()
	fill(d)
	if !d.restore(&l) {
		// A counter the first fill did not touch: read them again.
		return d.load(tx, true)
	}
	return nil
}
