package linearize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"
)

// Pending is the return time of an operation whose outcome is unknown: it
// may take effect at any instant after its start.
const Pending = math.MaxInt64

// StepKind is what one step of an operation does.
type StepKind uint8

const (
	// Read is a point read: Found and Value are what it saw.
	Read StepKind = iota + 1
	// Write stores Value under Key.
	Write
	// Delete removes Key.
	Delete
	// Scan is a range read of [Key, Upper) (an empty Key or Upper is
	// unbounded) that saw exactly Seen, in ascending key order.
	Scan
	// DeleteRange removes every key in [Key, Upper).
	DeleteRange
)

func (k StepKind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case Delete:
		return "delete"
	case Scan:
		return "scan"
	case DeleteRange:
		return "deleterange"
	}
	return fmt.Sprintf("step(%d)", uint8(k))
}

// Step is one read or write of an operation.
type Step struct {
	Kind  StepKind `json:"k"`
	Key   []byte   `json:"key,omitempty"`
	Value []byte   `json:"v,omitempty"`
	// Found: a Read found the key.
	Found bool `json:"f,omitempty"`
	// Upper is the exclusive upper bound of a Scan or DeleteRange; empty
	// is unbounded.
	Upper []byte `json:"up,omitempty"`
	// Seen are the pairs a Scan saw; KeysOnly: their values were not read.
	Seen     []Pair `json:"seen,omitempty"`
	KeysOnly bool   `json:"ko,omitempty"`
}

// Pair is a key and its value.
type Pair struct {
	Key   []byte `json:"k"`
	Value []byte `json:"v,omitempty"`
}

// Op is one recorded call.
type Op struct {
	// Client numbers the caller: the process (History.Client) and a lane
	// of concurrently running calls within it.
	Client int `json:"c"`
	// Name is the call: get, set, delete, write, iterate, view, update,
	// deleterange.
	Name string `json:"n"`
	// Call and Return are wall-clock times in nanoseconds since the Unix
	// epoch; Return is Pending when the outcome is unknown.
	Call   int64  `json:"call"`
	Return int64  `json:"ret"`
	Steps  []Step `json:"steps"`
	// Err is the error of a call whose outcome is unknown.
	Err string `json:"err,omitempty"`
	// Unchecked marks an operation the model cannot express (a
	// non-atomic range delete); Check refuses a history holding one.
	Unchecked string `json:"unchecked,omitempty"`
}

// Unknown reports whether the outcome of o is unknown.
func (o Op) Unknown() bool { return o.Return == Pending }

// String describes o in one line.
func (o Op) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s[c%d", o.Name, o.Client)
	for _, s := range o.Steps {
		b.WriteByte(' ')
		b.WriteString(s.String())
	}
	b.WriteByte(']')
	if o.Unknown() {
		fmt.Fprintf(&b, " outcome unknown (%s)", o.Err)
	}
	return b.String()
}

func (s Step) String() string {
	switch s.Kind {
	case Read:
		if !s.Found {
			return fmt.Sprintf("r(%q)=missing", s.Key)
		}
		return fmt.Sprintf("r(%q)=%q", s.Key, abbrev(s.Value))
	case Write:
		return fmt.Sprintf("w(%q,%q)", s.Key, abbrev(s.Value))
	case Delete:
		return fmt.Sprintf("d(%q)", s.Key)
	case Scan:
		var b bytes.Buffer
		fmt.Fprintf(&b, "scan[%q,%q)={", s.Key, s.Upper)
		for i, p := range s.Seen {
			if i > 0 {
				b.WriteByte(' ')
			}
			if i == 8 {
				fmt.Fprintf(&b, "...%d more", len(s.Seen)-i)
				break
			}
			if s.KeysOnly {
				fmt.Fprintf(&b, "%q", p.Key)
			} else {
				fmt.Fprintf(&b, "%q:%q", p.Key, abbrev(p.Value))
			}
		}
		b.WriteByte('}')
		return b.String()
	case DeleteRange:
		return fmt.Sprintf("dr[%q,%q)", s.Key, s.Upper)
	}
	return s.Kind.String()
}

func abbrev(v []byte) []byte {
	if len(v) > 24 {
		return append(v[:20:20], "..."...)
	}
	return v
}

// Options tune a History.
type Options struct {
	// Keys selects the keys recorded; nil records every key. Steps on
	// other keys are left out, and an operation left with no step is not
	// recorded. Range steps keep their bounds and record the selected keys
	// they saw.
	Keys func(key []byte) bool
	// Client numbers this history's clients from Client*1000, so that the
	// histories of several processes merge without clashes.
	Client int
	// Now is the clock; nil means the wall clock (time.Now().UnixNano()),
	// which the processes of one machine share.
	Now func() int64
}

// Prefix returns an Options.Keys selecting the keys under any of prefixes.
func Prefix(prefixes ...string) func(key []byte) bool {
	return func(key []byte) bool {
		for _, p := range prefixes {
			if bytes.HasPrefix(key, []byte(p)) {
				return true
			}
		}
		return false
	}
}

// History collects the operations of any number of goroutines.
type History struct {
	opts  Options
	mu    sync.Mutex
	ops   []Op
	lanes []bool // lanes in use, for Op.Client
}

// NewHistory returns an empty history.
func NewHistory(opts Options) *History {
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	return &History{opts: opts}
}

func (h *History) keep(key []byte) bool { return h.opts.Keys == nil || h.opts.Keys(key) }

// lane returns the lowest free lane, marking it used.
func (h *History) lane() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, used := range h.lanes {
		if !used {
			h.lanes[i] = true
			return i
		}
	}
	h.lanes = append(h.lanes, true)
	return len(h.lanes) - 1
}

// finish records o (unless drop) and frees its lane.
func (h *History) finish(lane int, o Op, drop bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lanes[lane] = false
	if drop || len(o.Steps) == 0 {
		return
	}
	o.Client = h.opts.Client*1000 + lane
	h.ops = append(h.ops, o)
}

// Add appends operations recorded elsewhere (another process's history).
func (h *History) Add(ops ...Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, ops...)
}

// Ops returns a copy of the operations recorded so far, by start time.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	ops := append([]Op(nil), h.ops...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	return ops
}

// WriteTo writes the operations as JSON lines, one per operation.
func (h *History) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	enc := json.NewEncoder(bw)
	for _, o := range h.Ops() {
		if err := enc.Encode(o); err != nil {
			return cw.n, fmt.Errorf("linearize: write history: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("linearize: write history: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadOps reads operations written by History.WriteTo. A last line cut
// short (a process killed while writing it) is an error naming its line.
func ReadOps(r io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		var o Op
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return ops, fmt.Errorf("linearize: history line %d: %w", line, err)
		}
		ops = append(ops, o)
	}
	if err := sc.Err(); err != nil {
		return ops, fmt.Errorf("linearize: read history: %w", err)
	}
	return ops, nil
}
