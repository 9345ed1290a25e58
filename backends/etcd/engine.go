package etcd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/polykv/polykv/kv"
)

// engine is one open store: a client of the cluster and the store's prefix.
type engine struct {
	cli    *clientv3.Client
	l      layout
	set    settings
	limits kv.Limits
	// tokenDeletes is how many old commit tokens one commit may delete.
	tokenDeletes int
	log          *slog.Logger

	closed atomic.Bool
	// bg is cancelled by Close: it ends the background work (the
	// auto-compaction loop, the revokes of priority leases), which Close
	// waits for (bgWG); once bgEnded is set (under bgMu), goBackground
	// starts nothing more.
	bg      context.Context
	stopBg  context.CancelFunc
	bgMu    sync.Mutex
	bgEnded bool
	bgWG    sync.WaitGroup

	// pins counts the revisions that readers of this process read on the
	// cluster, for every store of it (see pinSet); own counts those of
	// this engine's readers (guarded by pins.mu), dropped from pins at
	// Close. cluster is the cluster's ID, pins' key.
	cluster uint64
	pins    *pinSet
	own     map[int64]int
	// seen is the newest revision this engine has pinned or read as the
	// cluster's latest (pinFloor).
	seen atomic.Int64

	tokens tokenState

	// streamless is set once a member refused RangeStream (before etcd
	// v3.7): iterations page from then on (stream.go).
	streamless atomic.Bool
	// rangeStreams and rangePages count the iterations' streams and
	// paged Range requests (Stats).
	rangeStreams, rangePages atomic.Int64
	// readTxns counts the read-only Txns of GetMany and ScanMany.
	readTxns atomic.Int64

	// sizer bounds read responses in bytes (respbytes.go).
	sizer respSizer
}

var (
	_ kv.NetworkEngine = (*engine)(nil)
	_ kv.LimitDeclarer = (*engine)(nil)
	_ kv.RangeDeleter  = (*engine)(nil)
	_ kv.Compacter     = (*engine)(nil)
	_ kv.Stater        = (*engine)(nil)
)

// awaitMember waits, within ctx and dialTimeout, until a member answers a
// local (serializable) read: dial_timeout bounds the first connection, as
// documented. clientv3.New does not wait for one (gRPC connects lazily)
// unless it has a password to authenticate with, so an open of an address
// where no member listens failed only after request_timeout.
// It returns the cluster's ID, from the answer.
func awaitMember(ctx context.Context, cli *clientv3.Client, key string, dialTimeout time.Duration) (cluster uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, key, clientv3.WithSerializable(), clientv3.WithCountOnly())
	if err == nil {
		return resp.Header.ClusterId, nil
	}
	if ctx.Err() != nil {
		return 0, noMemberAnswered(cli.Endpoints(), dialTimeout, err)
	}
	return 0, translate("connect", err)
}

// noMemberAnswered is the error of an open that no member of endpoints
// answered within dialTimeout.
func noMemberAnswered(endpoints []string, dialTimeout time.Duration, err error) error {
	return fmt.Errorf("kv: etcd: connect to %s: %w: no member answered within dial_timeout %s (%v)",
		strings.Join(endpoints, ","), kv.ErrUnavailable, dialTimeout, err)
}

// reconnect is how the client redials a member it lost: gRPC's default
// backoff grows to 120 s, so a store whose cluster came back after an
// outage of a few seconds still failed every call of the next several
// seconds (each within request_timeout). Capped at 1 s, a call made a
// second after the cluster is back reaches it.
var reconnect = grpc.ConnectParams{
	Backoff: backoff.Config{
		BaseDelay:  100 * time.Millisecond,
		Multiplier: 1.6,
		Jitter:     0.2,
		MaxDelay:   time.Second,
	},
	MinConnectTimeout: 2 * time.Second,
}

