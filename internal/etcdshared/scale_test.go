package etcdshared_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestScaleWorkers measures, it asserts nothing about speed: the shared
// traversal of a 1,365-folder tree (5,460 nodes) with 1 and with 4 worker
// processes on the 3-member cluster, claiming one folder at a time and
// eight, and next to it a ceiling: etcd's own client writing the same keys
// and values (everything the traversal left under its prefix) in the
// largest transactions the cluster's limits allow, from one client. Run it
// with POLYKV_ETCD_SCALE=1 (or POLYKV_STRESS=1) and -v; it logs one line
// per run.
func TestScaleWorkers(t *testing.T) {
	if os.Getenv("POLYKV_ETCD_SCALE") != "1" && os.Getenv("POLYKV_STRESS") != "1" && !conformance.InChild() {
		t.Skip("a measurement: set POLYKV_ETCD_SCALE=1 to run it")
	}
	for _, batch := range []int{1, 8} {
		for _, workers := range []int{1, 4} {
			scaleRun(t, batch, workers)
		}
	}
}

// scaleRun is one measurement of TestScaleWorkers: workers processes
// claiming batch folders at a time.
func scaleRun(t *testing.T, batch, workers int) {
	tree := conformance.SharedTraversal{Fanout: 4, Depth: 5, Files: 3, ClaimBatch: batch}
	t.Run(fmt.Sprintf("claim%d/workers%d", batch, workers), func(t *testing.T) {
		var cfgs []kv.Config
		var prefix string
		if !conformance.InChild() {
			prefix = newPrefix()
			cfgs = memberConfigs(cluster, prefix)
		}
		res := conformance.RunSharedTraversal(t, conformance.SharedOptions{Configs: cfgs, Workers: workers, Tree: tree, HistoryTimeout: 30 * time.Second})
		if conformance.InChild() {
			return
		}
		keys, raw := rawCeiling(t, prefix)
		trav := float64(keys) / res.Elapsed.Seconds()
		t.Logf("scale: %d folders per claim, %d workers: %d folders, %d keys in %v = %.0f keys/s; raw client, %d-op txns: %v = %.0f keys/s; ratio %.2f",
			batch, workers, res.Folders, keys, res.Elapsed.Round(time.Millisecond), trav,
			cluster.Settings().MaxTxnOps, raw.Round(time.Millisecond), float64(keys)/raw.Seconds(), trav/(float64(keys)/raw.Seconds()))
	})
}

// rawCeiling reads every data key of the store at prefix with etcd's client and writes
// them again under another prefix in transactions as large as the limits
// allow; it returns how many keys and how long the writes took.
func rawCeiling(t *testing.T, prefix string) (int, time.Duration) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: cluster.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	resp, err := cli.Get(ctx, prefix+"/k/", clientv3.WithPrefix()) // the data keys (backends/etcd/keys.go)
	if err != nil {
		t.Fatal(err)
	}
	maxOps := int(cluster.Settings().MaxTxnOps)
	maxBytes := int(cluster.Settings().MaxRequestBytes) * 3 / 4
	dst := prefix + "-raw"
	start := time.Now()
	var ops []clientv3.Op
	size := 0
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatalf("raw txn of %d puts: %v", len(ops), err)
		}
		ops, size = ops[:0], 0
	}
	for _, kvp := range resp.Kvs {
		n := len(dst) + len(kvp.Key) + len(kvp.Value) + 16
		if len(ops) == maxOps || size+n > maxBytes {
			flush()
		}
		ops = append(ops, clientv3.OpPut(dst+string(kvp.Key[len(prefix):]), string(kvp.Value)))
		size += n
	}
	flush()
	return len(resp.Kvs), time.Since(start)
}
