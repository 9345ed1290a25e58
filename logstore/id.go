package logstore

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/polykv/polykv/kv"
)

// IDLen is the length of a log ID: a canonical UUID string.
const IDLen = 36

// IDGenerator issues log IDs: RFC 9562 version 7 UUIDs whose canonical
// strings sort bytewise in the order they were issued.
//
// Layout (RFC 9562 section 5.7, with the "fixed-length dedicated counter"
// of section 6.2, method 1):
//
//	48 bits  unix_ts_ms  the clock, in milliseconds
//	 4 bits  version     7
//	12 bits  rand_a      a counter, 0 at each new millisecond
//	 2 bits  variant     10
//	62 bits  rand_b      random
//
// github.com/google/uuid's NewV7 is monotonic in a process too, but its
// clock and randomness cannot be injected, which deterministic tests need.
// IDGenerator never goes backwards: when the clock steps back it keeps the
// last millisecond and counts on, and when 4096 IDs have been issued in one
// millisecond it moves to the next millisecond before the clock does.
//
// An IDGenerator is safe for concurrent use; IDs issued one after the other
// (in any goroutines) compare in issue order. The zero IDGenerator uses
// time.Now and crypto/rand, as NewIDGenerator(nil, nil) does.
type IDGenerator struct {
	mu     sync.Mutex
	now    func() time.Time
	rand   io.Reader
	lastMs int64
	seq    int
	rbuf   [512]byte
	roff   int
}

// NewIDGenerator returns a generator reading the time from now and random
// bits from random. A nil now is time.Now; a nil random is crypto/rand.
// Tests pass a fake clock and a seeded reader to get the same IDs on every
// run.
func NewIDGenerator(now func() time.Time, random io.Reader) *IDGenerator {
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	g := &IDGenerator{now: now, rand: random, lastMs: -1}
	g.roff = len(g.rbuf)
	return g
}

var defaultIDs = NewIDGenerator(nil, nil)

// DefaultIDGenerator returns the process-wide generator used by
// GenerateLogID and by every LogBuffer without Options.IDs.
func DefaultIDGenerator() *IDGenerator { return defaultIDs }

// GenerateLogID returns a new log ID from the process-wide generator: a
// canonical version 7 UUID string, greater than every ID it returned before.
func GenerateLogID() string {
	id, _, err := defaultIDs.Next()
	if err != nil {
		// crypto/rand does not fail (Go 1.24+); a fallback keeps the
		// function total.
		return uuid.Must(uuid.NewV7()).String()
	}
	return id.String()
}

