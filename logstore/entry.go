package logstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polykv/polykv/kv"
)

// LogEntry is one log line: the seed's fields, plus Attrs for structured
// attributes (what the slog handler stores).
type LogEntry struct {
	// ID is a canonical UUIDv7 string (GenerateLogID). Left empty, the
	// LogBuffer issues one when the entry is added. The key is the level
	// and the ID: an entry given the ID and level of another replaces it.
	ID string
	// Timestamp is when the event happened, as text (the seed writes
	// time.Now().Format(time.RFC3339Nano)); it is stored verbatim. Left
	// empty, the LogBuffer fills it, in UTC RFC 3339 with nanoseconds, from
	// the clock reading the ID was made from. Queries by time use the ID's
	// millisecond, not this field.
	Timestamp string
	// Level is one of the six levels.
	Level Level
	// Entity, EntityID and Queue say what logged the entry ("worker",
	// "worker-1", "src"); queries can filter on each.
	//
	// The text fields (Timestamp, Entity, EntityID, Message, Queue) are
	// stored as UTF-8: a byte that is not valid UTF-8 (a file name in
	// another encoding, say) is read back as U+FFFD, as encoding/json and
	// log/slog's JSON handler store it. A query filter is compared in the
	// same form, so it finds the entries it was written with. Keep the
	// exact bytes in Attrs, encoded (strconv.Quote, base64), when they
	// matter.
	Entity   string
	EntityID string
	Message  string
	Queue    string
	// Attrs holds structured attributes, encoded as a JSON object: values
	// must be what encoding/json can marshal. Groups are nested maps. When
	// read back, numbers are json.Number, objects map[string]any and arrays
	// []any. Nil or empty is not stored. Keys, like the text fields, are
	// stored as UTF-8: two keys that differ only in bytes that are not
	// valid UTF-8 become one, and one of their values is lost.
	Attrs map[string]any
}

// Time returns the entry's time: Timestamp parsed as RFC 3339 when it can
// be, otherwise the millisecond of its ID.
func (e LogEntry) Time() (time.Time, error) {
	if e.Timestamp != "" {
		if t, err := time.Parse(time.RFC3339Nano, e.Timestamp); err == nil {
			return t, nil
		}
	}
	return IDTime(e.ID)
}

// Key returns the entry's key log:{level}:{id}.
func (e LogEntry) Key() ([]byte, error) { return KeyLog(e.Level, e.ID) }

// Value encoding, version 1: a JSON object, chosen over a binary encoding so
// that a value read with any tool (polykv inspect, a hex dump) explains
// itself; the encoder is hand-written and allocation-free, so ingestion is
// dominated by the engine, not by encoding. The key already holds level and
// ID, so the value does not repeat them. Empty fields are left out:
//
//	{"v":1,"ts":"2025-01-02T03:04:05.123456789Z","entity":"worker",
//	 "entity_id":"worker-1","queue":"src","msg":"Task completed",
//	 "attrs":{"bytes":123}}
//
// "v" comes first and is checked on decode: a newer version fails with
// ErrUnsupportedVersion instead of being misread.
const encodingVersion = 1

// appendBody appends the fields of e after "ts" — each as ,"name":value —
// and the closing brace. attrs is e.Attrs encoded by encodeAttrs.
func appendBody(dst []byte, e *LogEntry, attrs []byte) []byte {
	dst = appendField(dst, `,"entity":`, e.Entity)
	dst = appendField(dst, `,"entity_id":`, e.EntityID)
	dst = appendField(dst, `,"queue":`, e.Queue)
	dst = append(dst, `,"msg":`...)
	dst = appendJSONString(dst, e.Message)
	if len(attrs) > 0 {
		dst = append(dst, `,"attrs":`...)
		dst = append(dst, attrs...)
	}
	return append(dst, '}')
}

// encodeAttrs returns e.Attrs as a JSON object, or nil when there are none.
func encodeAttrs(e *LogEntry) ([]byte, error) {
	if len(e.Attrs) == 0 {
		return nil, nil
	}
	a, err := json.Marshal(e.Attrs)
	if err != nil {
		return nil, fmt.Errorf("logstore: encode attrs: %w", err)
	}
	return a, nil
}

// valueSizeHint is the size of e's value as encodeValue writes it, with
// a Timestamp of tsLen bytes that needs no escaping (a filled one) or,
// when tsLen is 0, e's own Timestamp, and attrs of attrsLen bytes
// (already JSON). It counts each string's escapes (jsonEscapes), so it
// is exact: Add sizes entries and transactions against the store's
// limits with it.
func valueSizeHint(e *LogEntry, tsLen, attrsLen int) int {
	n := len(`{"v":1,"msg":""}`) + len(e.Message) + jsonEscapes(e.Message)
	if tsLen > 0 {
		n += len(`,"ts":""`) + tsLen
	} else if e.Timestamp != "" {
		n += len(`,"ts":""`) + len(e.Timestamp) + jsonEscapes(e.Timestamp)
	}
	for _, f := range [...]struct{ name, v string }{{"entity", e.Entity}, {"entity_id", e.EntityID}, {"queue", e.Queue}} {
		if f.v != "" {
			n += len(`,"":""`) + len(f.name) + len(f.v) + jsonEscapes(f.v)
		}
	}
	if attrsLen > 0 {
		n += len(`,"attrs":`) + attrsLen
	}
	return n
}

