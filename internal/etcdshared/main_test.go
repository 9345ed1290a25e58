package etcdshared_test

import (
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	_ "github.com/polykv/polykv/backends/etcd"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// cluster is the 3-member cluster the tests share, each on fresh key
// prefixes; tests that stop members start a cluster of their own. A child
// process (a worker or a crash-test writer) starts none: it connects to its
// parent's cluster by the configuration it is given.
var cluster *etcdtest.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if conformance.InChild() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "polykv-etcdshared-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	c, err := etcdtest.StartCluster(dir, 3, etcdtest.DefaultSettings())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	cluster = c
	return m.Run()
}

var prefixes atomic.Int64

// newPrefix returns a key prefix no other test of this process uses.
func newPrefix() string {
	return fmt.Sprintf("/polykv-shared/%d/s%d", os.Getpid(), prefixes.Add(1))
}

// memberConfigs returns, for each member i of c, the configuration of the
// store at prefix with member i's endpoint first: worker i talks to member
// i and fails over to the others when it stops.
func memberConfigs(c *etcdtest.Cluster, prefix string) []kv.Config {
	cfg := c.Config(prefix)
	cfgs := make([]kv.Config, c.Members())
	for i := range cfgs {
		cfgs[i] = cfg
		cfgs[i].Endpoints = append(slices.Clone(cfg.Endpoints[i:]), cfg.Endpoints[:i]...)
	}
	return cfgs
}

// open opens cfg and closes it when tb ends.
func open(tb testing.TB, cfg kv.Config) *kv.DB {
	tb.Helper()
	db, err := kv.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("open %s: %v", cfg, err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}
