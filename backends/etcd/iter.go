package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// iter is an iteration at one revision. A forward iteration is one
// RangeStream read chunk by chunk as it goes (stream.go says why). A
// reverse one, or any on a member without RangeStream, pages: each page is
// one Range request with WithRev and WithLimit, never an unbounded Range.
// The first page is small (firstPageSize keys) and each next one twice as
// large, up to page_size, so that a short iteration costs a short request;
// a page of values asks for fewer keys when the engine's estimate says it
// would bring more than max_response_bytes (respbytes.go).
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

	// bounds, for a reverse iteration on a member that streams: the first
	// key of each page not read yet, ascending (fetchReverse); sub, the
	// keys not read yet of a page read in parts, ascending.
	bounds, sub []string

	page []*mvccpb.KeyValue
	i    int
	more bool // a page after this one may hold keys
	cur  *mvccpb.KeyValue
	err  error
	done bool

	// pinned: the iteration pinned rev itself (setRev), for Compact to
	// keep it; released when it ends.
	pinned bool
	// floor: an iteration over the latest state holds a floor
	// (engine.pinFloor) until setRev pins its revision.
	floor int64

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
	it.unpin()
	if it.err == nil && it.rec != nil {
		it.rec.exhausted = true
	}
}

// setRev fixes the revision of an iteration that had none, from its first
// answer, and pins it: a reverse iteration reads its pages at it, and a
// Compact of this process keeps what a live iteration reads (the
// iteration of a transaction leaves that to the transaction). Unpinned, a
// Compact between two pages made the next fail with "required revision
// has been compacted".
func (it *iter) setRev(rev int64) {
	if it.rev != 0 || rev == 0 {
		return
	}
	it.rev = rev
	if it.txn != nil {
		it.txn.pinned(rev)
		return
	}
	it.e.pin(rev)
	it.pinned = true
	it.releaseFloor()
}

// unpin releases the revision setRev pinned, or the floor.
func (it *iter) unpin() {
	if it.pinned {
		it.pinned = false
		it.e.unpin(it.rev)
	}
	it.releaseFloor()
}

func (it *iter) releaseFloor() {
	if it.floor != 0 {
		it.e.unpin(it.floor)
		it.floor = 0
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
			it.err = it.e.fail("iterate", err)
		}
		return ok
	}
	if it.lo >= it.hi {
		return false
	}
	if it.rev == 0 && it.txn != nil {
		it.rev = it.txn.rev
	}
	if !it.e.streamless.Load() {
		if it.reverse {
			if ok, streamed := it.fetchReverse(); streamed {
				return ok
			}
		} else if ok, streamed := it.startStream(); streamed {
			return ok
		}
	}
	it.e.rangePages.Add(1)
	ctx, cancel := it.e.callCtx(it.ctx)
	defer cancel()
	limit := it.pageSize
	if !it.keysOnly {
		limit = it.e.sizer.keys(limit)
	}
	opts := []clientv3.OpOption{clientv3.WithRange(it.hi), clientv3.WithLimit(int64(limit))}
	if it.keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	if it.reverse {
		opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	}
	resp, err := it.e.rangeAt(ctx, it.lo, it.rev, opts...)
	if err != nil {
		it.err = it.e.fail("iterate", err)
		return false
	}
	it.e.sizer.sawRange(resp.Kvs, !it.keysOnly)
	it.setRev(resp.Header.Revision)
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
	streamed = it.openPinned(it.keysOnly, func() (err error) {
		ok, err = it.fetchChunk()
		return err
	})
	return ok, streamed
}

// openPinned opens the iteration's stream over what is left of its range
// (keys only if keysOnly) at its revision, pinning a transaction's
// revision first, and calls first to read from it. streamed is false when
// the member does not serve RangeStream (nothing was read); an error is
// left in it.err.
func (it *iter) openPinned(keysOnly bool, first func() error) (streamed bool) {
	if it.rev == 0 && it.txn != nil {
		rev, err := it.e.currentRevision(it.ctx)
		if err != nil {
			it.err = err
			return true
		}
		it.txn.pinned(rev)
		it.rev = it.txn.rev
	}
	serializable := it.rev > 0
	for {
		s, err := it.e.openStream(it.ctx, it.lo, it.hi, it.rev, keysOnly, serializable)
		if err == nil {
			it.stream = s
			err = first()
		}
		switch {
		case errors.Is(err, errStreamUnsupported):
			it.closeStream()
			it.e.streamless.Store(true)
			return false
		case serializable && isFutureRev(err):
			// The member has not applied rev yet: read linearizable,
			// which waits for it (as rangeAt does).
			it.closeStream()
			serializable = false
			continue
		case err != nil:
			it.closeStream()
			it.err = it.e.fail("iterate", err)
			return true
		}
		it.e.rangeStreams.Add(1)
		return true
	}
}

