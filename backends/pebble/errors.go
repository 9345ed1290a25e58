package pebble

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/polykv/polykv/kv"
)

// Errors are translated at the boundary: nothing of Pebble's error types
// leaks out of this package. These can occur:
//
//   - on a read: pebble.ErrNotFound becomes kv.ErrNotFound;
//   - on any call after Close: pebble.ErrClosed (and this package's own
//     guard) becomes kv.ErrClosed;
//   - on open: a held Pebble LOCK file becomes kv.ErrLocked, a read-only open
//     of a directory Pebble never initialised becomes kv.ErrNotAStore;
//   - on a fatal engine failure (see FatalError): every later write returns
//     the FatalError, which matches kv.ErrNeedsReopen and the fault
//     (kv.ErrNoSpace, kv.ErrIO);
//   - a full disk or another fault of the medium met by a call: kv.ErrNoSpace
//     or kv.ErrIO (kv.Fault), with the operating system's error kept;
//   - on any read, iteration or open that meets damaged data (a block, a
//     MANIFEST or WAL record that fails its checksum or does not decode:
//     pebble.IsCorruptionError) the error matches kv.ErrCorrupt, with
//     Pebble's message naming the file and block.
//
// Everything else is wrapped as "kv: pebble: <op> <path>: <pebble's error>".

// errClosed is returned by the engine's own guard when it is used after Close.
var errClosed = fmt.Errorf("kv: pebble: %w", kv.ErrClosed)

// FatalError is what Pebble reports through Logger.Fatalf: a failure it
// cannot recover from, such as a failed write or sync of the WAL or the
// MANIFEST. Pebble's own logger ends the process (os.Exit) there, and
// Pebble's code after Fatalf assumes it never returns.
//
// This package logs the failure at error level on Config.Logger and then
// panics with a *FatalError. When the failure happens inside a commit (the
// goroutine of Store.Write, Set, Delete, Update or DeleteRange), the panic is
// recovered, the write returns the *FatalError, and the store refuses every
// later write with it (Pebble's commit pipeline is unusable afterwards);
// reads keep working and Close still releases the directory. When it happens
// in one of Pebble's background goroutines (flush, compaction), nothing can
// recover it and the process ends, as it would with Pebble's default logger.
type FatalError struct {
	// Path is the store directory.
	Path string
	// Msg is Pebble's message.
	Msg string
	// Err is the error Pebble reported the failure with, if any (a failed
	// write or sync of the WAL: the operating system's error).
	Err error
}

func (e *FatalError) Error() string {
	return "kv: pebble: fatal engine failure in " + e.Path + ": " + e.Msg + "; the store takes no more writes: close and reopen it"
}

// Unwrap makes a FatalError match kv.ErrNeedsReopen and, classified by
// kv.Fault, the error it was reported with: kv.ErrNoSpace and
// syscall.ENOSPC for a full disk, kv.ErrIO for another fault of the medium.
func (e *FatalError) Unwrap() []error {
	if e.Err == nil {
		return []error{kv.ErrNeedsReopen}
	}
	return []error{kv.ErrNeedsReopen, kv.Fault(e.Err)}
}

// translate maps a Pebble error onto kv's sentinels and adds context.
func translate(op, path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pebble.ErrNotFound):
		return kv.ErrNotFound
	case errors.Is(err, pebble.ErrClosed):
		return errClosed
	case errors.Is(err, pebble.ErrReadOnly):
		return fmt.Errorf("kv: pebble: %s %s: %w", op, path, kv.ErrReadOnly)
	case errors.Is(err, pebble.ErrDBDoesNotExist):
		return fmt.Errorf("%w: pebble: %s %s: no pebble database in the directory (%v)", kv.ErrNotAStore, op, path, err)
	case errors.Is(err, kv.ErrCorrupt):
		return err
	case pebble.IsCorruptionError(err):
		return &corruptError{msg: fmt.Sprintf("kv: pebble: %s %s: %v: %s", op, path, kv.ErrCorrupt, corruptionMessage(err)), err: err}
	}
	var fe *FatalError
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("kv: pebble: %s %s: %w", op, path, kv.Fault(err))
}

// corruptError is a Pebble corruption error as kv reports it: matching
// kv.ErrCorrupt and Pebble's own error (pebble.ExtractDataCorruptionInfo
// still finds its details), with a message for people.
type corruptError struct {
	msg string
	err error
}

func (e *corruptError) Error() string   { return e.msg }
func (e *corruptError) Unwrap() []error { return []error{kv.ErrCorrupt, e.err} }

// corruptionMessage is the text of a Pebble corruption error without the
// line of the error Pebble joins to it to carry its details ("<corruption
// detail carrier>"), naming the damaged file when the text does not.
func corruptionMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n<corruption detail carrier>", "")
	if info := pebble.ExtractDataCorruptionInfo(err); info != nil && info.Path != "" && !strings.Contains(msg, info.Path) {
		msg += " (file " + info.Path + ")"
	}
	return msg
}

// translateLock maps the error of taking Pebble's LOCK file. An error that is
// not about the file itself (creating it: *fs.PathError) is a lock held
// elsewhere: by this process ("lock held by current process") or another
// one (fcntl's EAGAIN/EACCES).
func translateLock(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("kv: pebble: lock %s: %w", path, kv.Fault(err))
	}
	return fmt.Errorf("%w: pebble: %s: %v", kv.ErrLocked, path, err)
}
