package linearize

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/polykv/polykv/kv"
)

// Workload is a random mix of calls on a few keys, made for Check: every
// value written is one never written before, so a read names the write it
// saw. Each client runs its own Workload.Run on its own wrapper (or on a
// shared one) with its own seed.
//
// The mix: Get, Set, Delete, Iterate over all the keys, View of two keys,
// and Updates that read a key and write another from it
// (read-modify-write), move a value from one key to another (read two,
// write both), and write a summary key from a scan of the others (a range
// read: phantoms).
type Workload struct {
	// Prefix of the keys; "" means "lin/".
	Prefix string
	// Keys is how many keys; 0 means 4.
	Keys int
	// Ops is how many calls Run makes; 0 means until ctx is done.
	Ops int
}

// WorkloadStats count the calls of one Run by outcome.
type WorkloadStats struct {
	Ok, Failed, Unknown int
	// LastErr is the last error a call returned.
	LastErr error
}

func (w Workload) prefix() string {
	if w.Prefix == "" {
		return "lin/"
	}
	return w.Prefix
}

func (w Workload) key(i int) []byte {
	return fmt.Appendf(nil, "%sk%02d", w.prefix(), i)
}

// Run makes the calls on s (normally a History's Store), as client number
// client (part of every value written). Errors are counted, not returned:
// a call may fail (no quorum, a deadline, ErrConflict) and the workload
// goes on; Run returns when ctx is done or Ops calls are made.
func (w Workload) Run(ctx context.Context, s kv.Store, client int, seed uint64) WorkloadStats {
	nkeys := w.Keys
	if nkeys <= 0 {
		nkeys = 4
	}
	rng := rand.New(rand.NewPCG(seed, uint64(client)))
	var st WorkloadStats
	seq := 0
	val := func() []byte {
		seq++
		return fmt.Appendf(nil, "c%d.%d", client, seq)
	}
	prefix := []byte(w.prefix())
	for n := 0; (w.Ops == 0 || n < w.Ops) && ctx.Err() == nil; n++ {
		a, b := w.key(rng.IntN(nkeys)), w.key(rng.IntN(nkeys))
		var err error
		switch op := rng.IntN(10); op {
		case 0, 1:
			_, err = s.Get(ctx, a)
			if errors.Is(err, kv.ErrNotFound) {
				err = nil
			}
		case 2:
			err = s.Set(ctx, a, val())
		case 3:
			err = s.Delete(ctx, a)
		case 4:
			err = s.Iterate(ctx, kv.IterOptions{Prefix: prefix}, func(_, _ []byte) error { return nil })
		case 5:
			err = s.View(ctx, func(tx kv.ReadTxn) error {
				return errors.Join(ignoreNotFound(tx.Get(a)), ignoreNotFound(tx.Get(b)))
			})
		case 6, 7:
			// read-modify-write: b becomes a's value extended.
			v := val()
			err = s.Update(ctx, func(tx kv.Txn) error {
				old, err := tx.Get(a)
				if err != nil && !errors.Is(err, kv.ErrNotFound) {
					return err
				}
				return tx.Set(b, append(append(v, '<'), old...))
			})
		case 8:
			// move: a's value to b, a deleted (when a is present).
			err = s.Update(ctx, func(tx kv.Txn) error {
				old, err := tx.Get(a)
				if errors.Is(err, kv.ErrNotFound) || string(a) == string(b) {
					return nil
				}
				if err != nil {
					return err
				}
				if _, err := tx.Get(b); err != nil && !errors.Is(err, kv.ErrNotFound) {
					return err
				}
				return errors.Join(tx.Set(b, old), tx.Delete(a))
			})
		case 9:
			// summary: how many keys the scan found, written to a key.
			v := val()
			err = s.Update(ctx, func(tx kv.Txn) error {
				n := 0
				if err := tx.Iterate(kv.IterOptions{Prefix: prefix, KeysOnly: true}, func(_, _ []byte) error {
					n++
					return nil
				}); err != nil {
					return err
				}
				return tx.Set(a, strconv.AppendInt(append(v, '#'), int64(n), 10))
			})
		}
		switch {
		case err == nil:
			st.Ok++
		case errors.Is(err, kv.ErrOutcomeUnknown):
			st.Unknown++
			st.LastErr = err
		default:
			st.Failed++
			st.LastErr = err
		}
	}
	return st
}

func ignoreNotFound(_ []byte, err error) error {
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	return err
}
