package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// The crash test.
//
// RunCrash checks what a backend promises about a process killed at any
// moment: the test binary re-executes itself as a child that opens the
// store and commits numbered transactions, printing "ack <i>" after each
// commit returns; the parent kills it with SIGKILL at a random moment,
// reopens the store and checks it; then it does it again on the same
// directory, so that each child recovers what the previous one left (and
// some children are killed while they recover).
//
// After every kill the parent checks that
//   - every acknowledged transaction is there, when the promise covers it
//     (Sync always; NoSync when Guarantees.NoSyncKeepsAckedOnKill);
//   - the transactions present are numbered 0..k-1 with no gap, none is
//     half applied, and nothing is there that no child could have written;
//   - nothing seen at the previous reopen has gone.
//
// The workload is pluggable (CrashWorkload): the default, TxnWorkload,
// writes groups of keys that must appear together; layers such as
// nodestore plug in their own transactions and invariants.

// CrashWorkload is what a crash-test child does and what the parent checks
// after each kill. Its methods run in different processes: Child in the
// child, Check in the parent, on the same store directory.
type CrashWorkload interface {
	// Child commits transactions numbered from where the store left off
	// (it reads the store to find out) and calls ack(i) after the commit of
	// transaction i has returned, in increasing order. It returns when ctx
	// is done; normally the process is killed first.
	Child(ctx context.Context, s kv.Store, ack func(i int)) error
	// Check inspects the store after a kill. lastAck is the highest number
	// the last child acknowledged, or -1. It reports how many transactions
	// are present, numbered 0..Committed-1, and every inconsistency found
	// (a half-applied transaction, a gap, a broken invariant). Whether
	// acknowledged transactions survived is checked by RunCrash itself.
	Check(t testing.TB, s kv.Store, lastAck int) CrashResult
}

// UnackedCommitter is implemented by a CrashWorkload whose child may have
// more than one transaction committed and not yet acknowledged when it is
// killed (one per concurrent writer); others may have one.
type UnackedCommitter interface {
	MaxUnacked() int
}

func unacked(w CrashWorkload) int {
	if u, ok := w.(UnackedCommitter); ok {
		return max(u.MaxUnacked(), 1)
	}
	return 1
}

// ErrWorkloadExhausted is returned by a CrashWorkload's Child that has no
// transaction left to commit (a workload over a finite data set). The
// child then exits cleanly; RunCrash checks the store once more and ends
// the mode's cycles early, logging how many ran, instead of waiting for a
// child that can make no progress.
var ErrWorkloadExhausted = errors.New("conformance: crash workload exhausted")

// CrashResult is what CrashWorkload.Check found.
type CrashResult struct {
	// Committed is the number of transactions present: 0..Committed-1.
	Committed int
	// Problems are the inconsistencies found, one line each. A consistent
	// store has none.
	Problems []string
}

// CrashOptions tune RunCrash. The zero value is the short default.
type CrashOptions struct {
	// Workload is what the children do; nil means TxnWorkload{}.
	Workload CrashWorkload
	// Modes are the durabilities to test, each as a subtest named after
	// it ("sync", "nosync"); nil means both.
	Modes []kv.Durability
	// Cycles is the number of kill/reopen cycles per mode: 0 means 5, or
	// 200 when POLYKV_STRESS=1.
	Cycles int
	// MaxAcks is the most acknowledgements a child gives before it is
	// killed; 0 means 200. Each cycle picks a random number up to it.
	MaxAcks int
	// MaxRun bounds how long a child commits after its first
	// acknowledgement before it is killed; 0 means 500ms.
	MaxRun time.Duration
	// Seed seeds the kill schedule; 0 picks one (logged, for replay).
	Seed uint64
	// Location, if set, returns the Path of a fresh, empty store for one
	// mode instead of a new t.TempDir(): a new key prefix for a networked
	// backend, whose store is not a directory. The children then receive
	// the whole configuration (as JSON, Logger aside) rather than from the
	// test: a child does not start the cluster its parent runs (see
	// InChild), so it cannot know the endpoints.
	Location func(t *testing.T) string
	// PowerCut, if set, makes each kill a power cut of the disk the
	// stores are on (NewPowerCut; Location is then a directory on it):
	// whatever was not fsynced is lost. Acknowledged commits must then
	// survive under Sync only; NoSync may lose a tail of them (never a
	// part of one), whatever Guarantees.NoSyncKeepsAckedOnKill says of a
	// kill.
	PowerCut *PowerCut
}

