package bench

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// Cluster backends. A store of a networked backend is a key prefix on a
// cluster, not a directory: the bench starts an embedded etcd cluster in
// the run's directory (loopback, fsync on, the limits of
// etcdtest.DefaultSettings) and gives each store of the run its own prefix
// on it, or uses the cluster of Spec.Endpoints.
//
//   - "etcd": one member (or the external cluster of Spec.Endpoints);
//   - "etcd-3": three members, every write committed by a majority.
//
// Stores on the embedded cluster compact their old revisions every 30 s
// (auto_compact). The embedded members run in the measured process: its CPU, peak RSS and
// disk figures include the server's.
var clusterBackends = map[string]struct {
	driver  string
	members int
}{
	"etcd":   {"etcd", 1},
	"etcd-3": {"etcd", 3},
}

// ClusterBackends returns the bench backend names that run on an etcd
// cluster, sorted. "etcd" is also a kv backend; "etcd-3" is a bench name
// only.
func ClusterBackends() []string { return slices.Sorted(maps.Keys(clusterBackends)) }

// RefusesNoSync reports whether backend has no NoSync durability (etcd
// always commits through its fsynced log): polykv bench measures Sync for
// a report that includes one.
func RefusesNoSync(backend string) bool {
	_, ok := clusterBackends[backend]
	return ok
}

// EmbedsServer reports whether a run of spec starts its cluster's members
// in its own process (a cluster backend without Spec.Endpoints). A soft
// memory limit derived from the store's memory budget
// (kv.SuggestedMemoryLimit) does not fit such a process: the members'
// heap (etcd's in-memory index of every key, its Raft log since the last
// snapshot) is not the store's and grows with the data. Under polykv's
// limit of 512 MiB the garbage collector ran without pause: traverse-gen
// at 200,000 nodes on one member went 1,172 node/s with it, 2,392 with
// GOMEMLIMIT=off (one run each, side by side, 2026-12-06).
func EmbedsServer(spec Spec) bool {
	return isCluster(spec.Backend) && len(spec.Endpoints) == 0
}

// benchAutoCompact is how often a store on the bench's own cluster
// compacts (the etcd backend's auto_compact option).
const benchAutoCompact = 30 * time.Second

// clusterConfig fills cfg for a store of a cluster backend: endpoints,
// options matching the server's limits, and a fresh prefix.
func (e *Env) clusterConfig(cfg *kv.Config, name string) error {
	cb := clusterBackends[name]
	cfg.Backend = cb.driver
	run := fmt.Sprintf("/polykv-bench/%d-%d", os.Getpid(), time.Now().UnixNano())
	if len(e.Spec.Endpoints) > 0 {
		if cb.members != 1 {
			return fmt.Errorf("bench: backend %s starts its own cluster; with --etcd-endpoints use backend etcd", name)
		}
		cfg.Endpoints = e.Spec.Endpoints
		cfg.Options = map[string]string{} // the server's own limits are unknown: etcd's defaults
	} else {
		if e.cluster == nil {
			c, err := etcdtest.StartCluster(e.Dir("cluster"), cb.members, etcdtest.DefaultSettings())
			if err != nil {
				return fmt.Errorf("bench: start a %d-member etcd cluster: %w", cb.members, err)
			}
			e.cluster = c
			e.OnClose(c.Close) // after every store (closers run newest first)
		}
		cfg.Endpoints = e.cluster.Endpoints()
		cfg.Options = e.cluster.Options()
		// The cluster is the run's own: its stores compact the revisions
		// they no longer read, as a long migration must to stay inside
		// the space quota.
		cfg.Options["auto_compact"] = benchAutoCompact.String()
		run = "/polykv-bench"
	}
	cfg.Path = fmt.Sprintf("%s/store%d", run, e.nstores)
	return nil
}

// isCluster reports whether name is a cluster backend.
func isCluster(name string) bool {
	_, ok := clusterBackends[strings.TrimSpace(name)]
	return ok
}
