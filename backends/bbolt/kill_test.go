package bbolt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// TestNoSyncKillKeepsAcked checks the promise the driver declares
// (NoSyncKeepsAckedOnKill): a child commits two-key transactions under
// kv.NoSync and acknowledges each; the parent kills it with SIGKILL after a
// random number of acks and reopens. Every acknowledged transaction must be
// there, and no transaction half (both keys or neither).
func TestNoSyncKillKeepsAcked(t *testing.T) {
	cycles := 3
	if stress() {
		cycles = 100
	}
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	for cycle := range cycles {
		cmd, _, stdout := startChild(t, "writer", dir)
		killAt := 20 + rng.IntN(300)
		acked := -1
		for acked < killAt {
			line, err := stdout.ReadString('\n')
			if err != nil {
				t.Fatalf("cycle %d: child stopped after ack %d: %v", cycle, acked, err)
			}
			n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "ack "))
			if err != nil {
				t.Fatalf("cycle %d: child said %q", cycle, line)
			}
			acked = n
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		// The child restarts from 0 each cycle, overwriting: what counts
		// is that 0..acked are present and pairs are whole.
		db, err := bbolt.Open(context.Background(), kv.Config{Path: dir, Durability: kv.NoSync})
		if err != nil {
			t.Fatalf("cycle %d: reopen after kill: %v", cycle, err)
		}
		for i := 0; i <= acked; i++ {
			for _, p := range []string{"a", "b"} {
				v, err := db.Get(context.Background(), fmt.Appendf(nil, "%s%08d", p, i))
				if err != nil || string(v) != fmt.Sprintf("%0100d", i) {
					db.Close()
					t.Fatalf("cycle %d: acked transaction %d: %s = %.20q, %v", cycle, i, p, v, err)
				}
			}
		}
		// Whole pairs beyond the last ack too (committed, not yet acked).
		for i := acked + 1; ; i++ {
			_, errA := db.Get(context.Background(), fmt.Appendf(nil, "a%08d", i))
			_, errB := db.Get(context.Background(), fmt.Appendf(nil, "b%08d", i))
			if errors.Is(errA, kv.ErrNotFound) != errors.Is(errB, kv.ErrNotFound) {
				db.Close()
				t.Fatalf("cycle %d: transaction %d half applied (a: %v, b: %v)", cycle, i, errA, errB)
			}
			if errA != nil {
				break
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
