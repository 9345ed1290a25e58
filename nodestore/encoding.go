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
	var strs [6]string
	for i := range strs {
		l, ok := uv(uint64(len(b)))
		if !ok {
			return bad("string length")
		}
		strs[i] = string(b[:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(b)))
	}
	*s = NodeState{
		ID: strs[0], ParentID: strs[1], ParentPath: strs[2], Name: strs[3], Path: strs[4],
		Type: NodeType(strs[5]), Size: int64(size), MTime: mtime, Depth: int(depth),
		CopyNeeded: flags&flagCopyNeeded != 0, Status: status,
	}
	return nil
}