// Environment of a crash-test child.
const (
	crashChildEnv = "POLYKV_CRASH_CHILD"  // the test's full name
	crashDirEnv   = "POLYKV_CRASH_DIR"    // the store directory
	crashCfgEnv   = "POLYKV_CRASH_CONFIG" // the whole kv.Config as JSON (CrashOptions.Location)
)

// RunCrash runs the crash test on the backend cfg names (cfg.Path is
// ignored: each mode gets a fresh directory), with each durability of
// opts.Modes as a subtest. It must be the only RunCrash call of the test
// that calls it, and that test must be reachable with -test.run (the child
// is the same test binary run with -test.run matching t.Name()). A
// non-persistent backend is skipped.
//
// It logs (t.Logf: shown with -v) the seed and a summary line per mode,
// such as
//
//	crash: pebble nosync: 200 cycles, 31415 acked, 812 lost, 0 half-applied, 41 killed before their first ack, declared promise: acked-may-lose-tail
//
// where "lost" counts acknowledged transactions missing after a kill
// (allowed only when the promise is acked-may-lose-tail) and "killed before
// their first ack" counts children killed while opening or recovering.
func RunCrash(t *testing.T, cfg kv.Config, opts CrashOptions) {
	t.Helper()
	if opts.Workload == nil {
		opts.Workload = TxnWorkload{}
	}
	if opts.Modes == nil {
		opts.Modes = []kv.Durability{kv.Sync, kv.NoSync}
	}
	if opts.Cycles == 0 {
		opts.Cycles = 5
		if stress() {
			opts.Cycles = 200
		}
	}
	if opts.MaxAcks <= 0 {
		opts.MaxAcks = 200
	}
	if opts.MaxRun <= 0 {
		opts.MaxRun = 500 * time.Millisecond
	}
	if cfg.Backend == "memory" {
		t.Skip("crash: the memory backend keeps nothing across processes")
	}
	for _, mode := range opts.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			c := cfg
			c.Durability = mode
			if os.Getenv(crashChildEnv) == t.Name() {
				c.Path = os.Getenv(crashDirEnv)
				if js := os.Getenv(crashCfgEnv); js != "" {
					c = kv.Config{}
					if err := json.Unmarshal([]byte(js), &c); err != nil {
						crashChildFail(fmt.Errorf("%s: %w", crashCfgEnv, err))
					}
				}
				crashChild(c, opts.Workload) // does not return
			}
			if opts.Location != nil {
				c.Path = opts.Location(t)
			} else {
				c.Path = t.TempDir()
			}
			runCrashParent(t, c, opts)
		})
	}
}

// crashChild is the child's side: open, run the workload, acknowledge on
// stdout, exit. It exits by itself when its parent goes away (stdin closes).
func crashChild(cfg kv.Config, w CrashWorkload) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3) // the parent is gone
	}()
	fail := crashChildFail
	db, err := kv.Open(ctx, cfg)
	if err != nil {
		fail(fmt.Errorf("open: %w", err))
	}
	last := -1
	ack := func(i int) {
		if i <= last {
			fail(fmt.Errorf("workload acknowledged %d after %d", i, last))
		}
		last = i
		// One write(2) of a short line: atomic on a pipe.
		os.Stdout.WriteString("ack " + strconv.Itoa(i) + "\n")
	}
	err = w.Child(ctx, db, ack)
	if errors.Is(err, ErrWorkloadExhausted) {
		if err := db.Close(); err != nil {
			fail(fmt.Errorf("close: %w", err))
		}
		os.Stdout.WriteString("exhausted\n")
		os.Exit(0)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fail(err)
	}
	db.Close()
	os.Stdout.WriteString("done\n")
	os.Exit(0)
}

