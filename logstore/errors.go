package logstore

import (
	"errors"
	"fmt"

	"github.com/polykv/polykv/kv"
)

// Errors of the logstore package, matched with errors.Is. Errors of the
// underlying store (kv.ErrClosed, kv.ErrValueTooLarge, ...) are wrapped, not
// replaced: errors.Is finds them too.

// These can occur when an entry, a key or a query is built.
var (
	// ErrInvalidLevel is returned for a level that is not one of the six.
	ErrInvalidLevel = errors.New("logstore: invalid level")
	// ErrInvalidID is returned for an ID that is not a canonical
	// (lowercase, hyphenated) version 7 UUID string.
	ErrInvalidID = errors.New("logstore: invalid log id")
	// ErrInvalidCursor is returned for a tail cursor this package did not
	// produce.
	ErrInvalidCursor = errors.New("logstore: invalid cursor")
	// ErrCorruptEntry is returned when a stored value cannot be decoded, or
	// its key and value disagree. It wraps kv.ErrCorrupt, the sentinel of
	// damaged data on every layer.
	ErrCorruptEntry = fmt.Errorf("logstore: corrupt entry: %w", kv.ErrCorrupt)
	// ErrUnsupportedVersion is returned for a stored value written by a
	// newer encoding version than this build reads.
	ErrUnsupportedVersion = errors.New("logstore: unsupported entry encoding version")
	// ErrScanBounded is returned by a query that stopped after
	// Query.MaxScanned entries before it reached its Limit or the end of
	// its range: the cursor returned with it resumes where it stopped.
	ErrScanBounded = errors.New("logstore: query stopped after reading its MaxScanned entries")
)

// These can occur when a LogBuffer is used.
var (
	// ErrStopped is returned by Add, AddContext and Flush after Stop.
	ErrStopped = errors.New("logstore: log buffer stopped")
	// ErrUnwritten is returned (wrapped, with a count) by Stop when entries
	// could not be written before it gave up; Unwritten returns them.
	ErrUnwritten = errors.New("logstore: entries not written")
	// ErrFull is returned by Add when the buffer is full and the store has
	// failed in a way retries cannot fix (closed or read-only), so waiting
	// for space would wait forever.
	ErrFull = errors.New("logstore: log buffer full")
)
