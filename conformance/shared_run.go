package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/conformance/linearize"
	"github.com/polykv/polykv/kv"
)

// SharedOptions tune RunSharedTraversal.
type SharedOptions struct {
	// Configs name the shared store; worker i opens Configs[i%len(Configs)]
	// (on a cluster: each through another member; kv.ParseDSN turns a DSN
	// into one). Required in the parent; a worker process receives its
	// own (as JSON, Logger aside) and ignores the field.
	Configs []kv.Config
	// Workers is the number of child processes; 0 means 3. More than one
	// needs a store that several processes may open at once
	// (Guarantees.Shared); otherwise the test is skipped.
	Workers int
	// Tree is the traversal; its zero fields take SharedTraversal's
	// defaults (a tree of 121 folders), or with POLYKV_STRESS=1 a tree of
	// 5,461 folders (fanout 4, depth 6).
	Tree SharedTraversal
	// Timeout bounds the traversal; 0 means 3 minutes (30 with
	// POLYKV_STRESS=1).
	Timeout time.Duration
	// Disrupt, if set, runs in the parent while the workers traverse (in
	// its own goroutine): listed reports how many folders they have listed
	// so far. The workers go through the errors it causes and must finish
	// after it returns. ctx ends at the Timeout.
	Disrupt func(ctx context.Context, listed func() int)
	// HistoryTimeout bounds the linearizability check; 0 means 2 minutes.
	HistoryTimeout time.Duration
}

// Traversal returns the traversal RunSharedTraversal runs: Tree, or with
// POLYKV_STRESS=1 and no shape of its own (Fanout and Depth 0) a tree of
// 5,461 folders (fanout 4, depth 6, 3 files each). A test that counts
// folders (Folders) counts them on this one.
func (o SharedOptions) Traversal() SharedTraversal {
	t := o.Tree
	if stress() && t.Fanout == 0 && t.Depth == 0 {
		t.Fanout, t.Depth, t.Files = 4, 6, 3
	}
	return t
}

// SharedResult is what RunSharedTraversal saw.
type SharedResult struct {
	// Elapsed is the time from the workers' start to the last one's end.
	Elapsed time.Duration
	// Folders is the size of the tree; Listed how many each worker listed.
	Folders int
	Listed  []int
	// Failures are the calls that failed in the workers, each with how
	// long it took to fail.
	Failures []SharedEvent
	// History is the linearizability check of the workers' calls on the
	// claim keys and the counter of claims.
	History linearize.Result
}

// Environment of a shared-traversal worker process.
const (
	sharedChildEnv   = "POLYKV_SHARED_CHILD"  // the test's full name
	sharedConfigEnv  = "POLYKV_SHARED_CONFIG" // the worker's kv.Config, as JSON
	sharedWorkerEnv  = "POLYKV_SHARED_WORKER"
	sharedHistoryEnv = "POLYKV_SHARED_HISTORY"
)

// InChild reports whether this process is a worker or crash-test child
// started by RunSharedTraversal or RunCrash: a test that sets up what
// children do not need (a cluster the parent runs) skips it then.
func InChild() bool {
	return os.Getenv(sharedChildEnv) != "" || os.Getenv(crashChildEnv) != ""
}

// RunSharedTraversal runs SharedTraversal with each worker in its own
// process (the test binary run again, selecting the calling test with
// -test.run, as RunCrash does; the test must reach this call in the child
// too, and must call it once), all on one shared store: the parent seeds
// the root, starts the workers, runs Disrupt, waits for them, and checks
// the store (CheckShared), that every folder was listed exactly once, and
// that the workers' recorded histories of the claims are linearizable.
func RunSharedTraversal(t *testing.T, opts SharedOptions) SharedResult {
	t.Helper()
	if opts.Workers <= 0 {
		opts.Workers = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Minute
		if stress() {
			opts.Timeout = 30 * time.Minute
		}
	}
	if opts.HistoryTimeout <= 0 {
		opts.HistoryTimeout = 2 * time.Minute
	}
	opts.Tree = opts.Traversal()
	if opts.Tree.Workers == 0 && !opts.Tree.NoShares {
		opts.Tree.Workers = opts.Workers
	}
	if os.Getenv(sharedChildEnv) == t.Name() {
		sharedChild(opts) // does not return
	}
	if len(opts.Configs) == 0 {
		t.Fatal("shared traversal: no store configuration")
	}
	ctx, cancel := context.WithTimeout(t.Context(), opts.Timeout)
	defer cancel()
	s := openConfig(t, ctx, opts.Configs[0])
	if !s.Info().Guarantees.Shared && opts.Workers > 1 {
		s.Close()
		t.Skipf("shared traversal: backend %s does not declare Guarantees.Shared: %d processes cannot open one store", s.Info().Backend, opts.Workers)
	}
	if err := opts.Tree.Seed(ctx, s); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close after seeding: %v", err)
	}

	res := SharedResult{Folders: len(opts.Tree.Folders()), Listed: make([]int, opts.Workers)}
	var mu sync.Mutex
	listed := map[string]int{}
	var total atomic.Int64
	dir := t.TempDir()
	start := time.Now()
	var wg sync.WaitGroup
	outcomes := make([]string, opts.Workers)
	for i := range opts.Workers {
		wg.Go(func() {
			outcomes[i] = runSharedChild(ctx, t, opts, i, filepath.Join(dir, fmt.Sprintf("history-%d.jsonl", i)), func(e SharedEvent) {
				mu.Lock()
				defer mu.Unlock()
				if e.Err != nil {
					res.Failures = append(res.Failures, e)
					return
				}
				listed[e.Listed]++
				res.Listed[i]++
				total.Add(1)
			})
		})
	}
	var dwg sync.WaitGroup
	if opts.Disrupt != nil {
		dwg.Go(func() { opts.Disrupt(ctx, func() int { return int(total.Load()) }) })
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	dwg.Wait()
	for i, o := range outcomes {
		if o != "" {
			t.Errorf("worker %d: %s", i, o)
		}
	}
	t.Logf("shared traversal: %d workers, %d folders in %v, listed per worker %v, %d failed calls",
		opts.Workers, res.Folders, res.Elapsed.Round(time.Millisecond), res.Listed, len(res.Failures))

	s = openConfig(t, t.Context(), opts.Configs[0])
	problems := opts.Tree.CheckShared(t.Context(), s, listed)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		// The workers' failed calls, to tell what led there.
		for i, f := range res.Failures {
			if i == 20 {
				t.Logf("... and %d more failed calls", len(res.Failures)-i)
				break
			}
			t.Logf("failed call after %v: %v", f.Elapsed.Round(time.Millisecond), f.Err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("close after the check: %v", err)
	}

	var ops []linearize.Op
	for i := range opts.Workers {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("history-%d.jsonl", i)))
		if err != nil {
			t.Errorf("worker %d left no history: %v", i, err)
			continue
		}
		o, err := linearize.ReadOps(f)
		f.Close()
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
		ops = append(ops, o...)
	}
	res.History = linearize.Check(ops, opts.HistoryTimeout)
	switch {
	case res.History.Ok():
		t.Logf("shared traversal: %v", res.History)
	case !res.History.Illegal():
		t.Logf("shared traversal: the history could not be checked: %v", res.History)
	default:
		path := filepath.Join(t.TempDir(), "history.html")
		if err := res.History.Visualize(path); err == nil {
			t.Logf("porcupine's view of the failing group: %s", path)
		}
		t.Errorf("shared traversal: %v", res.History)
	}
	return res
}

