package etcd

import (
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// Many short iterations in one request (kv.MultiScanner), for View: a
// read-only etcd Txn whose operations are one Range each, at the
// snapshot's revision (serializable, as GetMany's). Each Range is limited
// to scanManyLimit keys; a range with more goes on as an ordinary
// iteration from its last key, before the next range is handed out, so
// that fn sees every range whole and in order. A Txn holds at most
// max-txn-ops ranges, and at most scanManyPages pages of keys in all;
// fewer ranges, and fewer keys each, when they read values that the
// engine's estimate says would bring more than max_response_bytes
// (scanManyBatch, respbytes.go), and fewer ranges when their bounds would
// make the request larger than max_request_bytes (fitRequest).
//
// Measured on traverse-gen (one member, 10,000 nodes): the dst pass's
// children lookups, one range read and one GetMany per folder, took 1.7 s
// of a 6.1 s run (3,387 lookups, 515 µs each).

var _ kv.MultiScanner = (*snapshot)(nil)

const (
	// scanManyLimit is the most keys one range of a ScanMany Txn returns;
	// most folders have fewer children.
	scanManyLimit = 64
	// scanManyPages bounds the keys of one ScanMany Txn: this many pages
	// (page_size keys each).
	scanManyPages = 8
)

func (s *snapshot) ScanMany(ranges []kv.IterRange, fn func(i int, key, value []byte) error) error {
	if s.e.closed.Load() {
		return errClosed
	}
	for lo, hi := 0, 0; lo < len(ranges); lo = hi {
		per, limit := s.e.scanManyBatch(ranges[lo:])
		hi = lo + s.e.fitRequest(per, func(j int) int {
			start, end := s.e.l.bounds(ranges[lo+j].Lower, ranges[lo+j].Upper)
			return len(start) + len(end)
		})
		resp, err := s.e.readOps(s.ctx, s.rev, func(opts ...clientv3.OpOption) []clientv3.Op {
			out := make([]clientv3.Op, hi-lo)
			for j, r := range ranges[lo:hi] {
				start, end := s.e.l.bounds(r.Lower, r.Upper)
				o := append([]clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(limit))}, opts...)
				if r.KeysOnly {
					o = append(o, clientv3.WithKeysOnly())
				}
				out[j] = clientv3.OpGet(start, o...)
			}
			return out
		})
		if err != nil {
			return s.e.fail("scan many", err)
		}
		var size, valueBytes int64
		var n int
		for j, rr := range resp.Responses {
			kvs := rr.GetResponseRange().GetKvs()
			b := kvBytes(kvs)
			size += b
			if !ranges[lo+j].KeysOnly {
				// A range that found nothing counts as one key of no
				// bytes, as a missing key does in GetMany: a fresh
				// engine whose ranges are empty (leaf folders) learns
				// that its requests can grow (counted by keys found
				// alone, it never learned, and read one range per Txn).
				n, valueBytes = n+max(1, len(kvs)), valueBytes+b
			}
		}
		s.e.sizer.saw(size, n, valueBytes)
		for j, rr := range resp.Responses {
			i := lo + j
			rng := rr.GetResponseRange()
			kvs := rng.GetKvs()
			for _, kvp := range kvs {
				if err := fn(i, s.e.l.userKey(kvp.Key), kvp.Value); err != nil {
					return err
				}
			}
			if rng.GetMore() && len(kvs) > 0 {
				rest := ranges[i]
				rest.Lower = kv.KeySuccessor(s.e.l.userKey(kvs[len(kvs)-1].Key))
				if err := s.scanRest(i, rest, fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// scanManyBatch returns how many of ranges (at least one) the next
// ScanMany Txn reads, and the most keys each of its ranges returns: up to
// max-txn-ops ranges of scanManyLimit keys, scanManyPages pages in all,
// and when any of them reads values, within max_response_bytes by the
// engine's estimate of a key's bytes (keys-only reads are small).
func (e *engine) scanManyBatch(ranges []kv.IterRange) (per, limit int) {
	per = max(1, min(e.set.maxTxnOps, scanManyPages*e.set.pageSize/scanManyLimit, len(ranges)))
	if !slices.ContainsFunc(ranges[:per], func(r kv.IterRange) bool { return !r.KeysOnly }) {
		return per, scanManyLimit
	}
	n := e.sizer.keys(per * scanManyLimit)
	return max(1, min(per, n/scanManyLimit)), min(scanManyLimit, n)
}

// scanRest hands fn the keys of r (range i) with an ordinary iteration at
// the snapshot's revision.
func (s *snapshot) scanRest(i int, r kv.IterRange, fn func(i int, key, value []byte) error) (err error) {
	it := s.e.newIter(s.ctx, r, s.rev, nil)
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	var v []byte
	for it.Next() {
		if !r.KeysOnly {
			if v, err = it.Value(v[:0]); err != nil {
				return err
			}
		}
		if err := fn(i, it.Key(), v); err != nil {
			return err
		}
	}
	return it.Err()
}
