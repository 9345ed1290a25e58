package bbolt

import (
	"context"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// boltLogger returns the bbolt logger for l: nil (bbolt's silent default,
// which also skips bbolt's per-operation debug formatting) when l does not
// log errors, and otherwise an adapter writing bbolt's lines to l. bbolt
// never writes to stderr through polykv.
func boltLogger(l *slog.Logger) bolt.Logger {
	if l == nil || !l.Enabled(context.Background(), slog.LevelError) {
		return nil
	}
	return slogLogger{l}
}

// slogLogger adapts a *slog.Logger to bolt.Logger. Fatal and Panic log at
// error level and return: a library does not end its host (bbolt itself
// never calls them, but the interface has them).
type slogLogger struct{ l *slog.Logger }

var _ bolt.Logger = slogLogger{}

func (s slogLogger) log(level slog.Level, msg func() string) {
	ctx := context.Background()
	if s.l.Enabled(ctx, level) {
		s.l.Log(ctx, level, msg(), slog.String("engine", "bbolt"))
	}
}

func (s slogLogger) Debug(v ...any) {
	s.log(slog.LevelDebug, func() string { return fmt.Sprint(v...) })
}
func (s slogLogger) Debugf(f string, v ...any) {
	s.log(slog.LevelDebug, func() string { return fmt.Sprintf(f, v...) })
}
func (s slogLogger) Info(v ...any) { s.log(slog.LevelInfo, func() string { return fmt.Sprint(v...) }) }
func (s slogLogger) Infof(f string, v ...any) {
	s.log(slog.LevelInfo, func() string { return fmt.Sprintf(f, v...) })
}
func (s slogLogger) Warning(v ...any) {
	s.log(slog.LevelWarn, func() string { return fmt.Sprint(v...) })
}
func (s slogLogger) Warningf(f string, v ...any) {
	s.log(slog.LevelWarn, func() string { return fmt.Sprintf(f, v...) })
}
func (s slogLogger) Error(v ...any) {
	s.log(slog.LevelError, func() string { return fmt.Sprint(v...) })
}
func (s slogLogger) Errorf(f string, v ...any) {
	s.log(slog.LevelError, func() string { return fmt.Sprintf(f, v...) })
}
func (s slogLogger) Fatal(v ...any) { s.Error(v...) }
func (s slogLogger) Fatalf(f string, v ...any) {
	s.Errorf(f, v...)
}
func (s slogLogger) Panic(v ...any) { s.Error(v...) }
func (s slogLogger) Panicf(f string, v ...any) {
	s.Errorf(f, v...)
}