// Next returns a new ID and the clock reading it was made from. The ID's
// millisecond may be later than t (after a clock step back, or past 4096 IDs
// in one millisecond), never earlier. It fails when the random reader does,
// and past the last millisecond an ID's 48 bits hold (the year 10889): an
// ID never wraps around to sort before the ones issued earlier.
func (g *IDGenerator) Next() (id uuid.UUID, t time.Time, err error) {
	if g == nil {
		return uuid.Nil, time.Time{}, fmt.Errorf("%w: logstore: Next of a nil *IDGenerator (the zero IDGenerator works)", kv.ErrInvalidConfig)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.now == nil {
		// A zero IDGenerator: NewIDGenerator's defaults.
		g.now, g.rand, g.roff = time.Now, cmp.Or[io.Reader](g.rand, rand.Reader), len(g.rbuf)
	}
	t = g.now()
	ms, past := boundMs(t)
	if past {
		return uuid.Nil, t, fmt.Errorf("logstore: generate id: the clock reads %s, past the last millisecond an ID holds (%s)",
			t.UTC().Format(time.RFC3339), time.UnixMilli(maxMs).UTC().Format(time.RFC3339))
	}
	if ms > g.lastMs {
		g.lastMs = ms
		g.seq = 0
	} else {
		if g.seq == 0xfff && g.lastMs == maxMs {
			return uuid.Nil, t, fmt.Errorf("logstore: generate id: every ID of the last millisecond an ID holds (%s) has been issued",
				time.UnixMilli(maxMs).UTC().Format(time.RFC3339))
		}
		g.seq++
		if g.seq > 0xfff {
			g.lastMs++
			g.seq = 0
		}
	}
	if g.roff+8 > len(g.rbuf) {
		if _, err := io.ReadFull(g.rand, g.rbuf[:]); err != nil {
			return uuid.Nil, t, fmt.Errorf("logstore: generate id: read random bits: %w", err)
		}
		g.roff = 0
	}
	r := g.rbuf[g.roff : g.roff+8]
	g.roff += 8
	m := g.lastMs
	id[0] = byte(m >> 40)
	id[1] = byte(m >> 32)
	id[2] = byte(m >> 24)
	id[3] = byte(m >> 16)
	id[4] = byte(m >> 8)
	id[5] = byte(m)
	id[6] = 0x70 | byte(g.seq>>8)
	id[7] = byte(g.seq)
	id[8] = 0x80 | (r[0] & 0x3f)
	copy(id[9:], r[1:8])
	return id, t, nil
}

const hexDigits = "0123456789abcdef"

// appendID appends the canonical string of id to dst.
func appendID(dst []byte, id uuid.UUID) []byte {
	for i, b := range id {
		switch i {
		case 4, 6, 8, 10:
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

// appendMsPrefix appends the first 14 characters of the ID string of any ID
// made in millisecond ms ("tttttttt-tttt-"): every such ID sorts at or
// after it, every ID of an earlier millisecond before it.
func appendMsPrefix(dst []byte, ms int64) []byte {
	var id uuid.UUID
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	return appendID(dst, id)[:len(dst)+14]
}

// maxMs is the largest millisecond a version 7 UUID holds (48 bits).
const maxMs = 1<<48 - 1

// boundMs returns the millisecond of a time bound, 0 for any time before
// 1970; past reports a time after the last millisecond an ID holds (the
// year 10889), where t.UnixMilli would also overflow for the far future.
func boundMs(t time.Time) (ms int64, past bool) {
	switch {
	case t.Before(time.UnixMilli(0)):
		return 0, false
	case !t.Before(time.UnixMilli(maxMs + 1)):
		return 0, true
	}
	return t.UnixMilli(), false
}

// checkID returns ErrInvalidID unless id is a canonical version 7 UUID
// string: 36 characters, lowercase hex, hyphens at 8, 13, 18 and 23,
// version 7 and variant 10. Only that form sorts in time order.
func checkID(id string) error {
	if len(id) != IDLen {
		return fmt.Errorf("%w %q: want a 36-character lowercase UUIDv7 string", ErrInvalidID, id)
	}
	if id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return fmt.Errorf("%w %q: want hyphens at positions 8, 13, 18 and 23", ErrInvalidID, id)
	}
	var bad byte
	for _, part := range [...][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		for i := part[0]; i < part[1]; i++ {
			bad |= notHex[id[i]]
		}
	}
	if bad != 0 {
		return fmt.Errorf("%w %q: want lowercase hex digits", ErrInvalidID, id)
	}
	if id[14] != '7' {
		return fmt.Errorf("%w %q: version %c, want 7 (time-ordered)", ErrInvalidID, id, id[14])
	}
	switch id[19] {
	case '8', '9', 'a', 'b':
	default:
		return fmt.Errorf("%w %q: variant is not RFC 9562", ErrInvalidID, id)
	}
	return nil
}

// notHex is 1 for the bytes that are not lowercase hex digits.
var notHex = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			t[i] = 1
		}
	}
	return t
}()

// idMs returns the millisecond of a checked ID.
func idMs(id string) int64 {
	var ms int64
	for i := 0; i < 13; i++ {
		if i == 8 {
			continue
		}
		c := id[i]
		var v byte
		if c <= '9' {
			v = c - '0'
		} else {
			v = c - 'a' + 10
		}
		ms = ms<<4 | int64(v)
	}
	return ms
}

// IDTime returns the time an ID was made, to the millisecond, in UTC.
func IDTime(id string) (time.Time, error) {
	if err := checkID(id); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(idMs(id)).UTC(), nil
}

// ValidID reports whether id is a canonical version 7 UUID string, the only
// IDs accepted in keys.
func ValidID(id string) bool { return checkID(id) == nil }
