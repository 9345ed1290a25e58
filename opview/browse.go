package opview

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polykv/polykv/kv"
	"github.com/polykv/polykv/logstore"
)

// Limits of the paged pages.
const (
	DefaultKeysLimit = 50
	MaxKeysLimit     = 1000
	DefaultLogsLimit = 100
	MaxLogsLimit     = 1000
	// MaxValueShown is how many bytes of a value the key browser shows
	// (as text and as hex); Entry.ValueLen says how long it is.
	MaxValueShown = 256
	// MaxLogTextShown is how many bytes of a log entry's message, and of
	// its attributes as JSON, the log page shows (cut at a character
	// boundary); LogRow.MessageLen and LogRow.AttrsLen say how long they
	// are.
	MaxLogTextShown = 1024
	// MaxLogFieldShown is how many bytes of each short field of a log
	// entry (timestamp, entity, entity ID, queue) the log page shows; a
	// longer one is cut and named in LogRow.TruncatedFields.
	MaxLogFieldShown = 256
	// MaxLogsScanned is how many log entries one log page reads at most
	// (logstore.Query.MaxScanned): a filter that matches few entries
	// stops there, with a link to go on, instead of reading the whole
	// log in one request.
	MaxLogsScanned = 100_000
)

// escapeText shows bytes as text: printable UTF-8 as is, everything else
// (invalid UTF-8, NUL, control bytes, quotes and backslashes) as Go escapes
// (\x00, \xff, \n, \"). The page template escapes the result for HTML, so
// "<script>" shows as text.
func escapeText(b []byte) string {
	q := strconv.Quote(string(b))
	return q[1 : len(q)-1]
}

func hexString(b []byte) string { return hex.EncodeToString(b) }

// formText reports whether b can go back to the key browser's text inputs
// as it is: valid UTF-8 without NUL, which html/template (and an HTML
// parser) turns into U+FFFD in an attribute, nor CR or LF, which browsers
// strip from an input's value. Either would make the form, submitted
// again, search other keys.
func formText(b []byte) bool { return utf8.Valid(b) && !bytes.ContainsAny(b, "\x00\r\n") }

// Keys is the key browser's data (keys.json).
type Keys struct {
	// The query, as given: Prefix and Start in the encoding Enc ("text"
	// or "hex"), and the limit used.
	Prefix string `json:"prefix"`
	Start  string `json:"start"`
	Enc    string `json:"enc"`
	Limit  int    `json:"limit"`
	// PrefixHex and StartHex are the bytes searched, in hex.
	PrefixHex string  `json:"prefix_hex"`
	StartHex  string  `json:"start_hex"`
	Entries   []Entry `json:"entries"`
	// Next is the query string of the next page ("" on the last page);
	// NextStartHex the start key of that page, in hex.
	Next         string `json:"next,omitempty"`
	NextStartHex string `json:"next_start_hex,omitempty"`
	// NextHref is the link to the next page (Next, encoded by url.Values).
	NextHref template.URL `json:"-"`
}

// Entry is one key and its value as the key browser shows them.
type Entry struct {
	// Key is the key escaped as text (see escapeText), KeyHex its bytes in
	// hex.
	Key    string `json:"key"`
	KeyHex string `json:"key_hex"`
	// Value and ValueHex are the first MaxValueShown bytes of the value,
	// escaped and in hex; ValueLen its full length.
	Value     string `json:"value"`
	ValueHex  string `json:"value_hex"`
	ValueLen  int    `json:"value_len"`
	Truncated bool   `json:"value_truncated,omitempty"`
}

// param decodes a key parameter in the request's encoding.
func param(q url.Values, name, enc string) ([]byte, error) {
	s := q.Get(name)
	if s == "" {
		return nil, nil
	}
	if enc == "hex" {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, badRequest("%s %q is not hex (enc=hex): %v", name, s, err)
		}
		return b, nil
	}
	return []byte(s), nil
}

func limitParam(q url.Values, def, maxLimit int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, badRequest("limit %q: want a number from 1 to %d", s, maxLimit)
	}
	return min(n, maxLimit), nil
}

