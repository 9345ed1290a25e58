package kv

import "fmt"

// Limits shared by every backend. They are the same everywhere so that a
// program tested on one backend does not fail on another. The transaction
// limit derives from Badger's: a Badger transaction may hold at most 15% of
// its memtable, and the badger backend never runs a memtable below 56 MiB
// (8.4 MiB per transaction), so MaxTxnBytes stays at 8 MiB.
const (
	// MaxKeySize is the largest key, in bytes (bbolt's own limit).
	MaxKeySize = 32 << 10
	// MaxValueSize is the largest value, in bytes.
	MaxValueSize = 4 << 20
	// MaxTxnOps is the largest number of writes (sets and deletes) in one
	// transaction or batch.
	MaxTxnOps = 65536
	// MaxTxnBytes is the largest size of one transaction or batch, counted as
	// the sum over its writes of len(key) + len(value) + TxnEntryOverhead.
	MaxTxnBytes = 8 << 20
	// TxnEntryOverhead is what each write adds to a transaction's size on top
	// of its key and value.
	TxnEntryOverhead = 32
	// MaxConflictRetries is how many times Update re-runs its function when
	// the engine reports a conflict before returning ErrConflict.
	MaxConflictRetries = 16
)

// EntrySize is the size one write of key and value adds to a transaction,
// as counted against MaxTxnBytes.
func EntrySize(key, value []byte) int {
	return len(key) + len(value) + TxnEntryOverhead
}

// CheckKey returns ErrEmptyKey or ErrKeyTooLarge for a key no backend
// accepts, and nil otherwise.
func CheckKey(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > MaxKeySize {
		return ErrKeyTooLarge
	}
	return nil
}

// CheckValue returns ErrValueTooLarge for a value no backend accepts.
func CheckValue(value []byte) error {
	if len(value) > MaxValueSize {
		return ErrValueTooLarge
	}
	return nil
}

// Limits are the sizes one store accepts. Every backend accepts the package
// constants (DefaultLimits) except where its engine declares smaller ones
// (LimitDeclarer: a networked engine bounded by its server's request size).
// Programs that size their own batches read a store's with LimitsOf.
type Limits struct {
	MaxKeySize   int // the largest key, in bytes
	MaxValueSize int // the largest value, in bytes
	MaxTxnOps    int // the most writes in one transaction or batch
	MaxTxnBytes  int // the largest transaction or batch, counted as EntrySize sums
}

// DefaultLimits returns the package constants as Limits.
func DefaultLimits() Limits {
	return Limits{MaxKeySize: MaxKeySize, MaxValueSize: MaxValueSize, MaxTxnOps: MaxTxnOps, MaxTxnBytes: MaxTxnBytes}
}

// clamp replaces each field outside 1..constant by the constant.
func (l Limits) clamp() Limits {
	d := DefaultLimits()
	pick := func(v, max int) int {
		if v < 1 || v > max {
			return max
		}
		return v
	}
	return Limits{
		MaxKeySize:   pick(l.MaxKeySize, d.MaxKeySize),
		MaxValueSize: pick(l.MaxValueSize, d.MaxValueSize),
		MaxTxnOps:    pick(l.MaxTxnOps, d.MaxTxnOps),
		MaxTxnBytes:  pick(l.MaxTxnBytes, d.MaxTxnBytes),
	}
}

// LimitsOf returns the limits of s: those it declares with a method
// Limits() Limits (*DB does, and so should every wrapper of a Store), and
// DefaultLimits otherwise.
func LimitsOf(s Store) Limits {
	if l, ok := s.(interface{ Limits() Limits }); ok {
		return l.Limits().clamp()
	}
	return DefaultLimits()
}

// checkEntry checks one write against l; the package constants have been
// checked already (by Batch).
func (l Limits) checkEntry(key, value []byte) error {
	if len(key) > l.MaxKeySize {
		return fmt.Errorf("%w (key of %d bytes, this store's limit %d)", ErrKeyTooLarge, len(key), l.MaxKeySize)
	}
	if len(value) > l.MaxValueSize {
		return fmt.Errorf("%w (value of %d bytes, this store's limit %d)", ErrValueTooLarge, len(value), l.MaxValueSize)
	}
	return nil
}

// checkTotal checks a transaction of ops writes and size bytes against l.
func (l Limits) checkTotal(ops, size int) error {
	if ops > l.MaxTxnOps || size > l.MaxTxnBytes {
		return fmt.Errorf("%w (%d writes, %d bytes; this store's limits %d writes, %d bytes)",
			ErrTxnTooLarge, ops, size, l.MaxTxnOps, l.MaxTxnBytes)
	}
	return nil
}

// checkBatch checks every write of b and its total against l.
func (l Limits) checkBatch(b *Batch) error {
	if err := l.checkTotal(b.Len(), b.Size()); err != nil {
		return err
	}
	if l.MaxKeySize == MaxKeySize && l.MaxValueSize == MaxValueSize {
		return nil
	}
	for i := 0; i < b.Len(); i++ {
		_, k, v := b.Op(i)
		if err := l.checkEntry(k, v); err != nil {
			return err
		}
	}
	return nil
}
