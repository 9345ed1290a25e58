package logstore

import (
	"fmt"
	"log/slog"
)

// Level is the severity of a log entry. It is the level segment of the key
// (log:{level}:{id}) and must be one of the six constants below.
type Level string

// The six levels, from least to most severe. Their string values are the
// key segments of the seed specification.
const (
	LevelTrace    Level = "trace"
	LevelDebug    Level = "debug"
	LevelInfo     Level = "info"
	LevelWarning  Level = "warning"
	LevelError    Level = "error"
	LevelCritical Level = "critical"
)

// Levels returns the six levels from least to most severe. The slice is new
// on every call.
func Levels() []Level {
	return []Level{LevelTrace, LevelDebug, LevelInfo, LevelWarning, LevelError, LevelCritical}
}

// Valid reports whether l is one of the six levels.
func (l Level) Valid() bool {
	switch l {
	case LevelTrace, LevelDebug, LevelInfo, LevelWarning, LevelError, LevelCritical:
		return true
	}
	return false
}

// check returns ErrInvalidLevel, naming l and the valid levels, when l is
// not one of the six levels.
func (l Level) check() error {
	if l.Valid() {
		return nil
	}
	return fmt.Errorf("%w %q (want trace, debug, info, warning, error or critical)", ErrInvalidLevel, string(l))
}

// ParseLevel returns the Level named s, or ErrInvalidLevel. Names are exact
// and lowercase, as they appear in keys.
func ParseLevel(s string) (Level, error) {
	l := Level(s)
	if err := l.check(); err != nil {
		return "", err
	}
	return l, nil
}

// String returns the level's name.
func (l Level) String() string { return string(l) }

// FromSlog maps a slog level to one of the six levels:
//
//	below slog.LevelDebug (-4)        trace
//	slog.LevelDebug .. LevelInfo-1    debug
//	slog.LevelInfo  .. LevelWarn-1    info
//	slog.LevelWarn  .. LevelError-1   warning
//	slog.LevelError .. LevelError+3   error
//	slog.LevelError+4 (12) and above  critical
func FromSlog(l slog.Level) Level {
	switch {
	case l < slog.LevelDebug:
		return LevelTrace
	case l < slog.LevelInfo:
		return LevelDebug
	case l < slog.LevelWarn:
		return LevelInfo
	case l < slog.LevelError:
		return LevelWarning
	case l < slog.LevelError+4:
		return LevelError
	default:
		return LevelCritical
	}
}

// Slog returns the slog level a Level stands for: the lowest slog level
// that FromSlog maps to it (trace is slog.LevelDebug-4, critical is
// slog.LevelError+4). An invalid level maps to slog.LevelInfo.
func (l Level) Slog() slog.Level {
	switch l {
	case LevelTrace:
		return slog.LevelDebug - 4
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarning:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	case LevelCritical:
		return slog.LevelError + 4
	default:
		return slog.LevelInfo
	}
}
