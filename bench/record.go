package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polykv/polykv/kv"
)

// The ceiling of a workload: what the engine does with exactly the writes
// the workload made, with no reads and no logic above it. A recorder
// wraps the workload's store, counts the reads it issues and logs every
// committed write (set or delete, in commit order) to a file; replay then
// applies the log as blind batches (kv.BulkWriter) to a fresh store of the
// same backend. traverse / ceiling (the replay's time over the workload's)
// is the share of the engine's write speed the workload keeps.

// recorder is a kv.Store that passes every call to the store it wraps,
// counting reads and logging committed writes. It adds no optional
// interface (nodestore finds none on a kv.Store) and forwards Info and
// Limits, so a
// layer above behaves as on the wrapped store.
//
// The log is in commit order, which is not the order in which concurrent
// calls return (the writers of one bbolt group commit return together).
// Each run of an Update function that returns nil takes the next
// sequence number as it returns: on a local engine kv runs the functions
// one at a time in commit order (under its writer lock, or in turn inside
// one group transaction), and on an optimistic engine two transactions
// that read and write one key commit in the order their last runs
// returned. A call's records reach the log when every smaller number has
// been settled (committed, or failed and dropped). Set, Delete and Write
// take theirs when they return: they are ordered with each other, not
// with Updates running at the same time.
type recorder struct {
	kv.Store
	gets, scans, scanned atomic.Int64
	seq                  atomic.Int64 // the last sequence number taken

	mu      sync.Mutex
	next    int64            // the next sequence number to log
	waiting map[int64][]byte // settled records (nil: nothing) ahead of next
	f       *os.File
	w       *bufio.Writer
	sets    int64
	deletes int64
	bytes   int64
	err     error // the first logging error, or an unreplayable call
}

var _ kv.Store = (*recorder)(nil)

// Limits forwards the wrapped store's limits (kv.LimitsOf), so that
// nodestore sizes its transactions as it does on the store itself.
func (r *recorder) Limits() kv.Limits { return kv.LimitsOf(r.Store) }

func newRecorder(s kv.Store, logPath string) (*recorder, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: write log: %w", err)
	}
	return &recorder{Store: s, f: f, w: bufio.NewWriterSize(f, 1<<20), next: 1, waiting: map[int64][]byte{}}, nil
}

// Log record: kind (1 byte: kv.OpSet or kv.OpDelete), key length and
// value length (uvarints), key, value.
func appendRecord(dst []byte, kind kv.OpKind, key, value []byte) []byte {
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	dst = append(dst, key...)
	return append(dst, value...)
}

// settle files the records of sequence number seq (nil: the run did not
// commit, or wrote nothing) and logs every settled number from next on.
func (r *recorder) settle(seq int64, recs []byte, sets, deletes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets += sets
	r.deletes += deletes
	r.waiting[seq] = recs
	for {
		recs, ok := r.waiting[r.next]
		if !ok {
			return
		}
		delete(r.waiting, r.next)
		r.next++
		if r.err != nil || len(recs) == 0 {
			continue
		}
		if _, err := r.w.Write(recs); err != nil {
			r.err = fmt.Errorf("bench: write log: %w", err)
		}
		r.bytes += int64(len(recs))
	}
}

// commit logs the records of a write that has returned (Set, Delete,
// Write).
func (r *recorder) commit(recs []byte, sets, deletes int64) {
	r.settle(r.seq.Add(1), recs, sets, deletes)
}

func (r *recorder) unreplayable(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = fmt.Errorf("bench: the workload called %s, which the write log does not replay", what)
	}
}

// finish flushes and closes the log and returns the first error seen.
func (r *recorder) finish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.err
	if n := len(r.waiting); err == nil && n > 0 {
		err = fmt.Errorf("bench: write log: %d writes settled after one that never did (a call still running at the end)", n)
	}
	if ferr := r.w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("bench: write log: %w", ferr)
	}
	if cerr := r.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("bench: write log: %w", cerr)
	}
	return err
}

// readCounts are the reads a recorder has seen: point reads, scans
// (Iterate calls) and keys visited by scans.
type readCounts struct{ gets, scans, scanned int64 }

func (r *recorder) reads() readCounts {
	return readCounts{r.gets.Load(), r.scans.Load(), r.scanned.Load()}
}

func (r *recorder) Get(ctx context.Context, key []byte) ([]byte, error) {
	r.gets.Add(1)
	return r.Store.Get(ctx, key)
}

func (r *recorder) Set(ctx context.Context, key, value []byte) error {
	if err := r.Store.Set(ctx, key, value); err != nil {
		return err
	}
	r.commit(appendRecord(nil, kv.OpSet, key, value), 1, 0)
	return nil
}

func (r *recorder) Delete(ctx context.Context, key []byte) error {
	if err := r.Store.Delete(ctx, key); err != nil {
		return err
	}
	r.commit(appendRecord(nil, kv.OpDelete, key, nil), 0, 1)
	return nil
}

func (r *recorder) Iterate(ctx context.Context, opts kv.IterOptions, fn func(key, value []byte) error) error {
	r.scans.Add(1)
	return r.Store.Iterate(ctx, opts, func(k, v []byte) error {
		r.scanned.Add(1)
		return fn(k, v)
	})
}

func (r *recorder) View(ctx context.Context, fn func(tx kv.ReadTxn) error) error {
	return r.Store.View(ctx, func(tx kv.ReadTxn) error {
		return fn(&recReadTxn{r: r, tx: tx})
	})
}

