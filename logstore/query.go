package logstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/polykv/polykv/kv"
)

// Query selects log entries. The zero value selects every entry, oldest
// first.
type Query struct {
	// Levels restricts the query to these levels; empty means all six.
	Levels []Level
	// Since and Until select the entries whose ID was made in
	// [Since, Until), compared at millisecond precision (the precision of
	// the IDs): an entry of millisecond m matches when
	// Since.UnixMilli() <= m < Until.UnixMilli(). A zero time is
	// unbounded.
	Since, Until time.Time
	// Entity, EntityID and Queue, when not empty, keep only the entries
	// whose field is equal. Filtering reads every entry in the time range:
	// its cost is proportional to the entries scanned, not to Limit
	// (MaxScanned bounds it).
	Entity, EntityID, Queue string
	// MaxScanned, when above 0, stops the query after it has read this
	// many entries (matching a filter or not) without reaching its Limit
	// or the end of its range: the query returns ErrScanBounded with the
	// cursor of the last entry read, from which a query with After set to
	// it goes on. It bounds the cost of one call of a filtered query (a
	// web page, say) whatever the store holds. Keys passed to Unreadable
	// count too, but a cursor cannot name one: a query among them reads
	// on to the next readable entry (or the end of its range) before it
	// stops, so that every call makes progress.
	MaxScanned int
	// Newest returns the newest entries first.
	Newest bool
	// Limit stops after this many entries; 0 means no limit. Without
	// filters, a query with a limit reads at most Limit entries of each
	// level (Limit + 6 in practice): its cost does not grow with the store.
	Limit int
	// After resumes a query: only entries strictly after this cursor, in
	// the query's direction, are returned. Empty starts at the beginning
	// (or, with Newest, at the end).
	After Cursor
	// Unreadable, when not nil, is called with each key in the query's
	// range that holds no entry this build can read (a foreign key under
	// "log:", an ID that is not a version 7 UUID, a value that does not
	// decode or comes from a newer encoding: DecodeEntry's error), and
	// the query goes on past it if Unreadable returns nil, or stops with
	// the error it returns. Such a key matches no filter, does not count
	// toward Limit and is never a cursor; Count does not count it (without
	// filters Count reads keys only, and so meets only the keys that are
	// not log keys). key is valid only during the call. When nil, the
	// query fails at the first such key (ErrCorruptEntry or
	// ErrUnsupportedVersion); an inspector that must show everything
	// else sets it.
	Unreadable func(key []byte, err error) error
}

// Cursor is a position in the merged time order of every level: the key of
// the last entry a query returned. It is opaque to callers but printable,
// stable across processes and backends, and still valid after the entry it
// names is deleted. The empty Cursor is the beginning.
type Cursor string

// cursorOf returns the cursor of an entry's key.
func cursorOf(key []byte) Cursor { return Cursor(key) }

func (c Cursor) parse() (Level, string, error) {
	l, id, err := ParseKey([]byte(c))
	if err != nil {
		return "", "", fmt.Errorf("%w %q: %w", ErrInvalidCursor, string(c), err)
	}
	return l, id, nil
}

