package nodestore

import (
	"bytes"

	"github.com/polykv/polykv/kv"
)

// pageCursor walks the keys of [start, end) of one ReadTxn in order, as a
// pull iterator: kv's iterations call back, and a merge of several sorted
// ranges (Check) must advance each of them on demand. Each page is one
// Iterate with a Limit, resumed just after the last key it read, so a
// cursor holds one page of keys and values, never the range.
//
// key and value are valid until the next call to advance.
type pageCursor struct {
	tx       kv.ReadTxn
	end      []byte
	limit    int
	keysOnly bool
	next     []byte // the first key of the next page (nil: the range's start)
	done     bool   // no page is left after this one

	arena []byte
	offs  []int // key i is arena[offs[3i]:offs[3i+1]], its value up to offs[3i+2]
	i     int
}

// newPageCursor returns a cursor on the first key of [start, end) (end nil:
// unbounded), reading limit keys per page.
func newPageCursor(tx kv.ReadTxn, start, end []byte, limit int, keysOnly bool) (*pageCursor, error) {
	c := &pageCursor{tx: tx, end: end, limit: max(limit, 1), keysOnly: keysOnly, next: bytes.Clone(start)}
	return c, c.fill()
}

func (c *pageCursor) valid() bool { return c.i < len(c.offs)/3 }

func (c *pageCursor) key() []byte { return c.arena[c.offs[3*c.i]:c.offs[3*c.i+1]] }

func (c *pageCursor) value() []byte { return c.arena[c.offs[3*c.i+1]:c.offs[3*c.i+2]] }

// advance moves to the next key, reading the next page when this one is
// done.
func (c *pageCursor) advance() error {
	c.i++
	if c.valid() || c.done {
		return nil
	}
	return c.fill()
}

func (c *pageCursor) fill() error {
	c.arena, c.offs, c.i = c.arena[:0], c.offs[:0], 0
	opts := kv.IterOptions{Start: c.next, End: c.end, Limit: c.limit, KeysOnly: c.keysOnly}
	err := c.tx.Iterate(opts, func(k, v []byte) error {
		c.offs = append(c.offs, len(c.arena))
		c.arena = append(c.arena, k...)
		c.offs = append(c.offs, len(c.arena))
		c.arena = append(c.arena, v...)
		c.offs = append(c.offs, len(c.arena))
		return nil
	})
	if err != nil {
		c.offs = c.offs[:0]
		return err
	}
	if n := len(c.offs) / 3; n < c.limit {
		c.done = true
	} else {
		last := c.arena[c.offs[3*n-3]:c.offs[3*n-2]]
		c.next = append(append(c.next[:0], last...), 0)
	}
	return nil
}
