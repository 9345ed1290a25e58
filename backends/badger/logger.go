package badger

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// slogLogger forwards Badger's log lines to an *slog.Logger instead of
// Badger's default, which writes to stderr. Errorf, Warningf, Infof and
// Debugf map to the slog levels of the same name; every record carries
// engine=badger. Lines below the logger's level are not even formatted.
type slogLogger struct {
	l *slog.Logger
}

var _ badger.Logger = slogLogger{}

func newLogger(l *slog.Logger) slogLogger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return slogLogger{l: l.With(slog.String("engine", "badger"))}
}

func (s slogLogger) log(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n ")
	s.l.Log(ctx, level, msg)
}

func (s slogLogger) Errorf(format string, args ...any) {
	s.log(slog.LevelError, format, args...)
}

func (s slogLogger) Warningf(format string, args ...any) {
	s.log(slog.LevelWarn, format, args...)
}

func (s slogLogger) Infof(format string, args ...any) {
	s.log(slog.LevelInfo, format, args...)
}

func (s slogLogger) Debugf(format string, args ...any) {
	s.log(slog.LevelDebug, format, args...)
}
