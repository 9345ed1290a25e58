package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/bench"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/opview"
)

// polykv runs the command line in-process and returns its exit code and
// outputs.
func polykv(t testing.TB, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), stdio{in: bytes.NewReader(stdin), out: &out, err: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestUsageAndExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		{nil, 2, "Commands:"},
		{[]string{"--help"}, 0, "inspect"},
		{[]string{"help", "copy"}, 0, "Usage: polykv copy"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"bench", "--help"}, 0, "traverse-gen"},
		{[]string{"bench", "--backends", "nosuch", "--quick"}, 2, `backend "nosuch" is not in this build`},
		{[]string{"bench", "--workload", "nosuch"}, 2, `unknown workload "nosuch"`},
		{[]string{"bench", "--format", "xml"}, 2, "--format"},
		{[]string{"bench", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"dump"}, 2, "want 1 argument"},
		{[]string{"copy", "memory:"}, 2, "want 2 argument"},
		{[]string{"inspect", "nosuch:///x"}, 2, "unknown backend"},
		{[]string{"dump", "nosuch:///x"}, 2, "unknown backend"},
		{[]string{"check", "nosuch:///x"}, 2, "unknown backend"},
		{[]string{"recover", "nosuch:///x"}, 2, "unknown backend"},
		{[]string{"copy", "nosuch:///x", "memory:"}, 2, "unknown backend"},
		{[]string{"copy", "memory:", "nosuch:///x"}, 2, "unknown backend"},
		{[]string{"load", "nosuch:///x"}, 2, "unknown backend"},
		{[]string{"inspect", "pebble:///x?opt.nosuch=1"}, 2, "nosuch"},
		{[]string{"inspect", "badger://host/x"}, 2, "no host"},
	} {
		code, out, errOut := polykv(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("polykv %v: exit %d, want %d; output lacks %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}

func TestBenchHelpExplainsEveryWorkload(t *testing.T) {
	_, out, _ := polykv(t, nil, "bench", "--help")
	for _, w := range bench.Workloads() {
		if !strings.Contains(out, w.Name+" ") || !strings.Contains(out, w.Doc[:20]) {
			t.Errorf("bench --help does not explain %s", w.Name)
		}
	}
}

func TestBenchInProcess(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := polykv(t, nil, "bench", "--quick", "--in-process", "--backends", "memory,bbolt",
		"--workload", "fill-seq-b100,logs", "--sync", "--nosync", "--out", out, "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"durability: sync", "durability: nosync", "machine: ", "fill-seq-b100", "logs"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"report.txt", "report.json", "report.csv", "report.benchstat", "throughput-sync.png", "latency-nosync.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stderr, filepath.Join(out, "report.json")) {
		t.Errorf("stderr does not say where the results are:\n%s", stderr)
	}
}

func TestBenchFormats(t *testing.T) {
	for _, f := range []string{"benchstat", "json", "csv"} {
		code, stdout, stderr := polykv(t, nil, "bench", "--quick", "--in-process", "--backends", "memory",
			"--workload", "read-uniform", "--format", f, "--out", "", "--workdir", t.TempDir())
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, stderr)
		}
		switch f {
		case "benchstat":
			if !strings.Contains(stdout, "BenchmarkReadUniform/backend=memory/durability=nosync-") {
				t.Errorf("benchstat output:\n%s", stdout)
			}
		case "json":
			if !json.Valid([]byte(stdout)) {
				t.Errorf("invalid JSON:\n%s", stdout)
			}
		case "csv":
			if !strings.HasPrefix(stdout, "durability,workload,backend,") {
				t.Errorf("CSV output:\n%s", stdout)
			}
		}
	}
}

// fill writes a few keys of every shape into the store dsn names.
func fill(t testing.TB, dsn string, n int) map[string]string {
	t.Helper()
	db := openTestStore(t, dsn)
	defer db.Close()
	want := map[string]string{}
	w := kv.NewBulkWriter(t.Context(), db)
	for i := range n {
		k := fmt.Sprintf("src:%08d:pending:pending:%032x", i%3, i)
		if i%5 == 0 {
			k = fmt.Sprintf("log:info:%d", i)
		}
		if i%7 == 0 {
			k = string([]byte{0, 0xff, byte(i), byte(i >> 8), ':'})
		}
		v := strings.Repeat("v", i%50)
		want[k] = v
		if err := w.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

// contents reads every key and value of the store dsn names.
func contents(t testing.TB, dsn string) map[string]string {
	t.Helper()
	db := openTestStore(t, dsn)
	defer db.Close()
	got := map[string]string{}
	err := db.Iterate(t.Context(), kv.IterOptions{}, func(k, v []byte) error {
		got[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameContents(t testing.TB, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %q = %q, want %q", k, got[k], v)
		}
	}
}

func TestDumpLoadAcrossBackends(t *testing.T) {
	src := "bbolt://" + t.TempDir() + "/src"
	want := fill(t, src, 3000)
	code, dumped, stderr := polykv(t, nil, "dump", src)
	if code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	for _, b := range []string{"badger", "pebble", "memory"} {
		dst := b + "://" + t.TempDir() + "/dst"
		if b == "memory" {
			continue // nothing survives the command: covered by load's own test below
		}
		if code, _, stderr := polykv(t, []byte(dumped), "load", dst); code != 0 {
			t.Fatalf("load into %s: exit %d: %s", b, code, stderr)
		}
		sameContents(t, contents(t, dst), want)
		// The store is no longer empty: a second load is refused.
		if code, _, stderr := polykv(t, []byte(dumped), "load", dst); code != 1 || !strings.Contains(stderr, "not empty") {
			t.Errorf("second load: exit %d: %s", code, stderr)
		}
		// A dump of the copy is byte-identical: the format is backend independent.
		if _, again, _ := polykv(t, nil, "dump", dst); again != dumped {
			t.Errorf("dump of the %s copy differs from the bbolt dump", b)
		}
	}
}

func TestLoadRejectsDamagedDumps(t *testing.T) {
	src := "pebble://" + t.TempDir() + "/src"
	fill(t, src, 500)
	_, dumped, _ := polykv(t, nil, "dump", src)
	flip := []byte(dumped)
	flip[len(flip)/2] ^= 0x40
	for name, in := range map[string][]byte{
		"truncated":   []byte(dumped[:len(dumped)/2]),
		"no trailer":  []byte(dumped[:len(dumped)-6]),
		"bit flipped": flip,
		"extra bytes": append([]byte(dumped), 'x'),
		"not a dump":  []byte("hello"),
		"empty":       nil,
	} {
		dst := "badger://" + t.TempDir() + "/dst"
		code, _, stderr := polykv(t, in, "load", dst)
		if code != 1 || !strings.Contains(stderr, "not a valid polykv dump") {
			t.Errorf("%s: exit %d: %s", name, code, stderr)
		}
	}
}

func TestCopyVerifies(t *testing.T) {
	src := "badger://" + t.TempDir() + "/src"
	want := fill(t, src, 2000)
	dst := "bbolt://" + t.TempDir() + "/dst"
	code, out, stderr := polykv(t, nil, "copy", src, dst)
	if code != 0 || !strings.Contains(out, "copied 2000 keys") || !strings.Contains(out, "verified") {
		t.Fatalf("copy: exit %d: %s %s", code, out, stderr)
	}
	sameContents(t, contents(t, dst), want)
	// Into a non-empty store: refused, nothing changed.
	code, _, stderr = polykv(t, nil, "copy", src, dst)
	if code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("copy into a non-empty store: exit %d: %s", code, stderr)
	}
	// The source is opened read-only: a missing source is an error and creates nothing.
	missing := filepath.Join(t.TempDir(), "missing")
	if code, _, _ := polykv(t, nil, "copy", "pebble://"+missing, "memory:"); code != 1 {
		t.Errorf("copy from a missing store: exit %d", code)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("copy created the missing source directory")
	}
}

func TestInspect(t *testing.T) {
	dsn := "pebble://" + t.TempDir() + "/s"
	fill(t, dsn, 700)
	code, out, stderr := polykv(t, nil, "inspect", dsn)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"backend:  pebble", "marker:   backend pebble, format 1", "keys:     700", "src:00000000", "log:info", "(other)"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = polykv(t, nil, "inspect", "--json", "--first", "1", dsn)
	var in inspection
	if code != 0 || json.Unmarshal([]byte(out), &in) != nil || in.Keys != 700 || len(in.Families[0].First) != 1 {
		t.Errorf("inspect --json: exit %d, %+v", code, in)
	}
	var total int64
	for _, f := range in.Families {
		total += f.Keys
	}
	if total != 700 {
		t.Errorf("families hold %d keys, want 700", total)
	}
}

func TestFamilyOf(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"src:00000003:pending:pending:abc", "src:00000003"},
		{"src:children:aa:bb", "src:children"},
		{"dst:00000000:successful::abc", "dst:00000000"},
		{"log:info:0190-abc", "log:info"},
		{"meta:x", "meta"},
		{"nocolon", "(other)"},
		{":leading", "(other)"},
		{"src", "(other)"},
		{"src:", "(other)"},
		{"src:zzz", "(other)"},
	} {
		if got, _ := opview.KeyFamily([]byte(tc.key)); got != tc.want {
			t.Errorf("KeyFamily(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

// TestEndToEnd builds the binary and runs the default comparison's
// machinery for real: child processes, files, exit codes.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := polykvBinary(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "bench", "--quick", "--backends", "badger,memory", "--workload", "fill-rand-b100,logs",
		"--out", out, "--workdir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("polykv bench: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	f, err := os.Open(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := bench.ReadReport(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 4 {
		t.Fatalf("%d runs, want 4", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if !r.Isolated || r.PeakRSS <= 0 || r.Err != "" || r.Verified == "" {
			t.Errorf("run %s/%s: isolated=%v peak RSS %d err %q verified %q", r.Workload, r.Backend, r.Isolated, r.PeakRSS, r.Err, r.Verified)
		}
	}
	// A failing command exits non-zero.
	fail := exec.Command(bin, "inspect", "badger://"+filepath.Join(t.TempDir(), "nothing-here"))
	if err := fail.Run(); err == nil {
		t.Error("inspect of a missing store exited 0")
	}
}

// TestHelpOfHelp: asking for help about help prints the usage; it used to
// recurse until the stack overflowed (a fatal error, not even a panic).
func TestHelpOfHelp(t *testing.T) {
	for _, args := range [][]string{{"--help", "--help"}, {"help", "help"}, {"-h", "-h"}, {"help", "--help"}} {
		code, out, errOut := polykv(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Commands:") {
			t.Errorf("polykv %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// TestLoadFailureSaysWhatWasWritten: a damaged dump is detected only at its
// end (count and CRC are in the trailer), after the chunks before it are
// written. The error must say that the store now holds a part of the dump,
// which may include keys from the damaged part, instead of only "not a
// valid dump", which reads as if nothing had happened.
func TestLoadFailureSaysWhatWasWritten(t *testing.T) {
	src := "memory:"
	cfg, _ := kv.ParseDSN(src)
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := kv.NewBulkWriter(t.Context(), db)
	for i := range 3000 {
		if err := w.Set(fmt.Appendf(nil, "k%06d", i), bytes.Repeat([]byte{'v'}, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	if _, err := kv.Dump(t.Context(), db, &dump); err != nil {
		t.Fatal(err)
	}
	db.Close()
	truncated := dump.Bytes()[:dump.Len()-100]
	for _, merge := range []bool{false, true} {
		dst := "bbolt://" + t.TempDir() + "/dst"
		// An empty store made earlier is loaded in place (a new one is
		// staged: TestLoadIntoNewStoreIsAllOrNothing).
		dcfg, _ := kv.ParseDSN(dst)
		ddb, err := kv.Open(t.Context(), dcfg)
		if err != nil {
			t.Fatal(err)
		}
		ddb.Close()
		args := []string{"load", dst}
		if merge {
			args = []string{"load", "--merge", dst}
		}
		code, _, stderr := polykv(t, truncated, args...)
		n := len(contents(t, dst))
		if n == 0 {
			t.Fatal("nothing was written: the test needs a dump larger than a chunk")
		}
		if code != 1 || !strings.Contains(stderr, "not a valid polykv dump") ||
			!strings.Contains(stderr, "incomplete") || !strings.Contains(stderr, fmt.Sprintf("%d keys", n)) {
			t.Errorf("load --merge=%v of a truncated dump left %d keys; exit %d, stderr does not say so:\n%s", merge, n, code, stderr)
		}
	}
}

// TestBenchRejectsBadNumbers: a negative size, producer count or page, a
// page above maxBenchPage, or fewer than one repetition, is a usage error.
// They used to run silently with the defaults while the report's header
// printed the bad value (size=-5).
func TestBenchRejectsBadNumbers(t *testing.T) {
	for _, flag := range []string{"--size=-5", "--reps=0", "--reps=-1", "--producers=-3", "--page=-1", "--page=100001"} {
		code, out, errOut := polykv(t, nil, "bench", "--in-process", "--backends", "memory", "--workload", "fill-seq-b100",
			"--out", "", "--workdir", t.TempDir(), flag)
		name := strings.TrimLeft(strings.Split(flag, "=")[0], "-")
		if code != 2 || !strings.Contains(errOut, name) {
			t.Errorf("bench %s: exit %d, want 2 naming --%s:\n%s%s", flag, code, name, out, errOut)
		}
	}
}

// TestBenchBackendList: a raw target that does not exist is a usage
// error; a backend named twice runs once.
func TestBenchBackendList(t *testing.T) {
	code, _, errOut := polykv(t, nil, "bench", "--in-process", "--backends", "raw-memory", "--workload", "fill-seq-b100", "--out", "")
	if code != 2 || !strings.Contains(errOut, "raw-memory") {
		t.Errorf("--backends raw-memory: exit %d, want 2 naming it: %s", code, errOut)
	}
	code, out, errOut := polykv(t, nil, "bench", "--in-process", "--backends", "memory,memory", "--workload", "fill-seq-b100",
		"--size", "200", "--reps", "1", "--out", "", "--workdir", t.TempDir(), "--format", "csv")
	if code != 0 {
		t.Fatalf("--backends memory,memory: exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "fill-seq-b100,memory"); n != 1 {
		t.Errorf("--backends memory,memory: %d result rows, want 1:\n%s", n, out)
	}
}

// TestLoadIntoNewStoreIsAllOrNothing: a load into a new store that fails
// halfway (a truncated dump, detected at its end) leaves no store under the
// name, not a store that opens like a complete one; a load that succeeds
// leaves the store there and no temporary directory beside it. The same
// for copy.
func TestLoadIntoNewStoreIsAllOrNothing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	sdb, err := kv.Open(t.Context(), kv.Config{Backend: "pebble", Path: src})
	if err != nil {
		t.Fatal(err)
	}
	w := kv.NewBulkWriter(t.Context(), sdb)
	for i := range 3000 {
		if err := w.Set(fmt.Appendf(nil, "k%06d", i), bytes.Repeat([]byte{'v'}, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	if _, err := kv.Dump(t.Context(), sdb, &dump); err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	for _, b := range []string{"badger", "bbolt"} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "new")
		code, _, stderr := polykv(t, dump.Bytes()[:dump.Len()-100], "load", b+"://"+dir)
		if code != 1 || !strings.Contains(stderr, "was not created") {
			t.Errorf("%s: load of a truncated dump: exit %d: %s", b, code, stderr)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("%s: a failed load into a new store left %v", b, entries)
		}
		code, _, stderr = polykv(t, dump.Bytes(), "load", b+"://"+dir)
		if code != 0 {
			t.Fatalf("%s: load: exit %d: %s", b, code, stderr)
		}
		if n := len(contents(t, b+"://"+dir)); n != 3000 {
			t.Errorf("%s: loaded store has %d keys, want 3000", b, n)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Errorf("%s: a load into a new store left %v beside it", b, entries)
		}
		copied := filepath.Join(parent, "copy")
		if code, _, stderr := polykv(t, nil, "copy", "pebble://"+src, b+"://"+copied); code != 0 {
			t.Fatalf("%s: copy: exit %d: %s", b, code, stderr)
		}
		if n := len(contents(t, b+"://"+copied)); n != 3000 {
			t.Errorf("%s: copied store has %d keys, want 3000", b, n)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 2 {
			t.Errorf("%s: a copy into a new store left %v beside it", b, entries)
		}
	}
}

// TestLoadOfNoDumpCreatesNothing: input that does not even start like a
// dump (a forgotten '<', the wrong file) is refused before the store is
// opened, so no store directory is left behind.
func TestLoadOfNoDumpCreatesNothing(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("hello, not a dump at all")} {
		dir := filepath.Join(t.TempDir(), "new")
		code, _, stderr := polykv(t, in, "load", "pebble://"+dir)
		if code != 1 || !strings.Contains(stderr, "not a valid polykv dump") {
			t.Errorf("load of %q: exit %d: %s", in, code, stderr)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("load of %q left a store behind in %s", in, dir)
		}
	}
}

// TestSecondInterruptStops: the first Ctrl-C cancels the command, which
// stops at its next step; a command blocked outside the store (load
// waiting for stdin from a stalled pipe) must still stop at the second.
// Both signals used to be swallowed, leaving only SIGKILL.
func TestSecondInterruptStops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := polykvBinary(t)
	r, w, err := os.Pipe() // never written, never closed until the end
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd := exec.Command(bin, "load", "bbolt://"+filepath.Join(t.TempDir(), "s"))
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond) // let it install its signal handler
	for range 2 {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("interrupted load exited 0")
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("load blocked on stdin did not stop after two interrupts")
	}
}

var built struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// polykvBinary builds the command once per test binary run and returns its
// path; TestMain removes it.
func polykvBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "polykv-test-bin-*"); built.err != nil {
			return
		}
		built.out, built.err = exec.Command("go", "build", "-o", filepath.Join(built.dir, "polykv"), ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, "polykv")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// TestRecoverAfterKill: a badger store whose process was killed (here a
// load, killed once it has opened the store) cannot be opened read-only;
// inspect says to run recover, recover opens it read-write once, and then
// inspect works. recover refuses a path that is not a store.
func TestRecoverAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := polykvBinary(t)
	dir := filepath.Join(t.TempDir(), "s")
	dsn := "badger://" + dir
	// The store exists (empty) before the load that is killed: load then
	// writes in place rather than into a staged directory beside it.
	empty, err := kv.Open(t.Context(), kv.Config{Backend: "badger", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Close(); err != nil {
		t.Fatal(err)
	}
	if mem, _ := filepath.Glob(filepath.Join(dir, "*.mem")); len(mem) > 0 {
		t.Fatalf("a closed badger store keeps %v: the wait below cannot tell when load opened it", mem)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd := exec.Command(bin, "load", dsn)
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := w.WriteString(kv.DumpMagic); err != nil {
		t.Fatal(err)
	}
	// Badger creates its memtable log when it opens: wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mem, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
		if len(mem) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("load never opened the store")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	code, _, stderr := polykv(t, nil, "inspect", dsn)
	if code != 1 || !strings.Contains(stderr, "needs recovery") || !strings.Contains(stderr, "polykv recover "+dsn) {
		t.Fatalf("inspect of a killed badger store: exit %d, %q; want 1 and advice to run recover", code, stderr)
	}
	if code, _, stderr := polykv(t, nil, "recover", dsn); code != 0 || !strings.Contains(stderr, "recovered") {
		t.Fatalf("recover: exit %d, %q", code, stderr)
	}
	if code, _, stderr := polykv(t, nil, "inspect", dsn); code != 0 {
		t.Fatalf("inspect after recover: exit %d, %q", code, stderr)
	}
	missing := filepath.Join(t.TempDir(), "none")
	if code, _, _ := polykv(t, nil, "recover", "badger://"+missing); code != 1 {
		t.Fatalf("recover of a missing store: exit %d, want 1", code)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("recover created %s", missing)
	}
}

// fullWriter fails every write, as stdout on a full disk does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestLostOutputFails: a command whose report cannot be written exits 1,
// whether or not the command checks its own writes (check, verify,
// compact and copy exited 0 with their report lost).
func TestLostOutputFails(t *testing.T) {
	src := "bbolt://" + t.TempDir() + "/src"
	put(t, src, "k", "v") // no nodestore keys: check finds nothing wrong
	for _, args := range [][]string{
		{"check", src},
		{"verify", src},
		{"compact", src},
		{"copy", src, "pebble://" + t.TempDir() + "/dst"},
		{"inspect", src},
		{"scan", src},
	} {
		var errOut bytes.Buffer
		code := run(context.Background(), stdio{in: bytes.NewReader(nil), out: fullWriter{}, err: &errOut}, args)
		if code != 1 || !strings.Contains(errOut.String(), "write the output") && !strings.Contains(errOut.String(), "no space") {
			t.Errorf("%s with stdout failing: exit %d, stderr %q; want exit 1 naming the failed write", args[0], code, errOut.String())
		}
	}
}

// openTestStore opens the store dsn names (created if need be); the
// caller closes it.
func openTestStore(t testing.TB, dsn string) *kv.DB {
	t.Helper()
	cfg, err := kv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
