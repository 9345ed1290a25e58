package logstore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

const (
	killChildEnv = "POLYKV_LOGSTORE_KILL_CHILD"
	killBatch    = 50
)

// TestKill re-executes the test binary as a child that adds entries through
// a LogBuffer over a Badger store and prints "added N" after each Add
// returns. The parent kills it with SIGKILL at a random moment, reopens the
// store and checks that what survived is exactly the first entries added, in
// order, and that at most one batch (MaxPending, here BatchSize) of the
// entries the child reported is missing.
func TestKill(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("kill test re-executes the binary")
	}
	cycles := 3
	if os.Getenv("POLYKV_STRESS") != "" {
		cycles = 40
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for c := range cycles {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			killCycle(t, 50+r.IntN(1500))
		})
	}
}

func killCycle(t *testing.T, killAfter int) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "added "); ok {
			acked, _ = strconv.Atoi(n)
			if acked >= killAfter {
				break
			}
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if acked < killAfter {
		t.Fatalf("child stopped after %d entries: %s", acked+1, stderr.String())
	}

	s, err := kv.Open(t.Context(), kv.Config{Backend: "badger", Path: dir})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	next := 0
	err = logstore.ByLevel(t.Context(), s, logstore.LevelInfo, func(e logstore.LogEntry) error {
		if e.Message != strconv.Itoa(next) {
			return fmt.Errorf("entry %d of the store is %q: survivors are not a prefix of what was added", next, e.Message)
		}
		next++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	lost := acked + 1 - next
	t.Logf("killed after %d acknowledged adds: %d entries survived, %d lost", acked+1, next, max(lost, 0))
	if lost > killBatch {
		t.Errorf("lost %d acknowledged entries, more than one batch (%d)", lost, killBatch)
	}
}

// killChild adds entries forever (until killed), printing each one added.
func killChild(dir string) {
	ctx := context.Background()
	s, err := kv.Open(ctx, kv.Config{Backend: "badger", Path: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	buf := logstore.NewLogBufferOptions(s, logstore.Options{BatchSize: killBatch, Interval: 20 * time.Millisecond})
	w := bufio.NewWriterSize(os.Stdout, 64)
	for i := 0; ; i++ {
		if err := buf.Add(logstore.LogEntry{Level: logstore.LevelInfo, Entity: "child", Message: strconv.Itoa(i)}); err != nil {
			fmt.Fprintln(os.Stderr, "child add:", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "added %d\n", i)
		w.Flush()
		if i%97 == 0 {
			time.Sleep(3 * time.Millisecond) // let interval flushes happen too
		}
	}
}
