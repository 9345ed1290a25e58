package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/internal/etcdtest"
)

// TestBenchInterruptRemovesStores: stopping polykv bench (SIGTERM, or
// Ctrl-C) must let the running child remove its store directory. The
// parent used to SIGKILL the child at once, leaving a store of any size
// in the work directory (by default the system's temp dir).
func TestBenchInterruptRemovesStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := polykvBinary(t)
	work := t.TempDir()
	cmd := exec.Command(bin, "bench", "--backends", "badger", "--reps", "1", "--workload", "fill-seq-b100",
		"--size", "5000000", "--workdir", work, "--out", "")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait for the child's store directory, then stop the parent.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if entries, _ := os.ReadDir(work); len(entries) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no store directory appeared in %s\n%s", work, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("interrupted bench exited 0\n%s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("bench did not stop within a minute of SIGTERM\n%s", stderr.String())
	}
	if entries, _ := os.ReadDir(work); len(entries) > 0 {
		var names []string
		filepath.WalkDir(work, func(p string, _ os.DirEntry, _ error) error { names = append(names, p); return nil })
		t.Errorf("interrupted bench left %d file(s) behind, %v...\n%s", len(names), names[:min(len(names), 5)], stderr.String())
	}
}

// TestBenchEtcdSpace: a run on the embedded cluster reports the members'
// database (its largest size, the part in use, the quota) and applies no
// memory limit derived from the store's budget: the members' heap is in
// the run's process. A run on a local backend still applies it.
func TestBenchEtcdSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a cluster")
	}
	bin := polykvBinary(t)
	cmd := exec.Command(bin, "bench", "--quick", "--backends", "etcd,bbolt", "--workload", "traverse-gen",
		"--format", "json", "--out", "", "--workdir", t.TempDir())
	for _, kv := range os.Environ() { // GOMEMLIMIT unset: the child chooses
		if !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rep struct {
		Runs []struct {
			Backend string             `json:"backend"`
			Extra   map[string]float64 `json:"extra"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	seen := map[string]bool{}
	for _, r := range rep.Runs {
		seen[r.Backend] = true
		limit, limited := r.Extra["memory_limit_MiB"]
		switch r.Backend {
		case "etcd":
			if limited {
				t.Errorf("etcd run applied a memory limit of %v MiB to the process that runs the members", limit)
			}
			if r.Extra["db_max_MiB"] <= 0 && r.Extra["db_in_use_MiB"] <= 0 || r.Extra["quota_MiB"] != float64(etcdtest.DefaultSettings().QuotaBackendBytes>>20) {
				t.Errorf("etcd run's space figures: %v; want db_max_MiB, db_in_use_MiB and the default quota_MiB", r.Extra)
			}
			if r.Extra["db_in_use_MiB"] > r.Extra["db_max_MiB"] {
				t.Errorf("etcd: %v MiB in use in a file of at most %v MiB", r.Extra["db_in_use_MiB"], r.Extra["db_max_MiB"])
			}
		case "bbolt":
			if !limited {
				t.Errorf("bbolt run applied no memory limit: %v", r.Extra)
			}
		}
	}
	if !seen["etcd"] || !seen["bbolt"] {
		t.Errorf("results for %v; want etcd and bbolt", seen)
	}
}

// TestBenchChecksFlagsBeforeRunning: an --out that cannot be written, a
// --workdir that is not a directory and a --memory-budget below kv's
// smallest are usage errors naming the flag, found before the first run:
// they used to fail only once the whole benchmark had run (or fail every
// run).
func TestBenchChecksFlagsBeforeRunning(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--out", filepath.Join(file, "results")}, "--out " + filepath.Join(file, "results")},
		{[]string{"--out", file}, "--out " + file},
		{[]string{"--workdir", file}, "--workdir " + file + ": not a directory"},
		{[]string{"--workdir", filepath.Join(dir, "nosuch")}, "--workdir " + filepath.Join(dir, "nosuch")},
		{[]string{"--memory-budget", "1"}, "--memory-budget 1: want 0 (kv's default) or at least 16MiB"},
		{[]string{"--memory-budget", "15MiB"}, "--memory-budget 15MiB"},
		{[]string{"--memory-budget", "100TiB"}, "more than this machine's memory"}, // kv knows the machine's memory on Linux only
		{[]string{"--backends", "etcd", "--etcd-endpoints", "u:S3CRET@h:1"}, `--etcd-endpoints: kv: invalid config: endpoints[0] "…@h:1"`},
	} {
		if runtime.GOOS != "linux" && tc.flags[1] == "100TiB" {
			continue
		}
		args := []string{"bench", "--in-process", "--backends", "memory", "--workload", "fill-seq-b100", "--size", "200", "--reps", "1",
			"--out", "", "--workdir", t.TempDir()}
		code, stdout, stderr := polykv(t, nil, append(args, tc.flags...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "workload(s)") || strings.Contains(stderr, "S3CRET") {
			t.Errorf("bench %v: exit %d, want 2 before running, saying %q:\n%s%s", tc.flags, code, tc.want, stdout, stderr)
		}
	}
	// A new --out directory is fine, and holds only the reports.
	out := filepath.Join(dir, "new", "results")
	code, _, stderr := polykv(t, nil, "bench", "--in-process", "--backends", "memory", "--workload", "fill-seq-b100", "--size", "200",
		"--reps", "1", "--format", "csv", "--out", out, "--workdir", t.TempDir(), "--memory-budget", "16MiB")
	if code != 0 {
		t.Fatalf("bench --out %s: exit %d: %s", out, code, stderr)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "report.") && !strings.HasSuffix(e.Name(), ".png") {
			t.Errorf("bench --out left %s there", e.Name())
		}
	}
}
