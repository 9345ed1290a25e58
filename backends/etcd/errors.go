package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/polykv/polykv/kv"
)

// Errors are translated at the boundary: nothing of etcd's or gRPC's error
// types leaks out of this package. These can occur:
//
//   - on any call, when no member answers within the deadline, the member
//     has no leader (quorum lost), or the connection is refused: an error
//     wrapping kv.ErrUnavailable (and the context's error when it was the
//     deadline that ended the wait);
//   - on a write, when the cluster's space quota alarm is raised ("mvcc:
//     database space exceeded"): kv.ErrNoSpace;
//   - on a commit larger than the server accepts (--max-txn-ops,
//     --max-request-bytes; a read set too large to compare): kv.ErrTxnTooLarge;
//   - on a read at a revision the cluster has compacted away (a snapshot
//     or transaction older than the last compaction): an error wrapping
//     kv.ErrConflict (a transaction retried afresh succeeds);
//   - on a commit whose outcome cannot be learned before the deadline:
//     kv.ErrOutcomeUnknown (see commit.go);
//   - on any call after Close: kv.ErrClosed.
//
// Everything else is wrapped as "kv: etcd: <op>: <etcd's error>".

var errClosed = fmt.Errorf("kv: etcd: %w", kv.ErrClosed)

// translate maps an etcd client error onto kv's sentinels and adds op.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if s := sentinel(err); s != nil {
		if errors.Is(err, s) {
			return fmt.Errorf("kv: etcd: %s: %w", op, err)
		}
		return fmt.Errorf("kv: etcd: %s: %w: %w", op, s, err)
	}
	return fmt.Errorf("kv: etcd: %s: %w", op, err)
}

// fail is translate for a call of the store: the message names the
// store's prefix after op ("kv: etcd: get /jobs/42: ..."), so that a
// program with several stores on one cluster can tell which failed.
func (e *engine) fail(op string, err error) error {
	return translate(op+" "+e.l.prefix, err)
}

// sentinel returns the kv sentinel err belongs to, or nil.
func sentinel(err error) error {
	switch {
	case errors.Is(err, kv.ErrClosed), errors.Is(err, kv.ErrConflict), errors.Is(err, kv.ErrUnavailable),
		errors.Is(err, kv.ErrOutcomeUnknown), errors.Is(err, kv.ErrTxnTooLarge), errors.Is(err, kv.ErrNoSpace):
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return kv.ErrUnavailable
	case errors.Is(err, context.Canceled):
		return nil
	}
	switch etcdError(err) {
	case rpctypes.ErrNoSpace:
		return kv.ErrNoSpace
	case rpctypes.ErrTooManyOps, rpctypes.ErrRequestTooLarge:
		return kv.ErrTxnTooLarge
	case rpctypes.ErrCompacted:
		return kv.ErrConflict
	case rpctypes.ErrNoLeader, rpctypes.ErrNotCapable, rpctypes.ErrStopped, rpctypes.ErrTimeout,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost,
		rpctypes.ErrLeaderChanged, rpctypes.ErrTimeoutWaitAppliedIndex, rpctypes.ErrUnhealthy:
		return kv.ErrUnavailable
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return kv.ErrUnavailable
		case codes.ResourceExhausted:
			return kv.ErrTxnTooLarge
		}
	}
	return nil
}

// notApplied reports whether err proves that a write was not applied: the
// request was refused before it was proposed to Raft. Any other error
// from a write leaves its outcome to be resolved (commit.go).
func notApplied(err error) bool {
	switch etcdError(err) {
	case rpctypes.ErrNoSpace, rpctypes.ErrTooManyOps, rpctypes.ErrRequestTooLarge, rpctypes.ErrCompacted,
		rpctypes.ErrNoLeader, rpctypes.ErrNotCapable, rpctypes.ErrDuplicateKey, rpctypes.ErrLeaseNotFound,
		rpctypes.ErrPermissionDenied, rpctypes.ErrInvalidAuthToken, rpctypes.ErrAuthFailed,
		rpctypes.ErrUserEmpty, rpctypes.ErrAuthNotEnabled, rpctypes.ErrAuthOldRevision:
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.InvalidArgument, codes.ResourceExhausted, codes.PermissionDenied, codes.Unauthenticated,
			codes.FailedPrecondition, codes.OutOfRange:
			return true
		}
	}
	return false
}

// etcdError returns err as the etcd server error it carries (converted
// from its gRPC status), or nil. The result compares safely with ==.
func etcdError(err error) error {
	var ee rpctypes.EtcdError
	if errors.As(rpctypes.Error(err), &ee) {
		return ee
	}
	return nil
}
