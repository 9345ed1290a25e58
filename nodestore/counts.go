package nodestore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/polykv/polykv/kv"
)

// countID names one counter: the nodes of a queue at a level in a pair of
// statuses.
type countID struct {
	q   QueueType
	pos position
}

type countDelta struct {
	id    countID
	delta int64
	cur   int64
}

type levelDelta struct {
	q     QueueType
	level int
	delta int64
	cur   int64
}

// deltas collects the counter changes of one transaction, to be applied in
// that transaction. The number of distinct counters one transaction touches
// is small (a few levels and statuses), so a slice beats a map.
type deltas struct {
	counts []countDelta
	levels []levelDelta
	// stripe is the counter stripe the transaction reads and writes
	// (stripes.go): 0 but on a shared store. reset keeps it.
	stripe int
	buf    []byte
	// load's keys, each with the counter its value goes to.
	ends []int
	keys [][]byte
	dst  []*int64
}

func (d *deltas) reset() {
	d.counts = d.counts[:0]
	d.levels = d.levels[:0]
}

// add records n more (or fewer) nodes at pos.
func (d *deltas) add(q QueueType, pos position, n int64) {
	d.addCount(countID{q, pos}, n)
	if pos.ts == TraversalStatusPending {
		d.addLevel(q, pos.level, n)
	}
}

func (d *deltas) addCount(id countID, n int64) {
	for i := range d.counts {
		if d.counts[i].id == id {
			d.counts[i].delta += n
			return
		}
	}
	d.counts = append(d.counts, countDelta{id: id, delta: n})
}

func (d *deltas) addLevel(q QueueType, level int, n int64) {
	for i := range d.levels {
		if d.levels[i].q == q && d.levels[i].level == level {
			d.levels[i].delta += n
			return
		}
	}
	d.levels = append(d.levels, levelDelta{q: q, level: level, delta: n})
}

// willAdd reports how many new counter keys add(q, pos, ...) would bring
// into the transaction, for sizing chunks.
func (d *deltas) willAdd(q QueueType, pos position) (keys int) {
	found := false
	for i := range d.counts {
		if d.counts[i].id == (countID{q, pos}) {
			found = true
			break
		}
	}
	if !found {
		keys++
	}
	if pos.ts == TraversalStatusPending {
		found = false
		for i := range d.levels {
			if d.levels[i].q == q && d.levels[i].level == pos.level {
				found = true
				break
			}
		}
		if !found {
			keys++
		}
	}
	return keys
}

// load reads the current value of every counter in d. With many (a store
// whose point reads are round trips: Store.manyReads) it reads them all
// with one kv.GetMany: one round trip instead of one per counter (a
// completion touches five or six), which also shortens the window in
// which another writer's commit to these hot keys makes the transaction
// conflict. Local engines read them one by one: a GetMany after the
// transaction's first write costs kv a copy of every value.
func (d *deltas) load(tx kv.ReadTxn, many bool) error {
	if !many {
		return d.loadEach(tx)
	}
	if keys := d.counterKeys(false); len(keys) > 0 {
		return kv.GetMany(tx, keys, d.take)
	}
	return nil
}

// counterKeys sets d.keys to the keys of d's counters — those with a
// change, or all of them — each with its value's place in d.dst (set to
// zero: a missing key is a zero count), and returns them.
func (d *deltas) counterKeys(all bool) [][]byte {
	d.buf, d.ends, d.keys, d.dst = d.buf[:0], d.ends[:0], d.keys[:0], d.dst[:0]
	for i := range d.counts {
		c := &d.counts[i]
		if c.delta == 0 && !all {
			continue
		}
		c.cur = 0
		d.buf = appendStripe(appendCountKey(d.buf, c.id.q, c.id.pos.level, c.id.pos.ts, c.id.pos.cs), d.stripe)
		d.ends = append(d.ends, len(d.buf))
		d.dst = append(d.dst, &c.cur)
	}
	for i := range d.levels {
		l := &d.levels[i]
		if l.delta == 0 && !all {
			continue
		}
		l.cur = 0
		d.buf = appendStripe(appendPendingLevelKey(d.buf, l.q, l.level), d.stripe)
		d.ends = append(d.ends, len(d.buf))
		d.dst = append(d.dst, &l.cur)
	}
	start := 0
	for _, end := range d.ends {
		d.keys = append(d.keys, d.buf[start:end:end])
		start = end
	}
	return d.keys
}

// loaded is the counters of a deltas with their values, kept across a
// reset (keep, restore).
type loaded struct {
	counts []countDelta
	levels []levelDelta
}

// keep copies d's counters with their values into l.
func (d *deltas) keep(l *loaded) {
	l.counts = append(l.counts[:0], d.counts...)
	l.levels = append(l.levels[:0], d.levels...)
}