// crashChildFail reports err to the parent and exits.
func crashChildFail(err error) {
	os.Stdout.WriteString("error " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
	os.Exit(2)
}

// crashStats add up a mode's cycles for the summary line.
type crashStats struct {
	cycles, acked, lost, problems, recoveryKills, needRecovery, roChecked int
}

func runCrashParent(t *testing.T, cfg kv.Config, opts CrashOptions) {
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("crash: seed %d (CrashOptions.Seed to replay the kill schedule)", seed)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var st crashStats
	floor := 0                   // transactions seen at the previous reopen
	firstAck := time.Duration(0) // how long the previous child took to its first ack
	promise := "(not yet known)" // from Info().Guarantees after the first reopen
	var keepAcked bool           // set from Info().Guarantees at each reopen
	var cuts0, retakes0 int      // opts.PowerCut's counts before this mode
	if pc := opts.PowerCut; pc != nil {
		cuts0, retakes0 = pc.Cuts, pc.Retakes
	}
	for cycle := 0; cycle < opts.Cycles; cycle++ {
		// A quarter of the kills fall at a random moment from the start,
		// often during open and recovery; the others after a random number
		// of acknowledgements.
		var plan killPlan
		if firstAck > 0 && rng.IntN(4) == 0 {
			plan.after = time.Duration(rng.Int64N(int64(firstAck)*5/4 + 1))
		} else {
			plan.acks = 1 + rng.IntN(opts.MaxAcks)
			plan.after = time.Duration(rng.Int64N(int64(opts.MaxRun) + 1))
			if rng.IntN(2) == 0 {
				plan.jitter = time.Duration(rng.Int64N(int64(2 * time.Millisecond)))
			}
		}
		res := runCrashChild(t, cfg, plan, opts.Location != nil, opts.PowerCut)
		if res.firstAck > 0 {
			firstAck = res.firstAck
		}
		if res.recoveryKill {
			st.recoveryKills++
		}
		st.cycles++
		// Acknowledged transactions, counted as lost ones are: by number.
		// With concurrent writers one ack line covers the transactions
		// below it that returned later.
		st.acked += max(0, res.lastAck+1-floor)

		// What an operator does first after a crash: open read-only to
		// look. It must see a consistent store, or refuse with
		// kv.ErrNeedsRecovery (and then change nothing).
		roCheck := cycle%readOnlyEvery(opts.Cycles) == 0
		var roCommitted int
		var roErr error
		if roCheck {
			st.roChecked++
			roCommitted, roErr = readOnlyCheck(t, cfg, opts.Workload, res.lastAck)
			if errors.Is(roErr, kv.ErrNeedsRecovery) {
				st.needRecovery++
			}
		}

		db, err := kv.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("cycle %d: reopen after kill (%s): %v", cycle, plan, err)
		}
		closed := closeOnFatal(t, db)
		g := db.Info().Guarantees
		if !g.Persistent {
			db.Close()
			t.Skipf("crash: backend %s is not persistent", cfg.Backend)
		}
		keepAcked = cfg.Durability == kv.Sync || (g.NoSyncKeepsAckedOnKill && opts.PowerCut == nil)
		promise = "acked-may-lose-tail"
		switch {
		case keepAcked && opts.PowerCut != nil:
			promise = "acked-survive-power-cut"
		case keepAcked:
			promise = "acked-survive-kill"
		}
		r := opts.Workload.Check(t, db, res.lastAck)
		if err := db.Close(); err != nil {
			t.Errorf("cycle %d: close: %v", cycle, err)
		}
		closed()
		switch {
		case !roCheck:
		case roErr == nil && roCommitted != r.Committed:
			t.Errorf("cycle %d (%s): a read-only open saw %d transactions, the read-write open after it %d",
				cycle, plan, roCommitted, r.Committed)
		case roErr != nil && g.ReadOnlyOpenAfterKill:
			t.Errorf("cycle %d (%s): read-only open after the kill: %v (%s promises ReadOnlyOpenAfterKill)", cycle, plan, roErr, cfg.Backend)
		case roErr != nil && !errors.Is(roErr, kv.ErrNeedsRecovery):
			t.Errorf("cycle %d (%s): read-only open after the kill: %v (want success or kv.ErrNeedsRecovery)", cycle, plan, roErr)
		}
		// Recovered by the read-write open: read-only opens work again.
		if roCheck {
			if n, err := readOnlyCheck(t, cfg, opts.Workload, res.lastAck); err != nil {
				t.Errorf("cycle %d (%s): read-only open after a read-write open and close: %v", cycle, plan, err)
			} else if n != r.Committed {
				t.Errorf("cycle %d (%s): a read-only open after recovery saw %d transactions, want %d", cycle, plan, n, r.Committed)
			}
		}

		for _, p := range r.Problems {
			t.Errorf("cycle %d (%s): %s", cycle, plan, p)
		}
		st.problems += len(r.Problems)
		if r.Committed < floor {
			t.Errorf("cycle %d (%s): %d transactions present, but the previous reopen saw %d: a reopen lost data",
				cycle, plan, r.Committed, floor)
		}
		if lost := res.lastAck + 1 - r.Committed; lost > 0 {
			st.lost += lost
			if keepAcked {
				t.Errorf("cycle %d (%s): transactions up to %d were acknowledged, only %d present (%s promises %s)",
					cycle, plan, res.lastAck, r.Committed, cfg.Durability, promise)
			}
		}
		// The child starts at what the previous reopen saw and may commit
		// a transaction per writer past its last acknowledgement.
		if most := max(res.lastAck+1, floor) + unacked(opts.Workload); r.Committed > most {
			t.Errorf("cycle %d (%s): %d transactions present, but at most %d can have been committed",
				cycle, plan, r.Committed, most)
		}
		floor = r.Committed
		if t.Failed() {
			break
		}
		if res.exhausted {
			t.Logf("crash: the workload has nothing left after %d cycles (%d transactions): the mode ends here", st.cycles, r.Committed)
			break
		}
	}
	t.Logf("crash: %s %s: %d cycles, %d acked, %d lost, %d half-applied, %d killed before their first ack, %d of %d read-only opens refused (kv.ErrNeedsRecovery), declared promise: %s",
		cfg.Backend, cfg.Durability, st.cycles, st.acked, st.lost, st.problems, st.recoveryKills, st.needRecovery, st.roChecked, promise)
	if pc := opts.PowerCut; pc != nil {
		t.Logf("crash: %s %s: the kills were %d power cuts (%d disk copies taken again: the disk was written during the copy)",
			cfg.Backend, cfg.Durability, pc.Cuts-cuts0, pc.Retakes-retakes0)
	}
}

