package kv

import (
	"context"
	"errors"
	"fmt"
)

// ctxCheckEvery is how many keys an iteration visits between checks of its
// context.
const ctxCheckEvery = 256

// Iterate calls fn for each key opts selects, on one consistent snapshot.
func (db *DB) Iterate(ctx context.Context, opts IterOptions, fn func(key, value []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkIterOptions(opts, fn); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	return iterate(ctx, db.e, nil, opts, fn)
}

// View runs fn on a consistent snapshot.
func (db *DB) View(ctx context.Context, fn func(tx ReadTxn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("%w: View with a nil function", ErrInvalidConfig)
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	snap, err := db.e.NewSnapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	tx := &readTxn{ctx: ctx, db: db, r: snap}
	defer func() { tx.done = true }()
	return fn(tx)
}

func checkIterOptions(opts IterOptions, fn func(key, value []byte) error) error {
	if fn == nil {
		return fmt.Errorf("%w: Iterate with a nil function", ErrInvalidConfig)
	}
	if opts.Limit < 0 {
		return fmt.Errorf("%w: IterOptions.Limit %d: want 0 (no limit) or more", ErrInvalidConfig, opts.Limit)
	}
	return nil
}

// readTxn is the ReadTxn of View.
type readTxn struct {
	ctx  context.Context
	db   *DB
	r    Reader
	done bool
}

func (tx *readTxn) usable() error {
	if tx.done {
		if tx.db.closed.Load() {
			return tx.db.errClosed()
		}
		return ErrTxnDone
	}
	return nil
}

func (tx *readTxn) Get(key []byte) ([]byte, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := tx.r.Get(key, nil)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (tx *readTxn) Iterate(opts IterOptions, fn func(key, value []byte) error) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if err := checkIterOptions(opts, fn); err != nil {
		return err
	}
	return iterate(tx.ctx, tx.r, nil, opts, fn)
}

// iterate runs one bounded iteration over r merged with the pending writes
// of a transaction (nil outside Update), handing fn copies of every key and
// value in buffers reused from step to step.
func iterate(ctx context.Context, r Reader, pending []pendingWrite, opts IterOptions, fn func(key, value []byte) error) (err error) {
	lower, upper, empty := Bounds(opts)
	if empty {
		return nil
	}
	it, err := r.NewIter(IterRange{Lower: lower, Upper: upper, Reverse: opts.Reverse, KeysOnly: opts.KeysOnly})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	if len(pending) == 0 {
		return scan(ctx, it, opts, fn)
	}
	m := merger{it: it, pending: pending, reverse: opts.Reverse}
	m.advance()
	var kbuf, vbuf []byte
	for n := 0; opts.Limit == 0 || n < opts.Limit; n++ {
		if n%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key, pw, ok := m.next()
		if !ok {
			break
		}
		kbuf = append(kbuf[:0], key...)
		var value []byte
		if !opts.KeysOnly {
			if pw != nil {
				vbuf = append(vbuf[:0], pw.value...)
			} else if vbuf, err = it.Value(vbuf[:0]); err != nil {
				return err
			}
			value = vbuf
			if value == nil {
				value = []byte{} // present with an empty value: not nil
			}
		}
		if err := fn(kbuf, value); err != nil {
			if errors.Is(err, SkipAll) {
				return nil
			}
			return err
		}
	}
	return it.Err()
}

// scan is iterate without pending writes: the path of every Iterate outside
// Update, kept to the engine's own steps plus the copies the contract needs.
func scan(ctx context.Context, it Iter, opts IterOptions, fn func(key, value []byte) error) error {
	var kbuf, vbuf []byte
	var err error
	limit := opts.Limit
	for n := 0; limit == 0 || n < limit; n++ {
		if n&(ctxCheckEvery-1) == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !it.Next() {
			break
		}
		kbuf = append(kbuf[:0], it.Key()...)
		var value []byte
		if !opts.KeysOnly {
			if vbuf, err = it.Value(vbuf[:0]); err != nil {
				return err
			}
			value = vbuf
			if value == nil {
				value = []byte{}
			}
		}
		if err := fn(kbuf, value); err != nil {
			if errors.Is(err, SkipAll) {
				return nil
			}
			return err
		}
	}
	return it.Err()
}
