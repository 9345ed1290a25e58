package kv

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
