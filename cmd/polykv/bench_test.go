package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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
