package etcd_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

// cluster is the 3-member cluster the package's tests share; each test
// uses fresh key prefixes on it (newPrefix).
var cluster *etcdtest.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "polykv-etcd-test-")
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
	return fmt.Sprintf("/polykv-test/%d/s%d", os.Getpid(), prefixes.Add(1))
}

// factory opens, for each subtest, a store on a fresh prefix of the shared
// cluster.
func factory(t *testing.T) func() (kv.Store, error) {
	cfg := cluster.Config(newPrefix())
	return func() (kv.Store, error) {
		db, err := kv.Open(t.Context(), cfg)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
}

var _ conformance.Factory = factory

// openStore opens a store on a fresh prefix and closes it when tb ends.
func openStore(tb testing.TB, cfg kv.Config) *kv.DB {
	tb.Helper()
	db, err := kv.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("open %s: %v", cfg, err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}
