//go:build unix

package pebble_test

import (
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// captureStderr runs fn with file descriptor 2 redirected to a pipe, so that
// whatever anything in the process writes to stderr (the log package,
// fmt.Fprintf(os.Stderr), a C library) is captured, and returns it.
func captureStderr(t *testing.T, fn func()) (out string) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved, err := unix.Dup(2)
	require.NoError(t, err)
	require.NoError(t, unix.Dup2(int(w.Fd()), 2))
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	defer func() {
		require.NoError(t, unix.Dup2(saved, 2))
		unix.Close(saved)
		w.Close()
		out = string(<-done)
		r.Close()
	}()
	fn()
	return ""
}
