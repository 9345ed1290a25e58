// Package etcdtest starts real etcd clusters (1 or 3 members) inside a Go
// process, on loopback, free ports and temporary directories, with
// nothing installed by hand: the server is go.etcd.io/etcd/server/v3/embed.
// The etcd backend's tests, the multi-process and member-loss tests and the
// benchmark harness run against it.
//
// The members' settings (Settings) are sized together with the backend's
// declared limits: Options returns the backend options that tell a store
// the server's --max-txn-ops and --max-request-bytes, so that the largest
// transaction kv lets through is one the server accepts and commits well
// inside its request timeout.
//
// Start a cluster in a test with Start (stopped by t.Cleanup), or anywhere
// with StartCluster and Close. Stop and Restart stop and restart single
// members (the data directory survives), for member-loss tests. The
// members log nothing.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/polykv/polykv/kv"
)

// Settings are the members' server settings.
type Settings struct {
	// MaxTxnOps is --max-txn-ops: the most operations (and, separately,
	// compares) in one Txn.
	MaxTxnOps uint
	// MaxRequestBytes is --max-request-bytes.
	MaxRequestBytes uint
	// QuotaBackendBytes is --quota-backend-bytes: past it the cluster
	// raises its space alarm and refuses writes ("mvcc: database space
	// exceeded", kv.ErrNoSpace).
	QuotaBackendBytes int64
	// AutoCompactionRetention, when not empty, turns on the members'
	// revision-mode auto-compaction keeping that many revisions
	// ("--auto-compaction-mode=revision"). Empty: off, as the backend's
	// tests need (they compact themselves).
	AutoCompactionRetention string
	// SnapshotCatchUpEntries is --snapshot-catchup-entries: how many
	// applied Raft entries each member keeps in memory for a slow
	// follower (a follower further behind is sent a snapshot). etcd keeps
	// 5,000; with transactions of up to MaxRequestBytes that is gigabytes
	// of heap (traverse-gen, 200,000 nodes: the entries were the largest
	// part of the process's live heap), so the tests keep 500.
	SnapshotCatchUpEntries uint64
	// UnsafeNoFsync turns off the members' fsyncs (--unsafe-no-fsync). A
	// commit is still replicated to a majority before it is acknowledged,
	// and survives the kill of any process; only a power loss of the
	// machine could lose it. For rule checks that do not cut power and
	// run tens of thousands of commits (the conformance suite); never for
	// durability, kill or member-loss tests, nor for the bench.
	UnsafeNoFsync bool
}

// DefaultSettings are the settings the tests run with. A transaction of
// 2,048 writes of a few hundred bytes each commits in tens of milliseconds
// on a 3-member loopback cluster (etcd's defaults, 128 operations and
// 1.5 MiB, are kept for nothing here but the request timeout, which stays
// etcd's: 5 s of election-bounded waiting). The space quota is 4 GiB,
// twice etcd's default: a nodestore traversal keeps about 1.9 KB per node
// in the members' database (traverse-gen, 200,000 nodes: 364 MiB), so a
// million-node traversal needs about 1.8 GiB, too close to 2 GiB (etcd
// suggests 8 GiB at most).
func DefaultSettings() Settings {
	return Settings{
		MaxTxnOps:         2048,
		MaxRequestBytes:   2 << 20,
		QuotaBackendBytes: 4 << 30,

		SnapshotCatchUpEntries: 500,
	}
}

// Cluster is a running embedded cluster.
type Cluster struct {
	dir      string
	settings Settings

	mu      sync.Mutex
	members []*member
}

type member struct {
	name      string
	dir       string
	peerURL   url.URL
	clientURL url.URL
	etcd      *embed.Etcd // nil while stopped
	// grpc are the member's client-facing gRPC servers while it runs
	// (embed's ServiceRegister hands them over): StopNow stops them
	// before the Raft node (stop).
	grpc       []*grpc.Server
	started    bool // started once: a restart joins the existing cluster
	initial    string
	clusterTok string
}

// Start starts a cluster of n members (1 or 3) with DefaultSettings in a
// temporary directory of tb, and stops it when tb ends.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	return StartWith(tb, n, DefaultSettings())
}

// StartWith is Start with the given settings.
func StartWith(tb testing.TB, n int, s Settings) *Cluster {
	tb.Helper()
	c, err := StartCluster(tb.TempDir(), n, s)
	if err != nil {
		tb.Fatalf("start etcd cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("stop etcd cluster: %v", err)
		}
	})
	return c
}