// keys lists up to limit keys from start (inclusive) within prefix.
func (h *Handler) keys(ctx context.Context, q url.Values) (*Keys, error) {
	enc := q.Get("enc")
	switch enc {
	case "":
		enc = "text"
	case "text", "hex":
	default:
		return nil, badRequest("enc %q: want text or hex", enc)
	}
	prefix, err := param(q, "prefix", enc)
	if err != nil {
		return nil, err
	}
	start, err := param(q, "start", enc)
	if err != nil {
		return nil, err
	}
	limit, err := limitParam(q, DefaultKeysLimit, MaxKeysLimit)
	if err != nil {
		return nil, err
	}
	if len(prefix) > kv.MaxKeySize || len(start) > kv.MaxKeySize {
		return nil, badRequest("prefix or start longer than the longest key (%d bytes)", kv.MaxKeySize)
	}
	out := &Keys{Prefix: q.Get("prefix"), Start: q.Get("start"), Enc: enc, Limit: limit,
		PrefixHex: hexString(prefix), StartHex: hexString(start), Entries: []Entry{}}
	if enc == "text" && (!formText(prefix) || !formText(start)) {
		// Bytes that are not text go back to the form as hex, so that the
		// page holds only valid UTF-8 and the form finds the same keys.
		out.Enc, out.Prefix, out.Start = "hex", out.PrefixHex, out.StartHex
	}
	var last []byte
	more := false
	err = h.store.Iterate(ctx, kv.IterOptions{Prefix: prefix, Start: start, Limit: limit + 1}, func(k, v []byte) error {
		if len(out.Entries) == limit {
			more = true
			return kv.SkipAll
		}
		shown := v[:min(len(v), MaxValueShown)]
		out.Entries = append(out.Entries, Entry{
			Key: escapeText(k), KeyHex: hexString(k),
			Value: escapeText(shown), ValueHex: hexString(shown), ValueLen: len(v), Truncated: len(v) > len(shown),
		})
		last = append(last[:0], k...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var next []byte
	if more {
		// The next page starts just after the last key shown: at that key
		// plus a zero byte, the smallest key above it; but no key extends
		// one of kv.MaxKeySize bytes, and a start that long is refused, so
		// after such a key the next page starts at the smallest key above
		// it that is not longer (kv.PrefixEnd). A key followed it, so
		// there is one.
		next = append(last, 0)
		if len(last) >= kv.MaxKeySize {
			next = kv.PrefixEnd(last)
		}
	}
	if next != nil {
		out.NextStartHex = hexString(next)
		out.Next = url.Values{"enc": {"hex"}, "prefix": {hexString(prefix)}, "start": {out.NextStartHex}, "limit": {strconv.Itoa(limit)}}.Encode()
		out.NextHref = template.URL("keys?" + out.Next) // #nosec: url.Values.Encode escapes every value
	}
	return out, nil
}

// Logs is the log page's data (logs.json).
type Logs struct {
	// The query: levels (all when empty), time range (RFC 3339), filters,
	// limit and the cursor the page starts after.
	Levels  []string `json:"levels"`
	Since   string   `json:"since,omitempty"`
	Until   string   `json:"until,omitempty"`
	Entity  string   `json:"entity,omitempty"`
	Queue   string   `json:"queue,omitempty"`
	Limit   int      `json:"limit"`
	After   string   `json:"after,omitempty"`
	Entries []LogRow `json:"entries"`
	// Unreadable lists the keys met in the page's range that hold no log
	// entry this build can read (a foreign key under "log:", a damaged
	// value, a newer encoding), up to MaxUnreadableShown;
	// UnreadableCount counts them all. They are skipped, not an error:
	// one odd key does not hide the entries around it.
	Unreadable      []UnreadableKey `json:"unreadable,omitempty"`
	UnreadableCount int             `json:"unreadable_count,omitempty"`
	// Bounded says the page stopped after reading MaxLogsScanned entries
	// before it was full: older entries may still match, from Next.
	Bounded bool `json:"bounded,omitempty"`
	// Next is the query string of the next (older) page; "" on the last.
	Next string `json:"next,omitempty"`
	// NextHref is the link to the next page (Next, encoded by url.Values).
	NextHref template.URL `json:"-"`
	// AllLevels lists the levels for the filter form.
	AllLevels []LevelChoice `json:"-"`
}

// MaxScanned is MaxLogsScanned, for the page's template.
func (Logs) MaxScanned() int { return MaxLogsScanned }

// MaxUnreadableShown is how many unreadable keys the log page lists.
const MaxUnreadableShown = 20

// UnreadableKey is a key under the log prefix that holds no readable
// entry: the key escaped as text (see escapeText) and in hex, and why.
type UnreadableKey struct {
	Key    string `json:"key"`
	KeyHex string `json:"key_hex"`
	Error  string `json:"error"`
	// Href is the key in the key browser.
	Href template.URL `json:"-"`
}

// LevelChoice is one checkbox of the level filter.
type LevelChoice struct {
	Level   string
	Checked bool
}

// LogRow is one log entry, newest first. What it shows of each field is
// capped, as the key browser caps values, so that a page's size follows
// its limit, not the size of the entries: at most MaxLogTextShown bytes of
// the message and of the attributes, MaxLogFieldShown of the others.
type LogRow struct {
	ID string `json:"id"`
	// Timestamp, Entity, EntityID and Queue are cut at MaxLogFieldShown
	// bytes; TruncatedFields names the ones that were.
	Timestamp string `json:"timestamp"`
	Level     string `json:"level"`
	Entity    string `json:"entity,omitempty"`
	EntityID  string `json:"entity_id,omitempty"`
	Queue     string `json:"queue,omitempty"`
	// Message is the first MaxLogTextShown bytes of the message,
	// MessageLen its full length in bytes.
	Message          string `json:"message"`
	MessageLen       int    `json:"message_len"`
	MessageTruncated bool   `json:"message_truncated,omitempty"`
	// Attrs is the first MaxLogTextShown bytes of the entry's attributes
	// as a JSON object ("" when none; a truncated one is not valid JSON),
	// AttrsLen the length of the whole object.
	Attrs          string `json:"attrs,omitempty"`
	AttrsLen       int    `json:"attrs_len,omitempty"`
	AttrsTruncated bool   `json:"attrs_truncated,omitempty"`
	// TruncatedFields names, by their JSON names, the short fields cut
	// at MaxLogFieldShown bytes ("entity", say).
	TruncatedFields []string `json:"truncated_fields,omitempty"`
}

// Cut reports whether the short field of that JSON name was cut (for the
// page's marker).
func (r LogRow) Cut(field string) bool { return slices.Contains(r.TruncatedFields, field) }

// runeCut returns the largest i <= n at which s can be cut without
// splitting a UTF-8 character; len(s) must be more than n.
func runeCut[T string | []byte](s T, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// shownText returns the first n bytes of s, cut at a character boundary,
// and whether s was longer. A cut text is a copy: a slice of s would keep
// all of s alive as long as the page.
func shownText(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	return strings.Clone(s[:runeCut(s, n)]), true
}

// logRow returns what the log page shows of e: each field capped (see
// LogRow), nothing of e kept beyond that.
func logRow(e *logstore.LogEntry) LogRow {
	row := LogRow{ID: e.ID, Level: string(e.Level), MessageLen: len(e.Message)}
	for _, f := range [...]struct {
		name string
		from string
		to   *string
	}{{"timestamp", e.Timestamp, &row.Timestamp}, {"entity", e.Entity, &row.Entity}, {"entity_id", e.EntityID, &row.EntityID}, {"queue", e.Queue, &row.Queue}} {
		var cut bool
		if *f.to, cut = shownText(f.from, MaxLogFieldShown); cut {
			row.TruncatedFields = append(row.TruncatedFields, f.name)
		}
	}
	row.Message, row.MessageTruncated = shownText(e.Message, MaxLogTextShown)
	if len(e.Attrs) > 0 {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // the template escapes
		if err := enc.Encode(e.Attrs); err == nil {
			a := bytes.TrimSpace(b.Bytes())
			row.AttrsLen = len(a)
			if len(a) > MaxLogTextShown {
				a, row.AttrsTruncated = a[:runeCut(a, MaxLogTextShown)], true
			}
			row.Attrs = string(a) // a copy
		}
	}
	return row
}

// timeParam parses a time in RFC 3339, or as an HTML datetime-local value
// ("2006-01-02T15:04", seconds optional) taken as UTC.
func timeParam(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("%s %q: want a time like 2006-01-02T15:04:05Z (RFC 3339) or 2006-01-02T15:04 (UTC)", name, s)
}

// logs runs a newest-first logstore query: levels, time range, entity and
// queue filters, a limit, and the cursor to resume after.
func (h *Handler) logs(ctx context.Context, q url.Values) (*Logs, error) {
	out := &Logs{Levels: []string{}, Entries: []LogRow{}}
	var query logstore.Query
	query.Newest = true
	checked := map[string]bool{}
	for _, s := range q["level"] {
		for _, part := range strings.Split(s, ",") {
			if part == "" {
				continue
			}
			l, err := logstore.ParseLevel(part)
			if err != nil {
				return nil, badRequest("level %q: want one of trace, debug, info, warning, error, critical", part)
			}
			if !checked[string(l)] {
				checked[string(l)] = true
				query.Levels = append(query.Levels, l)
				out.Levels = append(out.Levels, string(l))
			}
		}
	}
	for _, l := range logstore.Levels() {
		out.AllLevels = append(out.AllLevels, LevelChoice{Level: string(l), Checked: checked[string(l)]})
	}
	var err error
	if query.Since, err = timeParam(q, "since"); err != nil {
		return nil, err
	}
	if query.Until, err = timeParam(q, "until"); err != nil {
		return nil, err
	}
	if !query.Since.IsZero() && !query.Until.IsZero() && !query.Since.Before(query.Until) {
		return nil, badRequest("since %s is not before until %s", q.Get("since"), q.Get("until"))
	}
	out.Since, out.Until = q.Get("since"), q.Get("until")
	query.Entity, query.Queue = q.Get("entity"), q.Get("queue")
	// Echoed as valid UTF-8: html/template escapes but keeps invalid bytes,
	// which would make the page invalid UTF-8 (such a filter matches
	// nothing a browser can type anyway).
	out.Entity, out.Queue = strings.ToValidUTF8(query.Entity, "\uFFFD"), strings.ToValidUTF8(query.Queue, "\uFFFD")
	if query.Limit, err = limitParam(q, DefaultLogsLimit, MaxLogsLimit); err != nil {
		return nil, err
	}
	out.Limit = query.Limit
	if after := q.Get("after"); after != "" {
		if _, _, err := logstore.ParseKey([]byte(after)); err != nil {
			return nil, badRequest("after %q: not a log cursor: %v", after, err)
		}
		query.After = logstore.Cursor(after)
		out.After = after
	}
	query.Unreadable = func(key []byte, err error) error {
		out.UnreadableCount++
		if out.UnreadableCount > MaxLogsScanned {
			// Scan reads on past MaxScanned among unreadable keys (a
			// cursor cannot name one); this keeps the page bounded.
			return fmt.Errorf("opview: logs: more than %d unreadable keys under log: in this page's range (the key page lists them): %w",
				MaxLogsScanned, logstore.ErrCorruptEntry)
		}
		if len(out.Unreadable) < MaxUnreadableShown {
			kh := hexString(key)
			out.Unreadable = append(out.Unreadable, UnreadableKey{Key: escapeText(key), KeyHex: kh, Error: err.Error(),
				Href: template.URL("keys?" + url.Values{"enc": {"hex"}, "prefix": {kh}}.Encode())}) // #nosec: url.Values.Encode escapes every value
		}
		return nil
	}
	// Each entry is turned into its capped row as it is read, and
	// dropped: the page keeps at most limit rows of bounded size. Reading
	// an entry still decodes it whole (logstore.Scan decodes the value,
	// up to kv.MaxValueSize, before the row is cut from it), so the
	// request allocates in proportion to the entries read, one at a time.
	query.MaxScanned = MaxLogsScanned
	cursor, err := logstore.Scan(ctx, h.store, query, func(e logstore.LogEntry) error {
		out.Entries = append(out.Entries, logRow(&e))
		return nil
	})
	out.Bounded = errors.Is(err, logstore.ErrScanBounded)
	if err != nil && !out.Bounded {
		return nil, err
	}
	if len(out.Entries) == query.Limit || out.Bounded {
		next := url.Values{"after": {string(cursor)}, "limit": {strconv.Itoa(query.Limit)}}
		for _, k := range []string{"since", "until", "entity", "queue"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		if len(out.Levels) > 0 {
			next["level"] = out.Levels
		}
		out.Next = next.Encode()
		out.NextHref = template.URL("logs?" + out.Next) // #nosec: url.Values.Encode escapes every value
	}
	return out, nil
}
