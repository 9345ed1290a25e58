package kv

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
)

// OpKind is the kind of one write in a Batch.
type OpKind uint8

const (
	// OpSet stores a value under a key.
	OpSet OpKind = iota + 1
	// OpDelete removes a key.
	OpDelete
)

// Batch is an ordered list of writes applied atomically by Store.Write or by
// the commit of an Update. It copies every key and value it is given, so
// the caller may reuse its buffers at once. Later writes to the same key win.
//
// A Batch refuses to grow past MaxTxnOps writes or MaxTxnBytes bytes
// (ErrTxnTooLarge) and rejects bad keys and values; a write that fails is not
// added. The zero value is an empty batch ready to use. A Batch is not safe
// for concurrent use.
type Batch struct {
	data []byte
	ops  []batchOp
	size int
}

type batchOp struct {
	kind       OpKind
	koff, klen uint32
	voff, vlen uint32
}

// Set adds a write of value under key.
func (b *Batch) Set(key, value []byte) error {
	return b.add(OpSet, key, value)
}

// Delete adds a deletion of key.
func (b *Batch) Delete(key []byte) error {
	return b.add(OpDelete, key, nil)
}

// SetFunc adds a write under key of the value that appendValue appends to
// dst. dst is the batch's own memory: appendValue must only append to it
// (never change dst[:len(dst)]) and must not keep it; it lets a caller
// encode a value straight into the batch instead of into a buffer of its
// own that Set would then copy. If appendValue returns an error, or the
// value is too large or does not fit the transaction limits, nothing is
// added and SetFunc returns the error (ErrValueTooLarge, ErrTxnTooLarge;
// ErrInvalidConfig when appendValue returned a buffer that does not begin
// with dst). The batch's earlier writes are never changed.
func (b *Batch) SetFunc(key []byte, appendValue func(dst []byte) ([]byte, error)) error {
	if b == nil {
		return errNilBatch
	}
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("%w (key of %d bytes, limit %d)", err, len(key), MaxKeySize)
	}
	if appendValue == nil {
		return fmt.Errorf("%w: Batch.SetFunc: appendValue is nil", ErrInvalidConfig)
	}
	n := len(b.data)
	dst := append(b.data, key...)
	data, err := appendValue(dst)
	extended := extends(data, dst)
	switch {
	case extended:
		// Keep what appendValue grew, drop what it wrote.
		b.data = data[:n]
	case cap(dst) > cap(b.data):
		b.data = dst[:n]
	}
	if err != nil {
		return err
	}
	if !extended {
		// A buffer of its own (json.Marshal's habit) or a shortened dst:
		// taking it would overwrite the batch's earlier writes.
		return fmt.Errorf("%w: Batch.SetFunc: appendValue must append to dst and return the result; it returned %d bytes that do not begin with dst's %d (the write of %q was not added)",
			ErrInvalidConfig, len(data), len(dst), key)
	}
	value := data[n+len(key):]
	if err := b.checkValue(key, value); err != nil {
		return err
	}
	b.data = data
	b.record(OpSet, n, key, value)
	return nil
}

// extends reports whether data is dst with bytes appended: in dst's own
// memory, or in a copy that append made when it grew dst. Only the copy
// is compared byte by byte, so the cost is amortized like append's.
func extends(data, dst []byte) bool {
	if len(data) < len(dst) {
		return false
	}
	if len(dst) == 0 || &data[0] == &dst[0] {
		return true
	}
	return bytes.Equal(data[:len(dst)], dst)
}

// Fits reports whether a write of key and value could still be added
// without exceeding the transaction limits.
func (b *Batch) Fits(key, value []byte) bool {
	return b.Len()+1 <= MaxTxnOps && b.Size()+EntrySize(key, value) <= MaxTxnBytes
}

// errNilBatch is what the writes of a nil *Batch return.
var errNilBatch = fmt.Errorf("%w: write to a nil *Batch (use new(kv.Batch) or a Batch variable)", ErrInvalidConfig)

func (b *Batch) add(kind OpKind, key, value []byte) error {
	if b == nil {
		return errNilBatch
	}
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("%w (key of %d bytes, limit %d)", err, len(key), MaxKeySize)
	}
	if err := b.checkValue(key, value); err != nil {
		return err
	}
	// One growth check and two copies into a local slice: the batch's
	// fields are written once per write.
	data := b.data
	n := len(data)
	if cap(data)-n < len(key)+len(value) {
		data = slices.Grow(data, len(key)+len(value))
	}
	data = data[:n+len(key)+len(value)]
	copy(data[n:], key)
	copy(data[n+len(key):], value)
	b.data = data
	b.record(kind, n, key, value)
	return nil
}

