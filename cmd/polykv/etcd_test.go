package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/nodestore"
)

var etcdPrefixes atomic.Int64

// etcdDSN starts a 1-member embedded cluster for t and returns the DSN of
// a fresh store on it; the test is skipped when DSNs cannot name an etcd
// store (kv.ParseDSN does not read the endpoints back).
func etcdDSN(t *testing.T) (*etcdtest.Cluster, string) {
	t.Helper()
	c := etcdtest.Start(t, 1)
	cfg := c.Config(fmt.Sprintf("/polykv-cli/%d/s%d", os.Getpid(), etcdPrefixes.Add(1)))
	dsn := cfg.DSN()
	if back, err := kv.ParseDSN(dsn); err != nil || len(back.Endpoints) == 0 {
		t.Skipf("an etcd DSN does not round-trip through kv.ParseDSN yet (%q: %v): the commands cannot name an etcd store", dsn, err)
	}
	return c, dsn
}

// copy moves a local store into a cluster and back, each copy verified.
func TestCopyThroughEtcd(t *testing.T) {
	_, mid := etcdDSN(t)
	src := "badger://" + t.TempDir() + "/src"
	want := fill(t, src, 1500)
	code, out, stderr := polykv(t, nil, "copy", src, mid)
	if code != 0 || !strings.Contains(out, "copied 1500 keys") || !strings.Contains(out, "verified") {
		t.Fatalf("copy badger → etcd: exit %d: %s %s", code, out, stderr)
	}
	sameContents(t, contents(t, mid), want)
	back := "bbolt://" + t.TempDir() + "/back"
	code, out, stderr = polykv(t, nil, "copy", mid, back)
	if code != 0 || !strings.Contains(out, "copied 1500 keys") || !strings.Contains(out, "verified") {
		t.Fatalf("copy etcd → bbolt: exit %d: %s %s", code, out, stderr)
	}
	sameContents(t, contents(t, back), want)
	// Into the non-empty cluster store: refused.
	if code, _, stderr := polykv(t, nil, "copy", src, mid); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("copy into a non-empty etcd store: exit %d: %s", code, stderr)
	}
}

// inspect and dump read an etcd store as any other; the dump is the same
// bytes as a local copy's.
func TestInspectDumpEtcd(t *testing.T) {
	_, dsn := etcdDSN(t)
	fill(t, dsn, 700)
	code, out, stderr := polykv(t, nil, "inspect", dsn)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"backend:  etcd", "prefix:   /polykv-cli/", "marker:   backend etcd", "keys:     700", "src:00000000", "log:info"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "on disk:") {
		t.Errorf("inspect of a cluster store reports a size on disk:\n%s", out)
	}
	code, dumped, stderr := polykv(t, nil, "dump", dsn)
	if code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	local := "pebble://" + t.TempDir() + "/copy"
	if code, _, stderr := polykv(t, []byte(dumped), "load", local); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
	if _, again, _ := polykv(t, nil, "dump", local); again != dumped {
		t.Error("the dump of a local copy differs from the etcd store's dump")
	}
}

// load into a cluster store: more keys than one of its transactions
// takes, so the load must chunk by the store's declared limits.
func TestLoadIntoEtcd(t *testing.T) {
	_, dsn := etcdDSN(t)
	local := "pebble://" + t.TempDir() + "/src"
	fill(t, local, 5000)
	code, dumped, stderr := polykv(t, nil, "dump", local)
	if code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	if code, out, stderr := polykv(t, []byte(dumped), "load", dsn); code != 0 {
		t.Fatalf("load into etcd: exit %d: %s%s", code, out, stderr)
	}
	if _, again, _ := polykv(t, nil, "dump", dsn); again != dumped {
		t.Error("the dump of the etcd store differs from the dump it was loaded from")
	}
}