// readOnlyEvery is how often (in cycles) RunCrash opens the store
// read-only, after the kill and after the read-write reopen: every cycle of
// a short run, every fourth of a long one (two opens and two checks of the
// whole store per cycle tripled the time of make stress).
func readOnlyEvery(cycles int) int {
	if cycles <= 20 {
		return 1
	}
	return 4
}

// closeOnFatal closes db when the test ends, in case a check stops it
// with the store open (a power cut's disk cannot be unmounted while a file
// on it is open). The caller calls the function it returns once it has
// closed db itself.
func closeOnFatal(t *testing.T, db kv.Store) (closed func()) {
	var left atomic.Pointer[kv.Store]
	left.Store(&db)
	t.Cleanup(func() {
		if p := left.Load(); p != nil {
			_ = (*p).Close()
		}
	})
	return func() { left.Store(nil) }
}

// readOnlyCheck opens the store read-only and checks it with w, reporting
// its problems; it returns how many transactions it holds, or the error of
// the open (kv.ErrNeedsRecovery is the engine's to return).
func readOnlyCheck(t *testing.T, cfg kv.Config, w CrashWorkload, lastAck int) (int, error) {
	t.Helper()
	cfg.ReadOnly = true
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		return 0, err
	}
	closed := closeOnFatal(t, db)
	r := w.Check(t, db, lastAck)
	if err := db.Close(); err != nil {
		t.Errorf("close of a read-only open: %v", err)
	}
	closed()
	for _, p := range r.Problems {
		t.Errorf("read-only open: %s", p)
	}
	return r.Committed, nil
}

// killPlan says when to kill a child. With acks == 0: after a delay of
// after from its start. Otherwise: jitter after its acks-th
// acknowledgement, or after from its first one, whichever comes first.
type killPlan struct {
	acks   int
	after  time.Duration
	jitter time.Duration
}

func (p killPlan) String() string {
	if p.acks == 0 {
		return fmt.Sprintf("kill %v after start", p.after)
	}
	return fmt.Sprintf("kill %v after ack %d or %v after the first", p.jitter, p.acks, p.after)
}

type childResult struct {
	acks         int
	lastAck      int
	firstAck     time.Duration
	recoveryKill bool
	exhausted    bool // the workload had nothing left (ErrWorkloadExhausted)
}

