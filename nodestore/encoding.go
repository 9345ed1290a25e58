package nodestore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Value encoding, version 1 (the value of a node key):
//
//	byte    version, 1
//	byte    traversal status: 1 pending, 2 successful, 3 failed, 4 not_on_src
//	byte    flags: bit 0 CopyNeeded, bit 1 MTime is set (not the zero Time)
//	uvarint Depth
//	uvarint Size
//	        if MTime is set: varint seconds since 1970-01-01 UTC (Unix),
//	        uvarint nanoseconds within the second (< 1e9)
//	        six strings, each a uvarint length and the bytes:
//	        ID, ParentID, ParentPath, Name, Path, Type
//
// Decoding is strict: another version, an unknown status, a flag bit not
// listed, a truncated field or trailing bytes are ErrCorrupt.
const encodingVersion = 1

const (
	flagCopyNeeded = 1 << 0
	flagMTime      = 1 << 1
)

// appendState appends the encoding of s (already validated) to dst.
func appendState(dst []byte, s *NodeState) []byte {
	var flags byte
	if s.CopyNeeded {
		flags |= flagCopyNeeded
	}
	if !s.MTime.IsZero() {
		flags |= flagMTime
	}
	dst = append(dst, encodingVersion, s.Status.code(), flags)
	dst = binary.AppendUvarint(dst, uint64(s.Depth))
	dst = binary.AppendUvarint(dst, uint64(s.Size))
	if flags&flagMTime != 0 {
		dst = binary.AppendVarint(dst, s.MTime.Unix())
		dst = binary.AppendUvarint(dst, uint64(s.MTime.Nanosecond()))
	}
	for _, str := range [...]string{s.ID, s.ParentID, s.ParentPath, s.Name, s.Path, string(s.Type)} {
		dst = binary.AppendUvarint(dst, uint64(len(str)))
		dst = append(dst, str...)
	}
	return dst
}

// encodedSize returns len(appendState(nil, s)), for sizing chunks.
func encodedSize(s *NodeState) int {
	n := 3 + uvarintLen(uint64(s.Depth)) + uvarintLen(uint64(s.Size))
	if !s.MTime.IsZero() {
		n += binary.MaxVarintLen64 + 5
	}
	for _, l := range [...]int{len(s.ID), len(s.ParentID), len(s.ParentPath), len(s.Name), len(s.Path), len(s.Type)} {
		n += uvarintLen(uint64(l)) + l
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// decodeState decodes a value written by appendState.
func decodeState(b []byte, s *NodeState) error {
	bad := func(why string) error { return fmt.Errorf("%w: node value: %s", ErrCorrupt, why) }
	if len(b) < 3 {
		return bad("truncated header")
	}
	if b[0] != encodingVersion {
		return bad(fmt.Sprintf("encoding version %d, this build reads version %d", b[0], encodingVersion))
	}
	if b[1] == 0 || int(b[1]) > len(traversalStatuses) {
		return bad(fmt.Sprintf("traversal status code %d", b[1]))
	}
	status := traversalStatuses[b[1]-1]
	flags := b[2]
	if flags&^(flagCopyNeeded|flagMTime) != 0 {
		return bad(fmt.Sprintf("unknown flags %#x", flags))
	}
	b = b[3:]
	uv := func(max uint64) (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > max {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	depth, ok := uv(MaxLevel)
	if !ok {
		return bad("depth")
	}
	size, ok := uv(math.MaxInt64)
	if !ok {
		return bad("size")
	}
	var mtime time.Time
	if flags&flagMTime != 0 {
		sec, n := binary.Varint(b)
		if n <= 0 {
			return bad("mtime seconds")
		}
		b = b[n:]
		nsec, ok := uv(999999999)
		if !ok {
			return bad("mtime nanoseconds")
		}
		mtime = time.Unix(sec, int64(nsec)).UTC()
	}
	// The six strings are located first, then copied out of b with one
	// allocation for the first five (they share it) and none for the
	// type, which is one of two constants in every store nodestore writes.
	var span [6][2]int // start, end in b
	off := 0
	for i := range span {
		l, n := binary.Uvarint(b[off:])
		if n <= 0 || l > uint64(len(b)-off-n) {
			return bad("string length")
		}
		off += n
		span[i] = [2]int{off, off + int(l)}
		off += int(l)
	}
	if off != len(b) {
		return bad(fmt.Sprintf("%d trailing bytes", len(b)-off))
	}
	all := string(b[span[0][0]:span[4][1]])
	str := func(i int) string { return all[span[i][0]-span[0][0] : span[i][1]-span[0][0]] }
	var typ NodeType
	switch tb := b[span[5][0]:span[5][1]]; string(tb) {
	case string(NodeTypeFolder):
		typ = NodeTypeFolder
	case string(NodeTypeFile):
		typ = NodeTypeFile
	default:
		typ = NodeType(tb)
	}
	*s = NodeState{
		ID: str(0), ParentID: str(1), ParentPath: str(2), Name: str(3), Path: str(4),
		Type: typ, Size: int64(size), MTime: mtime, Depth: int(depth),
		CopyNeeded: flags&flagCopyNeeded != 0, Status: status,
	}
	return nil
}
