package etcd_test

import (
	"testing"

	"github.com/polykv/polykv/conformance"
)

// TestConformance runs the whole kv suite and the nodestore and logstore
// sections on the shared 3-member embedded cluster, each subtest on a
// fresh prefix. Every commit is a replicated etcd Txn (milliseconds, not
// microseconds), so three workloads are sized down, declared here and
// logged by the rules they change:
//
//   - Bulk/LoadsMillionKeysInChunks loads 30,000 keys (15 chunks of this
//     cluster's 2,046-write limit) instead of a million;
//   - Concurrency/CounterIncrementsExact makes 8 × 50 increments instead of
//     8 × 500 (each is a serialized commit; 8 × 500 took over 30 s);
//   - Nodestore/Traversal (about 24,000 commits one after the other) runs
//     only under make stress: it took 205 s without -race.
func TestConformance(t *testing.T) {
	conformance.RunWith(t, factory, conformance.Options{
		BulkKeys:                     30_000,
		CounterRounds:                50,
		LongTraversalOnlyUnderStress: "about 24,000 serial replicated commits: 205 s on a 3-member loopback cluster without -race",
	})
}

// FuzzModel is the model test on fuzz input (conformance.Fuzz), each input
// on a fresh prefix of the shared cluster (each fuzz worker process starts
// a cluster of its own in TestMain).
func FuzzModel(f *testing.F) {
	conformance.Fuzz(f, factory)
}