// restore gives each counter of d with a change its value from l, and
// reports whether l had them all.
func (d *deltas) restore(l *loaded) bool {
	for i := range d.counts {
		c := &d.counts[i]
		if c.delta == 0 {
			continue
		}
		j := slices.IndexFunc(l.counts, func(k countDelta) bool { return k.id == c.id })
		if j < 0 {
			return false
		}
		c.cur = l.counts[j].cur
	}
	for i := range d.levels {
		lv := &d.levels[i]
		if lv.delta == 0 {
			continue
		}
		j := slices.IndexFunc(l.levels, func(k levelDelta) bool { return k.q == lv.q && k.level == lv.level })
		if j < 0 {
			return false
		}
		lv.cur = l.levels[j].cur
	}
	return true
}

// loadEach is load by one Get per counter.
func (d *deltas) loadEach(tx kv.ReadTxn) error {
	for i := range d.counts {
		c := &d.counts[i]
		if c.delta == 0 {
			continue
		}
		d.buf = appendStripe(appendCountKey(d.buf[:0], c.id.q, c.id.pos.level, c.id.pos.ts, c.id.pos.cs), d.stripe)
		v, err := readCounter(tx, d.buf, d.stripe)
		if err != nil {
			return err
		}
		c.cur = v
	}
	for i := range d.levels {
		l := &d.levels[i]
		if l.delta == 0 {
			continue
		}
		d.buf = appendStripe(appendPendingLevelKey(d.buf[:0], l.q, l.level), d.stripe)
		v, err := readCounter(tx, d.buf, d.stripe)
		if err != nil {
			return err
		}
		l.cur = v
	}
	return nil
}

// take stores the value of load's key i in its counter.
func (d *deltas) take(i int, v []byte) error {
	n, err := decodeStripe(d.keys[i], v, d.stripe)
	if err != nil {
		return err
	}
	*d.dst[i] = n
	return nil
}

// write writes every loaded counter plus its delta; a counter at zero is
// deleted.
func (d *deltas) write(tx kv.Txn) error {
	for i := range d.counts {
		c := &d.counts[i]
		if c.delta == 0 {
			continue
		}
		d.buf = appendStripe(appendCountKey(d.buf[:0], c.id.q, c.id.pos.level, c.id.pos.ts, c.id.pos.cs), d.stripe)
		if err := writeStripe(tx, d.buf, d.stripe, c.cur, c.delta); err != nil {
			return err
		}
	}
	for i := range d.levels {
		l := &d.levels[i]
		if l.delta == 0 {
			continue
		}
		d.buf = appendStripe(appendPendingLevelKey(d.buf[:0], l.q, l.level), d.stripe)
		if err := writeStripe(tx, d.buf, d.stripe, l.cur, l.delta); err != nil {
			return err
		}
	}
	return nil
}

// readCounter reads the counter key of stripe n; a missing key is zero.
func readCounter(tx kv.ReadTxn, key []byte, n int) (int64, error) {
	v, err := tx.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeStripe(key, v, n)
}

func decodeCounter(key, v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: counter %s holds %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	n := int64(binary.BigEndian.Uint64(v))
	if n <= 0 {
		return 0, fmt.Errorf("%w: counter %s holds %d, want > 0", ErrCorrupt, key, n)
	}
	return n, nil
}