// fetchReverse reads the next page of a reverse iteration; streamed is
// false when the member does not serve RangeStream (the iteration pages
// with descending Ranges instead).
//
// etcd has no descending stream, and it sorts a descending Range only
// after reading its whole range, values and all: paged that way, a
// reverse iteration over n keys reads O(n²/page) values. Instead, its
// first call streams the range once, keys only (served from the member's
// in-memory index), and keeps every page_size-th key: the bounds of
// pages of page_size keys at the iteration's revision. Each page is then
// one ascending Range between two bounds, read with its values and
// handed out backwards. The whole iteration reads each key twice and each
// value once, and holds one key per page.
//
// A page whose values would bring more than max_response_bytes by the
// engine's estimate (respbytes.go) is read in parts: its keys first (one
// keys-only Range between its bounds), then its values from the top, as
// many keys at a time as the estimate says fit. Such a page's keys are
// read three times, still O(n) in all, and held until it is read.
func (it *iter) fetchReverse() (ok, streamed bool) {
	if it.bounds == nil {
		if !it.openPinned(true, it.readBounds) {
			return false, false
		}
		if it.err != nil {
			return false, true
		}
	}
	for len(it.sub) > 0 || len(it.bounds) > 0 {
		var lo string
		n := it.pageSize
		if len(it.sub) > 0 {
			n = it.e.sizer.keys(len(it.sub))
			lo = it.sub[len(it.sub)-n]
			it.sub = it.sub[:len(it.sub)-n]
		} else {
			lo = it.bounds[len(it.bounds)-1]
			it.bounds = it.bounds[:len(it.bounds)-1]
			if !it.keysOnly && it.e.sizer.keys(n) < n {
				kvs, err := it.readPage(lo, n, true)
				if err != nil {
					it.err = err
					return false, true
				}
				for _, p := range kvs {
					it.sub = append(it.sub, string(p.Key))
				}
				if len(it.sub) == 0 {
					it.hi = lo
				}
				continue
			}
		}
		kvs, err := it.readPage(lo, n, it.keysOnly)
		if err != nil {
			it.err = err
			return false, true
		}
		it.hi = lo
		if len(kvs) == 0 {
			continue
		}
		slices.Reverse(kvs)
		it.page, it.i = kvs, 0
		it.more = len(it.sub) > 0 || len(it.bounds) > 0
		return true, true
	}
	it.more = false
	return false, true
}

// readPage reads the keys in [lo, it.hi) at the iteration's revision (keys
// only if keysOnly), which the bounds say are at most n.
func (it *iter) readPage(lo string, n int, keysOnly bool) ([]*mvccpb.KeyValue, error) {
	it.e.rangePages.Add(1)
	ctx, cancel := it.e.callCtx(it.ctx)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithRange(it.hi), clientv3.WithLimit(int64(n))}
	if keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	resp, err := it.e.rangeAt(ctx, lo, it.rev, opts...)
	if err != nil {
		return nil, it.e.fail("iterate", err)
	}
	it.e.sizer.sawRange(resp.Kvs, !keysOnly)
	if resp.More {
		// A pinned revision does not change: the range holds the keys
		// the bounds were taken from.
		return nil, fmt.Errorf("kv: etcd: iterate: a reverse page from %q held more than %d keys at revision %d", it.e.l.userKey([]byte(lo)), n, it.rev)
	}
	return resp.Kvs, nil
}

// readBounds reads the open keys-only stream to its end, keeping every
// pageSize-th key (the first one included) in it.bounds and the stream's
// revision when the iteration had none.
func (it *iter) readBounds() error {
	it.pageSize = it.e.set.pageSize
	it.bounds = []string{}
	n := 0
	for {
		ctx, cancel := it.e.callCtx(it.ctx)
		kvs, rev, last, err := it.stream.next(ctx)
		cancel()
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if n%it.pageSize == 0 {
				it.bounds = append(it.bounds, string(kv.Key))
			}
			n++
		}
		if last {
			it.closeStream()
			it.setRev(rev)
			if it.rev == 0 {
				// The pages must be read at the revision the bounds were.
				return errors.New("kv: etcd: iterate: the keys' stream ended without its revision")
			}
			return nil
		}
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
			it.setRev(rev)
		}
		if len(kvs) > 0 {
			it.e.sizer.sawChunk(kvBytes(kvs), len(kvs), !it.keysOnly)
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
	it.unpin()
	it.done = true
	it.page, it.cur, it.bounds, it.sub = nil, nil, nil, nil
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
