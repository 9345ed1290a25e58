package nodestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/polykv/polykv/kv"
)

// Counter stripes. Every transaction that adds or completes nodes reads
// and writes the counters of their positions. On a local store kv runs
// writers one at a time and that costs nothing; on a shared store
// (kv.Guarantees.Shared: writers in several processes, optimistic
// transactions) every completion of a level read the same few counter
// keys, so concurrent workers conflicted on them and ran again: 686 of
// 1,365 completions with four worker processes on etcd, one folder each.
//
// So on a shared store each counter and pending-level key is split into
// stripes. Stripe 0 is the key of the layout (count or pendinglevel),
// holding a count > 0 as on a local store. Stripes 1..99 are that key
// followed by ":" and two digits:
//
//	{q}:count:{level:08d}:{traversal}:{copy}:{stripe:02d}   value: 8-byte big-endian signed delta, != 0
//	{q}:pendinglevel:{level:08d}:{stripe:02d}
//
// A counter's value is the sum of its stripes, read with one range read
// (its stripes sort right after stripe 0 and before any other key). A
// writing transaction reads and writes only its own stripe, one of
// counterStripes, so two transactions conflict on counters only when they
// write the same stripe (Stores pick at random and move after a conflict:
// it happens, rarely). A delta stripe may be negative (one process
// inserted the nodes, another completed them); only the sum must be >= 0.
// A stripe whose delta reaches zero is deleted. FoldCounts folds every
// counter's stripes back into stripe 0, which gives the layout of a local
// store.
//
// Local stores never write stripes (stripe 0 only), so their bytes, their
// speed and their check that a counter never goes below zero are those of
// the layout. A store may hold stripes all the same (loaded or copied from
// a shared one, or written by a Store with StripesOn): a Store that writes
// none reads Count, PendingAt and LevelDone as sums when the store held
// stripes at its first such read (sumsStripes), and a change that would
// take a counter key below zero folds that counter's stripes into it
// (foldCounter) instead of failing; Counts, Check and LowestPendingLevel
// always sum.
const (
	// counterStripes is how many delta stripes the writers of a shared
	// store spread over: the stripe numbers 1..counterStripes.
	counterStripes = 16
	// stripeSuffixLen is the length of a stripe's ":NN".
	stripeSuffixLen = 3
)

// appendStripe appends the suffix of stripe n to a counter key (nothing
// for stripe 0).
func appendStripe(dst []byte, n int) []byte {
	if n == 0 {
		return dst
	}
	return append(dst, ':', byte('0'+n/10), byte('0'+n%10))
}

// cutStripe splits a counter key's tail (after its family) into the tail
// of stripe 0 and the stripe number. A tail without a stripe suffix is
// stripe 0; ok is false for a suffix ":00".
func cutStripe(tail []byte) (base []byte, stripe int, ok bool) {
	if n := len(tail); n > stripeSuffixLen && tail[n-3] == ':' && isDigit(tail[n-2]) && isDigit(tail[n-1]) {
		stripe, ok = stripeOf(tail[n-3:])
		return tail[:n-3], stripe, ok
	}
	return tail, 0, true
}

