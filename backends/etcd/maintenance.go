package etcd

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/kv"
)

// Stats reports the cluster as the members it reaches see it. Every
// endpoint is asked at once, each within dial_timeout (at most
// request_timeout): Status opens a connection of its own to the member,
// and the client waits for a stopped member until the deadline, so a
// stopped member costs Stats dial_timeout and no answer of the others.
// DiskBytes and the cluster's figures are the answer of the most
// up-to-date member that answered (the highest Raft index): its database
// file size; Extra holds "revision", "raft_index", "raft_term", "leader"
// (member ID, 0 when that member has none), "members" (the cluster's
// member list), "members_answered" (how many endpoints answered),
// "db_size_in_use_bytes", "oldest_live_revision" (the oldest revision a
// snapshot or transaction of this process reads on the cluster, through
// any of its stores: what Compact keeps; 0 for none), and this
// process's "range_streams" and "range_pages" (iterations read as one
// RangeStream; paged Range requests, see stream.go). It fails when no
// endpoint answers, or the member list cannot be read (quorum lost).
func (e *engine) Stats() (kv.EngineStats, error) {
	if e.closed.Load() {
		return kv.EngineStats{}, errClosed
	}
	eps := e.cli.Endpoints()
	answers := make([]*clientv3.StatusResponse, len(eps))
	errs := make([]error, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Go(func() {
			// No leader required: a member without one still answers,
			// with leader 0.
			ctx, cancel := context.WithTimeout(context.Background(), min(e.set.dialTimeout, e.set.requestTimeout))
			defer cancel()
			answers[i], errs[i] = e.cli.Status(ctx, ep)
		})
	}
	ctx, cancel := e.callCtx(context.Background())
	members, merr := e.cli.MemberList(ctx)
	cancel()
	wg.Wait()
	var st *clientv3.StatusResponse
	answered := 0
	for _, a := range answers {
		if a == nil {
			continue
		}
		answered++
		if st == nil || a.RaftIndex > st.RaftIndex {
			st = a
		}
	}
	if st == nil {
		return kv.EngineStats{}, e.fail("status", errors.Join(errs...))
	}
	if merr != nil {
		return kv.EngineStats{}, e.fail("member list", merr)
	}
	return kv.EngineStats{
		DiskBytes: st.DbSize,
		Extra: map[string]int64{
			"revision":             st.Header.Revision,
			"raft_index":           int64(st.RaftIndex),
			"raft_term":            int64(st.RaftTerm),
			"leader":               int64(st.Leader),
			"members":              int64(len(members.Members)),
			"members_answered":     int64(answered),
			"db_size_in_use_bytes": st.DbSizeInUse,
			"oldest_live_revision": e.oldestLive(),
			"range_streams":        e.rangeStreams.Load(),
			"range_pages":          e.rangePages.Load(),
		},
	}, nil
}

// Compact compacts the cluster's history up to the oldest revision a live
// snapshot, transaction or iteration of this process reads on the cluster
// (the latest revision when there is none), waiting until the members
// have applied it. Those of every store this process has open on the
// cluster count, whichever its prefix and handle (kv.DB): see pinSet.
// History is the whole cluster's: another process's snapshot older than
// that revision fails its next read (an error wrapping kv.ErrConflict). Compaction frees
// space inside etcd's database file for reuse; giving it back to the file
// system takes a defragmentation (etcdctl defrag), left to the operator
// because it blocks the member while it runs.
func (e *engine) Compact(ctx context.Context) error {
	if e.closed.Load() {
		return errClosed
	}
	rev, err := e.currentRevision(ctx)
	if err != nil {
		return err
	}
	if old := e.oldestLive(); old != 0 && old < rev {
		rev = old
	}
	// The call returns once the members have removed the old revisions
	// from their database files (WithCompactPhysical): cluster-wide work
	// that outlasts request_timeout on a large or busy cluster. Without a
	// deadline of the caller's, it gets compactTimeout.
	if _, ok := ctx.Deadline(); !ok {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, max(compactTimeout, e.set.requestTimeout))
		defer cancelTimeout()
	}
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	_, err = e.cli.Compact(ctx, rev, clientv3.WithCompactPhysical())
	if err != nil && etcdError(err) == rpctypes.ErrCompacted {
		return nil // already compacted at least that far
	}
	return e.fail("compact", err)
}

// compactTimeout bounds Compact when its context has no deadline.
const compactTimeout = 2 * time.Minute

// autoCompact runs Compact every interval until Close.
func (e *engine) autoCompact(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.bg.Done():
			return
		case <-t.C:
			if err := e.Compact(e.bg); err != nil && e.bg.Err() == nil {
				e.log.Warn("etcd: auto compaction failed", "prefix", e.l.prefix, "err", err)
			}
		}
	}
}