func openConfig(t *testing.T, ctx context.Context, cfg kv.Config) kv.Store {
	t.Helper()
	db, err := kv.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Backend, err)
	}
	return db
}

// sharedChild is a worker process: open, work, write the history, exit.
// It exits by itself when its parent goes away (stdin closes).
func sharedChild(opts SharedOptions) {
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadByte()
		os.Exit(3) // the parent is gone
	}()
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	say := func(line string) {
		outMu.Lock()
		defer outMu.Unlock()
		_, _ = out.WriteString(line + "\n")
		_ = out.Flush() // stdout to the parent: nothing to do if it fails
	}
	fail := func(err error) {
		say("error " + strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(2)
	}
	worker, err := strconv.Atoi(os.Getenv(sharedWorkerEnv))
	if err != nil {
		fail(fmt.Errorf("%s: %w", sharedWorkerEnv, err))
	}
	var cfg kv.Config
	if err := json.Unmarshal([]byte(os.Getenv(sharedConfigEnv)), &cfg); err != nil {
		fail(fmt.Errorf("%s: %w", sharedConfigEnv, err))
	}
	// The store may be unreachable for a moment (a member restarting):
	// try to open until the deadline.
	var db *kv.DB
	for {
		octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
		db, err = kv.Open(octx, cfg)
		ocancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		say(sharedEventLine(SharedEvent{Err: fmt.Errorf("open: %w", err)}))
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fail(fmt.Errorf("open: %w", err))
	}
	h := linearize.NewHistory(linearize.Options{Keys: linearize.Prefix(sharedPrefix), Client: worker + 1})
	werr := opts.Tree.Work(ctx, h.Wrap(db), worker, func(e SharedEvent) { say(sharedEventLine(e)) })
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		fail(err)
	}
	path := os.Getenv(sharedHistoryEnv)
	if err := os.WriteFile(path+".tmp", buf.Bytes(), 0o644); err != nil {
		fail(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		fail(err)
	}
	if werr != nil {
		fail(fmt.Errorf("work: %w", werr))
	}
	if err := db.Close(); err != nil {
		fail(fmt.Errorf("close: %w", err))
	}
	say("done")
	os.Exit(0)
}

// runSharedChild runs worker i to its end and returns "" or what went
// wrong.
func runSharedChild(ctx context.Context, t *testing.T, opts SharedOptions, i int, history string, event func(SharedEvent)) string {
	stdout, w, err := os.Pipe()
	if err != nil {
		return err.Error()
	}
	defer stdout.Close()
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		return err.Error()
	}
	defer stdinW.Close() // the child exits by itself when this closes
	cfg, err := json.Marshal(opts.Configs[i%len(opts.Configs)])
	if err != nil {
		return err.Error()
	}
	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run="+crashChildPattern(t.Name()), "-test.count=1")
	cmd.Env = append(os.Environ(),
		sharedChildEnv+"="+t.Name(),
		sharedConfigEnv+"="+string(cfg),
		sharedWorkerEnv+"="+strconv.Itoa(i),
		sharedHistoryEnv+"="+history)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = w, &stderr, stdin
	if err := cmd.Start(); err != nil {
		w.Close()
		stdin.Close()
		return err.Error()
	}
	w.Close()
	stdin.Close()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// SIGQUIT: the Go runtime prints every goroutine's stack to
			// stderr and exits: where the worker hangs.
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	var last string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if e, ok := parseSharedEvent(line); ok {
			event(e)
			continue
		}
		last = line
	}
	werr := cmd.Wait()
	close(done)
	switch {
	case ctx.Err() != nil:
		return fmt.Sprintf("did not finish within %v; its goroutines:\n%s", opts.Timeout, tail(stderr.String(), 20000))
	case werr != nil || last != "done":
		return fmt.Sprintf("exited with %v, last line %q\nstderr:\n%s", werr, last, tail(stderr.String(), 4000))
	}
	return ""
}
