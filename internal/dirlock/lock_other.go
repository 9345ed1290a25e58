//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package dirlock

import (
	"errors"
	"os"
	"runtime"
)

var errWouldBlock = errors.New("dirlock: would block")

func lockFile(*os.File, bool) error {
	return errors.New("dirlock: directory locks are not supported on " + runtime.GOOS)
}