// jsonEscapes returns how many bytes appendJSONString adds to s beyond
// its quotes and its own bytes: 1 for a two-byte escape (\" \\ \n \r
// \t), 5 for \u00XX and for \ufffd in place of a byte of invalid UTF-8,
// 3 for \u2028 and \u2029 in place of their three bytes.
func jsonEscapes(s string) int {
	extra := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && special8(binary.LittleEndian.Uint64([]byte(s[i:i+8])))&highs == 0 {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\', '\n', '\r', '\t':
				extra++
			default:
				extra += 5
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			extra += 5
		case r == '\u2028' || r == '\u2029':
			extra += 3
		}
		i += size
	}
	return extra
}

// appendField appends field, the comma, the quoted name and the colon of
// a field (`,"name":`), and value as a JSON string, unless value is empty.
func appendField(dst []byte, field, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, field...)
	return appendJSONString(dst, value)
}

// appendHead appends the start of a value: {"v":1 and "ts" when not empty.
func appendHead(dst []byte, ts string) []byte {
	dst = append(dst, `{"v":1`...)
	return appendField(dst, `,"ts":`, ts)
}

// encodeValue returns the stored value of e.
func encodeValue(dst []byte, e *LogEntry) ([]byte, error) {
	attrs, err := encodeAttrs(e)
	if err != nil {
		return dst, err
	}
	return appendBody(appendHead(dst, e.Timestamp), e, attrs), nil
}

// storedText returns s as an entry stores it and reads it back: each byte
// that is not part of valid UTF-8 becomes U+FFFD (appendJSONString,
// encoding/json and log/slog's JSON handler do the same).
func storedText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does it (without HTML escaping): invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip 8 plain bytes at a time: printable ASCII other than '"'
		// and '\\' is copied as is.
		for i+16 <= len(s) && (special8(binary.LittleEndian.Uint64([]byte(s[i:i+8])))|
			special8(binary.LittleEndian.Uint64([]byte(s[i+8:i+16]))))&highs == 0 {
			i += 16
		}
		for i+8 <= len(s) && special8(binary.LittleEndian.Uint64([]byte(s[i:i+8])))&highs == 0 {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plainASCII is true for the bytes a JSON string holds as they are:
// printable ASCII other than '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 returns a word whose high bits are all clear when none of the 8
// bytes in x needs escaping in a JSON string (each is at least 0x20, below
// 0x80, and neither '"' nor '\\'). Bit tricks of "Bit Twiddling Hacks": a
// byte below n sets its high bit in x - n*ones where x's byte has it clear
// (n = 1 finds a zero byte); borrows may mark other bytes too, but never
// when no byte qualifies, which is all the scan needs to know.
func special8(x uint64) uint64 {
	ctl := (x - 0x20*ones) &^ x
	quote := x ^ '"'*ones
	backslash := x ^ '\\'*ones
	return ctl | (quote-ones)&^quote | (backslash-ones)&^backslash | x
}

type wireEntry struct {
	V        int             `json:"v"`
	TS       string          `json:"ts"`
	Entity   string          `json:"entity"`
	EntityID string          `json:"entity_id"`
	Queue    string          `json:"queue"`
	Msg      string          `json:"msg"`
	Attrs    json.RawMessage `json:"attrs"`
}

// DecodeEntry decodes the entry stored under key with value. key and value
// are not kept.
func DecodeEntry(key, value []byte) (LogEntry, error) {
	level, id, err := ParseKey(key)
	if err != nil {
		return LogEntry{}, storedKeyErr(err)
	}
	var w wireEntry
	if err := json.Unmarshal(value, &w); err != nil {
		return LogEntry{}, fmt.Errorf("%w: %s: %v", ErrCorruptEntry, key, err)
	}
	switch {
	case w.V == 0:
		return LogEntry{}, fmt.Errorf("%w: %s: no encoding version", ErrCorruptEntry, key)
	case w.V > encodingVersion:
		return LogEntry{}, fmt.Errorf("%w: %s: version %d, this build reads up to %d", ErrUnsupportedVersion, key, w.V, encodingVersion)
	}
	e := LogEntry{
		ID: id, Timestamp: w.TS, Level: level,
		Entity: w.Entity, EntityID: w.EntityID, Queue: w.Queue, Message: w.Msg,
	}
	if len(w.Attrs) > 0 && !bytes.Equal(w.Attrs, []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(w.Attrs))
		d.UseNumber()
		if err := d.Decode(&e.Attrs); err != nil {
			return LogEntry{}, fmt.Errorf("%w: %s: attrs: %v", ErrCorruptEntry, key, err)
		}
	}
	return e, nil
}

// checkEntry checks what Add needs before an entry is queued: its level,
// its ID when it has one, and the size of its encoded value.
func checkEntry(e *LogEntry) error {
	if err := e.Level.check(); err != nil {
		return err
	}
	if e.ID != "" {
		if err := checkID(e.ID); err != nil {
			return err
		}
	}
	return nil
}

// storedKeyErr is the error of a key under "log:" that is not a log key
// (a foreign key, an ID that is not a version 7 UUID): stored data
// logstore cannot read, so ErrCorruptEntry (and kv.ErrCorrupt), besides
// what ParseKey said. Such a key fails the queries whose range holds it,
// unless they set Query.Unreadable; delete it to lift that.
func storedKeyErr(err error) error {
	if errors.Is(err, ErrCorruptEntry) {
		return err
	}
	return fmt.Errorf("%w: a stored key is not a log entry's: %w", ErrCorruptEntry, err)
}

// EncodeValue returns the value stored for e (for tools that write entries
// without a LogBuffer; the key is e.Key()).
func EncodeValue(e LogEntry) ([]byte, error) {
	if err := checkEntry(&e); err != nil {
		return nil, err
	}
	v, err := encodeValue(nil, &e)
	if err != nil {
		return nil, err
	}
	if err := kv.CheckValue(v); err != nil {
		return nil, fmt.Errorf("logstore: entry of %d bytes: %w", len(v), err)
	}
	return v, nil
}
