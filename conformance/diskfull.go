package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// The disk-full test.
//
// RunDiskFull fills a real file system and checks what a backend does when
// a write meets it: a small tmpfs is mounted for the store (Linux, root
// only: the test skips elsewhere, saying why), and each cycle
//
//  1. fills it with a ballast file up to DiskFullOptions.Room bytes of
//     free space;
//  2. starts a child process (the test binary re-executing itself, as
//     RunCrash does) that opens the store and commits TxnWorkload's
//     transactions, acknowledging each, until a commit fails; the child
//     reports how the error matches kv's sentinels, checks that a read
//     still works, closes the store and exits;
//  3. fills what space is left, to the last block, and opens the store
//     again in a second child, as a process restarted on a disk that stays
//     full would: the open must return within the child's timeout (an
//     engine whose open retries a flush forever hangs it), and an error
//     must match kv.ErrNoSpace or kv.ErrIO;
//  4. removes the ballast and reopens the store in the parent: every
//     acknowledged transaction is there (under NoSync where the backend
//     promises NoSyncKeepsAckedOnKill), none is half applied, and the store
//     takes writes again.
//
// It fails when the child dies (a SIGBUS from a memory-mapped write that
// the file system cannot back is how an engine ends a process on a full
// disk), when the child's first failed commit does not match
// kv.ErrNoSpace, when the store does not reopen, and when data is lost or
// torn. Each durability is a subtest ("sync", "nosync"). Like RunCrash it
// must be the only RunDiskFull call of its test, reachable with -test.run.

// DiskFullOptions tune RunDiskFull. The zero value is the short default.
type DiskFullOptions struct {
	// Modes are the durabilities to test; nil means both.
	Modes []kv.Durability
	// Cycles of fill, fault, free and reopen per mode: 0 means 2, or 20
	// when POLYKV_STRESS=1.
	Cycles int
	// Size is the size of the tmpfs: 0 means 64 MiB or Room × (Cycles+4),
	// whichever is larger. It must hold the store, whatever the engine
	// creates when it opens, and Room once per cycle (a store may keep
	// the space it filled).
	Size int64
	// Room is the free space the ballast leaves at the start of a cycle: 0
	// means 4 MiB. A backend that refuses writes below a free-space
	// reserve needs Room above its reserve to commit anything.
	Room int64
	// Timeout bounds one child: 0 means 2 minutes.
	Timeout time.Duration
}

// Environment of a disk-full child.
const (
	diskFullChildEnv = "POLYKV_DISKFULL_CHILD" // the test's full name
	diskFullDirEnv   = "POLYKV_DISKFULL_DIR"   // the store directory
	diskFullOpenEnv  = "POLYKV_DISKFULL_OPEN"  // "1": the child only opens the store (step 3)
)

// RunDiskFull runs the disk-full test on the backend cfg names (cfg.Path
// is ignored). See the description above.
func RunDiskFull(t *testing.T, cfg kv.Config, opts DiskFullOptions) {
	t.Helper()
	if opts.Modes == nil {
		opts.Modes = []kv.Durability{kv.Sync, kv.NoSync}
	}
	if opts.Cycles <= 0 {
		opts.Cycles = 2
		if stress() {
			opts.Cycles = 20
		}
	}
	if opts.Room <= 0 {
		opts.Room = 4 << 20
	}
	if opts.Size <= 0 {
		// Each cycle the store fills the room it is given, and a store
		// that never gives space back to the file system (bbolt's file
		// only grows) keeps it: leave room for every cycle.
		opts.Size = max(64<<20, opts.Room*int64(opts.Cycles+4))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if cfg.Backend == "memory" {
		t.Skip("diskfull: the memory backend writes no files")
	}
	for _, mode := range opts.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			c := cfg
			c.Durability = mode
			if os.Getenv(diskFullChildEnv) == t.Name() {
				c.Path = os.Getenv(diskFullDirEnv)
				if os.Getenv(diskFullOpenEnv) == "1" {
					diskFullOpenChild(c) // does not return
				}
				diskFullChild(c) // does not return
			}
			mnt := MountTmpfs(t, opts.Size)
			c.Path = filepath.Join(mnt, "store")
			runDiskFullParent(t, c, mnt, opts)
		})
	}
}

// diskFullStats add up a mode's cycles for the summary line.
type diskFullStats struct {
	cycles, acked, lost, problems int
	faults                        map[string]int
	fullOpens                     map[string]int // step 3: "ok" or the fault kinds
}

