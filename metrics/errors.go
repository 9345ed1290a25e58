package metrics

import (
	"context"
	"errors"

	"github.com/polykv/polykv/kv"
)

// errKind is the value of the error label: which kv sentinel an error
// matches. The set is fixed, so the label's cardinality is bounded.
type errKind uint8

const (
	errNotFound errKind = iota
	errConflict
	errClosed
	errTxnTooLarge
	errNoSpace
	errCorrupt
	errIO
	errUnavailable
	errOutcomeUnknown
	errReadOnly
	errInvalid
	errCanceled
	errOther
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	errNotFound:       "not_found",
	errConflict:       "conflict",
	errClosed:         "closed",
	errTxnTooLarge:    "txn_too_large",
	errNoSpace:        "no_space",
	errCorrupt:        "corrupt",
	errIO:             "io",
	errUnavailable:    "unavailable",
	errOutcomeUnknown: "outcome_unknown",
	errReadOnly:       "read_only",
	errInvalid:        "invalid",
	errCanceled:       "canceled",
	errOther:          "other",
}

// kinds maps each sentinel to its label, in the order errors are matched:
// the first sentinel an error matches names it. ErrOutcomeUnknown comes
// first: it always carries its cause (kv.ErrIO, kv.ErrNoSpace,
// kv.ErrUnavailable), which alone would say that nothing was applied.
var kinds = [...]struct {
	err  error
	kind errKind
}{
	{kv.ErrOutcomeUnknown, errOutcomeUnknown},
	{kv.ErrNotFound, errNotFound},
	{kv.ErrConflict, errConflict},
	{kv.ErrClosed, errClosed},
	{kv.ErrTxnTooLarge, errTxnTooLarge},
	{kv.ErrNoSpace, errNoSpace},
	{kv.ErrCorrupt, errCorrupt},
	{kv.ErrIO, errIO},
	{kv.ErrUnavailable, errUnavailable},
	{kv.ErrReadOnly, errReadOnly},
	{kv.ErrEmptyKey, errInvalid},
	{kv.ErrKeyTooLarge, errInvalid},
	{kv.ErrValueTooLarge, errInvalid},
	{kv.ErrInvalidConfig, errInvalid},
	{kv.ErrTxnDone, errInvalid},
	{context.Canceled, errCanceled},
	{context.DeadlineExceeded, errCanceled},
}

// kindOf returns the label of a non-nil error.
func kindOf(err error) errKind {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return errOther
}
