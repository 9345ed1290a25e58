package kv

import (
	"errors"
	"fmt"
)

// This file is GetMany: many point reads of one transaction in as few
// engine requests as the engine allows (MultiGetter). On a local engine a
// point read is a function call and GetMany is a loop of them; on a
// networked engine each Get is a round trip, and a caller that knows the
// keys it needs up front (nodestore reading the parents of a page of
// completions) saves all but one.

// MultiGetter is implemented by engine Readers (a Snapshot, an EngineTxn)
// that read many keys in one request. GetMany calls fn(i, value) for each
// keys[i] that is present, in the order of keys, with a value valid only
// during the call; a missing key is skipped. An EngineTxn records each key
// read, present or missing, exactly as its Get would. An error from fn
// stops GetMany and is returned. Without it, GetMany calls Get per key.
type MultiGetter interface {
	GetMany(keys [][]byte, fn func(i int, value []byte) error) error
}

// MaxGetMany is the most keys one GetMany call takes.
const MaxGetMany = 1 << 16

// GetMany reads keys in tx as one Get per key would, in one engine request
// where the engine allows it (see MultiGetter), and calls fn(i, value) for
// each keys[i] that is present, in the order of keys; a missing key is
// skipped. value is valid only during the call (copy it to keep it). An
// invalid key fails the call before anything is read; an error from fn
// stops it and is returned. Inside Update it sees the transaction's own
// writes made before the call (writes made by fn during the call do not
// change what the rest of the call returns, as with Iterate), and every
// key read counts as read by the transaction (a change to it, present or
// missing, by another writer fails the commit), as Get.
//
// tx is a transaction of View or Update; for another ReadTxn (a wrapper),
// GetMany calls its Get once per key.
func GetMany(tx ReadTxn, keys [][]byte, fn func(i int, value []byte) error) error {
	if fn == nil {
		return fmt.Errorf("%w: GetMany with a nil function", ErrInvalidConfig)
	}
	if tx == nil {
		return fmt.Errorf("%w: GetMany with a nil transaction", ErrInvalidConfig)
	}
	if len(keys) > MaxGetMany {
		return fmt.Errorf("%w: GetMany of %d keys, more than %d", ErrInvalidConfig, len(keys), MaxGetMany)
	}
	if m, ok := tx.(interface {
		GetMany(keys [][]byte, fn func(i int, value []byte) error) error
	}); ok {
		return m.GetMany(keys, fn)
	}
	// A wrapper's Get checks a key only when it reads it: check them all
	// first, so that an invalid key fails the call before fn sees any
	// value, as in a transaction of View or Update (checkMany).
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return manyKeyError(i, k, err)
		}
	}
	return getEach(tx.Get, keys, fn)
}

// manyKeyError names GetMany's invalid key i by its position and its first
// bytes: a key past the size limit is over 32 KiB, too long to quote whole
// in a message.
func manyKeyError(i int, k []byte, err error) error {
	const shown = 64
	if len(k) > shown {
		return fmt.Errorf("GetMany: keys[%d] %q...: %w", i, k[:shown], err)
	}
	return fmt.Errorf("GetMany: keys[%d] %q: %w", i, k, err)
}

// getEach is GetMany by one get per key.
func getEach(get func(key []byte) ([]byte, error), keys [][]byte, fn func(i int, value []byte) error) error {
	for i, k := range keys {
		v, err := get(k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(i, v); err != nil {
			return err
		}
	}
	return nil
}

// checkMany refuses a GetMany on a finished transaction or with an
// invalid key, before anything is read.
func (tx *readTxn) checkMany(keys [][]byte) error {
	if err := tx.usable(); err != nil {
		return err
	}
	for i, k := range keys {
		if err := tx.db.checkKey(k); err != nil {
			return manyKeyError(i, k, err)
		}
	}
	return nil
}

func (tx *readTxn) GetMany(keys [][]byte, fn func(i int, value []byte) error) error {
	if err := tx.checkMany(keys); err != nil {
		return err
	}
	return readMany(tx.r, keys, fn)
}

// readMany reads keys from r: in one call when r is a MultiGetter, else
// one Get each.
func readMany(r Reader, keys [][]byte, fn func(i int, value []byte) error) error {
	if m, ok := r.(MultiGetter); ok {
		return m.GetMany(keys, fn)
	}
	var buf []byte
	return getEach(func(k []byte) ([]byte, error) {
		v, err := r.Get(k, buf[:0])
		if err == nil {
			buf = v
		}
		return v, err
	}, keys, fn)
}

// GetMany of Update: the keys the transaction wrote come from its batch,
// the others from the engine in one readMany, and fn sees them all in the
// order of keys.
func (tx *txn) GetMany(keys [][]byte, fn func(i int, value []byte) error) error {
	if err := tx.checkMany(keys); err != nil {
		return err
	}
	if tx.b.Len() == 0 {
		return readMany(tx.r, keys, fn)
	}
	tx.syncIndex()
	// own[i] is the batch position of keys[i]'s latest write, or -1.
	own := make([]int, len(keys))
	var rest [][]byte
	var restAt []int
	for i, k := range keys {
		own[i] = -1
		if j, ok := tx.index[string(k)]; ok {
			own[i] = j
			continue
		}
		rest = append(rest, k)
		restAt = append(restAt, i)
	}
	// fn sees every key in the order of keys: before each value the
	// engine hands over (readMany keeps the order of rest), the batch's
	// values of the keys before it. Nothing is held: a call of many large
	// values costs one value of memory at a time.
	next := 0 // keys[:next] are done
	var scratch []byte
	ownUpTo := func(end int) error {
		for ; next < end; next++ {
			j := own[next]
			if j < 0 {
				continue // read from the engine, found or missing
			}
			kind, _, v := tx.b.Op(j)
			if kind == OpDelete {
				continue
			}
			// A copy: v is the transaction's pending write, and fn may
			// scribble on the slice it is given.
			scratch = append(scratch[:0], v...)
			if err := fn(next, scratch); err != nil {
				return err
			}
		}
		return nil
	}
	err := readMany(tx.r, rest, func(j int, v []byte) error {
		i := restAt[j]
		if err := ownUpTo(i); err != nil {
			return err
		}
		next = i + 1
		return fn(i, v)
	})
	if err != nil {
		return err
	}
	return ownUpTo(len(keys))
}
