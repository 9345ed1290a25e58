package logstore_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/logstore"
)

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg } // dereferences a nil receiver

type boomJSON struct{}

func (boomJSON) MarshalJSON() ([]byte, error) { panic("boom") }

// TestHandlerHostileValues: a log call never panics for what it logs: a
// method of a value that panics is stored as slog's handlers store it
// ("<nil>" for a nil pointer, "!PANIC: ..." otherwise; the panic reached
// the Info call before). And WithGroup after a With group of the same name
// adds to that group, as slog merges them (it replaced it).
func TestHandlerHostileValues(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	lb := logstore.NewLogBuffer(s, 10, time.Hour)
	l := slog.New(logstore.NewHandler(lb, nil))
	l.Info("values", "err", (*nilErr)(nil), "json", boomJSON{})
	l.With(slog.Group("req", slog.String("id", "r1"))).WithGroup("req").Info("groups", "status", 200)
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	es, _, err := logstore.Find(ctx, s, logstore.Query{})
	if err != nil || len(es) != 2 {
		t.Fatalf("Find: %d entries, %v; want 2", len(es), err)
	}
	attrs := func(e logstore.LogEntry) string {
		b, _ := json.Marshal(e.Attrs)
		return string(b)
	}
	if got, want := attrs(es[0]), `{"err":"\u003cnil\u003e","json":"!PANIC: boom"}`; got != want {
		t.Errorf("hostile values stored as %s, want %s", got, want)
	}
	if got, want := attrs(es[1]), `{"req":{"id":"r1","status":200}}`; got != want {
		t.Errorf("WithGroup after a With group of the same name: %s, want %s", got, want)
	}
}