// crashChildPattern is the -test.run pattern selecting exactly the test
// named name.
func crashChildPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// runCrashChild starts one child, kills it as planned and returns what it
// acknowledged.
func runCrashChild(t *testing.T, cfg kv.Config, plan killPlan, wholeConfig bool, pc *PowerCut) childResult {
	t.Helper()
	res := childResult{lastAck: -1}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close() // the child exits by itself when this closes
	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run="+crashChildPattern(t.Name()), "-test.count=1")
	cmd.SysProcAttr = childProcAttr()
	cmd.Env = append(os.Environ(), crashChildEnv+"="+t.Name(), crashDirEnv+"="+cfg.Path)
	if wholeConfig {
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, crashCfgEnv+"="+string(js))
	}
	cmd.Stdout = w
	cmd.Stderr = &stderr
	cmd.Stdin = stdin
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	stdin.Close()

	type line struct {
		ack  int
		text string
	}
	lines := make(chan line, 1024)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s := sc.Text()
			if n, ok := strings.CutPrefix(s, "ack "); ok {
				i, err := strconv.Atoi(n)
				if err == nil {
					lines <- line{ack: i}
					continue
				}
			}
			lines <- line{ack: -1, text: s}
		}
		readErr = sc.Err()
	}()

	var killAt <-chan time.Time
	if plan.acks == 0 {
		killAt = time.After(plan.after)
	}
	noProgress := time.After(2 * time.Minute)
	stuck := false
	killed := false
	var cutErr error
	kill := func() {
		if killed {
			return
		}
		killed = true
		if pc != nil {
			cutErr = pc.Cut(cmd.Process) // stops, copies the disk, kills
			return
		}
		_ = cmd.Process.Kill() // SIGKILL; an error means it has exited already
	}
	var other []string
	for lines != nil {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			if l.ack < 0 {
				other = append(other, l.text)
				if strings.HasPrefix(l.text, "error ") || l.text == "done" {
					kill()
				}
				if l.text == "exhausted" {
					res.exhausted = true // it exits by itself
					killAt, noProgress = nil, nil
				}
				continue
			}
			if l.ack <= res.lastAck {
				t.Errorf("child acknowledged %d after %d", l.ack, res.lastAck)
			}
			res.acks++
			res.lastAck = l.ack
			if res.acks == 1 {
				res.firstAck = time.Since(start)
			}
			if plan.acks > 0 && res.acks == 1 {
				killAt = time.After(plan.after) // the time limit, from the first ack
			}
			if plan.acks > 0 && res.acks == plan.acks {
				// The ack target: kill at once, or a moment later, in the
				// middle of the next commit.
				if plan.jitter == 0 {
					kill()
				} else {
					killAt = time.After(plan.jitter)
				}
			}
		case <-killAt:
			kill()
			killAt = nil
		case <-noProgress:
			// SIGQUIT makes the Go runtime print every goroutine's stack
			// to the child's stderr and exit: that is where it hangs.
			if cmd.Process.Signal(syscall.SIGQUIT) != nil {
				kill()
			}
			stuck = true
			killAt = time.After(10 * time.Second) // if it ignores SIGQUIT
			noProgress = nil
		}
	}
	kill()
	wg.Wait()
	werr := cmd.Wait()
	if pc != nil {
		if cutErr == nil {
			cutErr = pc.Restore()
		}
		if cutErr != nil {
			t.Fatal(cutErr)
		}
	}
	if stuck {
		t.Errorf("crash child made no progress in 2 minutes (%d acks); its goroutines:\n%s", res.acks, tail(stderr.String(), 30000))
	}
	if readErr != nil {
		t.Errorf("reading the child's output: %v", readErr)
	}
	for _, s := range other {
		if strings.HasPrefix(s, "error ") || s == "done" {
			t.Fatalf("crash child stopped by itself: %s\nexit: %v\nstderr:\n%s", s, werr, tail(stderr.String(), 4000))
		}
	}
	if ps := cmd.ProcessState; ps != nil && ps.Exited() && !stuck && !(res.exhausted && ps.ExitCode() == 0) {
		// Exited normally: it was not our SIGKILL (or SIGQUIT) that ended it.
		t.Fatalf("crash child exited by itself with code %d\noutput: %q\nstderr:\n%s",
			ps.ExitCode(), other, tail(stderr.String(), 4000))
	}
	res.recoveryKill = res.acks == 0 && !res.exhausted
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
