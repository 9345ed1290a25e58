package kv

import "strconv"

// IterOptions selects the keys an iteration visits. The zero value visits
// every key in ascending bytewise order.
//
// Prefix, Start and End combine as an intersection: a key is visited when it
// starts with Prefix, is >= Start and is < End. Start and End are absolute
// keys, not relative to Prefix. A nil (or empty) Start or End is unbounded.
// When Start >= End nothing is visited. A Prefix of only 0xFF bytes has no
// upper bound; the empty Prefix matches every key.
type IterOptions struct {
	// Prefix restricts the iteration to keys starting with it.
	Prefix []byte
	// Start is the inclusive lower bound; nil means unbounded.
	Start []byte
	// End is the exclusive upper bound; nil means unbounded.
	End []byte
	// Reverse visits keys in descending order (from just below End, or the
	// last key, down to Start).
	Reverse bool
	// KeysOnly skips loading values: the callback receives a nil value.
	// Engines that keep large values apart (Badger) do no value I/O.
	KeysOnly bool
	// Limit stops the iteration after this many keys; 0 means no limit.
	// A negative Limit is an error.
	Limit int
}

// Durability says when a committed write is safe.
type Durability int

const (
	// Sync is the default: when a write or transaction returns, it survives
	// power loss (the engine has fsynced its log).
	Sync Durability = iota
	// NoSync acknowledges writes before they reach stable storage. After a
	// process kill the store is consistent (never a half-applied
	// transaction); what an engine may lose under a kill is declared by
	// Guarantees.NoSyncKeepsAckedOnKill. A power loss or kernel crash may
	// lose more: recent commits on every engine, and on bbolt, whose pages
	// and meta page may then reach the disk out of order, possibly the
	// whole file. Store.Sync makes everything committed so far durable.
	NoSync
)

// String returns "sync" or "nosync".
func (d Durability) String() string {
	switch d {
	case Sync:
		return "sync"
	case NoSync:
		return "nosync"
	default:
		return "durability(" + strconv.Itoa(int(d)) + ")"
	}
}

// MarshalText returns "sync" or "nosync", so that a Durability reads well in
// JSON and YAML. An undefined value is an error wrapping ErrInvalidConfig.
func (d Durability) MarshalText() ([]byte, error) {
	switch d {
	case Sync, NoSync:
		return []byte(d.String()), nil
	default:
		return nil, errInvalidDurability(d.String())
	}
}

// UnmarshalText accepts "sync" or "nosync" (in any case). Anything else is an
// error wrapping ErrInvalidConfig that names the allowed values.
func (d *Durability) UnmarshalText(text []byte) error {
	switch s := string(text); {
	case equalFoldASCII(s, "sync"):
		*d = Sync
	case equalFoldASCII(s, "nosync"):
		*d = NoSync
	default:
		return errInvalidDurability(`"` + s + `"`)
	}
	return nil
}

func errInvalidDurability(what string) error {
	return invalidf("durability %s: want \"sync\" or \"nosync\"", what)
}

func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