func writeCounter(tx kv.Txn, key []byte, cur, delta int64) error {
	n := cur + delta
	switch {
	case n < 0:
		return fmt.Errorf("%w: counter %s would go from %d to %d (run RebuildCounts, or polykv check --repair-counts)", ErrCorrupt, key, cur, n)
	case n == 0:
		return tx.Delete(key)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return tx.Set(key, v[:])
}

// Count returns the number of nodes of queue q at level in traversal status
// ts and copy status cs (CopyStatusNone for dst). It is one read of the
// counter's key (and its stripes on a shared store, stripes.go), whatever
// the size of the level; the counters change in the same transactions as
// the nodes, so the count is exact.
func (s *Store) Count(ctx context.Context, q QueueType, level int, ts TraversalStatus, cs CopyStatus) (int64, error) {
	if err := s.ready(ctx, "Count"); err != nil {
		return 0, err
	}
	if err := checkPosition(q, level, ts, cs); err != nil {
		return 0, fmt.Errorf("nodestore: count: %w", err)
	}
	return s.counter(ctx, "count", appendCountKey(nil, q, level, ts, cs))
}

// PendingAt returns the number of nodes of queue q at level whose traversal
// is pending (for src: in any copy status). One read, as Count.
func (s *Store) PendingAt(ctx context.Context, q QueueType, level int) (int64, error) {
	if err := s.ready(ctx, "PendingAt"); err != nil {
		return 0, err
	}
	if err := q.check(); err != nil {
		return 0, fmt.Errorf("nodestore: pending count: %w", err)
	}
	if err := checkLevel(level); err != nil {
		return 0, fmt.Errorf("nodestore: pending count: %w", err)
	}
	return s.counter(ctx, "pending count", appendPendingLevelKey(nil, q, level))
}

// counter reads one counter outside any transaction: one point read of its
// key, or on a store with stripes (Store.sumsStripes) the sum of its
// stripes, whose key is the one of stripe 0, with one range read (no
// snapshot needed). A missing key is a zero count.
func (s *Store) counter(ctx context.Context, what string, key []byte) (int64, error) {
	striped, err := s.sumsStripes(ctx)
	if err != nil {
		return 0, fmt.Errorf("nodestore: %s %s: %w", what, key, err)
	}
	var n int64
	if striped {
		n, err = sumStripes(ctx, s.kv, key)
	} else {
		var v []byte
		v, err = s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			return 0, nil
		case err == nil:
			n, err = decodeCounter(key, v)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("nodestore: %s %s: %w", what, key, err)
	}
	return n, nil
}

// LevelDone reports whether no node of queue q at level is pending
// traversal. A level with no nodes at all is done. One read, as Count.
func (s *Store) LevelDone(ctx context.Context, q QueueType, level int) (bool, error) {
	n, err := s.PendingAt(ctx, q, level)
	return n == 0, err
}

// LowestPendingLevel returns the lowest level of queue q that has a node
// pending traversal; ok is false when there is none. It reads the small
// "pendinglevel" family from its start until the first level whose count
// is above zero: one key per level with pending nodes on a local store
// (a pending-level key at zero is deleted), so its cost does not depend on
// the number of nodes; on a shared store also the stripes of the levels
// before it (at most counterStripes each, stripes.go), until FoldCounts.
func (s *Store) LowestPendingLevel(ctx context.Context, q QueueType) (level int, ok bool, err error) {
	if err := s.ready(ctx, "LowestPendingLevel"); err != nil {
		return 0, false, err
	}
	if err := q.check(); err != nil {
		return 0, false, fmt.Errorf("nodestore: lowest pending level: %w", err)
	}
	prefix := append(appendQueue(nil, q), familyPendingLevel...)
	iterate := func(o kv.IterOptions, fn func(k, v []byte) error) error { return s.kv.Iterate(ctx, o, fn) }
	err = sumCounters(iterate, prefix, failOnBadCounter, func(tail []byte, _ int64) error {
		l, perr := parseLevel(tail)
		if perr != nil {
			return fmt.Errorf("%w: key %q", ErrCorrupt, append(prefix, tail...))
		}
		level, ok = l, true
		return kv.SkipAll
	})
	if err != nil {
		return 0, false, fmt.Errorf("nodestore: lowest pending level of %s: %w", q, err)
	}
	return level, ok, nil
}

func parseLevel(b []byte) (int, error) {
	if len(b) != 8 {
		return 0, ErrCorrupt
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrCorrupt
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// CountEntry is one counter: N nodes of Queue at Level in Traversal and
// Copy.
type CountEntry struct {
	Queue     QueueType
	Level     int
	Traversal TraversalStatus
	Copy      CopyStatus
	N         int64
}

func (c CountEntry) id() countID { return countID{c.Queue, position{c.Level, c.Traversal, c.Copy}} }

func compareEntries(a, b CountEntry) int {
	return cmp.Or(
		cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Level, b.Level),
		cmp.Compare(a.Traversal, b.Traversal), cmp.Compare(a.Copy, b.Copy))
}

// Counts returns every non-zero counter, ordered by queue, level, traversal
// and copy status. It reads the counter family only: its cost is the number
// of (queue, level, status) combinations in use, not the number of nodes.
func (s *Store) Counts(ctx context.Context) ([]CountEntry, error) {
	if err := s.ready(ctx, "Counts"); err != nil {
		return nil, err
	}
	var out []CountEntry
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		var err error
		out, err = storedCounts(tx, failOnBadCounter)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nodestore: counts: %w", err)
	}
	return out, nil
}

func storedCounts(tx kv.ReadTxn, bad func(error) error) ([]CountEntry, error) {
	var out []CountEntry
	for _, q := range Queues {
		prefix := append(appendQueue(nil, q), familyCount...)
		err := sumCounters(tx.Iterate, prefix, bad, func(tail []byte, n int64) error {
			level, ts, cs, err := parseStatusSuffix(q, tail)
			if err != nil {
				return bad(fmt.Errorf("key %q: %w", append(prefix, tail...), err))
			}
			out = append(out, CountEntry{Queue: q, Level: level, Traversal: ts, Copy: cs, N: n})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, compareEntries)
	return out, nil
}

// scanCounts counts the node keys themselves.
func scanCounts(tx kv.ReadTxn) (map[countID]int64, error) {
	counts := map[countID]int64{}
	for _, q := range Queues {
		opts, _ := PrefixForAllLevels(q)
		opts.KeysOnly = true
		err := tx.Iterate(opts, func(k, _ []byte) error {
			ki, err := ParseNodeKey(k)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			counts[countID{q, position{ki.Level, ki.Traversal, ki.Copy}}]++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return counts, nil
}

func entriesOf(m map[countID]int64) []CountEntry {
	out := make([]CountEntry, 0, len(m))
	for id, n := range m {
		out = append(out, CountEntry{Queue: id.q, Level: id.pos.level, Traversal: id.pos.ts, Copy: id.pos.cs, N: n})
	}
	slices.SortFunc(out, compareEntries)
	return out
}

// ScanCounts counts the node keys by scanning them (O(nodes)), without
// looking at the stored counters: what the counters must say.
func (s *Store) ScanCounts(ctx context.Context) ([]CountEntry, error) {
	if err := s.ready(ctx, "ScanCounts"); err != nil {
		return nil, err
	}
	var out []CountEntry
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		m, err := scanCounts(tx)
		out = entriesOf(m)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nodestore: scan counts: %w", err)
	}
	return out, nil
}

// CountMismatch is a counter whose stored value differs from the scan.
type CountMismatch struct {
	CountEntry       // the position, and N as scanned
	Stored     int64 // what the counter holds
}

// String describes the mismatch on one line.
func (m CountMismatch) String() string {
	return fmt.Sprintf("%s level %d %s/%s: stored %d, scanned %d", m.Queue, m.Level, m.Traversal, m.Copy, m.Stored, m.N)
}

// CheckCounts compares every stored counter (and the pending-level keys)
// with a scan of the node keys, on one snapshot, and returns the
// differences, ordered; none means the counters are exact. It costs a scan
// of every node key.
func (s *Store) CheckCounts(ctx context.Context) ([]CountMismatch, error) {
	if err := s.ready(ctx, "CheckCounts"); err != nil {
		return nil, err
	}
	var out []CountMismatch
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		var err error
		out, err = checkCounts(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nodestore: check counts: %w", err)
	}
	return out, nil
}

func checkCounts(tx kv.ReadTxn) ([]CountMismatch, error) {
	scanned, err := scanCounts(tx)
	if err != nil {
		return nil, err
	}
	return compareCounts(tx, scanned, failOnBadCounter)
}

// failOnBadCounter is the bad function of compareCounts and storedCounts
// that stops them at the first counter or pending-level key that does not
// parse, with its error.
func failOnBadCounter(err error) error { return err }

// compareCounts compares the stored counters and pending-level keys with
// the node keys counted per position. A counter or pending-level key that
// does not parse is given to bad: it is skipped if bad returns nil.
func compareCounts(tx kv.ReadTxn, scanned map[countID]int64, bad func(error) error) ([]CountMismatch, error) {
	stored, err := storedCounts(tx, bad)
	if err != nil {
		return nil, err
	}
	var out []CountMismatch
	seen := map[countID]bool{}
	for _, e := range stored {
		seen[e.id()] = true
		if n := scanned[e.id()]; n != e.N {
			m := CountMismatch{CountEntry: e, Stored: e.N}
			m.N = n
			out = append(out, m)
		}
	}
	for _, e := range entriesOf(scanned) {
		if !seen[e.id()] {
			out = append(out, CountMismatch{CountEntry: e})
		}
	}
	// The pending-level keys must be the sum of the pending counters.
	pending := map[countID]int64{}
	for id, n := range scanned {
		if id.pos.ts == TraversalStatusPending {
			pending[countID{q: id.q, pos: position{level: id.pos.level, ts: TraversalStatusPending}}] += n
		}
	}
	for _, q := range Queues {
		prefix := append(appendQueue(nil, q), familyPendingLevel...)
		err := sumCounters(tx.Iterate, prefix, bad, func(tail []byte, n int64) error {
			level, err := parseLevel(tail)
			if err != nil {
				return bad(fmt.Errorf("%w: key %q", ErrCorrupt, append(prefix, tail...)))
			}
			id := countID{q: q, pos: position{level: level, ts: TraversalStatusPending}}
			if pending[id] != n {
				out = append(out, CountMismatch{CountEntry: CountEntry{Queue: q, Level: level, Traversal: TraversalStatusPending, Copy: "*", N: pending[id]}, Stored: n})
			}
			delete(pending, id)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for id, n := range pending {
		out = append(out, CountMismatch{CountEntry: CountEntry{Queue: id.q, Level: id.pos.level, Traversal: TraversalStatusPending, Copy: "*", N: n}})
	}
	slices.SortFunc(out, func(a, b CountMismatch) int { return compareEntries(a.CountEntry, b.CountEntry) })
	return out, nil
}