// check finds an etcd store consistent, then names the damage.
func TestCheckEtcd(t *testing.T) {
	_, dsn := etcdDSN(t)
	db := openTestStore(t, dsn)
	ns := nodestore.New(db)
	seedCheckTree(t, ns)
	code, out, stderr := polykv(t, nil, "check", "--counts", dsn)
	if code != 0 || !strings.Contains(out, "src: 4 nodes") || !strings.Contains(out, "ok:") {
		t.Fatalf("check of a consistent etcd store: exit %d\n%s%s", code, out, stderr)
	}
	key, err := nodestore.KeySrc(1, nodestore.TraversalStatusPending, nodestore.CopyStatusPending, "/b")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, stderr = polykv(t, nil, "check", dsn)
	if code != 1 || !strings.Contains(out, "PROBLEM:") {
		t.Fatalf("check of a damaged etcd store: exit %d\n%s%s", code, out, stderr)
	}
	// The repairs on the shared store: the counters are corrected and
	// their stripes folded; the index entry of the lost node stays a
	// problem (a counter repair does not invent nodes).
	code, out, stderr = polykv(t, nil, "check", "--repair-counts", "--fold", "--counts", dsn)
	if code != 1 || !strings.Contains(out, "repaired:") || !strings.Contains(out, "folded: the stripes of") ||
		!strings.Contains(out, "count src level 1 pending/pending: 2") || strings.Contains(out, "stored") {
		t.Fatalf("check --repair-counts --fold of a damaged etcd store: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("after the repairs:\n%s", out)
}

// bench runs traverse-gen and logs on an embedded one-member cluster, on an
// embedded three-member one and on an existing cluster (--etcd-endpoints),
// side by side with a local backend, with the ceiling; every run verifies
// its own result. etcd has no NoSync, so the table is the Sync one.
func TestBenchEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd clusters")
	}
	code, out, stderr := polykv(t, nil, "bench", "--backends", "memory,etcd,etcd-3", "--workload", "traverse-gen,logs",
		"--size", "1200", "--reps", "1", "--ceiling", "--in-process", "--out", "")
	if code != 0 {
		t.Fatalf("bench on embedded clusters: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "measuring Sync") || !strings.Contains(out, "== durability: sync ==") {
		t.Errorf("bench with etcd did not measure Sync:\n%s\n%s", out, stderr)
	}
	for _, want := range []string{"traverse-gen/etcd: ceiling_node_per_s=", "traverse-gen/etcd-3: ceiling_node_per_s=", "logs          etcd-3"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}

	c := etcdtest.Start(t, 1)
	code, out, stderr = polykv(t, nil, "bench", "--backends", "etcd", "--etcd-endpoints", strings.Join(c.Endpoints(), ","),
		"--workload", "traverse-gen", "--size", "800", "--reps", "1", "--in-process", "--out", "")
	if code != 0 || !strings.Contains(out, "traverse-gen  etcd") {
		t.Fatalf("bench on an existing cluster: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, _, stderr := polykv(t, nil, "bench", "--backends", "badger", "--etcd-endpoints", "127.0.0.1:1"); code != 2 || !strings.Contains(stderr, "--etcd-endpoints") {
		t.Errorf("--etcd-endpoints without backend etcd: exit %d: %s", code, stderr)
	}
	if code, _, stderr := polykv(t, nil, "bench", "--backends", "etcd,etcd-3", "--etcd-endpoints", "127.0.0.1:1"); code != 2 || !strings.Contains(stderr, "etcd-3 starts its own cluster") {
		t.Errorf("--etcd-endpoints with backend etcd-3 only: exit %d: %s", code, stderr)
	}
}

// TestEtcdPasswordNeverPrinted runs the commands that print or name their
// DSN on an etcd store whose DSN carries a password: no output, on stdout
// or stderr, success or failure, holds it. (inspect, stats, serve,
// recover and a refused load printed the DSN as given.)
func TestEtcdPasswordNeverPrinted(t *testing.T) {
	const password = "s3cr3t-never-printed"
	c, _ := etcdDSN(t)
	cfg := c.Config(fmt.Sprintf("/polykv-cli/%d/secret%d", os.Getpid(), etcdPrefixes.Add(1)))
	cfg.Username, cfg.Password = "alice", password // auth is off on the test cluster: any is accepted
	dsn := cfg.DSN()
	if !strings.Contains(dsn, password) {
		t.Fatalf("the DSN does not carry the password: %s", kv.RedactDSN(dsn))
	}
	fill(t, dsn, 20)
	_, dump, _ := polykv(t, nil, "dump", dsn)
	local := "pebble://" + t.TempDir() + "/local"
	fill(t, local, 5)
	for _, args := range [][]string{
		{"inspect", dsn},
		{"inspect", "--json", dsn},
		{"stats", dsn},
		{"stats", "--json", dsn},
		{"recover", dsn},
		{"load", dsn},           // not empty: refused, naming the store
		{"copy", local, dsn},    // not empty: refused
		{"get", dsn, "missing"}, // not found
		{"inspect", dsn + "&opt.nosuch=1"},
	} {
		code, out, errOut := polykv(t, []byte(dump), args...)
		if strings.Contains(out+errOut, password) {
			t.Errorf("polykv %s (exit %d) printed the password:\n%s%s", args[0], code,
				strings.ReplaceAll(out, password, "<PASSWORD>"), strings.ReplaceAll(errOut, password, "<PASSWORD>"))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, stdio{in: strings.NewReader(""), out: &out, err: &errOut}, []string{"serve", "--addr", "127.0.0.1:0", dsn})
	}()
	waitURL(t, &out, exited, &errOut)
	cancel()
	<-exited
	if strings.Contains(out.String()+errOut.String(), password) {
		t.Errorf("polykv serve printed the password:\n%s", strings.ReplaceAll(out.String(), password, "<PASSWORD>"))
	}
}
