package etcd

import (
	"bytes"
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// iter is an iteration at one revision. A forward iteration is one
// RangeStream read chunk by chunk as it goes (stream.go says why). A
// reverse one, or any on a member without RangeStream, pages: each page is
// one Range request with WithRev and WithLimit, never an unbounded Range.
// The first page is small (firstPageSize keys) and each next one twice as
// large, up to page_size, so that a short iteration costs a short request.
// When the iteration is not pinned yet (rev 0), its first request reads
// at the latest revision and pins the rest to it; in a transaction, a
// stream pins the transaction's revision first (one more round trip).
//
// A reverse iteration asks for its pages in descending key order; etcd
// sorts a descending Range after reading the whole remaining range, so each
// page of a reverse iteration costs the server a scan of what is left of
// the range (the package documentation says so).
type iter struct {
	e        *engine
	ctx      context.Context
	rev      int64
	lo, hi   string // what is left to read: [lo, hi)
	reverse  bool
	keysOnly bool
	pageSize int

	stream *rangeStream // open while a forward iteration streams

	page []*mvccpb.KeyValue
	i    int
	more bool // a page after this one may hold keys
	cur  *mvccpb.KeyValue
	err  error
	done bool

	// rec, in a transaction, records what the iteration saw.
	rec *rangeRead
	// txn, when the iteration belongs to a transaction not pinned when the
	// iteration was created: its first page reads at the transaction's
	// revision if a read has pinned it since, else pins it.
	txn *txn
}

func (e *engine) newIter(ctx context.Context, r kv.IterRange, rev int64, rec *rangeRead) *iter {
	lo, hi := e.l.bounds(r.Lower, r.Upper)
	return &iter{e: e, ctx: ctx, rev: rev, lo: lo, hi: hi, reverse: r.Reverse, keysOnly: r.KeysOnly,
		pageSize: min(firstPageSize, e.set.pageSize), more: true, rec: rec}
}

func (it *iter) Next() bool {
	if it.done {
		return false
	}
	it.i++
	if it.i >= len(it.page) {
		if !it.more || !it.fetch() {
			it.finish()
			return false
		}
	}
	it.cur = it.page[it.i]
	if it.rec != nil {
		it.rec.see(it.cur.Key, it.cur.ModRevision)
	}
	return true
}

// finish ends the iteration; an iteration that ran to its end (no error)
// covered its whole range.
func (it *iter) finish() {
	it.done = true
	it.cur = nil
	if it.err == nil && it.rec != nil {
		it.rec.exhausted = true
	}
}

// fetch reads the next page; false when there is none or on error.
func (it *iter) fetch() bool {
	if it.e.closed.Load() {
		it.err = errClosed
		return false
	}
	if it.stream != nil {
		ok, err := it.fetchChunk()
		if err != nil {
			it.err = translate("iterate", err)
		}
		return ok
	}
	if it.lo >= it.hi {
		return false
	}
	if it.rev == 0 && it.txn != nil {
		it.rev = it.txn.rev
	}
	if !it.reverse && !it.e.streamless.Load() {
		if ok, streamed := it.startStream(); streamed {
			return ok
		}
	}
	it.e.rangePages.Add(1)
	ctx, cancel := it.e.callCtx(it.ctx)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithRange(it.hi), clientv3.WithLimit(int64(it.pageSize))}
	if it.keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	if it.reverse {
		opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	}
	resp, err := it.e.rangeAt(ctx, it.lo, it.rev, opts...)
	if err != nil {
		it.err = translate("iterate", err)
		return false
	}
	if it.rev == 0 {
		it.rev = resp.Header.Revision
		if it.txn != nil {
			it.txn.pinned(it.rev)
		}
	}
	it.page, it.i, it.more = resp.Kvs, 0, resp.More
	it.pageSize = min(it.pageSize*2, it.e.set.pageSize)
	if len(it.page) == 0 {
		return false
	}
	last := it.page[len(it.page)-1].Key
	if it.reverse {
		it.hi = string(last)
	} else {
		it.lo = string(kv.KeySuccessor(last))
	}
	return true
}

// startStream opens the iteration's stream and reads its first chunk.
// streamed is false when the member does not serve RangeStream: nothing
// was read, and the iteration pages instead.
func (it *iter) startStream() (ok, streamed bool) {
	if it.rev == 0 && it.txn != nil {
		rev, err := it.e.currentRevision(it.ctx)
		if err != nil {
			it.err = err
			return false, true
		}
		it.txn.pinned(rev)
		it.rev = it.txn.rev
	}
	serializable := it.rev > 0
	for {
		s, err := it.e.openStream(it.ctx, it.lo, it.hi, it.rev, it.keysOnly, serializable)
		if err == nil {
			it.stream = s
			ok, err = it.fetchChunk()
		}
		switch {
		case errors.Is(err, errStreamUnsupported):
			it.closeStream()
			it.e.streamless.Store(true)
			return false, false
		case serializable && isFutureRev(err):
			// The member has not applied rev yet: read linearizable,
			// which waits for it (as rangeAt does).
			it.closeStream()
			serializable = false
			continue
		case err != nil:
			it.err = translate("iterate", err)
			return false, true
		}
		it.e.rangeStreams.Add(1)
		return ok, true
	}
}

// fetchChunk takes the stream's next chunk of keys as the page; false at
// the end of the range or on error. Each wait for a chunk is bounded as a
// request is (callCtx).
func (it *iter) fetchChunk() (bool, error) {
	for {
		ctx, cancel := it.e.callCtx(it.ctx)
		kvs, rev, last, err := it.stream.next(ctx)
		cancel()
		if err != nil {
			it.closeStream()
			return false, err
		}
		it.more = !last
		if last {
			it.closeStream()
			if it.rev == 0 {
				it.rev = rev
			}
		}
		if len(kvs) > 0 {
			it.page, it.i = kvs, 0
			it.lo = string(kv.KeySuccessor(kvs[len(kvs)-1].Key))
			return true, nil
		}
		if last {
			return false, nil
		}
	}
}

func (it *iter) closeStream() {
	it.stream.close()
	it.stream = nil
}

func (it *iter) Key() []byte {
	if it.cur == nil {
		return nil
	}
	return it.e.l.userKey(it.cur.Key)
}

func (it *iter) Value(dst []byte) ([]byte, error) {
	if it.cur == nil {
		return dst, nil
	}
	if dst == nil {
		dst = []byte{}
	}
	return append(dst, it.cur.Value...), nil
}

func (it *iter) Err() error { return it.err }

func (it *iter) Close() error {
	it.closeStream()
	it.done = true
	it.page, it.cur = nil, nil
	return nil
}

// rangeRead is what one iteration of a transaction saw: its range, the
// keys it stepped on with their ModRevisions, and whether it ran to the
// end of the range.
type rangeRead struct {
	lo, hi    string
	reverse   bool
	first     []byte // the first key seen, nil before
	last      []byte // the last key seen
	seen      map[string]int64
	exhausted bool
}

func (r *rangeRead) see(key []byte, mod int64) {
	if r.first == nil {
		r.first = bytes.Clone(key)
	}
	r.last = append(r.last[:0], key...)
	r.seen[string(key)] = mod
}

// covered returns the part of the range the iteration read: all of it
// when it ran to the end, else up to and including the last key seen;
// ok is false when it read nothing.
func (r *rangeRead) covered() (lo, hi string, ok bool) {
	if r.exhausted {
		return r.lo, r.hi, true
	}
	if r.first == nil {
		return "", "", false
	}
	if r.reverse {
		return string(r.last), r.hi, true
	}
	return r.lo, string(kv.KeySuccessor(r.last)), true
}