// isStripeKey reports whether key is a counter or pending-level key of a
// stripe other than 0.
func isStripeKey(key []byte) bool {
	i := bytes.IndexByte(key, ':')
	if i < 0 {
		return false
	}
	rest := key[i+1:]
	for _, fam := range []string{familyCount, familyPendingLevel} {
		if bytes.HasPrefix(rest, []byte(fam)) {
			_, n, _ := cutStripe(rest[len(fam):])
			return n > 0
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// stripeOf returns the stripe number of what follows a counter's stripe-0
// key in one of its stripes: nothing (0) or ":01" to ":99".
func stripeOf(rest []byte) (int, bool) {
	switch {
	case len(rest) == 0:
		return 0, true
	case len(rest) != stripeSuffixLen || rest[0] != ':' || !isDigit(rest[1]) || !isDigit(rest[2]):
		return 0, false
	}
	n := int(rest[1]-'0')*10 + int(rest[2]-'0')
	return n, n > 0
}

// decodeStripe decodes the value of a counter key of stripe n: a count > 0
// for stripe 0, a delta != 0 for the others.
func decodeStripe(key, v []byte, n int) (int64, error) {
	if n == 0 {
		return decodeCounter(key, v)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: counter stripe %s holds %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	d := int64(binary.BigEndian.Uint64(v))
	if d == 0 {
		return 0, fmt.Errorf("%w: counter stripe %s holds 0 (a stripe at zero is deleted)", ErrCorrupt, key)
	}
	return d, nil
}

// writeStripe writes cur+delta to the counter key of stripe n: stripe 0
// as writeCounter, a delta stripe signed, deleted at zero.
func writeStripe(tx kv.Txn, key []byte, n int, cur, delta int64) error {
	if n == 0 {
		if cur+delta < 0 {
			// The key alone would go below zero: the count may be in
			// stripes (a store written with them, then by a Store
			// without). Fold them into it with the change.
			return foldCounter(tx, key, delta)
		}
		return writeCounter(tx, key, cur, delta)
	}
	if cur+delta == 0 {
		return tx.Delete(key)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(cur+delta))
	return tx.Set(key, v[:])
}

// stripeRange is the range of counter key base's stripes: base itself and
// base + ":NN".
func stripeRange(base []byte) kv.IterOptions {
	end := make([]byte, len(base)+1)
	copy(end, base)
	end[len(base)] = ':' + 1
	return kv.IterOptions{Start: base, End: end}
}

// sumStripes reads the counter whose stripe-0 key is base, summing its
// stripes, in one range read.
func sumStripes(ctx context.Context, s kv.Store, base []byte) (int64, error) {
	iterate := func(o kv.IterOptions, fn func(k, v []byte) error) error { return s.Iterate(ctx, o, fn) }
	sum, _, err := readStripes(iterate, base, false, nil)
	if err == nil && sum < 0 {
		err = fmt.Errorf("%w: counter %s: its stripes sum to %d", ErrCorrupt, base, sum)
	}
	return sum, err
}

// addStripe adds the value d of stripe key k to sum, failing with
// ErrCorrupt where the sum would overflow.
func addStripe(k []byte, sum, d int64) (int64, error) {
	if d > 0 && sum > math.MaxInt64-d || d < 0 && sum < math.MinInt64-d {
		return 0, fmt.Errorf("%w: counter stripe %s: %d added to %d overflows", ErrCorrupt, k, d, sum)
	}
	return sum + d, nil
}

// stripePicker chooses the stripe of each writing transaction of a Store
// on a shared store. Concurrent transactions of one Store take different
// stripes (a slot each, from the lowest free); the Store's slots start at
// a random stripe and move to another random one when a transaction runs
// again after a conflict, so that the Stores of several processes, which
// cannot see each other's choices, settle on stripes of their own.
type stripePicker struct {
	mu    sync.Mutex
	base  int // stripe of slot 0, 0..counterStripes-1
	inUse [counterStripes]int
}

func newStripePicker() *stripePicker {
	return &stripePicker{base: rand.IntN(counterStripes)}
}

// acquire takes the least used slot.
func (p *stripePicker) acquire() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := 0
	for i := range p.inUse {
		if p.inUse[i] < p.inUse[slot] {
			slot = i
		}
	}
	p.inUse[slot]++
	return slot
}

func (p *stripePicker) release(slot int) {
	p.mu.Lock()
	p.inUse[slot]--
	p.mu.Unlock()
}

// stripe is the stripe number of slot, 1..counterStripes.
func (p *stripePicker) stripe(slot int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (p.base+slot)%counterStripes + 1
}

// conflicted moves the Store's slots to a random other place.
func (p *stripePicker) conflicted() {
	p.mu.Lock()
	p.base = (p.base + 1 + rand.IntN(counterStripes-1)) % counterStripes
	p.mu.Unlock()
}

// Store.stripeReads: whether Count, PendingAt and LevelDone sum stripes.
const (
	stripeReadsUnknown int32 = iota
	stripeReadsNo
	stripeReadsYes
)

// sumsStripes reports whether s reads a counter outside a transaction as
// the sum of its stripes rather than with one point read of its key: on a
// Store that writes stripes, on a shared store, and on a store that held
// stripe keys when s first asked (a store loaded or copied from a shared
// one); s looks once, then keeps the answer, which a Load of stripes
// through s changes to yes.
func (s *Store) sumsStripes(ctx context.Context) (bool, error) {
	switch s.stripeReads.Load() {
	case stripeReadsYes:
		return true, nil
	case stripeReadsNo:
		return false, nil
	}
	has, err := hasStripes(ctx, s.kv)
	if err != nil {
		return false, err
	}
	if has {
		s.stripeReads.Store(stripeReadsYes)
	} else {
		s.stripeReads.CompareAndSwap(stripeReadsUnknown, stripeReadsNo)
	}
	return has, nil
}

// hasStripes reports whether s holds a counter stripe key: it reads the
// counter families' keys up to the first stripe.
func hasStripes(ctx context.Context, s kv.Store) (bool, error) {
	found := false
	for _, q := range Queues {
		for _, fam := range []string{familyCount, familyPendingLevel} {
			prefix := append(appendQueue(nil, q), fam...)
			err := s.Iterate(ctx, kv.IterOptions{Prefix: prefix, KeysOnly: true}, func(k, _ []byte) error {
				if _, n, _ := cutStripe(k[len(prefix):]); n > 0 {
					found = true
					return kv.SkipAll
				}
				return nil
			})
			if err != nil || found {
				return found, err
			}
		}
	}
	return false, nil
}

// update runs fn in one kv Update, giving it the counter stripe its
// writes go to: 0 on a local store; on a shared store the stripe of a slot
// of s's picker, a new one each time fn runs again.
func (s *Store) update(ctx context.Context, fn func(tx kv.Txn, stripe int) error) error {
	if s.stripes == nil {
		return s.kv.Update(ctx, func(tx kv.Txn) error { return fn(tx, 0) })
	}
	slot := s.stripes.acquire()
	defer s.stripes.release(slot)
	runs := 0
	return s.kv.Update(ctx, func(tx kv.Txn) error {
		if runs++; runs > 1 {
			s.stripes.conflicted()
		}
		return fn(tx, s.stripes.stripe(slot))
	})
}

// sumCounters reads one counter family of one queue (the keys under
// prefix) through iterate and calls each, in key order, with every
// counter's tail (the key of its stripe 0 less prefix; valid only during
// the call) and the sum of its stripes, when that sum is not zero. A key
// whose stripe or value does not parse, or a counter whose stripes sum
// below zero, is given to bad, and skipped if bad returns nil. each may
// return kv.SkipAll to stop.
func sumCounters(iterate func(kv.IterOptions, func(k, v []byte) error) error, prefix []byte, bad func(error) error, each func(tail []byte, sum int64) error) error {
	var (
		cur     []byte
		sum     int64
		have    bool
		stopped bool
	)
	flush := func() error {
		if !have {
			return nil
		}
		have = false
		switch {
		case sum < 0:
			return bad(fmt.Errorf("%w: counter %s%s: its stripes sum to %d", ErrCorrupt, prefix, cur, sum))
		case sum == 0:
			return nil
		}
		err := each(cur, sum)
		if err == kv.SkipAll {
			stopped = true
		}
		return err
	}
	err := iterate(kv.IterOptions{Prefix: prefix}, func(k, v []byte) error {
		tail, n, ok := cutStripe(k[len(prefix):])
		if !ok {
			return bad(fmt.Errorf("%w: key %q: stripe 00", ErrCorrupt, k))
		}
		d, err := decodeStripe(k, v, n)
		if err != nil {
			return bad(err)
		}
		if !have || !bytes.Equal(tail, cur) {
			if err := flush(); err != nil {
				return err
			}
			cur, sum, have = append(cur[:0], tail...), 0, true
		}
		if sum, err = addStripe(k, sum, d); err != nil {
			have = false // its sum is unknown: not given to each
			return bad(err)
		}
		return nil
	})
	if err == nil && !stopped {
		err = flush()
	}
	if err == kv.SkipAll {
		err = nil
	}
	return err
}

// FoldCounts folds the stripes of every counter and pending-level key
// into the key of its stripe 0 (see the package doc, "Counters on a
// shared store"), and returns how many counters it folded. Afterwards the
// store's bytes are those a local store would hold for the same nodes.
// The counts do not change.
//
// It reads the counter families on one snapshot to find the counters
// with stripes, then folds them in transactions within the store's
// limits, each counter whole in one of them (its stripes read again, then
// deleted, their sum written to stripe 0). Writers may run meanwhile: on
// a shared store one that writes a stripe being folded conflicts with the
// fold, and one of the two runs again. Folding is never needed for
// correctness; it makes Counts, LowestPendingLevel and Check read fewer
// keys, and the layout canonical, after a traversal by several workers.
// A store that was never shared has nothing to fold.
func (s *Store) FoldCounts(ctx context.Context) (int, error) {
	if err := s.ready(ctx, "FoldCounts"); err != nil {
		return 0, err
	}
	var bases [][]byte // stripe-0 keys of the counters with stripes
	var keys []int     // how many keys each had
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		for _, q := range Queues {
			for _, fam := range []string{familyCount, familyPendingLevel} {
				prefix := append(appendQueue(nil, q), fam...)
				err := tx.Iterate(kv.IterOptions{Prefix: prefix, KeysOnly: true}, func(k, _ []byte) error {
					tail, n, ok := cutStripe(k[len(prefix):])
					if !ok || n == 0 {
						return nil
					}
					base := k[:len(prefix)+len(tail)]
					if len(bases) == 0 || !bytes.Equal(bases[len(bases)-1], base) {
						bases, keys = append(bases, bytes.Clone(base)), append(keys, 1)
					}
					keys[len(keys)-1]++
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("nodestore: fold counts: %w", err)
	}
	// A chunk's counters read and write at most their keys as found, plus
	// the stripes written since: counterStripes more each.
	budget := max(1, readBudget(s.lim)/2)
	folded := 0
	for start := 0; start < len(bases); {
		end, n := start, 0
		for end < len(bases) && (end == start || n+keys[end]+counterStripes <= budget) {
			n += keys[end] + counterStripes
			end++
		}
		if err := s.kv.Update(ctx, func(tx kv.Txn) error { return foldStripes(tx, bases[start:end]) }); err != nil {
			return folded, fmt.Errorf("nodestore: fold counts: counters %d..%d of %d: %w", start+1, end, len(bases), err)
		}
		folded += end - start
		start = end
	}
	return folded, nil
}

// foldStripes folds the stripes of the counters whose stripe-0 keys are
// bases, in tx: reads first, then the writes.
func foldStripes(tx kv.Txn, bases [][]byte) error {
	sums := make([]int64, len(bases))
	var stripes [][]byte
	for i, base := range bases {
		var err error
		if sums[i], stripes, err = readStripes(tx.Iterate, base, true, stripes); err != nil {
			return err
		}
		if sums[i] < 0 {
			return fmt.Errorf("%w: counter %s: its stripes sum to %d (run RebuildCounts, or polykv check --repair-counts)", ErrCorrupt, base, sums[i])
		}
	}
	for _, k := range stripes {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	for i, base := range bases {
		if err := writeCounter(tx, base, 0, sums[i]); err != nil {
			return err
		}
	}
	return nil
}

// foldCounter folds the stripes of counter base into its key with delta
// more, in tx.
func foldCounter(tx kv.Txn, base []byte, delta int64) error {
	sum, stripes, err := readStripes(tx.Iterate, base, true, nil)
	if err != nil {
		return err
	}
	if sum, err = addStripe(base, sum, delta); err != nil {
		return err
	}
	if sum < 0 {
		return fmt.Errorf("%w: counter %s would go to %d (run RebuildCounts, or polykv check --repair-counts)", ErrCorrupt, base, sum)
	}
	for _, k := range stripes {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return writeCounter(tx, base, 0, sum)
}

// readStripes reads the stripes of counter base through iterate and
// returns their sum; with collect, it appends the keys of its stripes but
// 0 to keys.
func readStripes(iterate func(kv.IterOptions, func(k, v []byte) error) error, base []byte, collect bool, keys [][]byte) (int64, [][]byte, error) {
	var sum int64
	err := iterate(stripeRange(base), func(k, v []byte) error {
		n, ok := stripeOf(k[len(base):])
		if !ok {
			return fmt.Errorf("%w: key %q beside counter %s is none of its stripes", ErrCorrupt, k, base)
		}
		d, err := decodeStripe(k, v, n)
		if err == nil {
			sum, err = addStripe(k, sum, d)
		}
		if n > 0 && collect {
			keys = append(keys, bytes.Clone(k))
		}
		return err
	})
	return sum, keys, err
}
