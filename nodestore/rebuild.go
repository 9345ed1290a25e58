package nodestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// RebuildCounts makes every counter and pending-level key agree with the
// node keys: it repairs counters after a bug or a manual edit; the normal
// write path never needs it.
//
// It reads the node keys and the stored counters on one snapshot (a scan
// of every node key, O(nodes), which holds no writer up), and adds to each
// counter the difference between the nodes it counted and what the
// counter held there. Adding the snapshot's error rather than writing the
// snapshot's count keeps the changes that other writers commit meanwhile:
// every correct change moves a counter with its nodes, so the error is
// still the same when the correction lands. Keys of the counter families
// that do not parse are deleted, and the snapshot read again. The
// corrections are written in transactions within the store's limits
// (kv.Limits: on a store with small transactions, such as etcd at its
// defaults, several; elsewhere one), each counter whole in one of them:
// if RebuildCounts fails partway, calling it again finishes the repair.
// Last, counter stripes are folded (FoldCounts), so that the layout is a
// local store's where no one else writes; a fold that keeps conflicting
// with other writers is left undone.
//
// One RebuildCounts runs at a time on a store, whatever the Stores and
// processes: a second one waits, within ctx, for the first to end (two
// runs that read the same state would both apply its corrections). The
// running one holds a key of its own, nodestore:rebuild, which it deletes
// when it returns (rebuildlock.go); one left by a process that died is
// taken over once it has expired (a minute) on a shared store, at once on
// a local one.
func (s *Store) RebuildCounts(ctx context.Context) error {
	if err := s.ready(ctx, "RebuildCounts"); err != nil {
		return err
	}
	if err := s.rebuildCounts(ctx); err != nil {
		return fmt.Errorf("nodestore: rebuild counts: %w", err)
	}
	return nil
}

// rebuildAttempts bounds how often rebuildCounts deletes keys that do not
// parse and reads again: a key that is damaged again after its deletion
// is written by something other than nodestore.
const rebuildAttempts = 3

func (s *Store) rebuildCounts(ctx context.Context) (err error) {
	l, err := s.lockRebuild(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := l.release(ctx); err == nil {
			err = rerr
		}
	}()
	for attempt := 1; ; attempt++ {
		var r rebuild
		if err := s.kv.View(ctx, r.read); err != nil {
			return err
		}
		if len(r.bad) == 0 {
			if err := s.correct(ctx, l, &r); err != nil {
				return err
			}
			break
		}
		if attempt == rebuildAttempts {
			return fmt.Errorf("%w: counter keys damaged again after %d deletions, first %q", ErrCorrupt, attempt-1, r.bad[0])
		}
		if err := s.deleteKeys(ctx, l, r.bad); err != nil {
			return fmt.Errorf("deleting damaged counter keys: %w", err)
		}
	}
	// The counters are exact now; folding is for the layout, and a fold
	// that keeps conflicting with writers leaves them exact.
	if _, err := s.FoldCounts(ctx); err != nil && !errors.Is(err, kv.ErrConflict) {
		return err
	}
	return nil
}

// rebuild is what RebuildCounts reads on its snapshot: the corrections to
// make, or the keys to delete first.
type rebuild struct {
	counts []countDelta // delta: what the counter lacks
	levels []levelDelta
	bad    [][]byte // keys of the counter families that do not parse
}

// read computes the corrections on one snapshot.
func (r *rebuild) read(tx kv.ReadTxn) error {
	*r = rebuild{}
	scanned, err := scanCounts(tx)
	if err != nil {
		return err
	}
	pending := map[countID]int64{} // the pending-level keys' due, per queue and level
	for id, n := range scanned {
		if id.pos.ts == TraversalStatusPending {
			pending[countID{q: id.q, pos: position{level: id.pos.level, ts: TraversalStatusPending}}] += n
		}
	}
	for _, q := range Queues {
		prefix := append(appendQueue(nil, q), familyCount...)
		err := r.readFamily(tx, prefix, func(tail []byte, sum int64) bool {
			level, ts, cs, err := parseStatusSuffix(q, tail)
			if err != nil {
				return false
			}
			id := countID{q, position{level, ts, cs}}
			if d := scanned[id] - sum; d != 0 {
				r.counts = append(r.counts, countDelta{id: id, delta: d})
			}
			delete(scanned, id)
			return true
		})
		if err != nil {
			return err
		}
		prefix = append(appendQueue(nil, q), familyPendingLevel...)
		err = r.readFamily(tx, prefix, func(tail []byte, sum int64) bool {
			level, err := parseLevel(tail)
			if err != nil {
				return false
			}
			id := countID{q: q, pos: position{level: level, ts: TraversalStatusPending}}
			if d := pending[id] - sum; d != 0 {
				r.levels = append(r.levels, levelDelta{q: q, level: level, delta: d})
			}
			delete(pending, id)
			return true
		})
		if err != nil {
			return err
		}
	}
	// Positions with nodes and no counter.
	for _, e := range entriesOf(scanned) {
		r.counts = append(r.counts, countDelta{id: e.id(), delta: e.N})
	}
	for _, e := range entriesOf(pending) {
		r.levels = append(r.levels, levelDelta{q: e.Queue, level: e.Level, delta: e.N})
	}
	return nil
}

