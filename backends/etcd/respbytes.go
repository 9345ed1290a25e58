package etcd

import (
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Read responses bounded in bytes.
//
// etcd bounds a read by its count of keys (WithLimit, one Get per key of
// a Txn), never by bytes, and tells no value's size without sending the
// value (a keys-only read drops both). A store may hold values up to its
// declared MaxValueSize, three quarters of max_request_bytes: about
// 1.1 MiB at etcd's defaults. Sized by count alone, one GetMany Txn of
// max_txn_ops keys (128 at etcd's defaults) could answer with 140 MiB,
// and a reverse page of page_size keys with 1.1 GiB, held at once.
//
// So the reads that bring values ask for at most max_response_bytes / b
// keys (and never more than their count limits, never fewer than one),
// where b is the engine's estimate of the bytes one key brings, its key
// (with the prefix) and its value. An engine that has read no value yet
// takes the worst case, the declared MaxValueSize and MaxKeySize with the
// prefix: its first read is bounded whatever the store holds (two or
// three keys at etcd's defaults). The first response with values then
// sets b to its bytes per key; every later one raises b at once to its
// own when that is larger, and brings it halfway down towards it when
// smaller, so that one response of small values does not multiply the
// next request by a thousand.
//
// The estimate is the engine's rather than each call's: a call starting
// from the worst case would pay one more round trip each time (nodestore's
// GetMany of a few hundred keys would take two requests instead of one),
// and the reads of one store mostly bring values of one kind (nodestore's
// and logstore's are small, and their requests stay at the count limits).
// What it costs is a store whose values change size from read to read: a
// request whose values are far larger than those read just before brings
// more than the target once (at most its count limit times those values,
// as every request did before), and b rises with it.
//
// Keys-only reads are sized by count alone. A forward iteration streams,
// and the server sizes the chunks of a stream (ten keys for the first,
// then from about half to twice max_request_bytes); they still teach the
// estimate.

// respSizer sizes read requests in keys so that their responses stay near
// a target in bytes (see above), and records the largest it has seen. It
// is safe for concurrent use.
type respSizer struct {
	target int64        // max_response_bytes
	worst  int64        // the most one key read can bring: key with prefix, value
	perKey atomic.Int64 // the estimate b; 0 before a response with values

	// largest is the largest response of a request the engine sized (a
	// Range, a read-only Txn), in bytes of keys and values; largestChunk
	// the largest chunk of a stream, sized by the server.
	largest, largestChunk atomic.Int64
}

// keys returns how many keys with their values one request should ask
// for: within the target by the estimate, from 1 to limit.
func (s *respSizer) keys(limit int) int {
	b := s.perKey.Load()
	if b <= 0 {
		b = s.worst
	}
	return int(max(1, min(int64(limit), s.target/max(1, b))))
}

// saw records the response of a request sized by keys: size bytes of keys
// and values in all, of which valueBytes came with the n keys read with
// their values (the rest were read keys only).
func (s *respSizer) saw(size int64, n int, valueBytes int64) {
	storeMax(&s.largest, size)
	s.learn(n, valueBytes)
}

// sawRange records the answer of a Range request: kvs, read with their
// values or keys only.
func (s *respSizer) sawRange(kvs []*mvccpb.KeyValue, values bool) {
	size := kvBytes(kvs)
	if values {
		s.saw(size, len(kvs), size)
	} else {
		s.saw(size, 0, 0)
	}
}

// sawChunk records a chunk of a stream: n keys and their values, size
// bytes in all, or only keys (values false).
func (s *respSizer) sawChunk(size int64, n int, values bool) {
	storeMax(&s.largestChunk, size)
	if values {
		s.learn(n, size)
	}
}

// learn updates the estimate with n keys read with their values, size
// bytes.
func (s *respSizer) learn(n int, size int64) {
	if n == 0 {
		return
	}
	b := max(1, (size+int64(n)-1)/int64(n))
	for {
		old := s.perKey.Load()
		next := b
		if old > b {
			next = b + (old-b)/2
		}
		if old == next || s.perKey.CompareAndSwap(old, next) {
			return
		}
	}
}

// kvBytes is what kvs hold: their keys (with the prefix) and values.
func kvBytes(kvs []*mvccpb.KeyValue) int64 {
	var n int64
	for _, kv := range kvs {
		n += int64(len(kv.Key) + len(kv.Value))
	}
	return n
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}
