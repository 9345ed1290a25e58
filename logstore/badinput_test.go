package logstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// The zero IDGenerator works as NewIDGenerator(nil, nil) does (it panicked
// with a nil clock, inside a LogBuffer's lock, which then hung every other
// call); the zero LogBuffer, which has no flusher, says so.
func TestZeroValues(t *testing.T) {
	var g logstore.IDGenerator
	a, _, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := g.Next()
	if err != nil || !(a.String() < b.String()) {
		t.Fatalf("zero IDGenerator: %s then %s, %v; want increasing IDs", a, b, err)
	}

	s, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lb := logstore.NewLogBufferOptions(s, logstore.Options{IDs: &logstore.IDGenerator{}})
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}); err != nil {
		t.Fatalf("Add through a zero IDGenerator: %v", err)
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}

	var zero logstore.LogBuffer
	for name, call := range map[string]func() error{
		"Add":   func() error { return zero.Add(logstore.LogEntry{Level: logstore.LevelInfo}) },
		"Flush": func() error { return zero.Flush(context.Background()) },
		"Stop":  zero.Stop,
	} {
		if err := call(); !errors.Is(err, kv.ErrInvalidConfig) {
			t.Errorf("zero LogBuffer.%s = %v, want kv.ErrInvalidConfig", name, err)
		}
	}
}

// The 48 bits of an ID's time end in the year 10889: past them Next fails
// instead of wrapping around to IDs that sort before the earlier ones.
func TestIDGeneratorEndOfTime(t *testing.T) {
	last := time.UnixMilli(1<<48 - 1)
	clock := last
	g := logstore.NewIDGenerator(func() time.Time { return clock }, bytes.NewReader(make([]byte, 1<<16)))
	prev := ""
	n := 0
	for ; n < 5000; n++ {
		id, _, err := g.Next()
		if err != nil {
			break
		}
		if s := id.String(); s <= prev {
			t.Fatalf("ID %d %s after %s: went backwards", n, s, prev)
		} else {
			prev = s
		}
	}
	if n != 4096 {
		t.Errorf("%d IDs issued in the last millisecond, want 4096 and then an error", n)
	}
	clock = last.Add(time.Second)
	if _, _, err := logstore.NewIDGenerator(func() time.Time { return clock }, nil).Next(); err == nil {
		t.Error("Next with the clock past the year 10889: no error")
	}
}

// The query functions given a nil store return an error instead of
// panicking (NewLogBuffer(nil) already did).
func TestQueryNilStore(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func() error{
		"Scan": func() error {
			_, err := logstore.Scan(ctx, nil, logstore.Query{}, func(logstore.LogEntry) error { return nil })
			return err
		},
		"Find":         func() error { _, _, err := logstore.Find(ctx, nil, logstore.Query{}); return err },
		"Newest":       func() error { _, err := logstore.Newest(ctx, nil, 1); return err },
		"Count":        func() error { _, err := logstore.Count(ctx, nil, logstore.Query{}); return err },
		"DeleteBefore": func() error { return logstore.DeleteBefore(ctx, nil, time.Now()) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, kv.ErrInvalidConfig) {
			t.Errorf("%s(nil store) = %v, want kv.ErrInvalidConfig", name, err)
		}
	}
}

// Text that is not valid UTF-8 is stored with U+FFFD for each bad byte,
// as documented, and a query filter with the same bytes still finds it
// (it found nothing: the filter was compared as given).
func TestInvalidUTF8Text(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	lb := logstore.NewLogBuffer(s, 10, time.Hour)
	e := logstore.LogEntry{Level: logstore.LevelInfo, Message: "caf\xe9 \xff\xfe", Entity: "w\xfe", EntityID: "id\xff", Queue: "src"}
	if err := lb.Add(e); err != nil {
		t.Fatal(err)
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	got, _, err := logstore.Find(ctx, s, logstore.Query{Entity: e.Entity, EntityID: e.EntityID})
	if err != nil || len(got) != 1 {
		t.Fatalf("Find by the entity it was added with: %d entries, %v; want 1", len(got), err)
	}
	if want := "caf\uFFFD \uFFFD\uFFFD"; got[0].Message != want || got[0].Entity != "w\uFFFD" || got[0].EntityID != "id\uFFFD" {
		t.Errorf("read back %q %q %q, want %q %q %q", got[0].Message, got[0].Entity, got[0].EntityID, want, "w\uFFFD", "id\uFFFD")
	}
	if n, err := logstore.Count(ctx, s, logstore.Query{Entity: e.Entity}); err != nil || n[logstore.LevelInfo] != 1 {
		t.Errorf("Count by the entity: %v, %v; want 1 info entry", n, err)
	}
}

// A key under "log:" that is not a log key (here the original package's
// UUIDv4 form, which logstore does not write) is damaged data to the
// queries: ErrCorruptEntry and kv.ErrCorrupt, from Find and from Count
// alike (Count counted it while Find failed with ErrInvalidID, a
// bad-input error).
func TestForeignLogKeyIsCorrupt(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	lb := logstore.NewLogBuffer(s, 10, time.Hour)
	if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, []byte("log:info:550e8400-e29b-41d4-a716-446655440000"), []byte(`{"v":1,"msg":"v4"}`)); err != nil {
		t.Fatal(err)
	}
	_, _, ferr := logstore.Find(ctx, s, logstore.Query{})
	_, cerr := logstore.Count(ctx, s, logstore.Query{})
	for name, err := range map[string]error{"Find": ferr, "Count": cerr} {
		if !errors.Is(err, logstore.ErrCorruptEntry) || !errors.Is(err, kv.ErrCorrupt) || !errors.Is(err, logstore.ErrInvalidID) {
			t.Errorf("%s over a foreign key: %v, want ErrCorruptEntry (kv.ErrCorrupt) saying the ID is invalid", name, err)
		}
	}
}