// StartCluster starts a cluster of n members (1 or 3) with its data under
// dir, and returns once every member serves clients and a leader is
// elected. Close stops it.
func StartCluster(dir string, n int, s Settings) (*Cluster, error) {
	if n != 1 && n != 3 {
		return nil, fmt.Errorf("etcdtest: %d members: want 1 or 3", n)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := startOnce(dir, n, s, attempt)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("etcdtest: port taken")

func startOnce(dir string, n int, s Settings, attempt int) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, settings: s}
	tok := fmt.Sprintf("polykv-%d-%d", time.Now().UnixNano(), attempt)
	var initial []string
	for i := 0; i < n; i++ {
		m := &member{
			name:       "m" + strconv.Itoa(i),
			dir:        filepath.Join(dir, fmt.Sprintf("try%d-m%d", attempt, i)),
			peerURL:    url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[2*i])},
			clientURL:  url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[2*i+1])},
			clusterTok: tok,
		}
		initial = append(initial, m.name+"="+m.peerURL.String())
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.initial = strings.Join(initial, ",")
	}
	errs := make(chan error, n)
	for _, m := range c.members {
		go func() { errs <- c.startMember(m) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		_ = c.Close() // the start failed: its error is the one to report
		return nil, first
	}
	return c, nil
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close() // only probing for a free port
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdtest: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) config(m *member) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dir
	cfg.ListenPeerUrls = []url.URL{m.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{m.peerURL}
	cfg.ListenClientUrls = []url.URL{m.clientURL}
	m.grpc = nil
	cfg.ServiceRegister = func(gs *grpc.Server) {
		c.mu.Lock()
		m.grpc = append(m.grpc, gs)
		c.mu.Unlock()
	}
	cfg.AdvertiseClientUrls = []url.URL{m.clientURL}
	cfg.InitialCluster = m.initial
	cfg.InitialClusterToken = m.clusterTok
	cfg.ClusterState = embed.ClusterStateFlagNew
	if m.started {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	cfg.MaxTxnOps = c.settings.MaxTxnOps
	cfg.MaxRequestBytes = c.settings.MaxRequestBytes
	cfg.QuotaBackendBytes = c.settings.QuotaBackendBytes
	if c.settings.SnapshotCatchUpEntries > 0 {
		cfg.SnapshotCatchUpEntries = c.settings.SnapshotCatchUpEntries
	}
	if c.settings.AutoCompactionRetention != "" {
		cfg.AutoCompactionMode = embed.CompactorModeRevision
		cfg.AutoCompactionRetention = c.settings.AutoCompactionRetention
	}
	cfg.UnsafeNoFsync = c.settings.UnsafeNoFsync
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.Metrics = "basic"
	return cfg
}

// startMember starts m and waits until it serves (at most a minute).
func (c *Cluster) startMember(m *member) error {
	e, err := embed.StartEtcd(c.config(m))
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w: %s: %v", errPortTaken, m.name, err)
		}
		return fmt.Errorf("etcdtest: start %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcdtest: %s failed while starting: %w", m.name, err)
	case <-time.After(time.Minute):
		e.Server.Stop()
		e.Close()
		return fmt.Errorf("etcdtest: %s not ready after a minute", m.name)
	}
	c.mu.Lock()
	m.etcd = e
	m.started = true
	c.mu.Unlock()
	return nil
}

// Endpoints returns every member's client address (host:port), running or
// not, in member order.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.clientURL.Host
	}
	return eps
}

// Endpoint returns member i's client address.
func (c *Cluster) Endpoint(i int) string { return c.members[i].clientURL.Host }

// Members returns how many members the cluster has.
func (c *Cluster) Members() int { return len(c.members) }

// Settings returns the members' settings.
func (c *Cluster) Settings() Settings { return c.settings }

// Options returns the etcd backend options that match the members'
// settings (max_txn_ops, max_request_bytes), for kv.Config.Options. (This
// package names the backend's options and its name as text: packages other
// than commands and backends/all never import a backend.)
func (c *Cluster) Options() map[string]string {
	return map[string]string{
		"max_txn_ops":       strconv.Itoa(int(c.settings.MaxTxnOps)),
		"max_request_bytes": strconv.Itoa(int(c.settings.MaxRequestBytes)),
	}
}

// Config returns the configuration of the store with the given key prefix
// on this cluster, through every member.
func (c *Cluster) Config(prefix string) kv.Config {
	return kv.Config{Backend: "etcd", Path: prefix, Endpoints: c.Endpoints(), Options: c.Options()}
}

// Stop stops member i (its data stays for Restart). Stopping a stopped
// member does nothing. The stop is graceful: a leader first hands its
// leadership over, and client requests in flight get up to the request
// timeout to finish, so the cluster may serve for seconds more.
func (c *Cluster) Stop(i int) error { return c.stop(i, false) }

// StopNow stops member i at once, as a crash would (its data stays for
// Restart): its Raft node stops before anything else, without handing
// leadership over, so the member stops taking part the moment StopNow
// begins.
func (c *Cluster) StopNow(i int) error { return c.stop(i, true) }

func (c *Cluster) stop(i int, now bool) error {
	c.mu.Lock()
	m := c.members[i]
	e := m.etcd
	servers := m.grpc
	m.etcd, m.grpc = nil, nil
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	if now {
		// Clients first, as etcd's own integration framework stops a
		// member: HardStop closes the member's database, and a read still
		// served after that dereferences a closed bbolt transaction and
		// panics the process (seen in TestMemberLossTwo, a serializable
		// Range). grpc's Stop closes every connection and refuses new
		// calls at once.
		for _, gs := range servers {
			gs.Stop()
		}
		e.Server.HardStop()
	}
	e.Close()
	return nil
}

// Restart starts member i again with its data, and waits until it serves.
// Restarting a running member does nothing.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	m := c.members[i]
	running := m.etcd != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	return c.startMember(m)
}

// Running reports whether member i runs.
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].etcd != nil
}

// WaitLeader waits until a running member reports a leader, or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) error {
	for {
		c.mu.Lock()
		for _, m := range c.members {
			if m.etcd != nil && m.etcd.Server.Leader() != 0 {
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdtest: no leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops every member and removes nothing (dir belongs to the
// caller).
func (c *Cluster) Close() error {
	for i := range c.members {
		_ = c.Stop(i) // Stop cannot fail
	}
	return nil
}

// RemoveAll stops the cluster and removes its directory (for StartCluster
// callers that gave it a directory of their own).
func (c *Cluster) RemoveAll() error {
	_ = c.Close() // Close cannot fail
	return os.RemoveAll(c.dir)
}
