package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Why a forward iteration is one RangeStream rather than paged Ranges.
//
// etcd answers every Range request with the count of all the keys left in
// its range, limit or not (v3.7's Range counts with WithTotalCount set):
// a page of 1,000 keys at the start of a range of 500,000 costs the server
// a walk of its in-memory index over the 500,000, deleted-but-uncompacted
// keys included. A paged iteration over n keys thus costs O(n²/page), and
// nodestore's pending pages (each an iteration from its cursor to the end
// of its level) cost O(level) each. Measured on traverse-gen, one member,
// 200,000 nodes: 35% of the process's CPU was the server walking its index
// for these counts, and the run went 4,571 node/s at 20,000 nodes, 2,403
// at 200,000.
//
// A RangeStream (etcd v3.7) with no limit sends the range in chunks that
// it reads with no count. The client reads the chunks as the iteration
// consumes them; gRPC's flow control holds the server at most a chunk or
// two ahead, and Close cancels the stream. A member that does not know
// the RPC (before v3.7) answers Unimplemented on the first chunk: the
// engine then pages with Range for the rest of its life (streamless).
// Reverse iterations page: a stream has no descending order.

// rangeStream is the open stream of one iteration.
type rangeStream struct {
	ch     clientv3.GetStreamChan
	cancel context.CancelFunc
}

// errStreamUnsupported: the member does not serve RangeStream.
var errStreamUnsupported = errors.New("etcd: RangeStream not served")

// errOpenTimeout: a stream could not be opened within request_timeout.
var errOpenTimeout = errors.New("no stream opened within request_timeout")

// openStream starts a stream over [lo, hi) at rev (0: the latest, pinned
// by the server at its first chunk). A read at a fixed revision is
// serializable, as in rangeAt.
//
// The stream lives as long as its iteration, so its context cannot carry
// a request deadline; opening it can wait, though (the client waits for a
// member to connect to, and with none up it would wait forever). When ctx
// has no deadline, the open is cancelled after request_timeout and fails
// as a deadline would.
func (e *engine) openStream(ctx context.Context, lo, hi string, rev int64, keysOnly, serializable bool) (*rangeStream, error) {
	ctx, cancelCause := context.WithCancelCause(clientv3.WithRequireLeader(ctx))
	cancel := func() { cancelCause(nil) }
	opened := func() bool { return true } // stops the open's timer; false if it fired
	if _, ok := ctx.Deadline(); !ok {
		t := time.AfterFunc(e.set.requestTimeout, func() { cancelCause(errOpenTimeout) })
		opened = t.Stop
	}
	opts := []clientv3.OpOption{clientv3.WithRange(hi)}
	if keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
		if serializable {
			opts = append(opts, clientv3.WithSerializable())
		}
	}
	ch, err := e.cli.GetStream(ctx, lo, opts...)
	if !opened() {
		// The timer fired, during the open or just after it: the
		// stream's context is cancelled either way.
		err = fmt.Errorf("%w: %w", errOpenTimeout, context.DeadlineExceeded)
		if ch != nil {
			(&rangeStream{ch: ch, cancel: cancel}).close()
		}
	}
	if err != nil {
		cancel()
		return nil, streamError(err)
	}
	return &rangeStream{ch: ch, cancel: cancel}, nil
}

// next waits for the next chunk, at most until ctx ends. last reports the
// final chunk (the range is done; the channel closes after it). When the
// wait ends on ctx, the stream is closed.
func (s *rangeStream) next(ctx context.Context) (kvs []*mvccpb.KeyValue, rev int64, last bool, err error) {
	select {
	case r, ok := <-s.ch:
		switch {
		case !ok:
			return nil, 0, true, nil
		case r.Err() != nil:
			return nil, 0, true, streamError(r.Err())
		case r.Header != nil:
			return r.Kvs, r.Header.Revision, true, nil
		}
		return r.Kvs, 0, false, nil
	case <-ctx.Done():
		s.close()
		return nil, 0, true, ctx.Err()
	}
}

// close cancels the stream and waits for its reader to end (the client's
// goroutine blocks on its channel until the last message is taken).
func (s *rangeStream) close() {
	if s == nil || s.ch == nil {
		return
	}
	s.cancel()
	for range s.ch {
	}
	s.ch = nil
}

// streamError marks a member that does not serve RangeStream, and gives
// back the status a member passed on inside an Unknown one.
func streamError(err error) error {
	err = innerStatus(err)
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unimplemented {
		return errStreamUnsupported
	}
	return err
}

// innerStatus undoes a wrapping seen in a stream's mid-flight error: a
// member with no leader ends a RangeStream with the status
// Unknown("rpc error: code = Unavailable desc = etcdserver: no leader"),
// which neither the client's error table nor a status code check reads as
// "no leader". The status it describes is returned instead (err itself
// when it is not such a wrapping).
func innerStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unknown {
		return err
	}
	rest, found := strings.CutPrefix(st.Message(), "rpc error: code = ")
	if !found {
		return err
	}
	name, desc, found := strings.Cut(rest, " desc = ")
	if !found {
		return err
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return innerStatus(status.Error(c, desc))
		}
	}
	return err
}

// isFutureRev reports err as a serializable read at a revision the member
// has not applied yet.
func isFutureRev(err error) bool { return etcdError(err) == rpctypes.ErrFutureRev }
