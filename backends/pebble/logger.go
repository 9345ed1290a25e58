package pebble

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Pebble logs through Options.Logger (pebble.DefaultLogger writes to the
// standard library's log, i.e. stderr) and reports events through
// Options.EventListener, whose defaults log through the Logger. Both are
// routed to kv.Config.Logger here, so nothing reaches stderr:
//
//   - Pebble's Infof lines and routine events (flushes, compactions, files
//     created and deleted) at debug level;
//   - write stalls, slow disks, low disk space and possible API misuse at
//     warn level;
//   - background errors and detected on-disk corruption at error level
//     (Pebble's default listener treats corruption as fatal; here the read
//     that met it returns an error instead);
//   - Fatalf at error level, then a panic with *FatalError (see there).

// logger adapts an *slog.Logger to pebble.Logger.
type logger struct {
	l    *slog.Logger
	path string
	// fatal is called by Fatalf before it panics (the engine records the
	// failure so that it refuses later writes).
	fatal func(*FatalError)
}

var _ pebble.Logger = (*logger)(nil)

func (g *logger) log(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !g.l.Enabled(ctx, level) {
		return
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	g.l.Log(ctx, level, msg, "backend", "pebble", "path", g.path)
}

func (g *logger) Infof(format string, args ...any)  { g.log(slog.LevelDebug, format, args...) }
func (g *logger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args...) }

// Fatalf logs at error level and panics with a *FatalError: Pebble's code
// after a call to Fatalf assumes it does not return.
func (g *logger) Fatalf(format string, args ...any) {
	var cause error
	for _, a := range args {
		if err, ok := a.(error); ok {
			cause = err
			break
		}
	}
	panic(g.failure(strings.TrimRight(fmt.Sprintf(format, args...), "\n"), cause))
}

// failure logs a fatal failure at error level and records it (g.fatal).
// Fatalf panics with it; failures Pebble returns as errors instead (a WAL
// sync that fails after ApplyNoSyncWait returned) are reported with it
// as they are.
func (g *logger) failure(msg string, cause error) *FatalError {
	fe := &FatalError{Path: g.path, Msg: msg, Err: cause}
	g.l.Log(context.Background(), slog.LevelError, "pebble: fatal: "+fe.Msg, "backend", "pebble", "path", g.path)
	if g.fatal != nil {
		g.fatal(fe)
	}
	return fe
}

// eventListener logs Pebble's events through g at the levels listed above.
func eventListener(g *logger) *pebble.EventListener {
	l := pebble.MakeLoggingEventListener(g) // routine events, via Infof: debug
	l.BackgroundError = func(err error) {
		g.log(slog.LevelError, "pebble: background error: %v", err)
	}
	l.DataCorruption = func(info pebble.DataCorruptionInfo) {
		g.log(slog.LevelError, "pebble: %s", info)
	}
	l.DiskSlow = func(info pebble.DiskSlowInfo) {
		g.log(slog.LevelWarn, "pebble: %s", info)
	}
	l.LowDiskSpace = func(info pebble.LowDiskSpaceInfo) {
		g.log(slog.LevelWarn, "pebble: %s", info)
	}
	l.WriteStallBegin = func(info pebble.WriteStallBeginInfo) {
		g.log(slog.LevelWarn, "pebble: %s", info)
	}
	l.PossibleAPIMisuse = func(info pebble.PossibleAPIMisuseInfo) {
		g.log(slog.LevelWarn, "pebble: %s", info)
	}
	return &l
}