func runDiskFullParent(t *testing.T, cfg kv.Config, mnt string, opts DiskFullOptions) {
	st := diskFullStats{faults: map[string]int{}, fullOpens: map[string]int{}}
	for cycle := 0; cycle < opts.Cycles; cycle++ {
		ballast := filepath.Join(mnt, "ballast")
		if err := FillTo(ballast, opts.Room); err != nil {
			t.Fatalf("cycle %d: ballast: %v", cycle, err)
		}
		res := runDiskFullChild(t, cfg, opts.Timeout)
		st.cycles++
		st.acked += res.acks
		if res.fault != "" {
			st.faults[res.fault]++
		}
		if !t.Failed() {
			full := filepath.Join(mnt, "ballast-full")
			if err := FillTo(full, 0); err != nil {
				t.Fatalf("cycle %d: fill the disk: %v", cycle, err)
			}
			if opened := runDiskFullOpenChild(t, cfg, opts.Timeout); opened != "" {
				st.fullOpens[opened]++
			}
			if err := os.Remove(full); err != nil {
				t.Fatalf("cycle %d: remove ballast: %v", cycle, err)
			}
		}
		if err := os.Remove(ballast); err != nil {
			t.Fatalf("cycle %d: remove ballast: %v", cycle, err)
		}
		if t.Failed() {
			break
		}

		db, err := kv.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("cycle %d: reopen after the disk was full and space was freed: %v", cycle, err)
		}
		g := db.Info().Guarantees
		keepAcked := cfg.Durability == kv.Sync || g.NoSyncKeepsAckedOnKill
		r := TxnWorkload{}.Check(t, db, res.lastAck)
		for _, p := range r.Problems {
			t.Errorf("cycle %d: %s", cycle, p)
		}
		st.problems += len(r.Problems)
		if lost := res.lastAck + 1 - r.Committed; lost > 0 {
			st.lost += lost
			if keepAcked {
				t.Errorf("cycle %d: transactions up to %d were acknowledged before the disk was full, only %d present after reopening",
					cycle, res.lastAck, r.Committed)
			}
		}
		// Space is back: the store takes writes again.
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err = TxnWorkload{}.Child(ctx, db, func(int) {
			if n++; n == 5 {
				cancel()
			}
		})
		cancel()
		if err != nil {
			t.Errorf("cycle %d: write after space was freed and the store reopened: %v", cycle, err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("cycle %d: close: %v", cycle, err)
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("diskfull: %s %s: %d cycles, %d acked, %d lost, %d half-applied, faults: %v, opens on the full disk: %v",
		cfg.Backend, cfg.Durability, st.cycles, st.acked, st.lost, st.problems, st.faults, st.fullOpens)
}

type diskFullResult struct {
	acks    int
	lastAck int
	fault   string // how the failed commit matched: "nospace,enospc,reopen"
}

// runDiskFullChild runs one child to its end and checks how it ended.
func runDiskFullChild(t *testing.T, cfg kv.Config, timeout time.Duration) diskFullResult {
	t.Helper()
	res := diskFullResult{lastAck: -1}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+crashChildPattern(t.Name()), "-test.count=1")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+t.Name(), diskFullDirEnv+"="+cfg.Path)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	var lines []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		s := sc.Text()
		if n, ok := strings.CutPrefix(s, "ack "); ok {
			if i, err := strconv.Atoi(n); err == nil {
				res.acks++
				res.lastAck = i
				continue
			}
		}
		lines = append(lines, s)
	}
	report := strings.Join(lines, "\n")
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ProcessState != nil:
		if ws, ok := ee.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Errorf("the child writing to a full disk died with %v after %d acknowledged commits (the engine ended the process instead of returning an error)\nchild said:\n%s\nstderr:\n%s",
				ws.Signal(), res.acks, report, tail(stderr.String(), 4000))
			return res
		}
		// The Go runtime turns a fault it cannot recover (a SIGBUS in a
		// memory-mapped write) into "fatal error: fault ... signal SIGBUS"
		// and exit status 2.
		t.Errorf("the child writing to a full disk failed (%v) after %d acknowledged commits\nchild said:\n%s\nstderr:\n%s",
			err, res.acks, report, head(stderr.String(), 3000))
		return res
	case err != nil:
		t.Fatalf("disk-full child: %v", err)
	}
	for _, l := range lines {
		if f, ok := strings.CutPrefix(l, "fault "); ok {
			res.fault, _, _ = strings.Cut(f, " ")
		}
	}
	if res.fault == "" || !strings.Contains(res.fault+",", "nospace,") {
		t.Errorf("the commit that met the full disk did not fail with kv.ErrNoSpace\nchild said:\n%s", report)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "problem ") {
			t.Errorf("child: %s", l)
		}
	}
	return res
}

