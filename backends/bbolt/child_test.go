package bbolt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// childArgEnv carries the child's argument (a path).
const childArgEnv = "POLYKV_BBOLT_CHILD_ARG"

// runChild runs one child role and returns the exit code.
func runChild(role string, _ []string) int {
	arg := os.Getenv(childArgEnv)
	switch role {
	case "hold":
		// Hold the bbolt file with a raw bbolt handle, as a program
		// outside polykv would, until stdin closes.
		db, err := bolt.Open(arg, 0o600, &bolt.Options{Timeout: 10 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		db.Close()
		return 0
	case "writer":
		// Commit transactions of two keys under NoSync, printing an ack
		// after each, until killed.
		ctx := context.Background()
		db, err := bbolt.Open(ctx, kv.Config{Path: arg, Durability: kv.NoSync})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		w := bufio.NewWriter(os.Stdout)
		for i := 0; ; i++ {
			err := db.Update(ctx, func(tx kv.Txn) error {
				if err := tx.Set(fmt.Appendf(nil, "a%08d", i), fmt.Appendf(nil, "%0100d", i)); err != nil {
					return err
				}
				return tx.Set(fmt.Appendf(nil, "b%08d", i), fmt.Appendf(nil, "%0100d", i))
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 2
			}
			fmt.Fprintf(w, "ack %d\n", i)
			w.Flush()
		}
	case "compactor":
		// Compact over and over, with a write between compactions, until
		// killed; print the number of each write once it is committed.
		ctx := context.Background()
		db, err := bbolt.Open(ctx, kv.Config{Path: arg, Durability: kv.NoSync})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		for i := 0; ; i++ {
			if err := db.Set(ctx, fmt.Appendf(nil, "c%08d", i), []byte("x")); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 2
			}
			fmt.Printf("ack %d\n", i)
			if err := db.Compact(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 2
			}
		}
	case "rlimit":
		if err := rlimitChild(arg); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		return 0
	case "iterate-write-small":
		if err := iterateWriteSmall(arg); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		return 0
	default:
		fmt.Fprintln(os.Stderr, "child: unknown role", role)
		return 2
	}
}

// startChild starts the test binary in role with arg; it is killed at the
// end of the test if still running.
func startChild(t testing.TB, role, arg string) (cmd *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Reader) {
	t.Helper()
	return startChildStderr(t, role, arg, os.Stderr)
}

// startChildStderr is startChild with the child's stderr sent to stderr.
func startChildStderr(t testing.TB, role, arg string, stderr io.Writer) (cmd *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Reader) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, childArgEnv+"="+arg)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, bufio.NewReader(out)
}
