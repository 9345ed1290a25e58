package kv

import (
	"fmt"
	"slices"
)

// This file is IterateMany: many short iterations of one read transaction
// in as few engine requests as the engine allows (MultiScanner). On a
// local engine an iteration is a function call and IterateMany is a loop
// of them; on a networked engine each iteration is at least one round
// trip, and a caller that knows its ranges up front (nodestore reading the
// children index of every folder of a page) saves all but one.

// MultiScanner is implemented by engine Readers (a Snapshot) that read
// many ranges in one request. ScanMany calls fn(i, key, value) for every
// key of ranges[i], for i in order and each range's keys in ascending
// order (every range is forward: Reverse is never set), with key and value
// valid only during the call (value is empty for a KeysOnly range). An
// error from fn stops ScanMany and is returned.
type MultiScanner interface {
	ScanMany(ranges []IterRange, fn func(i int, key, value []byte) error) error
}

// MaxIterateMany is the most iterations one IterateMany call takes.
const MaxIterateMany = 1 << 16

// IterateMany runs one iteration per opts[i], as tx.Iterate(opts[i], ...)
// would, one after the other, and calls fn(i, key, value) for each key of
// opts[i]: keys and values are copies valid only during the call, as
// Iterate's. An invalid option (a negative Limit) fails the call before
// anything is read; an error from fn stops it and is returned.
//
// In View, when every iteration is forward and without a Limit, they are
// read in as few engine requests as the engine allows (MultiScanner), on
// the View's one snapshot; otherwise, and always in Update (which sees
// the transaction's own writes and records what it read), each is one
// Iterate. For another ReadTxn (a wrapper) it calls its IterateMany when it
// has one, else its Iterate once per range.
func IterateMany(tx ReadTxn, opts []IterOptions, fn func(i int, key, value []byte) error) error {
	if fn == nil {
		return fmt.Errorf("%w: IterateMany with a nil function", ErrInvalidConfig)
	}
	if tx == nil {
		return fmt.Errorf("%w: IterateMany with a nil transaction", ErrInvalidConfig)
	}
	if len(opts) > MaxIterateMany {
		return fmt.Errorf("%w: IterateMany of %d iterations, more than %d", ErrInvalidConfig, len(opts), MaxIterateMany)
	}
	for i, o := range opts {
		if o.Limit < 0 {
			return fmt.Errorf("%w: IterateMany: iteration %d: IterOptions.Limit %d: want 0 (no limit) or more", ErrInvalidConfig, i, o.Limit)
		}
	}
	if m, ok := tx.(interface {
		IterateMany(opts []IterOptions, fn func(i int, key, value []byte) error) error
	}); ok {
		return m.IterateMany(opts, fn)
	}
	return iterateEach(tx, opts, fn)
}

// iterateEach is IterateMany by one Iterate per range.
func iterateEach(tx ReadTxn, opts []IterOptions, fn func(i int, key, value []byte) error) error {
	for i, o := range opts {
		if err := tx.Iterate(o, func(k, v []byte) error { return fn(i, k, v) }); err != nil {
			return err
		}
	}
	return nil
}

// IterateMany of View: one ScanMany when the engine's reader has it and
// every range is forward and unlimited, else one Iterate per range.
func (tx *readTxn) IterateMany(opts []IterOptions, fn func(i int, key, value []byte) error) error {
	if err := tx.usable(); err != nil {
		return err
	}
	ms, ok := tx.r.(MultiScanner)
	if !ok || slices.ContainsFunc(opts, func(o IterOptions) bool { return o.Reverse || o.Limit > 0 }) {
		return iterateEach(tx, opts, fn)
	}
	ranges := make([]IterRange, 0, len(opts))
	of := make([]int, 0, len(opts)) // the iteration of each range
	for i, o := range opts {
		lower, upper, empty := Bounds(o)
		if empty {
			continue
		}
		ranges = append(ranges, IterRange{Lower: slices.Clone(lower), Upper: slices.Clone(upper), KeysOnly: o.KeysOnly})
		of = append(of, i)
	}
	if len(ranges) == 0 {
		return nil
	}
	var kbuf, vbuf []byte
	var fnErr error
	err := ms.ScanMany(ranges, func(j int, k, v []byte) error {
		if err := tx.ctx.Err(); err != nil {
			return err
		}
		kbuf = append(kbuf[:0], k...)
		vbuf = vbuf[:0]
		if !ranges[j].KeysOnly {
			vbuf = append(vbuf, v...)
		}
		if err := fn(of[j], kbuf, vbuf); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// IterateMany of Update: one Iterate per range, each merged with the
// transaction's writes and recorded as the transaction's read.
func (tx *txn) IterateMany(opts []IterOptions, fn func(i int, key, value []byte) error) error {
	if err := tx.usable(); err != nil {
		return err
	}
	return iterateEach(tx, opts, fn)
}