// checkValue checks value's size and that a write of key and value fits.
func (b *Batch) checkValue(key, value []byte) error {
	if err := CheckValue(value); err != nil {
		return fmt.Errorf("%w (value of %d bytes, limit %d)", err, len(value), MaxValueSize)
	}
	if !b.Fits(key, value) {
		return fmt.Errorf("%w: %d writes and %d bytes, limit %d writes and %d bytes",
			ErrTxnTooLarge, len(b.ops)+1, b.size+EntrySize(key, value), MaxTxnOps, MaxTxnBytes)
	}
	return nil
}

// record adds the op whose key starts at offset n of b.data, its value
// right after it.
func (b *Batch) record(kind OpKind, n int, key, value []byte) {
	b.ops = append(b.ops, batchOp{
		kind: kind,
		koff: uint32(n), klen: uint32(len(key)),
		voff: uint32(n + len(key)), vlen: uint32(len(value)),
	})
	b.size += EntrySize(key, value)
}

// Len returns the number of writes in the batch (0 for a nil *Batch, as
// for the other methods that read it: Size, Fits, Op; Reset of a nil
// *Batch does nothing).
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return len(b.ops)
}

// Size returns the batch's size as counted against MaxTxnBytes.
func (b *Batch) Size() int {
	if b == nil {
		return 0
	}
	return b.size
}

// Reset empties the batch, keeping its memory for reuse.
func (b *Batch) Reset() {
	if b == nil {
		return
	}
	b.data = b.data[:0]
	b.ops = b.ops[:0]
	b.size = 0
}

// EachInKeyOrder calls fn with each of b's writes, sorted by key, stably
// (writes to one key keep their order), and stops at the first error fn
// returns, which it returns. Applying a batch in this order gives the same
// result as in its own order, since only writes to one key depend on their
// order; engines whose inserts are cheaper in key order apply it so (bbolt
// splits its nodes only at commit, so that random inserts into one leaf
// cost time quadratic in their number; Pebble's memtable skiplist and the
// memory backend's B-tree start each insert where the previous one
// ended). A batch already in key order is not sorted. key and value are
// valid only during the call, as with Op.
func (b *Batch) EachInKeyOrder(fn func(kind OpKind, key, value []byte) error) error {
	switch {
	case b == nil:
		return fmt.Errorf("%w: EachInKeyOrder on a nil *Batch", ErrInvalidConfig)
	case fn == nil:
		return fmt.Errorf("%w: EachInKeyOrder with a nil function", ErrInvalidConfig)
	}
	if b.inKeyOrder() {
		for i := range b.ops {
			if err := fn(b.Op(i)); err != nil {
				return err
			}
		}
		return nil
	}
	// The keys are sorted beside their positions, not through them: a
	// third faster than comparing b.key(x) with b.key(y) (BenchmarkKeyOrder).
	// Ties are broken by position: stable (keysort.go).
	sp := keyPosPool.Get().(*[]keyPos)
	kp := (*sp)[:0]
	for i := range b.ops {
		kp = append(kp, keyPos{b.key(i), int32(i)})
	}
	sortKeyPos(kp)
	var err error
	for _, p := range kp {
		if err = fn(b.Op(int(p.pos))); err != nil {
			break
		}
	}
	if cap(kp) <= maxPooledKeyPos {
		clear(kp) // drop the references to b's memory
		*sp = kp[:0]
		keyPosPool.Put(sp)
	}
	return err
}

type keyPos struct {
	key []byte
	pos int32
}

// keyPosPool holds EachInKeyOrder's scratch; one of more than
// maxPooledKeyPos writes (an unusually large batch) is dropped.
var keyPosPool = sync.Pool{New: func() any { return new([]keyPos) }}

const maxPooledKeyPos = 1 << 16

// inKeyOrder reports whether b's writes are already in key order (equal
// keys allowed).
func (b *Batch) inKeyOrder() bool {
	for i := 1; i < len(b.ops); i++ {
		if bytes.Compare(b.key(i-1), b.key(i)) > 0 {
			return false
		}
	}
	return true
}

func (b *Batch) key(i int) []byte {
	op := b.ops[i]
	return b.data[op.koff : op.koff+op.klen]
}

// Op returns the i-th write. key and value alias the batch's memory: they are
// valid until the batch is next modified or reset, and must not be modified.
// value is empty (not nil) for a set of an empty value and nil for a delete.
// For an i outside [0, Len()), every i of a nil *Batch included, Op returns
// the zero OpKind, which is neither OpSet nor OpDelete, and nil slices.
func (b *Batch) Op(i int) (kind OpKind, key, value []byte) {
	if b == nil || uint(i) >= uint(len(b.ops)) {
		return 0, nil, nil
	}
	op := b.ops[i]
	key = b.data[op.koff : op.koff+op.klen : op.koff+op.klen]
	if op.kind == OpSet {
		value = b.data[op.voff : op.voff+op.vlen : op.voff+op.vlen]
	}
	return op.kind, key, value
}
