package pebble_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// TestFaultAtEveryWrite injects a fault at each write-side call Pebble
// makes to its file system in turn (a write, a sync, a create, a rename,
// ...: errorfs's write operations), while a store commits transactions and
// compacts. Per mode:
//
//   - enospc: the k-th write operation and every later one fail with
//     ENOSPC (a disk that stays full);
//   - eio: only the k-th fails, with EIO (a transient fault).
//
// For each k: no panic and no process death; every failed commit matches
// kv.ErrNoSpace or kv.ErrIO; after the fault is lifted the store closes,
// reopens with every acknowledged transaction (Sync), none torn, and takes
// writes again. The loop runs in a child process (the test binary again),
// so that a process death is reported with the index that caused it and
// the loop goes on from the next one. Short: every 7th index; all of them
// with POLYKV_STRESS=1.
func TestFaultAtEveryWrite(t *testing.T) {
	if k := os.Getenv(errorfsChildEnv); k != "" {
		errorfsChild(t, k)
		return
	}
	step := 7
	if os.Getenv("POLYKV_STRESS") == "1" {
		step = 1
	}
	for _, mode := range []string{"enospc", "eio"} {
		t.Run(mode, func(t *testing.T) {
			// A clean run counts the write operations.
			total := runFaultCase(t, mode, -1).writeOps
			if total == 0 {
				t.Fatal("the workload made no write operation")
			}
			var ran, failed, deaths int
			for start := 0; start < total; {
				next, died := runErrorfsChild(t, mode, start, total, step)
				ran += (next - start + step - 1) / step
				if died {
					deaths++
					next += step // skip the index that ended the process
				}
				start = next
			}
			failed = deaths
			t.Logf("errorfs %s: %d write operations, %d injected (every %d), %d ended the process", mode, total, ran, step, failed)
		})
	}
}

const errorfsChildEnv = "POLYKV_ERRORFS_CHILD" // "mode start total step"

// runErrorfsChild runs indices start, start+step, ... below total in a
// child; it returns the index to go on from and whether the child died.
func runErrorfsChild(t *testing.T, mode string, start, total, step int) (next int, died bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultAtEveryWrite$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %d", errorfsChildEnv, mode, start, total, step))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	next = start
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if s, ok := strings.CutPrefix(line, "errorfs-done "); ok {
			k, _ := strconv.Atoi(s)
			next = k + step
		}
		if strings.Contains(line, "errorfs-problem") {
			t.Error(line)
		}
	}
	if err == nil {
		return total, false
	}
	out := stderr.String() + stdout.String()
	if i := strings.Index(out, "panic:"); i >= 0 {
		out = out[i:]
	} else if i := strings.Index(out, "fatal error"); i >= 0 {
		out = out[i:]
	}
	if len(out) > 2500 {
		out = out[:2500] + "..."
	}
	if strings.Contains(stdout.String(), "errorfs-hang") {
		t.Errorf("%s: with a fault at write operation %d the store hung for 30 s (a call never returned)", mode, next)
		return next, true
	}
	t.Errorf("%s: a fault at write operation %d ended the process (%v):\n%s", mode, next, err, out)
	return next, true
}

func errorfsChild(t *testing.T, arg string) {
	var mode string
	var start, total, step int
	if _, err := fmt.Sscan(arg, &mode, &start, &total, &step); err != nil {
		t.Fatalf("bad %s=%q: %v", errorfsChildEnv, arg, err)
	}
	for k := start; k < total; k += step {
		watchdog := time.AfterFunc(30*time.Second, func() {
			fmt.Printf("errorfs-hang %d\n", k)
			os.Exit(4)
		})
		r := runFaultCase(t, mode, k)
		watchdog.Stop()
		for _, p := range r.problems {
			fmt.Printf("errorfs-problem %s at write operation %d: %s\n", mode, k, p)
		}
		fmt.Printf("errorfs-done %d\n", k)
	}
}

// faultable reports whether the test injects faults into the file: the WAL
// and the tables. A failed write or sync of the MANIFEST (or of OPTIONS,
// CURRENT) is fatal to Pebble: when a background flush or compaction meets
// it, Pebble's Logger.Fatalf runs in Pebble's goroutine and the process
// ends (see pebble.FatalError), as with Pebble's own logger.
func faultable(path string) bool {
	return strings.HasSuffix(path, ".log") || strings.HasSuffix(path, ".sst") || strings.HasSuffix(path, ".blob")
}

type faultCase struct {
	writeOps int
	problems []string
}

// runFaultCase runs the workload once with the fault of mode at write
// operation k (none when k < 0) and checks the store after it.
func runFaultCase(t *testing.T, mode string, k int) faultCase {
	var res faultCase
	var armed atomic.Bool
	var count atomic.Int64
	inject := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite || !faultable(op.Path) {
			return nil
		}
		n := count.Add(1) - 1
		switch {
		case k < 0:
			return nil
		case mode == "enospc" && n >= int64(k):
			return &fs.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		case mode == "eio" && n == int64(k):
			return &fs.PathError{Op: "write", Path: op.Path, Err: syscall.EIO}
		}
		return nil
	})
	restore := pebble.SetWrapFS(func(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, inject) })
	defer restore()
	problem := func(format string, args ...any) {
		res.problems = append(res.problems, fmt.Sprintf(format, args...))
	}
	ctx := context.Background()
	cfg := kv.Config{Path: t.TempDir(), Durability: kv.Sync, MemoryBudget: kv.MinMemoryBudget}
	db, err := pebble.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	typed := func(what string, err error) {
		if err != nil && !errors.Is(err, kv.ErrNoSpace) && !errors.Is(err, kv.ErrIO) {
			problem("%s: untyped error: %v", what, err)
		}
	}
	last := -1
	wctx, cancel := context.WithCancel(ctx)
	err = conformance.TxnWorkload{}.Child(wctx, db, func(i int) {
		if last = i; i == 40 {
			cancel()
		}
	})
	cancel()
	typed("commit", err)
	typed("compact", db.Compact(ctx))
	typed("sync", db.Sync())
	armed.Store(false)
	res.writeOps = int(count.Load())
	_ = db.Close() // may repeat the fault
	restore()

	db, err = pebble.Open(ctx, cfg)
	if err != nil {
		problem("reopen after the fault: %v", err)
		return res
	}
	defer db.Close()
	r := conformance.TxnWorkload{}.Check(t, db, last)
	res.problems = append(res.problems, r.Problems...)
	if r.Committed < last+1 {
		problem("%d transactions acknowledged, %d present after reopening", last+1, r.Committed)
	}
	if err := db.Set(ctx, []byte("after"), nil); err != nil {
		problem("write after reopening: %v", err)
	}
	return res
}
