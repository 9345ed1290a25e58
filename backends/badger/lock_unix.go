//go:build unix

package badger

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/polykv/polykv/kv"
)

// probeLock checks, before Badger opens dir, that nobody holds Badger's own
// directory lock (flock on the directory, exclusive for writers, shared for
// read-only opens): a program using Badger directly on the same directory.
// Badger reports that case only as a flattened string; probing lets the
// driver return kv.ErrLocked. kv's own lock file already excludes every
// other polykv store.
func probeLock(dir string, readOnly bool) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("kv: badger: open %s: %w", dir, err)
	}
	defer f.Close()
	how := unix.LOCK_EX
	if readOnly {
		how = unix.LOCK_SH
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("%w: badger: %s (held by another program using badger directly)", kv.ErrLocked, dir)
	}
	// Closing f drops the probe's lock before Badger takes its own.
	return nil
}
