package logstore

import (
	"bytes"
	"fmt"
	"time"
)

// Key layout (the seed's, exactly):
//
//	log:{level}:{id}
//
// level is one of the six Level names and id a canonical UUIDv7 string, so
// the keys of one level sort in time order. Across levels, keys group by
// level name (critical, debug, error, info, trace, warning): PrefixLogAll
// does not iterate in time order; use Scan for a merged time order.

// KeyPrefix is the prefix of every log key.
const KeyPrefix = "log:"

// AppendKey appends the key of an entry of level with id to dst and returns
// the extended slice. It fails with ErrInvalidLevel or ErrInvalidID.
func AppendKey(dst []byte, level Level, id string) ([]byte, error) {
	if err := level.check(); err != nil {
		return dst, err
	}
	if err := checkID(id); err != nil {
		return dst, err
	}
	return appendKey(dst, level, id), nil
}

func appendKey(dst []byte, level Level, id string) []byte {
	dst = append(dst, KeyPrefix...)
	dst = append(dst, level...)
	dst = append(dst, ':')
	return append(dst, id...)
}

// KeyLog returns the key log:{level}:{id} as a new slice.
//
// Unlike the seed's single-valued KeyLog, it returns an error: an unknown
// level or an ID that is not a canonical UUIDv7 would break the time order
// of the keys.
func KeyLog(level Level, id string) ([]byte, error) {
	return AppendKey(make([]byte, 0, len(KeyPrefix)+len(level)+1+IDLen), level, id)
}

// PrefixLogByLevel returns the prefix log:{level}: of every key of level,
// as a new slice. Iterating it visits the level's entries in time order.
func PrefixLogByLevel(level Level) ([]byte, error) {
	if err := level.check(); err != nil {
		return nil, err
	}
	return appendLevelPrefix(nil, level), nil
}

func appendLevelPrefix(dst []byte, level Level) []byte {
	dst = append(dst, KeyPrefix...)
	dst = append(dst, level...)
	return append(dst, ':')
}

// PrefixLogAll returns "log:", the prefix of every log key, as a new slice.
// Its iteration is grouped by level, not in time order.
func PrefixLogAll() []byte { return []byte(KeyPrefix) }

// ParseKey splits a log key into its level and ID, checking both.
func ParseKey(key []byte) (Level, string, error) {
	rest, ok := bytes.CutPrefix(key, []byte(KeyPrefix))
	if !ok {
		return "", "", fmt.Errorf("%w: key %q does not start with %q", ErrCorruptEntry, key, KeyPrefix)
	}
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return "", "", fmt.Errorf("%w: key %q has no level segment", ErrCorruptEntry, key)
	}
	level := Level(rest[:i])
	if err := level.check(); err != nil {
		return "", "", err
	}
	id := string(rest[i+1:])
	if err := checkID(id); err != nil {
		return "", "", err
	}
	return level, id, nil
}

// levelTimeKey appends the first key of level at or after millisecond ms:
// log:{level}:tttttttt-tttt- .
func levelTimeKey(dst []byte, level Level, ms int64) []byte {
	return appendMsPrefix(appendLevelPrefix(dst, level), ms)
}

// levelBounds returns the iteration bounds of level's keys made in
// [since, until) (zero times are unbounded), at millisecond precision.
func levelBounds(level Level, since, until time.Time) (start, end []byte) {
	start = appendLevelPrefix(nil, level)
	if !since.IsZero() {
		if ms, past := boundMs(since); past {
			start = levelEnd(level) // after every ID: nothing selected
		} else {
			start = levelTimeKey(nil, level, ms)
		}
	}
	return start, levelUntil(level, until)
}

// levelUntil returns the end of level's keys before until (zero, or past
// the last millisecond an ID holds: the end of the level).
func levelUntil(level Level, until time.Time) []byte {
	if until.IsZero() {
		return levelEnd(level)
	}
	ms, past := boundMs(until)
	if past {
		return levelEnd(level)
	}
	return levelTimeKey(nil, level, ms)
}

// levelEnd returns "log:{level};", the end of the level's prefix.
func levelEnd(level Level) []byte {
	end := appendLevelPrefix(nil, level)
	end[len(end)-1]++
	return end
}
