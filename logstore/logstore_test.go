package logstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

func TestFromSlog(t *testing.T) {
	tests := []struct {
		in   slog.Level
		want logstore.Level
	}{
		{slog.LevelDebug - 8, logstore.LevelTrace},
		{slog.LevelDebug - 1, logstore.LevelTrace},
		{slog.LevelDebug, logstore.LevelDebug},
		{slog.LevelInfo - 1, logstore.LevelDebug},
		{slog.LevelInfo, logstore.LevelInfo},
		{slog.LevelWarn - 1, logstore.LevelInfo},
		{slog.LevelWarn, logstore.LevelWarning},
		{slog.LevelError - 1, logstore.LevelWarning},
		{slog.LevelError, logstore.LevelError},
		{slog.LevelError + 3, logstore.LevelError},
		{slog.LevelError + 4, logstore.LevelCritical},
		{slog.LevelError + 100, logstore.LevelCritical},
	}
	for _, tt := range tests {
		if got := logstore.FromSlog(tt.in); got != tt.want {
			t.Errorf("FromSlog(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, l := range logstore.Levels() {
		if got := logstore.FromSlog(l.Slog()); got != l {
			t.Errorf("FromSlog(%s.Slog()) = %s", l, got)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"trace", true}, {"debug", true}, {"info", true}, {"warning", true}, {"error", true}, {"critical", true},
		{"", false}, {"Info", false}, {"warn", false}, {"fatal", false}, {"info ", false},
	}
	for _, tt := range tests {
		l, err := logstore.ParseLevel(tt.in)
		if tt.ok != (err == nil) || (tt.ok && string(l) != tt.in) {
			t.Errorf("ParseLevel(%q) = %q, %v", tt.in, l, err)
		}
		if !tt.ok && !errors.Is(err, logstore.ErrInvalidLevel) {
			t.Errorf("ParseLevel(%q) error %v is not ErrInvalidLevel", tt.in, err)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"0190a5f2-7c3e-7b1d-8e4f-123456789abc", true},
		{"0190a5f2-7c3e-7b1d-bfff-ffffffffffff", true},
		{"0190a5f2-7c3e-4b1d-8e4f-123456789abc", false}, // version 4
		{"0190a5f2-7c3e-7b1d-ce4f-123456789abc", false}, // variant
		{"0190A5F2-7C3E-7B1D-8E4F-123456789ABC", false}, // uppercase
		{"0190a5f27c3e7b1d8e4f123456789abc", false},     // no hyphens
		{"0190a5f2-7c3e-7b1d-8e4f-123456789abcd", false},
		{"0190a5f2-7c3e-7b1d-8e4f_123456789abc", false},
		{"0190a5f2-7c3e-7b1d-8e4f-12345678-abc", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := logstore.ValidID(tt.id); got != tt.ok {
			t.Errorf("ValidID(%q) = %v", tt.id, got)
		}
	}
}

func TestIDGeneratorMonotonic(t *testing.T) {
	base := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	// A clock that steps back, stalls, and jumps.
	steps := []time.Duration{0, time.Millisecond, -5 * time.Second, -5 * time.Second, 0, 2 * time.Millisecond, time.Hour}
	i := 0
	g := logstore.NewIDGenerator(func() time.Time {
		d := steps[i%len(steps)]
		i++
		return base.Add(d)
	}, nil)
	var prev string
	for range 10_000 {
		id, _, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		s := id.String()
		if !logstore.ValidID(s) || id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("%s is not a valid v7 UUID", s)
		}
		if s <= prev {
			t.Fatalf("ID %s after %s: went backwards", s, prev)
		}
		prev = s
	}
	// More than 4096 IDs in one millisecond move on to the next one.
	frozen := logstore.NewIDGenerator(func() time.Time { return base }, nil)
	var last uuid.UUID
	for range 5000 {
		last, _, _ = frozen.Next()
	}
	tm, _ := logstore.IDTime(last.String())
	if tm != base.Add(time.Millisecond) {
		t.Errorf("ID 5000 of a frozen millisecond has time %v, want %v", tm, base.Add(time.Millisecond))
	}
}

func TestIDGeneratorConcurrent(t *testing.T) {
	g := logstore.NewIDGenerator(nil, nil)
	var mu sync.Mutex
	seen := map[uuid.UUID]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var prev string
			for range 2000 {
				id, _, _ := g.Next()
				if s := id.String(); s <= prev {
					t.Errorf("%s after %s in one goroutine", s, prev)
				} else {
					prev = s
				}
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 8000 {
		t.Errorf("%d distinct IDs, want 8000", len(seen))
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestIDGeneratorReaderError(t *testing.T) {
	g := logstore.NewIDGenerator(nil, failingReader{})
	if _, _, err := g.Next(); err == nil {
		t.Fatal("Next with a failing reader returned no error")
	}
}

func TestGenerateLogID(t *testing.T) {
	a, b := logstore.GenerateLogID(), logstore.GenerateLogID()
	if !logstore.ValidID(a) || !logstore.ValidID(b) || a >= b {
		t.Errorf("GenerateLogID: %q then %q", a, b)
	}
	if _, err := uuid.Parse(a); err != nil {
		t.Errorf("%q does not parse as a UUID: %v", a, err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	e := logstore.LogEntry{
		ID: logstore.GenerateLogID(), Timestamp: "2025-01-02T03:04:05.123456789Z", Level: logstore.LevelWarning,
		Entity: "worker", EntityID: "w-1", Queue: "dst", Message: "a \"b\" \n\t\\ é \u2028",
		Attrs: map[string]any{"n": 1, "g": map[string]any{"s": "x"}},
	}
	k, err := e.Key()
	if err != nil {
		t.Fatal(err)
	}
	v, err := logstore.EncodeValue(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(v, []byte(`{"v":1,`)) || !json.Valid(v) {
		t.Fatalf("value %s: want JSON starting with the version", v)
	}
	got, err := logstore.DecodeEntry(k, v)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Level != e.Level || got.Message != e.Message || got.Timestamp != e.Timestamp ||
		got.Entity != e.Entity || got.EntityID != e.EntityID || got.Queue != e.Queue {
		t.Errorf("round trip: %+v, want %+v", got, e)
	}
	if n, ok := got.Attrs["n"].(json.Number); !ok || n.String() != "1" {
		t.Errorf("attr n = %#v, want json.Number 1", got.Attrs["n"])
	}
	if _, err := logstore.DecodeEntry(k, []byte(`{"v":2,"msg":"x"}`)); !errors.Is(err, logstore.ErrUnsupportedVersion) {
		t.Errorf("newer version: %v", err)
	}
	for _, bad := range []string{`{"msg":"x"}`, `not json`, ``} {
		if _, err := logstore.DecodeEntry(k, []byte(bad)); !errors.Is(err, logstore.ErrCorruptEntry) {
			t.Errorf("DecodeEntry(%q) = %v, want ErrCorruptEntry", bad, err)
		}
	}
	if _, err := logstore.DecodeEntry([]byte("log:info:x"), v); !errors.Is(err, logstore.ErrInvalidID) {
		t.Errorf("bad key: %v", err)
	}
	if _, err := logstore.EncodeValue(logstore.LogEntry{Level: logstore.LevelInfo, Attrs: map[string]any{"c": make(chan int)}}); err == nil {
		t.Error("EncodeValue of an attribute encoding/json refuses: no error")
	}
}

// FuzzEncodeString checks that the hand-written JSON encoder round-trips
// any message and field through encoding/json.
func FuzzEncodeString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f", "é日本\u2028\u2029", "\xff\xfe bad utf8", "<>&"} {
		f.Add(s, s)
	}
	id := logstore.GenerateLogID()
	f.Fuzz(func(t *testing.T, msg, entity string) {
		e := logstore.LogEntry{ID: id, Level: logstore.LevelInfo, Message: msg, Entity: entity, Timestamp: entity}
		v, err := logstore.EncodeValue(e)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(v) {
			t.Fatalf("invalid JSON %q", v)
		}
		k, _ := e.Key()
		got, err := logstore.DecodeEntry(k, v)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json decodes invalid UTF-8 as U+FFFD, as the encoder wrote it.
		want := []string{string([]rune(msg)), string([]rune(entity))}
		if got.Message != want[0] || got.Entity != want[1] || got.Timestamp != want[1] {
			t.Fatalf("round trip of %q, %q: got %q, %q", msg, entity, got.Message, got.Entity)
		}
	})
}

// TestEncodeStringEscapes puts each byte that needs escaping (and some that
// do not) at every position of strings up to 24 bytes long, so that the
// encoder's 8-bytes-at-a-time scan meets it in every lane, and compares the
// stored message with encoding/json's (without HTML escaping).
func TestEncodeStringEscapes(t *testing.T) {
	id := logstore.GenerateLogID()
	specials := []string{"\x00", "\x1f", " ", "\"", "\\", "~", "\x7f", "\x80", "\xff", "é", "\u2028", "<"}
	for _, sp := range specials {
		for n := 0; n <= 24; n++ {
			for p := 0; p <= n; p++ {
				msg := strings.Repeat("a", p) + sp + strings.Repeat("b", n-p)
				var want bytes.Buffer
				enc := json.NewEncoder(&want)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(msg); err != nil {
					t.Fatal(err)
				}
				v, err := logstore.EncodeValue(logstore.LogEntry{ID: id, Level: logstore.LevelInfo, Message: msg})
				if err != nil {
					t.Fatal(err)
				}
				w := `,"msg":` + strings.TrimSuffix(want.String(), "\n") + "}"
				if !strings.HasSuffix(string(v), w) {
					t.Fatalf("message %q stored as %s, want it to end with %s", msg, v, w)
				}
			}
		}
	}
}

func TestSeededIDsAreReproducible(t *testing.T) {
	mk := func() []string {
		c := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		g := logstore.NewIDGenerator(func() time.Time { c = c.Add(300 * time.Microsecond); return c }, rand.NewChaCha8([32]byte{9}))
		var out []string
		for range 50 {
			id, _, _ := g.Next()
			out = append(out, id.String())
		}
		return out
	}
	a, b := mk(), mk()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("ID %d differs between two seeded generators: %s, %s", i, a[i], b[i])
		}
	}
}

// TestDamagedEntryThroughStore: a stored value that does not decode stops a
// query with ErrCorruptEntry, which also matches kv.ErrCorrupt (the
// sentinel of damaged data through every layer), instead of being skipped.
func TestDamagedEntryThroughStore(t *testing.T) {
	ctx := context.Background()
	s, err := kv.Open(ctx, kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := logstore.LogEntry{ID: logstore.GenerateLogID(), Level: logstore.LevelWarning, Message: "m"}
	k, err := e.Key()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, k, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	got, _, err := logstore.Find(ctx, s, logstore.Query{})
	if !errors.Is(err, logstore.ErrCorruptEntry) || !errors.Is(err, kv.ErrCorrupt) {
		t.Fatalf("Find over a damaged entry = %d entries, %v; want ErrCorruptEntry matching kv.ErrCorrupt", len(got), err)
	}
}