// readFamily reads the counters under prefix (one family of one queue),
// each the sum of its stripes, and gives each counter's tail and sum to
// use, which reports whether the tail parses. The keys of a counter whose
// tail, stripes or values do not parse, or whose stripes overflow when
// summed, go to r.bad. A sum below zero is damage with a known value: the
// correction mends it like any other.
func (r *rebuild) readFamily(tx kv.ReadTxn, prefix []byte, use func(tail []byte, sum int64) bool) error {
	var (
		cur  []byte   // the counter's tail
		keys [][]byte // its keys
		sum  int64
		ok   bool // its keys so far parse
	)
	flush := func() {
		if len(keys) == 0 {
			return
		}
		if !ok || !use(cur, sum) {
			r.bad = append(r.bad, keys...)
		}
		keys = keys[:0]
	}
	err := tx.Iterate(kv.IterOptions{Prefix: prefix}, func(k, v []byte) error {
		tail, n, parses := cutStripe(k[len(prefix):])
		if !parses {
			r.bad = append(r.bad, bytes.Clone(k))
			return nil
		}
		if len(keys) == 0 || !bytes.Equal(tail, cur) {
			flush()
			cur, sum, ok = append(cur[:0], tail...), 0, true
		}
		keys = append(keys, bytes.Clone(k))
		if !ok {
			return nil
		}
		d, err := decodeStripe(k, v, n)
		if err == nil {
			sum, err = addStripe(k, sum, d)
		}
		ok = err == nil
		return nil
	})
	if err == nil {
		flush() // the last counter
	}
	return err
}

// correct adds r's corrections to the counters, in transactions within
// the store's limits, each counter whole in one of them.
func (s *Store) correct(ctx context.Context, l *rebuildLock, r *rebuild) error {
	// A counter's correction reads and writes its key (the key of the
	// transaction's stripe); at stripe 0, one going below zero folds the
	// counter's stripes into it (writeStripe): counterStripes more reads
	// and deletes.
	const cost = counterStripes + 2
	per := max(1, readBudget(s.lim)/2/cost)
	total := len(r.counts) + len(r.levels)
	for start := 0; start < total; start += per {
		end := min(start+per, total)
		err := s.update(ctx, func(tx kv.Txn, stripe int) error {
			if err := l.check(tx); err != nil {
				return err
			}
			d := deltas{stripe: stripe}
			for i := start; i < end; i++ {
				if i < len(r.counts) {
					d.addCount(r.counts[i].id, r.counts[i].delta)
				} else {
					lv := r.levels[i-len(r.counts)]
					d.addLevel(lv.q, lv.level, lv.delta)
				}
			}
			if err := d.load(tx, s.manyReads); err != nil {
				return err
			}
			return d.write(tx)
		})
		if err != nil {
			return fmt.Errorf("correcting counters %d..%d of %d: %w", start+1, end, total, err)
		}
	}
	return nil
}

// deleteKeys deletes keys in transactions within the store's limits.
func (s *Store) deleteKeys(ctx context.Context, l *rebuildLock, keys [][]byte) error {
	per := max(1, txnOpsBudget(s.lim)-1)
	for start := 0; start < len(keys); start += per {
		chunk := keys[start:min(start+per, len(keys))]
		err := s.kv.Update(ctx, func(tx kv.Txn) error {
			if err := l.check(tx); err != nil {
				return err
			}
			for _, k := range chunk {
				if err := tx.Delete(k); err != nil && !errors.Is(err, kv.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
