package etcdshared_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestScaleWorkers measures, it asserts nothing about speed: the shared
// traversal of a 1,365-folder tree (5,460 nodes) with 1 and with 4 worker
// processes on the 3-member cluster, claiming one folder at a time and
// eight (eight also without the counter of claims, the test's own hot
// key, which an engine would not have), and next to it a ceiling: etcd's own client writing the same keys
// and values (everything the traversal left under its prefix) in the
// largest transactions the cluster's limits allow, from one client; and
// what the cluster itself gains from concurrency on this machine: the
// same keys written by etcd's client in transactions of one claim's size,
// from 1 writer and from 4. Run it with POLYKV_ETCD_SCALE=1 (or
// POLYKV_STRESS=1) and -v; it logs one line per run.
func TestScaleWorkers(t *testing.T) {
	if os.Getenv("POLYKV_ETCD_SCALE") != "1" && os.Getenv("POLYKV_STRESS") != "1" && !conformance.InChild() {
		t.Skip("a measurement: set POLYKV_ETCD_SCALE=1 to run it")
	}
	for _, c := range []struct {
		batch     int
		noCounter bool
	}{{1, false}, {8, false}, {8, true}} {
		for _, workers := range []int{1, 4} {
			scaleRun(t, c.batch, workers, c.noCounter)
		}
	}
}

// scaleRun is one measurement of TestScaleWorkers: workers processes
// claiming batch folders at a time, with the counter of claims or
// without it (noCounter).
func scaleRun(t *testing.T, batch, workers int, noCounter bool) {
	tree := conformance.SharedTraversal{Fanout: 4, Depth: 5, Files: 3, ClaimBatch: batch, NoClaimCounter: noCounter}
	name := fmt.Sprintf("claim%d/workers%d", batch, workers)
	if noCounter {
		name = fmt.Sprintf("claim%d-nocounter/workers%d", batch, workers)
	}
	t.Run(name, func(t *testing.T) {
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
		t.Logf("scale: %d folders per claim (counter of claims: %v), %d workers: %d folders, %d keys in %v = %.0f keys/s; raw client, %d-op txns: %v = %.0f keys/s; ratio %.2f",
			batch, !noCounter, workers, res.Folders, keys, res.Elapsed.Round(time.Millisecond), trav,
			cluster.Settings().MaxTxnOps, raw.Round(time.Millisecond), float64(keys)/raw.Seconds(), trav/(float64(keys)/raw.Seconds()))
		if workers == 1 && !noCounter {
			rawWriters(t, prefix, max(1, keys*batch/res.Folders))
		}
	})
}

// rawCeiling reads every data key of the store at prefix with etcd's client and writes
// them again under another prefix in transactions as large as the limits
// allow; it returns how many keys and how long the writes took.
func rawCeiling(t *testing.T, prefix string) (int, time.Duration) {
	t.Helper()
	kvs := storedKeys(t, prefix)
	return len(kvs), rawWrite(t, kvs, prefix, prefix+"-raw", 1, int(cluster.Settings().MaxTxnOps))
}

// storedKeys returns every data key of the store at prefix, with its
// value, as etcd's client reads them.
func storedKeys(t *testing.T, prefix string) []*mvccpb.KeyValue {
	t.Helper()
	cli := rawClient(t, cluster.Endpoints())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	resp, err := cli.Get(ctx, prefix+"/k/", clientv3.WithPrefix()) // the data keys (backends/etcd/keys.go)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Kvs
}

func rawClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// rawWrite writes kvs (keys under prefix) again under dst with etcd's own
// client: writers clients, writer i through member i first, each taking
// every writers-th transaction of at most perTxn puts (and three quarters
// of the request limit); it returns how long the writes took.
func rawWrite(t *testing.T, kvs []*mvccpb.KeyValue, prefix, dst string, writers, perTxn int) time.Duration {
	t.Helper()
	maxBytes := int(cluster.Settings().MaxRequestBytes) * 3 / 4
	var txns [][]clientv3.Op
	var ops []clientv3.Op
	size := 0
	for _, kvp := range kvs {
		n := len(dst) + len(kvp.Key) + len(kvp.Value) + 16
		if len(ops) == perTxn || size+n > maxBytes {
			txns, ops, size = append(txns, ops), nil, 0
		}
		ops = append(ops, clientv3.OpPut(dst+string(kvp.Key[len(prefix):]), string(kvp.Value)))
		size += n
	}
	if len(ops) > 0 {
		txns = append(txns, ops)
	}
	clients := make([]*clientv3.Client, writers)
	for i := range clients {
		eps := cluster.Endpoints()
		clients[i] = rawClient(t, append(eps[i%len(eps):], eps[:i%len(eps)]...))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, cli := range clients {
		wg.Go(func() {
			for j := i; j < len(txns); j += writers {
				if _, err := cli.Txn(ctx).Then(txns[j]...).Commit(); err != nil {
					t.Errorf("raw txn of %d puts: %v", len(txns[j]), err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// rawWriters measures what the cluster itself gains from concurrent
// writers on this machine: the keys a traversal left at prefix written
// again by etcd's client in transactions of perTxn puts (about one
// completion batch's writes), from 1 writer and from 4, twice, one after
// the other.
func rawWriters(t *testing.T, prefix string, perTxn int) {
	kvs := storedKeys(t, prefix)
	for round := range 2 {
		var took [2]time.Duration
		for i, writers := range []int{1, 4} {
			took[i] = rawWrite(t, kvs, prefix, fmt.Sprintf("%s-raw%d-%d-%d", prefix, perTxn, round, writers), writers, perTxn)
		}
		t.Logf("scale: raw client, %d keys in txns of %d puts: 1 writer %v, 4 writers %v: 4 writers / 1 = %.2f",
			len(kvs), perTxn, took[0].Round(time.Millisecond), took[1].Round(time.Millisecond), took[0].Seconds()/took[1].Seconds())
	}
}