func (r *recorder) Update(ctx context.Context, fn func(tx kv.Txn) error) error {
	t := &recTxn{recReadTxn: recReadTxn{r: r}}
	var runs []int64 // the sequence numbers of the runs that returned nil
	committed := false
	defer func() { // also when Update panics: no number stays unsettled
		for i, seq := range runs {
			if committed && i == len(runs)-1 {
				r.settle(seq, t.recs, t.sets, t.deletes)
			} else {
				r.settle(seq, nil, 0, 0)
			}
		}
	}()
	err := r.Store.Update(ctx, func(tx kv.Txn) error {
		// fn may run again after a conflict: log only the last attempt.
		t.tx, t.txn, t.recs, t.sets, t.deletes = tx, tx, t.recs[:0], 0, 0
		err := fn(t)
		if err == nil {
			runs = append(runs, r.seq.Add(1))
		}
		return err
	})
	committed = err == nil
	return err
}

func (r *recorder) Write(ctx context.Context, b *kv.Batch) error {
	if err := r.Store.Write(ctx, b); err != nil {
		return err
	}
	var recs []byte
	var sets, deletes int64
	for i := range b.Len() {
		kind, k, v := b.Op(i)
		recs = appendRecord(recs, kind, k, v)
		if kind == kv.OpDelete {
			deletes++
		} else {
			sets++
		}
	}
	r.commit(recs, sets, deletes)
	return nil
}

func (r *recorder) DeleteRange(ctx context.Context, start, end []byte) error {
	r.unreplayable("DeleteRange")
	return r.Store.DeleteRange(ctx, start, end)
}

func (r *recorder) DeletePrefix(ctx context.Context, prefix []byte) error {
	r.unreplayable("DeletePrefix")
	return r.Store.DeletePrefix(ctx, prefix)
}

type recReadTxn struct {
	r  *recorder
	tx kv.ReadTxn
}

func (t *recReadTxn) Context() context.Context { return t.tx.Context() }

func (t *recReadTxn) Get(key []byte) ([]byte, error) {
	t.r.gets.Add(1)
	return t.tx.Get(key)
}

// GetMany counts one get per key, as the layout's cost (the engine may
// read them in one request).
func (t *recReadTxn) GetMany(keys [][]byte, fn func(i int, value []byte) error) error {
	t.r.gets.Add(int64(len(keys)))
	return kv.GetMany(t.tx, keys, fn)
}

func (t *recReadTxn) Iterate(opts kv.IterOptions, fn func(key, value []byte) error) error {
	t.r.scans.Add(1)
	return t.tx.Iterate(opts, func(k, v []byte) error {
		t.r.scanned.Add(1)
		return fn(k, v)
	})
}

// IterateMany counts one scan per range, as the layout's cost (the
// engine may read them in one request).
func (t *recReadTxn) IterateMany(opts []kv.IterOptions, fn func(i int, key, value []byte) error) error {
	t.r.scans.Add(int64(len(opts)))
	return kv.IterateMany(t.tx, opts, func(i int, k, v []byte) error {
		t.r.scanned.Add(1)
		return fn(i, k, v)
	})
}

type recTxn struct {
	recReadTxn
	txn           kv.Txn
	recs          []byte
	sets, deletes int64
}

func (t *recTxn) Set(key, value []byte) error {
	if err := t.txn.Set(key, value); err != nil {
		return err
	}
	t.recs = appendRecord(t.recs, kv.OpSet, key, value)
	t.sets++
	return nil
}

func (t *recTxn) Delete(key []byte) error {
	if err := t.txn.Delete(key); err != nil {
		return err
	}
	t.recs = appendRecord(t.recs, kv.OpDelete, key, nil)
	t.deletes++
	return nil
}

// replay applies the write log at logPath to s through bw (a fresh
// kv.BulkWriter on s) and returns how long it took, Close included.
func replay(logPath string, bw *kv.BulkWriter) (time.Duration, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return 0, fmt.Errorf("bench: replay: %w", err)
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<20)
	var key, value []byte
	start := time.Now()
	for {
		kind, err := rd.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("bench: replay: %w", err)
		}
		kl, err := binary.ReadUvarint(rd)
		if err != nil {
			return 0, fmt.Errorf("bench: replay: %w", err)
		}
		vl, err := binary.ReadUvarint(rd)
		if err != nil {
			return 0, fmt.Errorf("bench: replay: %w", err)
		}
		if kl > kv.MaxKeySize || vl > kv.MaxValueSize {
			return 0, fmt.Errorf("bench: replay: damaged log: a record of %d+%d bytes", kl, vl)
		}
		key, value = grow(key, int(kl)), grow(value, int(vl))
		if _, err := io.ReadFull(rd, key); err != nil {
			return 0, fmt.Errorf("bench: replay: %w", err)
		}
		if _, err := io.ReadFull(rd, value); err != nil {
			return 0, fmt.Errorf("bench: replay: %w", err)
		}
		switch kv.OpKind(kind) {
		case kv.OpSet:
			err = bw.Set(key, value)
		case kv.OpDelete:
			err = bw.Delete(key)
		default:
			return 0, fmt.Errorf("bench: replay: record kind %d", kind)
		}
		if err != nil {
			return 0, fmt.Errorf("bench: replay: %w", err)
		}
	}
	if err := bw.Close(); err != nil {
		return 0, fmt.Errorf("bench: replay: %w", err)
	}
	return time.Since(start), nil
}

// grow returns b resized to n bytes, reallocated only when too small.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