// runDiskFullOpenChild opens the store on the full disk in a child (step
// 3) and returns how the open ended: "ok", or the fault kinds of its
// error; "" when it failed the test.
func runDiskFullOpenChild(t *testing.T, cfg kv.Config, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+crashChildPattern(t.Name()), "-test.count=1")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+t.Name(), diskFullDirEnv+"="+cfg.Path, diskFullOpenEnv+"=1")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	switch {
	case ctx.Err() != nil:
		t.Errorf("opening the store on a full disk did not return within %v (the engine waits for space that does not come)\nchild said:\n%s\nstderr:\n%s",
			timeout, out, head(stderr.String(), 3000))
		return ""
	case err != nil:
		t.Errorf("opening the store on a full disk ended the child (%v)\nchild said:\n%s\nstderr:\n%s", err, out, head(stderr.String(), 3000))
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if l == "open ok" {
			return "ok"
		}
		if f, ok := strings.CutPrefix(l, "open-fault "); ok {
			kinds, msg, _ := strings.Cut(f, " ")
			if !strings.Contains(kinds+",", "nospace,") && !strings.Contains(kinds+",", "io,") {
				t.Errorf("opening the store on a full disk failed with an error that matches neither kv.ErrNoSpace nor kv.ErrIO: %s", msg)
			}
			return kinds
		}
	}
	t.Errorf("the open child on the full disk said nothing of its open\nchild said:\n%s", out)
	return ""
}

// diskFullOpenChild is step 3's child: open the store, say how that went,
// close, exit.
func diskFullOpenChild(cfg kv.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db, err := kv.Open(ctx, cfg)
	if err != nil {
		os.Stdout.WriteString("open-fault " + faultKinds(err) + " " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
		os.Exit(0)
	}
	os.Stdout.WriteString("open ok\n")
	_ = db.Close() // may fail on the full disk
	os.Exit(0)
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// diskFullChild is the child's side: open, commit until a commit fails,
// report the failure, read, close, exit. Lines: "ack <i>" after each
// commit; "fault <kinds> <error>" for the failed commit, where kinds lists
// the sentinels it matched (nospace, enospc, io, reopen); "problem <text>"
// for anything the parent must fail on.
func diskFullChild(cfg kv.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := func(s string) { os.Stdout.WriteString(strings.ReplaceAll(s, "\n", " ") + "\n") }
	db, err := kv.Open(ctx, cfg)
	if err != nil {
		// The disk may be too full to open on: that must be a clean error.
		out("fault " + faultKinds(err) + " open: " + err.Error())
		os.Exit(0)
	}
	err = TxnWorkload{}.Child(ctx, db, func(i int) { out("ack " + strconv.Itoa(i)) })
	if err == nil {
		out("problem no commit failed before the deadline")
	} else {
		out("fault " + faultKinds(err) + " " + err.Error())
		// The store stays readable.
		if _, rerr := db.Get(ctx, crashLastKey); rerr != nil && !errors.Is(rerr, kv.ErrNotFound) {
			out("problem read after the fault: " + rerr.Error())
		}
		// A second write fails too, or succeeds: never a panic.
		if werr := db.Set(ctx, []byte("diskfull/probe"), nil); werr == nil {
			_ = db.Delete(ctx, []byte("diskfull/probe"))
		}
	}
	if cerr := db.Close(); cerr != nil {
		out("close " + cerr.Error())
	}
	out("done")
	os.Exit(0)
}

// faultKinds lists the fault sentinels err matches, comma-separated.
func faultKinds(err error) string {
	var kinds []string
	for _, k := range []struct {
		name string
		err  error
	}{
		{"nospace", kv.ErrNoSpace}, {"enospc", syscall.ENOSPC}, {"io", kv.ErrIO},
		{"corrupt", kv.ErrCorrupt}, {"reopen", kv.ErrNeedsReopen},
	} {
		if errors.Is(err, k.err) {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) == 0 {
		return "untyped"
	}
	return strings.Join(kinds, ",")
}

// FillTo creates the file path and makes it as large as it takes to leave
// room bytes free on its file system (fallocate, so it costs no writes).
// It returns an error if the file system has less than room free.
func FillTo(path string, room int64) error {
	free, err := FreeBytes(filepath.Dir(path))
	if err != nil {
		return err
	}
	if free < room {
		return fmt.Errorf("conformance: %s has %d bytes free, less than the %d to leave", filepath.Dir(path), free, room)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fallocate(f, free-room); err != nil {
		f.Close()
		return fmt.Errorf("conformance: fallocate %s: %w", path, err)
	}
	return f.Close()
}