func (q *Query) levels() ([]Level, error) {
	if len(q.Levels) == 0 {
		return Levels(), nil
	}
	seen := make(map[Level]bool, len(q.Levels))
	out := make([]Level, 0, len(q.Levels))
	for _, l := range q.Levels {
		if err := l.check(); err != nil {
			return nil, err
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out, nil
}

// prepare checks the store and the levels of q, returned without
// repeats, and turns its filters into the text an entry stores (see
// storedText): a filter of invalid UTF-8 matches the entries it was
// stored from.
func (q *Query) prepare(ctx context.Context, store kv.Store) ([]Level, error) {
	if store == nil {
		return nil, fmt.Errorf("logstore: query: %w: nil kv.Store", kv.ErrInvalidConfig)
	}
	if ctx == nil {
		return nil, fmt.Errorf("logstore: query: %w: nil context", kv.ErrInvalidConfig)
	}
	q.Entity, q.EntityID, q.Queue = storedText(q.Entity), storedText(q.EntityID), storedText(q.Queue)
	return q.levels()
}

// unreadable is the outcome of a key in q's range that holds no readable
// entry: err, or what q.Unreadable makes of it.
func (q *Query) unreadable(key []byte, err error) error {
	if q.Unreadable == nil {
		return err
	}
	return q.Unreadable(key, err)
}

func (q *Query) filtered() bool { return q.Entity != "" || q.EntityID != "" || q.Queue != "" }

func (q *Query) match(e *LogEntry) bool {
	return (q.Entity == "" || e.Entity == q.Entity) &&
		(q.EntityID == "" || e.EntityID == q.EntityID) &&
		(q.Queue == "" || e.Queue == q.Queue)
}

// levelRange returns the iteration options of level for q: its time bounds
// narrowed by the cursor. Entries sort by ID, then by level name (the rare
// ID present in two levels); the cursor excludes itself and what precedes
// it in the query's direction.
func (q *Query) levelRange(level Level, after Level, afterID string) kv.IterOptions {
	start, end := levelBounds(level, q.Since, q.Until)
	opts := kv.IterOptions{Start: start, End: end, Reverse: q.Newest}
	if afterID == "" {
		return opts
	}
	at := appendKey(nil, level, afterID)
	if !q.Newest {
		if level <= after {
			at = kv.KeySuccessor(at) // the same ID in this level came before
		}
		if bytes.Compare(at, opts.Start) > 0 {
			opts.Start = at
		}
	} else {
		if level < after {
			at = kv.KeySuccessor(at) // the same ID in this level comes next
		}
		if bytes.Compare(at, opts.End) < 0 {
			opts.End = at
		}
	}
	return opts
}

// levelIter is one level's pulled iteration.
type levelIter struct {
	next   func() ([]byte, []byte, bool)
	stop   func()
	err    error
	key    []byte // valid until next is called again
	value  []byte
	idOff  int
	active bool
}

func (it *levelIter) advance() {
	it.key, it.value, it.active = it.next()
}

// less orders two heads in the merged ascending order: by ID, then by key
// (that is, by level name).
func headLess(a, b *levelIter) bool {
	if c := bytes.Compare(a.key[a.idOff:], b.key[b.idOff:]); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.key, b.key) < 0
}

// Scan calls fn with every entry q selects, in time order (newest first
// with q.Newest), merged across levels, on one consistent snapshot of
// store. It returns the cursor of the last entry passed to fn (q.After when
// none), to resume with. If fn returns kv.SkipAll, Scan stops and returns
// nil; any other error stops it and is returned. A query stopped by
// q.MaxScanned returns ErrScanBounded with the cursor of the last entry it
// read, matched or not.
//
// fn runs inside a read transaction of store: it may read the store, and
// write to it, but a long fn holds the snapshot open.
//
// A nil fn is an error wrapping kv.ErrInvalidConfig, as for
// kv.Store.Iterate.
func Scan(ctx context.Context, store kv.Store, q Query, fn func(LogEntry) error) (Cursor, error) {
	if fn == nil {
		return q.After, fmt.Errorf("logstore: scan: %w: nil function", kv.ErrInvalidConfig)
	}
	if q.Limit < 0 {
		return q.After, fmt.Errorf("logstore: query limit %d: want 0 (no limit) or more", q.Limit)
	}
	if q.MaxScanned < 0 {
		return q.After, fmt.Errorf("logstore: query max scanned %d: want 0 (no bound) or more", q.MaxScanned)
	}
	levels, err := q.prepare(ctx, store)
	if err != nil {
		return q.After, err
	}
	var after Level
	var afterID string
	if q.After != "" {
		if after, afterID, err = q.After.parse(); err != nil {
			return q.After, err
		}
	}
	last := q.After
	lastRead := q.After // the last readable entry read, matched or not
	err = store.View(ctx, func(tx kv.ReadTxn) error {
		its := make([]*levelIter, 0, len(levels))
		defer func() {
			for _, it := range its {
				it.stop()
			}
		}()
		for _, l := range levels {
			opts := q.levelRange(l, after, afterID)
			if _, _, empty := kv.Bounds(opts); empty {
				continue
			}
			it := &levelIter{idOff: len(KeyPrefix) + len(l) + 1}
			seq := func(yield func(k, v []byte) bool) {
				it.err = tx.Iterate(opts, func(k, v []byte) error {
					if !yield(k, v) {
						return kv.SkipAll
					}
					return nil
				})
			}
			it.next, it.stop = iter.Pull2(iter.Seq2[[]byte, []byte](seq))
			its = append(its, it)
			it.advance()
		}
		n, scanned := 0, 0
		// placed is false while the last key read was unreadable: a
		// cursor cannot name it, so stopping there would resume before
		// it, at the same keys, call after call.
		placed := true
		for q.Limit == 0 || n < q.Limit {
			var best *levelIter
			for _, it := range its {
				if !it.active {
					if it.err != nil {
						// A level that stopped on an error (its context
						// ended, say) ends the merge at once: taking more
						// entries of the other levels would pass fn a
						// sequence with a gap, and a cursor to resume
						// with that skips the gap.
						return it.err
					}
					continue
				}
				if best == nil || headLess(it, best) != q.Newest {
					best = it
				}
			}
			if best == nil {
				break
			}
			if q.MaxScanned > 0 && scanned >= q.MaxScanned && placed {
				last = lastRead // resume after what was read, matched or not
				return ErrScanBounded
			}
			scanned++
			e, err := DecodeEntry(best.key, best.value)
			if err != nil {
				if err := q.unreadable(best.key, err); err != nil {
					return err
				}
				placed = false
				best.advance()
				continue
			}
			key := best.key
			placed = true
			if !q.match(&e) {
				lastRead = cursorOf(key)
				best.advance()
				continue
			}
			last = cursorOf(key)
			lastRead = last
			n++
			if err := fn(e); err != nil {
				return err
			}
			best.advance()
		}
		for _, it := range its {
			if it.err != nil {
				return it.err
			}
		}
		return nil
	})
	if errors.Is(err, kv.SkipAll) {
		err = nil
	}
	return last, err
}

// Find returns the entries q selects (see Scan) and the cursor to resume
// after the last of them; with ErrScanBounded, those found before the
// query stopped and the cursor to go on from.
func Find(ctx context.Context, store kv.Store, q Query) ([]LogEntry, Cursor, error) {
	var out []LogEntry
	c, err := Scan(ctx, store, q, func(e LogEntry) error {
		out = append(out, e)
		return nil
	})
	if errors.Is(err, ErrScanBounded) {
		return out, c, err // what was found, and where to go on
	}
	if err != nil {
		return nil, q.After, err
	}
	return out, c, nil
}

// ByLevel calls fn with every entry of level, oldest first.
func ByLevel(ctx context.Context, store kv.Store, level Level, fn func(LogEntry) error) error {
	_, err := Scan(ctx, store, Query{Levels: []Level{level}}, fn)
	return err
}

// Newest returns the newest limit entries of the given levels (all when
// none), newest first. Its cost is proportional to limit, not to the store.
func Newest(ctx context.Context, store kv.Store, limit int, levels ...Level) ([]LogEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("logstore: newest: limit %d: want 1 or more", limit)
	}
	out, _, err := Find(ctx, store, Query{Levels: levels, Newest: true, Limit: limit})
	return out, err
}

