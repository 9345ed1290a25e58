package etcdshared_test

import (
	"os"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// killConfig is the crash tests' configuration: the shared cluster in the
// parent; in a child, whatever configuration RunCrash hands it.
func killConfig() kv.Config {
	if conformance.InChild() {
		return kv.Config{Backend: "etcd"}
	}
	return cluster.Config("")
}

func killOptions(w conformance.CrashWorkload) conformance.CrashOptions {
	return conformance.CrashOptions{
		Workload: w,
		Modes:    []kv.Durability{kv.Sync}, // etcd has no NoSync
		Location: func(*testing.T) string { return newPrefix() },
	}
}

// A writer process killed with SIGKILL mid-commit, again and again:
// every acknowledged transaction is there, none is torn.
func TestKill(t *testing.T) {
	conformance.RunCrash(t, killConfig(), killOptions(conformance.TxnWorkload{}))
}

// The same with several writers in the process committing at once.
func TestKillConcurrent(t *testing.T) {
	conformance.RunCrash(t, killConfig(), killOptions(conformance.ConcurrentTxnWorkload{Writers: 4}))
}

// The same with nodestore's transactions: folders completed with their
// children, nodestore.Check clean after every kill. Check reads every
// folder, a round trip each (the default 5,461-folder tree took 199 s for 5
// cycles): the tree has 121 folders, and 1,365 for 40 cycles under
// POLYKV_STRESS=1.
func TestKillNodestore(t *testing.T) {
	opts := killOptions(conformance.NodestoreCrashWorkload{Fanout: 3, Depth: 4})
	if os.Getenv("POLYKV_STRESS") == "1" {
		opts = killOptions(conformance.NodestoreCrashWorkload{Fanout: 4, Depth: 5})
		opts.Cycles = 40
	}
	conformance.RunCrash(t, killConfig(), opts)
}
