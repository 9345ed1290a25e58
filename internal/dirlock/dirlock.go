// Package dirlock takes an advisory lock on a store directory, so that one
// store directory is open for writing in at most one place at a time.
//
// On Unix the lock is flock(2) on the file FileName inside the directory;
// on Windows, LockFileEx on the same file. Both locks belong to an open
// file (not to the process), so a second attempt fails from this process as
// well as from another one; and the kernel drops the lock when its holder
// dies, even by SIGKILL, so a lock left by a killed process never blocks the
// next open. Locks are never waited for: a conflict fails at once with
// ErrLocked.
//
// An exclusive holder writes its process ID into the file (and empties it
// on Release), so that the error a second opener gets can say who holds the
// directory.
package dirlock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// FileName is the lock file's name inside the directory.
const FileName = "polykv.lock"

// ErrLocked is returned when another holder has the lock in a conflicting
// mode.
var ErrLocked = errors.New("dirlock: directory is locked")

// Lock is a held directory lock.
type Lock struct {
	f      *os.File
	shared bool
}

// Acquire locks dir without waiting: exclusively, or shared when shared is
// true (any number of shared holders, no exclusive one). It fails at once
// with an error wrapping ErrLocked when the lock is held in a conflicting
// mode. A shared lock opens the lock file read-only when it exists, so it
// works in a directory the caller may only read; on a read-only file
// system without the lock file it holds nothing (no writer can open the
// directory there).
func Acquire(dir string, shared bool) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	var f *os.File
	var err error
	if shared {
		f, err = os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
			if errors.Is(err, syscall.EROFS) {
				// A read-only file system without the lock file (a
				// store copied there without it): no writer can open
				// the directory, so there is nobody to exclude.
				return &Lock{shared: true}, nil
			}
		}
	} else {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("dirlock: open %s: %w", path, err)
	}
	if err := lockFile(f, shared); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%w: %s%s", ErrLocked, dir, holder(path))
		}
		return nil, fmt.Errorf("dirlock: lock %s: %w", path, err)
	}
	if !shared {
		// Best effort: the PID only serves error messages.
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return &Lock{f: f, shared: shared}, nil
}

// holder describes the holder recorded in the lock file, if any.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return ""
	}
	// The PID is that of the last exclusive holder: shared holders do
	// not write theirs.
	if pid == os.Getpid() {
		return " (the lock file names this process, pid " + strconv.Itoa(pid) + ")"
	}
	return " (the lock file names pid " + strconv.Itoa(pid) + ")"
}

// Release drops the lock. It is safe to call more than once, and on a nil
// Lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	if !l.shared {
		_ = f.Truncate(0) // forget our PID; best effort
	}
	// Closing the file releases the lock.
	return f.Close()
}
