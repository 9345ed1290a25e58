// Package dirlock takes an advisory lock on a store directory, so that one
// store directory is open in at most one place at a time.
//
// The lock is flock(2) on a file inside the directory. flock locks belong to
// an open file description, so a second lock attempt fails both from another
// process and from this one, and the kernel drops the lock when its holder
// dies, even by SIGKILL: a lock left by a killed process never blocks the
// next open.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// FileName is the lock file's name inside the directory.
const FileName = "polykv.lock"

// ErrLocked is returned when another holder has the lock.
var ErrLocked = errors.New("dirlock: directory is locked")

// Lock is a held directory lock.
type Lock struct {
	f *os.File
}

// Acquire locks dir without waiting: exclusively, or shared when shared is
// true (several read-only holders). It fails with ErrLocked at once when
// the lock is held in a conflicting mode.
func Acquire(dir string, shared bool) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	flag := os.O_RDWR | os.O_CREATE
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil && shared {
		// A read-only directory: lock the directory itself instead.
		f, err = os.Open(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("dirlock: open %s: %w", path, err)
	}
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("dirlock: flock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Closing the descriptor releases the flock.
	return f.Close()
}