// openEngine connects to the cluster cfg names, waiting at most
// dial_timeout for a member to answer (awaitMember); the marker check
// right after (kv.Open) waits for the cluster itself, within the request
// timeout.
func openEngine(ctx context.Context, cfg *kv.Config, s settings) (*engine, error) {
	l, err := newLayout(cfg.Path)
	if err != nil {
		return nil, err
	}
	tlsc, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          cfg.Endpoints,
		DialTimeout:        s.dialTimeout,
		DialKeepAliveTime:  10 * time.Second,
		MaxCallSendMsgSize: s.maxRequestBytes + 1<<20,
		TLS:                tlsc,
		Username:           cfg.Username,
		Password:           cfg.Password,
		Logger:             zap.NewNop(),
		Context:            context.WithoutCancel(ctx),
		DialOptions:        []grpc.DialOption{grpc.WithConnectParams(reconnect)},
	})
	if err != nil {
		// With a password, New authenticates within DialTimeout, and
		// fails as that deadline when no member answers. clientv3's
		// errors name endpoints, never the password.
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, noMemberAnswered(cfg.Endpoints, s.dialTimeout, err)
		}
		return nil, translate("connect", err)
	}
	cluster, err := awaitMember(ctx, cli, l.marker, s.dialTimeout)
	if err != nil {
		cli.Close()
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bg, stop := context.WithCancel(context.Background())
	e := &engine{
		cli:     cli,
		l:       l,
		set:     s,
		log:     log,
		bg:      bg,
		stopBg:  stop,
		cluster: cluster,
		pins:    acquirePinSet(cluster),
		own:     make(map[int64]int),
	}
	e.limits = s.limits(cfg.Path, cfg.Username)
	e.sizer.target = int64(s.maxResponseBytes)
	e.sizer.worst = int64(len(l.data) + e.limits.MaxKeySize + e.limits.MaxValueSize)
	e.tokenDeletes = s.tokenDeletes(cfg.Path)
	if s.autoCompact > 0 {
		e.goBackground(func() { e.autoCompact(s.autoCompact) })
	}
	return e, nil
}

// goBackground runs f in a goroutine that Close waits for (f must end
// once e.bg is cancelled), unless e is closed: then it returns false.
func (e *engine) goBackground(f func()) bool {
	e.bgMu.Lock()
	defer e.bgMu.Unlock()
	if e.bgEnded {
		return false
	}
	e.bgWG.Add(1)
	go func() {
		defer e.bgWG.Done()
		f()
	}()
	return true
}

// callCtx returns ctx with the default request deadline when it has none,
// and the leader requirement: a member without a leader (quorum lost)
// refuses at once instead of waiting.
func (e *engine) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc = func() {}
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, e.set.requestTimeout)
	}
	return clientv3.WithRequireLeader(ctx), cancel
}

func (e *engine) Limits() kv.Limits { return e.limits }

// Get reads the latest committed value of key (a linearizable read),
// bounded by request_timeout: kv calls it only without a context (see
// ReaderContext).
func (e *engine) Get(key, dst []byte) ([]byte, error) {
	return latest{e: e, ctx: context.Background()}.Get(key, dst)
}

// get reads key at rev (0: the latest) and returns the value appended to
// dst, its ModRevision (0 when missing: with kv.ErrNotFound) and the
// revision read at.
func (e *engine) get(ctx context.Context, key, dst []byte, rev int64) (v []byte, mod, at int64, err error) {
	resp, err := e.rangeAt(ctx, e.l.key(key), rev)
	if err != nil {
		return nil, 0, 0, e.fail("get", err)
	}
	at = resp.Header.Revision
	if rev > 0 {
		at = rev
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, at, kv.ErrNotFound
	}
	kvp := resp.Kvs[0]
	if dst == nil {
		dst = []byte{}
	}
	return append(dst, kvp.Value...), kvp.ModRevision, at, nil
}

// rangeAt reads key (with opts: a range) at revision rev, or at the latest
// revision when rev is 0.
//
// The latest revision needs a linearizable read (a round of the leader's
// read index, then waiting for the member to apply up to it). A read at a
// fixed revision does not: what revision rev holds never changes, so any
// member that has applied it answers the same, and rangeAt asks for a
// serializable read, answered from the member's own state. A member that
// has not applied rev yet (a follower behind the leader) refuses with
// ErrFutureRev; the read then goes again, linearizable, which waits for
// it. Measured on traverse-gen (one member, 5,000 nodes): the reads of a
// pinned transaction were most of its wall time.
func (e *engine) rangeAt(ctx context.Context, key string, rev int64, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if rev <= 0 {
		return e.cli.Get(ctx, key, opts...)
	}
	opts = append(opts, clientv3.WithRev(rev))
	resp, err := e.cli.Get(ctx, key, append(opts, clientv3.WithSerializable())...)
	if err != nil && etcdError(err) == rpctypes.ErrFutureRev {
		resp, err = e.cli.Get(ctx, key, opts...)
	}
	return resp, err
}

// NewIter iterates over the latest committed state, pinned to the revision
// its first page is read at; each step is bounded by request_timeout.
func (e *engine) NewIter(r kv.IterRange) (kv.Iter, error) {
	return latest{e: e, ctx: context.Background()}.NewIter(r)
}

// currentRevision returns the cluster's latest revision (a linearizable
// read of the marker key).
func (e *engine) currentRevision(ctx context.Context) (int64, error) {
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.l.marker, clientv3.WithCountOnly())
	if err != nil {
		return 0, e.fail("read revision", err)
	}
	e.saw(resp.Header.Revision)
	return resp.Header.Revision, nil
}