// With Query.Unreadable, a query passes the keys under "log:" that hold no
// readable entry (foreign keys, a damaged value, a newer encoding) to the
// callback and goes on: every readable entry is returned, in order, with
// a limit that counts readable entries only and cursors that are never
// one of the other keys; an error from the callback stops the query.
func TestQueryUnreadable(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	lb := logstore.NewLogBuffer(s, 10, time.Hour)
	for _, m := range []string{"a", "b", "c"} {
		if err := lb.Add(logstore.LogEntry{Level: logstore.LevelInfo, Message: m}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct milliseconds: a stable order
	}
	if err := lb.Stop(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"log:info:550e8400-e29b-41d4-a716-446655440000": `{"v":1,"msg":"v4"}`, // not a version 7 UUID
		"log:info:zzz":                          "x",
		"log:error:" + logstore.GenerateLogID(): "{not json",
		"log:info:" + logstore.GenerateLogID():  `{"v":99}`,
	}
	for k, v := range bad {
		if err := s.Set(ctx, []byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, newest := range []bool{false, true} {
		seen := map[string]error{}
		var msgs []string
		q := logstore.Query{Newest: newest, Limit: 2, Unreadable: func(k []byte, err error) error {
			seen[string(k)] = err
			return nil
		}}
		for {
			got, next, err := logstore.Find(ctx, s, q)
			if err != nil {
				t.Fatalf("Find (Newest %v): %v", newest, err)
			}
			for _, e := range got {
				msgs = append(msgs, e.Message)
			}
			if _, _, err := logstore.ParseKey([]byte(next)); next != "" && err != nil {
				t.Fatalf("cursor %q is not an entry's: %v", next, err)
			}
			if len(got) < q.Limit {
				break
			}
			q.After = next
		}
		want := "a b c"
		if newest {
			want = "c b a"
		}
		if got := strings.Join(msgs, " "); got != want {
			t.Errorf("Newest %v: entries %q, want %q", newest, got, want)
		}
		if len(seen) != len(bad) {
			t.Errorf("Newest %v: Unreadable saw %d keys, want %d: %v", newest, len(seen), len(bad), seen)
		}
		for k, err := range seen {
			if _, ok := bad[k]; !ok || err == nil {
				t.Errorf("Unreadable(%q, %v): not a bad key, or no reason", k, err)
			}
		}
	}
	n, err := logstore.Count(ctx, s, logstore.Query{Unreadable: func([]byte, error) error { return nil }})
	if err != nil || n[logstore.LevelInfo] != 4 { // the v99 entry has a valid key: Count reads keys only
		t.Errorf("Count with Unreadable = %v, %v; want 4 info entries", n, err)
	}
	stop := errors.New("stop")
	_, _, err = logstore.Find(ctx, s, logstore.Query{Unreadable: func([]byte, error) error { return stop }})
	if !errors.Is(err, stop) {
		t.Errorf("Find with an Unreadable that fails = %v, want its error", err)
	}
}

// Time bounds at and past the last millisecond an ID holds (the year
// 10889): an entry of that millisecond is before any later Until, and a
// far-future bound (time.Unix(1<<62, 0), a common "no bound" sentinel,
// where UnixMilli overflows) selects as an unbounded one, not as 1970.
func TestTimeBoundsPastIDs(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	last := time.UnixMilli(1<<48 - 1)
	g := logstore.NewIDGenerator(func() time.Time { return last }, nil)
	id, _, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	e := logstore.LogEntry{ID: id.String(), Level: logstore.LevelInfo, Message: "last"}
	k, _ := e.Key()
	v, _ := logstore.EncodeValue(e)
	if err := s.Set(ctx, k, v); err != nil {
		t.Fatal(err)
	}
	for _, past := range []time.Time{last.Add(time.Second), time.Unix(1<<62, 0)} {
		if got, _, err := logstore.Find(ctx, s, logstore.Query{Until: past}); err != nil || len(got) != 1 {
			t.Errorf("Until %v: %d entries, %v; want the 1", past, len(got), err)
		}
		if got, _, err := logstore.Find(ctx, s, logstore.Query{Since: past}); err != nil || len(got) != 0 {
			t.Errorf("Since %v: %d entries, %v; want none", past, len(got), err)
		}
		if _, _, err := logstore.NewIDGenerator(func() time.Time { return past }, nil).Next(); err == nil {
			t.Errorf("an ID for %v: no error", past)
		}
	}
	if err := logstore.DeleteBefore(ctx, s, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := logstore.Count(ctx, s, logstore.Query{}); n[logstore.LevelInfo] != 1 {
		t.Fatalf("DeleteBefore(the zero time) deleted the entry")
	}
	if err := logstore.DeleteBefore(ctx, s, time.Unix(1<<62, 0)); err != nil {
		t.Fatal(err)
	}
	if n, _ := logstore.Count(ctx, s, logstore.Query{}); n[logstore.LevelInfo] != 0 {
		t.Errorf("DeleteBefore(a far-future time) kept the entry")
	}
}

// memStore opens a memory store, closed at the end of the test.
func memStore(t *testing.T) kv.Store {
	t.Helper()
	s, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestNilReceiversAndNilContext: every method of a nil *LogBuffer, a nil
// or zero *Handler and a nil *IDGenerator, and every method and query
// function given a nil context, returns an error matching
// kv.ErrInvalidConfig (or, for those without one, does nothing) instead
// of panicking. The methods are found by reflection, so that a new one is
// checked too. (A slog Handler given a nil context takes
// context.Background, as slog's own handlers do.)
func TestNilReceiversAndNilContext(t *testing.T) {
	s, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	made := logstore.NewLogBuffer(s, 0, 0)
	defer made.Stop()
	var nilCtx context.Context
	entry := logstore.LogEntry{Level: logstore.LevelInfo, Message: "m"}
	receivers := []struct {
		name string
		recv any
		ctx  context.Context
	}{
		{"nil LogBuffer", (*logstore.LogBuffer)(nil), context.Background()},
		{"zero LogBuffer", new(logstore.LogBuffer), context.Background()},
		{"nil Handler", (*logstore.Handler)(nil), context.Background()},
		{"zero Handler", new(logstore.Handler), context.Background()},
		{"nil IDGenerator", (*logstore.IDGenerator)(nil), context.Background()},
		{"LogBuffer, nil context", made, nilCtx},
	}
	ctxType := reflect.TypeFor[context.Context]()
	for _, r := range receivers {
		v := reflect.ValueOf(r.recv)
		for i := range v.NumMethod() {
			name, ft := v.Type().Method(i).Name, v.Method(i).Type()
			if r.ctx == nil && (ft.NumIn() == 0 || ft.In(0) != ctxType) {
				continue // the nil context case: methods that take one
			}
			var args []reflect.Value
			for j := range ft.NumIn() {
				switch ft.In(j) {
				case ctxType:
					args = append(args, reflect.ValueOf(&r.ctx).Elem())
				case reflect.TypeFor[logstore.LogEntry]():
					args = append(args, reflect.ValueOf(entry))
				default:
					args = append(args, reflect.Zero(ft.In(j)))
				}
			}
			var out []reflect.Value
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s: %s panicked: %v", r.name, name, p)
					}
				}()
				out = v.Method(i).Call(args)
			}()
			if len(out) == 0 || ft.Out(ft.NumOut()-1) != reflect.TypeFor[error]() || name == "Err" {
				continue // panicked (reported), no error to return, or Err: no flush has failed
			}
			if err, _ := out[len(out)-1].Interface().(error); !errors.Is(err, kv.ErrInvalidConfig) {
				t.Errorf("%s: %s = %v, want kv.ErrInvalidConfig", r.name, name, err)
			}
		}
	}

	queries := map[string]func() error{
		"Scan": func() error {
			_, err := logstore.Scan(nilCtx, s, logstore.Query{}, func(logstore.LogEntry) error { return nil })
			return err
		},
		"Find": func() error { _, _, err := logstore.Find(nilCtx, s, logstore.Query{}); return err },
		"ByLevel": func() error {
			return logstore.ByLevel(nilCtx, s, logstore.LevelInfo, func(logstore.LogEntry) error { return nil })
		},
		"Newest":       func() error { _, err := logstore.Newest(nilCtx, s, 1); return err },
		"Tail":         func() error { _, _, err := logstore.Tail(nilCtx, s, "", 1); return err },
		"Latest":       func() error { _, err := logstore.Latest(nilCtx, s); return err },
		"Count":        func() error { _, err := logstore.Count(nilCtx, s, logstore.Query{}); return err },
		"DeleteBefore": func() error { return logstore.DeleteBefore(nilCtx, s, time.Now()) },
	}
	for name, call := range queries {
		var err error
		noPanic := func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panicked: %v", p)
				}
			}()
			err = call()
		}
		if noPanic(); !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "nil context") {
			t.Errorf("%s with a nil context = %v, want kv.ErrInvalidConfig saying so", name, err)
		}
	}
}
