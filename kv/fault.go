package kv

import (
	"errors"
	"strings"
	"syscall"
)

// Fault classifies err, an error from the operating system or from an
// engine, as a fault of the medium: it returns an error that matches
// ErrNoSpace (the disk or a quota is full: ENOSPC, EDQUOT) or ErrIO (EIO,
// EROFS, ENXIO, ENODEV, ESTALE, EFBIG) with errors.Is, and still matches
// err, so errors.Is(Fault(err), syscall.ENOSPC) holds where the operating
// system said so. Its message is err's.
//
// An error that already matches one of kv's fault sentinels (ErrNoSpace,
// ErrCorrupt, ErrIO, ErrUnavailable, ErrOutcomeUnknown) is returned as it
// is, and so is any error that is no fault (nil included).
//
// The errno is looked for in err's chain (errors.As: *fs.PathError,
// *os.SyscallError and engines' wrappers unwrap to it). Engines that flatten
// errors into strings (Badger's y.Wrap outside its debug mode) leave only
// the operating system's words: when the chain holds no errno, Fault looks
// for the message of one of the errnos above in err's text, and the result
// then matches that errno too.
//
// Backends call Fault at their error boundary; the layers over kv pass the
// errors through unchanged.
func Fault(err error) error {
	if err == nil || isFault(err) {
		return err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s := faultSentinel(errno); s != nil {
			return &faultError{kind: s, err: err}
		}
		return err
	}
	msg := err.Error()
	for _, e := range faultErrnos {
		if strings.Contains(msg, e.Error()) {
			return &faultError{kind: faultSentinel(e), err: err, errno: e}
		}
	}
	return err
}

// faultErrnos are the errnos Fault recognises, in the order their
// messages are looked for in a flattened error.
var faultErrnos = []syscall.Errno{
	syscall.ENOSPC, syscall.EDQUOT,
	syscall.EIO, syscall.EROFS, syscall.ENXIO, syscall.ENODEV, syscall.ESTALE, syscall.EFBIG,
}

func faultSentinel(errno syscall.Errno) error {
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT:
		return ErrNoSpace
	case syscall.EIO, syscall.EROFS, syscall.ENXIO, syscall.ENODEV, syscall.ESTALE, syscall.EFBIG:
		return ErrIO
	}
	return nil
}

func isFault(err error) bool {
	for _, s := range []error{ErrNoSpace, ErrCorrupt, ErrIO, ErrUnavailable, ErrOutcomeUnknown} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// faultError is what Fault returns: err, which keeps its message, matching
// kind (a kv sentinel) and, for a flattened error, errno too.
type faultError struct {
	kind  error
	err   error
	errno syscall.Errno // non-zero when err's chain lacks it
}

func (e *faultError) Error() string { return e.err.Error() }

func (e *faultError) Unwrap() []error {
	if e.errno != 0 {
		return []error{e.kind, e.err, e.errno}
	}
	return []error{e.kind, e.err}
}

// readOnlyHint is appended to the error of a read-write open that failed
// because the file system is mounted read-only.
func readOnlyHint(err error) string {
	if errors.Is(err, syscall.EROFS) {
		return " (the file system is read-only: open the store with ReadOnly)"
	}
	return ""
}