// NewSnapshot pins the latest revision: every read of the snapshot is at
// that revision, bounded by request_timeout.
func (e *engine) NewSnapshot() (kv.Snapshot, error) {
	return e.NewSnapshotContext(context.Background())
}

// testHookBeforePin, when set, runs after a transaction's or snapshot's
// first answer and before its revision is pinned.
var testHookBeforePin atomic.Pointer[func()]

func beforePin() {
	if f := testHookBeforePin.Load(); f != nil {
		(*f)()
	}
}

// pinSet counts, per revision, the snapshots, transactions and
// iterations of this process reading at it on one cluster, whichever
// store (prefix) and handle (kv.DB) they belong to: Compact compacts the
// whole cluster's history, and never past the oldest of them. Before its
// first read answers, a reader holds a floor (pinFloor).
type pinSet struct {
	mu   sync.Mutex
	live map[int64]int
	refs int // the open engines using it; guarded by pinSets
}

// pinSets holds the pinSet of each cluster (by ID) this process has a
// store open on; an engine takes it at open and lets it go at Close.
var pinSets = struct {
	sync.Mutex
	m map[uint64]*pinSet
}{m: make(map[uint64]*pinSet)}

func acquirePinSet(cluster uint64) *pinSet {
	pinSets.Lock()
	defer pinSets.Unlock()
	p := pinSets.m[cluster]
	if p == nil {
		p = &pinSet{live: make(map[int64]int)}
		pinSets.m[cluster] = p
	}
	p.refs++
	return p
}

// releasePins drops what e's readers still pin (a snapshot left open at
// Close) and lets the cluster's pinSet go.
func (e *engine) releasePins() {
	p := e.pins
	p.mu.Lock()
	for rev, n := range e.own {
		if p.live[rev] -= n; p.live[rev] <= 0 {
			delete(p.live, rev)
		}
	}
	clear(e.own)
	p.mu.Unlock()
	pinSets.Lock()
	if p.refs--; p.refs == 0 {
		delete(pinSets.m, e.cluster)
	}
	pinSets.Unlock()
}

// pin and unpin count the readers of a revision (see Compact).
func (e *engine) pin(rev int64) {
	e.pins.mu.Lock()
	e.pins.live[rev]++
	e.own[rev]++
	e.pins.mu.Unlock()
	e.saw(rev)
}

// saw records that the cluster has reached revision rev.
func (e *engine) saw(rev int64) {
	for {
		old := e.seen.Load()
		if rev <= old || e.seen.CompareAndSwap(old, rev) {
			return
		}
	}
}

// pinFloor pins, for a reader whose revision is not known yet, the
// newest revision this engine has seen (at least 1): its first read
// (linearizable) answers at that revision or a later one, so a Compact
// between that answer and the pin of its revision, bounded by this
// floor, cannot remove it (a Compact of another engine too: it compacts
// no further than the oldest pin of the cluster's pinSet). The reader
// swaps the floor for its revision (pin, then unpin the floor) or
// releases it.
func (e *engine) pinFloor() int64 {
	f := max(1, e.seen.Load())
	e.pin(f)
	return f
}

// unpin undoes a pin of e's; after Close (releasePins) it does nothing.
func (e *engine) unpin(rev int64) {
	e.pins.mu.Lock()
	if e.own[rev] > 0 {
		if e.own[rev]--; e.own[rev] == 0 {
			delete(e.own, rev)
		}
		if e.pins.live[rev]--; e.pins.live[rev] <= 0 {
			delete(e.pins.live, rev)
		}
	}
	e.pins.mu.Unlock()
}

// oldestLive returns the oldest revision read by a live snapshot,
// transaction or iteration of this process on the cluster, or 0.
func (e *engine) oldestLive() int64 {
	e.pins.mu.Lock()
	defer e.pins.mu.Unlock()
	var oldest int64
	for rev := range e.pins.live {
		if oldest == 0 || rev < oldest {
			oldest = rev
		}
	}
	return oldest
}

func (s *snapshot) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.e.unpin(s.rev)
	}
	return nil
}

// Apply commits b as one etcd transaction (with its commit token: see
// commit.go).
func (e *engine) Apply(ctx context.Context, b *kv.Batch) error {
	if e.closed.Load() {
		return errClosed
	}
	return e.commit(ctx, "write", nil, batchOps(&e.l, b), "")
}

// batchOps turns b into etcd operations. etcd refuses two operations on
// one key in a transaction, so only the last write of each key is kept
// (the one that wins in a batch).
func batchOps(l *layout, b *kv.Batch) []clientv3.Op {
	n := b.Len()
	last := make(map[string]int, n)
	for i := 0; i < n; i++ {
		_, k, _ := b.Op(i)
		last[string(k)] = i
	}
	ops := make([]clientv3.Op, 0, len(last))
	for i := 0; i < n; i++ {
		kind, k, v := b.Op(i)
		if last[string(k)] != i {
			continue
		}
		if kind == kv.OpSet {
			ops = append(ops, clientv3.OpPut(l.key(k), string(v)))
		} else {
			ops = append(ops, clientv3.OpDelete(l.key(k)))
		}
	}
	return ops
}

