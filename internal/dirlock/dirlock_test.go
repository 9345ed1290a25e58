package dirlock_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/polykv/polykv/internal/dirlock"
)

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second bool // shared?
		wantLocked    bool
	}{
		{"exclusive then exclusive", false, false, true},
		{"exclusive then shared", false, true, true},
		{"shared then exclusive", true, false, true},
		{"shared then shared", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l1, err := dirlock.Acquire(dir, tc.first)
			if err != nil {
				t.Fatal(err)
			}
			l2, err := dirlock.Acquire(dir, tc.second)
			if tc.wantLocked {
				if !errors.Is(err, dirlock.ErrLocked) {
					t.Fatalf("second Acquire = %v, want ErrLocked", err)
				}
				if !strings.Contains(err.Error(), dir) {
					t.Errorf("error %q does not name the directory", err)
				}
			} else if err != nil {
				t.Fatalf("second Acquire: %v", err)
			}
			if err := l2.Release(); err != nil {
				t.Fatal(err)
			}
			if err := l1.Release(); err != nil {
				t.Fatal(err)
			}
			if err := l1.Release(); err != nil {
				t.Fatalf("second Release: %v", err)
			}
			l3, err := dirlock.Acquire(dir, false)
			if err != nil {
				t.Fatalf("Acquire after Release: %v", err)
			}
			l3.Release()
		})
	}
}

func TestErrorNamesHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := dirlock.Acquire(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = dirlock.Acquire(dir, false)
	if err == nil || !strings.Contains(err.Error(), "this process") {
		t.Errorf("error %v does not name this process as the holder", err)
	}
}

func TestSharedInReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	l, err := dirlock.Acquire(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	os.Chmod(dir+"/"+dirlock.FileName, 0o444)
	l, err = dirlock.Acquire(dir, true)
	if err != nil {
		t.Fatalf("shared Acquire in a read-only directory: %v", err)
	}
	l.Release()
}

const childEnv = "DIRLOCK_TEST_CHILD_DIR"

// TestMain lets the test binary act as a child that takes the lock, says so
// and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if _, err := dirlock.Acquire(dir, false); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		select {} // hold the lock until killed
	}
	os.Exit(m.Run())
}

func TestOtherProcessAndSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	for _, shared := range []bool{false, true} {
		_, err = dirlock.Acquire(dir, shared)
		if !errors.Is(err, dirlock.ErrLocked) {
			t.Fatalf("Acquire(shared=%v) while a child holds the lock = %v, want ErrLocked", shared, err)
		}
	}
	if want := "pid " + itoa(cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the child (%s)", err, want)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := dirlock.Acquire(dir, false)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}

func itoa(n int) string { return strconv.Itoa(n) }
