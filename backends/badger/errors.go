package badger

import (
	"errors"
	"fmt"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/polykv/polykv/kv"
)

// Badger's errors are translated into kv's sentinels at this boundary, so
// that callers match them with errors.Is and never import Badger:
//
//	badger.ErrKeyNotFound                   kv.ErrNotFound
//	badger.ErrConflict                      kv.ErrConflict (impossible: conflict detection is off)
//	badger.ErrDBClosed, ErrBlockedWrites    kv.ErrClosed
//	badger.ErrTxnTooBig                     kv.ErrTxnTooLarge (impossible: see checkTxnLimits)
//	badger.ErrDiscardedTxn                  kv.ErrClosed (a snapshot used after Close)
//	another holder of the directory lock   kv.ErrLocked
//	a failed checksum or an undecodable    kv.ErrCorrupt (see corrupt)
//	table block, manifest or key registry
//	ENOSPC, EDQUOT (in the chain or text)   kv.ErrNoSpace (kv.Fault)
//	EIO, EROFS, ... (in the chain or text)  kv.ErrIO (kv.Fault)
//
// Other errors are wrapped as they are, with the operation and the path:
// "kv: badger: <op> <path>: <badger's message>". A full disk seldom comes
// back as an error from Badger, which writes its logs and tables through
// memory maps: the engine refuses writes before that (see freeSpace).

// translate maps a Badger error to kv's sentinel (or returns it unchanged).
// Badger's own wrapping (y.Wrap) flattens errors to strings outside its
// debug mode, so only errors returned as they are can be recognized; the
// API calls used here return their sentinels unwrapped.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kv.ErrCorrupt):
		return err
	case errors.Is(err, badger.ErrKeyNotFound):
		return kv.ErrNotFound
	case errors.Is(err, badger.ErrConflict):
		return kv.ErrConflict
	case errors.Is(err, badger.ErrTxnTooBig):
		return kv.ErrTxnTooLarge
	case errors.Is(err, badger.ErrDBClosed), errors.Is(err, badger.ErrBlockedWrites),
		errors.Is(err, badger.ErrDiscardedTxn):
		return kv.ErrClosed
	}
	return err
}

// wrapErr returns err translated and wrapped with the operation and the
// store's directory. The translated sentinel stays matchable with errors.Is;
// Badger's original message is kept when it says more.
func wrapErr(op, dir string, err error) error {
	if err == nil {
		return nil
	}
	t := translate(corrupt(err))
	if t == err {
		err = kv.Fault(err)
		return fmt.Errorf("kv: badger: %s %s: %w", op, dir, err)
	}
	return fmt.Errorf("kv: badger: %s %s: %w (%v)", op, dir, t, err)
}

// errClosed is returned by every call on a closed engine or snapshot.
func errClosed(op, dir string) error {
	return fmt.Errorf("kv: badger: %s %s: %w", op, dir, kv.ErrClosed)
}

// corruptMessages are Badger's fixed messages for damaged files. Badger
// flattens the errors it wraps into strings (y.Wrap outside its debug
// mode), so y.ErrChecksumMismatch cannot be matched with errors.Is once
// wrapped: these messages are all that is left to recognize damage by.
var corruptMessages = []string{
	"checksum mismatch",                // y.ErrChecksumMismatch: a table block, the manifest, a log entry
	"checksum validation failed",       // Table.VerifyChecksum
	"invalid checksum length",          // a table block's trailer
	"failed to decode compressed data", // a table block that no longer decompresses
	"Manifest file might be corrupted", // a manifest record longer than the file
	"manifest has bad magic",           // the first bytes of the manifest
	"Encryption key mismatch",          // the key registry (polykv never encrypts)
	"Invalid datakey id",               // a value-log header (polykv never encrypts)
}

// corrupt returns err marked with kv.ErrCorrupt when it is Badger's report
// of damaged data, keeping Badger's message; other errors are returned as
// they are.
func corrupt(err error) error {
	if err == nil || errors.Is(err, kv.ErrCorrupt) {
		return err
	}
	msg := err.Error()
	for _, m := range corruptMessages {
		if strings.Contains(msg, m) {
			return fmt.Errorf("%w: %w", kv.ErrCorrupt, err)
		}
	}
	return err
}
