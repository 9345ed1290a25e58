package logstore

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"time"

	"github.com/polykv/polykv/kv"
)

// HandlerOptions configure a Handler. The zero value is usable.
type HandlerOptions struct {
	// Level is the minimum level recorded (default slog.LevelInfo). Use
	// LevelTrace.Slog() to record everything.
	Level slog.Leveler
	// Entity, EntityID and Queue are the fields of every entry unless a
	// record or logger attribute of the same name (see Handler) sets them.
	Entity, EntityID, Queue string
	// AddSource stores the caller's "file:line" under the "source" attribute.
	AddSource bool
}

// Handler is a slog.Handler that writes records through a LogBuffer. Make
// one with NewHandler; Handle of a nil or zero Handler returns an error
// matching kv.ErrInvalidConfig.
//
// A record becomes a LogEntry:
//
//   - Level: the slog level mapped by FromSlog (trace .. critical);
//   - Message: the record's message;
//   - Timestamp: the record's time, UTC, RFC 3339 with nanoseconds; a zero
//     record time leaves it empty (the entry still has its ID's time);
//   - the ID is issued by the LogBuffer;
//   - Entity, EntityID, Queue: the top-level (not grouped) string
//     attributes "entity", "entity_id" and "queue" when present, else
//     HandlerOptions; these three attributes are moved into the fields;
//   - Attrs: every other attribute, with groups as nested maps. Values are
//     resolved (LogValuer) and stored as JSON: strings, numbers and bools
//     as themselves, time.Time as RFC 3339 text, time.Duration as its
//     String(), an error as its message, NaN and infinities as text, a
//     value with a MarshalJSON method as its JSON, a fmt.Stringer as its
//     String(), any other value as its JSON encoding when it has one and
//     as fmt's %+v otherwise; a method that panics gives "<nil>" for a nil
//     pointer and "!PANIC: ..." otherwise, as slog's handlers do. Empty attributes and empty groups are left out, and a
//     group with an empty key is inlined, as slog requires.
//
// Handle blocks while the buffer is full (backpressure) until the record's
// context is done; it returns the buffer's error (ErrStopped after Stop),
// or the entry's (kv.ErrValueTooLarge for a record whose encoding is past
// the store's value or transaction limit). slog.Logger discards what its
// handler returns: through a Logger such a record is lost without a word,
// so keep records well below the limit (4 MiB by default), or call Handle
// where the error matters. A Handler is safe for concurrent use.
type Handler struct {
	buf  *LogBuffer
	opts HandlerOptions
	goas []groupOrAttrs
}

// groupOrAttrs is one WithGroup or WithAttrs call.
type groupOrAttrs struct {
	group string
	attrs []slog.Attr
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler writing to buf. opts may be nil.
func NewHandler(buf *LogBuffer, opts *HandlerOptions) *Handler {
	h := &Handler{buf: buf}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Level == nil {
		h.opts.Level = slog.LevelInfo
	}
	return h
}

// Enabled reports whether level is at least HandlerOptions.Level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	if h == nil || h.opts.Level == nil {
		return level >= slog.LevelInfo // the zero Handler: NewHandler's default
	}
	return level >= h.opts.Level.Level()
}

// WithAttrs returns a Handler whose records carry attrs too.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(groupOrAttrs{attrs: append([]slog.Attr(nil), attrs...)})
}

// WithGroup returns a Handler that puts the attributes that follow in a
// group named name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(groupOrAttrs{group: name})
}

func (h *Handler) with(g groupOrAttrs) *Handler {
	var h2 Handler
	if h != nil {
		h2 = *h
	}
	h2.goas = append(h2.goas[:len(h2.goas):len(h2.goas)], g)
	return &h2
}

// Handle turns r into a LogEntry and adds it to the buffer.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if h == nil || h.buf == nil {
		return fmt.Errorf("%w: logstore: NewHandler: nil LogBuffer", kv.ErrInvalidConfig)
	}
	e := LogEntry{
		Level:    FromSlog(r.Level),
		Message:  r.Message,
		Entity:   h.opts.Entity,
		EntityID: h.opts.EntityID,
		Queue:    h.opts.Queue,
	}
	if !r.Time.IsZero() {
		e.Timestamp = r.Time.UTC().Format(time.RFC3339Nano)
	}
	root := map[string]any{}
	cur := root
	goas := h.goas
	if r.NumAttrs() == 0 {
		for len(goas) > 0 && goas[len(goas)-1].group != "" {
			goas = goas[:len(goas)-1]
		}
	}
	for _, g := range goas {
		if g.group != "" {
			// Into the group of that name a With attribute made, if any:
			// slog merges two groups of one name.
			m, ok := cur[g.group].(map[string]any)
			if !ok {
				m = map[string]any{}
				cur[g.group] = m
			}
			cur = m
			continue
		}
		for _, a := range g.attrs {
			addAttr(cur, a)
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(cur, a)
		return true
	})
	if h.opts.AddSource && r.PC != 0 {
		fs := runtime.CallersFrames([]uintptr{r.PC})
		f, _ := fs.Next()
		root[slog.SourceKey] = f.File + ":" + strconv.Itoa(f.Line)
	}
	prune(root)
	for key, field := range map[string]*string{"entity": &e.Entity, "entity_id": &e.EntityID, "queue": &e.Queue} {
		if s, ok := root[key].(string); ok {
			*field = s
			delete(root, key)
		}
	}
	if len(root) > 0 {
		e.Attrs = root
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return h.buf.add(ctx, &e, false)
}

// addAttr adds a to m as slog's rules say.
func addAttr(m map[string]any, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return
		}
		dst := m
		if a.Key != "" {
			sub, ok := m[a.Key].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[a.Key] = sub
			}
			dst = sub
		}
		for _, ga := range attrs {
			addAttr(dst, ga)
		}
		return
	}
	m[a.Key] = jsonValue(a.Value)
}

// prune removes the maps left empty (groups whose attributes were all
// empty), and reports whether m is empty.
func prune(m map[string]any) bool {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && prune(sub) {
			delete(m, k)
		}
	}
	return len(m) == 0
}

// jsonValue converts a resolved slog value to a value encoding/json
// marshals without error. A method of the value that panics (Error,
// String or MarshalJSON on a nil pointer, say) gives "<nil>" for a nil
// pointer and "!PANIC: ..." otherwise, as slog's own handlers do: a log
// call never panics for what it logs.
func jsonValue(v slog.Value) (out any) {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return f
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	}
	x := v.Any()
	defer func() {
		if r := recover(); r != nil {
			if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
				out = "<nil>"
				return
			}
			out = fmt.Sprintf("!PANIC: %v", r)
		}
	}()
	switch x := x.(type) {
	case nil:
		return nil
	case error:
		return x.Error()
	case json.Marshaler:
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("%+v", x)
	}
	return json.RawMessage(b)
}