// DeleteRange deletes the keys in [start, end) (nil: unbounded) in one
// etcd transaction: atomic.
func (e *engine) DeleteRange(ctx context.Context, start, end []byte) error {
	if e.closed.Load() {
		return errClosed
	}
	lo, hi := e.l.bounds(start, end)
	return e.commit(ctx, "delete range", nil, []clientv3.Op{clientv3.OpDelete(lo, clientv3.WithRange(hi))}, "")
}

// Sync has nothing to do: every commit is durable (fsynced on a majority
// of the members) when it returns.
func (e *engine) Sync() error {
	if e.closed.Load() {
		return errClosed
	}
	return nil
}

// Close ends the background work (a priority lease still being revoked
// expires by itself) and closes the client. Stores of other processes are
// not affected.
func (e *engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	e.bgMu.Lock()
	e.bgEnded = true
	e.bgMu.Unlock()
	e.stopBg()
	e.bgWG.Wait()
	e.releasePins()
	if err := e.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return e.fail("close", err)
	}
	return nil
}

// ReadMarker reads the store's marker key, and in the same request the
// marker keys of the stores whose prefix would contain this one's (see
// nesting.go): a store nested in another is refused with kv.ErrNotAStore,
// whether it exists yet or not.
func (e *engine) ReadMarker(ctx context.Context) (kv.Marker, error) {
	if e.closed.Load() {
		return kv.Marker{}, errClosed
	}
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	ops := []clientv3.Op{clientv3.OpGet(e.l.marker)}
	for _, a := range e.l.ancestors {
		ops = append(ops, clientv3.OpGet(a+markerName, clientv3.WithKeysOnly()))
	}
	resp, err := e.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return kv.Marker{}, e.fail("read marker", err)
	}
	if err := e.l.nestedErr(resp.Responses[1:]); err != nil {
		return kv.Marker{}, err
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return kv.Marker{}, fmt.Errorf("kv: etcd: %s: %w", e.l.marker, fs.ErrNotExist)
	}
	return kv.ParseMarker(kvs[0].Value, "etcd key "+e.l.marker)
}

// Empty reports whether nothing at all lives under the store's prefix
// (data, marker, tokens).
func (e *engine) Empty(ctx context.Context) (bool, error) {
	if e.closed.Load() {
		return false, errClosed
	}
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.l.all, clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithKeysOnly())
	if err != nil {
		return false, e.fail("read store", err)
	}
	return len(resp.Kvs) == 0, nil
}

// CreateMarker writes m unless the store has a marker, in one transaction
// that also requires nothing else under the store's prefix and no marker
// of a store containing it (nesting.go): two processes creating nested
// stores at once cannot both succeed.
func (e *engine) CreateMarker(ctx context.Context, m kv.Marker) (kv.Marker, error) {
	if e.closed.Load() {
		return kv.Marker{}, errClosed
	}
	ctx, cancel := e.callCtx(ctx)
	defer cancel()
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(e.l.all), "=", 0).WithPrefix()}
	elseOps := []clientv3.Op{clientv3.OpGet(e.l.marker), clientv3.OpGet(e.l.all, clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithKeysOnly())}
	for _, a := range e.l.ancestors {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(a+markerName), "=", 0))
		elseOps = append(elseOps, clientv3.OpGet(a+markerName, clientv3.WithKeysOnly()))
	}
	resp, err := e.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(e.l.marker, string(m.Encode()))).Else(elseOps...).Commit()
	if err != nil {
		// A lost answer is harmless here: the marker is only ever created
		// by this transaction, so reading it back tells.
		if got, rerr := e.ReadMarker(ctx); rerr == nil {
			return got, nil
		}
		return kv.Marker{}, e.fail("create marker", err)
	}
	if resp.Succeeded {
		return m, nil
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		return kv.ParseMarker(kvs[0].Value, "etcd key "+e.l.marker) // another process created it
	}
	if err := e.l.nestedErr(resp.Responses[2:]); err != nil {
		return kv.Marker{}, err
	}
	if len(resp.Responses[1].GetResponseRange().Kvs) > 0 {
		return kv.Marker{}, fmt.Errorf("%w: etcd store %s: keys appeared under the prefix while the store was being created (another store nested in it?)", kv.ErrNotAStore, e.l.prefix)
	}
	return e.ReadMarker(ctx)
}
