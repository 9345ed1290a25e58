//go:build !linux

package conformance

import (
	"errors"
	"os"
	"testing"
)

// MountTmpfs skips the test: mounting a size-limited tmpfs is done only on
// Linux.
func MountTmpfs(t testing.TB, size int64) string {
	t.Helper()
	t.Skip("mounting a size-limited tmpfs needs Linux")
	return ""
}

// RemountReadOnly skips the test (Linux only).
func RemountReadOnly(t testing.TB, dir string) {
	t.Helper()
	t.Skip("remounting read-only needs Linux")
}

// FreeBytes is not implemented outside Linux.
func FreeBytes(dir string) (int64, error) {
	return 0, errors.New("conformance: FreeBytes needs Linux")
}

func fallocate(f *os.File, size int64) error {
	return errors.New("conformance: fallocate needs Linux")
}