// Tail returns up to limit entries (0: no limit) of every level written
// after cursor, oldest first, and the cursor to pass next time: what a UI
// polls with. Start with the empty cursor (everything) or with Latest (only
// what is new from now on).
//
// A tail sees entries in ID order. An entry that becomes visible with an ID
// below the cursor is not seen: with IDs issued by one LogBuffer (entries
// added with an empty ID) entries become visible in ID order and none is
// missed; entries whose IDs callers made themselves, or several buffers on
// one store, can arrive out of order across a poll.
func Tail(ctx context.Context, store kv.Store, cursor Cursor, limit int) ([]LogEntry, Cursor, error) {
	return Find(ctx, store, Query{After: cursor, Limit: limit})
}

// Latest returns the cursor of the newest entry of every level, or the
// empty cursor when there is none: Tail from it returns only newer entries.
func Latest(ctx context.Context, store kv.Store) (Cursor, error) {
	return Scan(ctx, store, Query{Newest: true, Limit: 1}, func(LogEntry) error { return nil })
}

// Count returns how many entries q selects, per level (every level of q is
// in the map, zero included). q.Limit, q.Newest and q.After are ignored.
// Without filters it reads keys only (no values); it is a scan, its cost
// proportional to the entries counted.
func Count(ctx context.Context, store kv.Store, q Query) (map[Level]int, error) {
	levels, err := q.prepare(ctx, store)
	if err != nil {
		return nil, err
	}
	out := make(map[Level]int, len(levels))
	err = store.View(ctx, func(tx kv.ReadTxn) error {
		for _, l := range levels {
			start, end := levelBounds(l, q.Since, q.Until)
			opts := kv.IterOptions{Start: start, End: end, KeysOnly: !q.filtered()}
			n := 0
			err := tx.Iterate(opts, func(k, v []byte) error {
				if q.filtered() {
					e, err := DecodeEntry(k, v)
					if err != nil {
						return q.unreadable(k, err)
					}
					if !q.match(&e) {
						return nil
					}
				} else if _, _, err := ParseKey(k); err != nil {
					// What Find would refuse, Count does not count.
					return q.unreadable(k, storedKeyErr(err))
				}
				n++
				return nil
			})
			if err != nil {
				return err
			}
			out[l] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteBefore deletes the entries of the given levels (all when none)
// whose ID was made before t (millisecond precision: before
// t.UnixMilli()). Each level is one kv.Store.DeleteRange over its
// time-ordered keys, from the level's first key to the first key of t's
// millisecond, so the cost is that of the deleted entries (constant on
// engines with a native range delete), never a scan of what is kept.
// Whether each range delete is atomic is the backend's promise
// (Info().Guarantees.AtomicDeleteRange); across levels it is not.
//
// The range holds whatever keys sort in it, not only this package's
// entries: a key under the level that is not a version 7 ID (the seed's
// version 4 IDs, whose first 48 bits are random, not a time) is deleted
// when it sorts before t's millisecond. For a version 4 ID that is a
// matter of chance (with a cutoff in 2026, about one in 160: those whose
// first four hex digits are below 019b), so a store that still holds them
// should delete or move them rather than rely on DeleteBefore to keep
// them.
func DeleteBefore(ctx context.Context, store kv.Store, t time.Time, levels ...Level) error {
	q := Query{Levels: levels}
	ls, err := q.prepare(ctx, store)
	if err != nil {
		return err
	}
	for _, l := range ls {
		start, _ := levelBounds(l, time.Time{}, time.Time{})
		end := levelEnd(l) // t past the last millisecond an ID holds: all
		if ms, past := boundMs(t); !past {
			end = levelTimeKey(nil, l, ms) // before 1970 (the zero time too): none
		}
		if err := store.DeleteRange(ctx, start, end); err != nil {
			return fmt.Errorf("logstore: delete %s entries before %s: %w", l, t.UTC().Format(time.RFC3339Nano), err)
		}
	}
	return nil
}
