package kv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// The polykv dump format is backend independent: every key and value of a
// store in key order, then a trailer that lets Load detect truncation and
// corruption.
//
//	header   the 12 bytes "POLYKVDUMP1\n"
//	record   uvarint(len(key)) key uvarint(len(value)) value   (len(key) >= 1)
//	trailer  uvarint(0) uvarint(record count) crc32c(records) as 4 bytes big-endian
//
// The CRC (Castagnoli) covers every record byte, from the first record's
// length to the last record's value. Keys are never empty, so a zero key
// length can only start the trailer.
const DumpMagic = "POLYKVDUMP1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadDump is returned by Load for input that is not a complete, intact
// dump.
var ErrBadDump = errors.New("kv: not a valid polykv dump")

// Backup writes a consistent snapshot of the whole store to w: the
// engine's own stream when it has one (BackupWriter), otherwise Dump's
// backend-independent format.
func (db *DB) Backup(ctx context.Context, w io.Writer) error {
	if err := db.check(ctx, "Backup"); err != nil {
		return err
	}
	if w == nil {
		return fmt.Errorf("%w: Backup to a nil io.Writer", ErrInvalidConfig)
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.exit()
	if b, ok := db.e.(BackupWriter); ok {
		return b.Backup(ctx, w)
	}
	_, err := Dump(ctx, db, w)
	return err
}

// Dump writes every key and value of s, from one consistent snapshot, to w
// in the polykv dump format, and returns the number of records. Load reads
// it back into any backend.
func Dump(ctx context.Context, s Store, w io.Writer) (int64, error) {
	if s == nil || w == nil {
		return 0, fmt.Errorf("%w: Dump of a nil Store or to a nil io.Writer", ErrInvalidConfig)
	}
	if ctx == nil {
		return 0, fmt.Errorf("%w: Dump with a nil context", ErrInvalidConfig)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(DumpMagic); err != nil {
		return 0, err
	}
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	var n int64
	var lenBuf [binary.MaxVarintLen64]byte
	writeBytes := func(b []byte) error {
		l := binary.PutUvarint(lenBuf[:], uint64(len(b)))
		if _, err := out.Write(lenBuf[:l]); err != nil {
			return err
		}
		_, err := out.Write(b)
		return err
	}
	err := s.Iterate(ctx, IterOptions{}, func(k, v []byte) error {
		if err := writeBytes(k); err != nil {
			return err
		}
		if err := writeBytes(v); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("dump after %d keys: %w", n, err)
	}
	var trailer []byte
	trailer = binary.AppendUvarint(trailer, 0)
	trailer = binary.AppendUvarint(trailer, uint64(n))
	trailer = binary.BigEndian.AppendUint32(trailer, crc.Sum32())
	if _, err := bw.Write(trailer); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// Load reads a dump written by Dump from r into s, in atomic chunks below
// the transaction limit (BulkWriter), and returns the number of records. The
// load as a whole is NOT atomic: if the dump turns out truncated or corrupt
// (ErrBadDump), the chunks written before stay. Load into a fresh store and
// discard it on failure. A key that does not come after the one before it
// (repeated, or out of order) is ErrBadDump too: Dump writes each key once,
// in order.
func Load(ctx context.Context, s Store, r io.Reader) (int64, error) {
	if s == nil || r == nil {
		return 0, fmt.Errorf("%w: Load into a nil Store or from a nil io.Reader", ErrInvalidConfig)
	}
	if ctx == nil {
		return 0, fmt.Errorf("%w: Load with a nil context", ErrInvalidConfig)
	}
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(DumpMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != DumpMagic {
		return 0, fmt.Errorf("%w: missing header %q", ErrBadDump, DumpMagic)
	}
	crc := crc32.New(castagnoli)
	bw := NewBulkWriter(ctx, s)
	var n int64
	var key, prev, val []byte
	for {
		klen, err := readUvarint(br, nil) // hashed below: the trailer's 0 is not
		if err != nil {
			return n, fmt.Errorf("%w: record %d: %v", ErrBadDump, n+1, err)
		}
		if klen == 0 {
			break
		}
		crc.Write(binary.AppendUvarint(nil, klen))
		if key, err = readBytes(br, crc, key, klen, MaxKeySize); err != nil {
			return n, fmt.Errorf("%w: record %d key: %v", ErrBadDump, n+1, err)
		}
		// A dump lists each key once, in order: anything else is not the
		// dump of a store (and would load fewer keys than it counts).
		if n > 0 && bytes.Compare(key, prev) <= 0 {
			return n, fmt.Errorf("%w: record %d: key %q does not come after the previous key %q", ErrBadDump, n+1, key, prev)
		}
		vlen, err := readUvarint(br, crc)
		if err != nil {
			return n, fmt.Errorf("%w: record %d: %v", ErrBadDump, n+1, err)
		}
		if val, err = readBytes(br, crc, val, vlen, MaxValueSize); err != nil {
			return n, fmt.Errorf("%w: record %d value: %v", ErrBadDump, n+1, err)
		}
		if err := bw.Set(key, val); err != nil {
			return n, err
		}
		n++
		key, prev = prev, key // the next key is read into the old buffer
	}
	sum := crc.Sum32()
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return n, fmt.Errorf("%w: trailer: %v", ErrBadDump, err)
	}
	var crcBuf [4]byte
	if _, err := io.ReadFull(br, crcBuf[:]); err != nil {
		return n, fmt.Errorf("%w: trailer: %v", ErrBadDump, err)
	}
	if count != uint64(n) {
		return n, fmt.Errorf("%w: trailer says %d records, read %d", ErrBadDump, count, n)
	}
	if got := binary.BigEndian.Uint32(crcBuf[:]); got != sum {
		return n, fmt.Errorf("%w: checksum %08x, computed %08x", ErrBadDump, got, sum)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return n, fmt.Errorf("%w: data after the trailer", ErrBadDump)
	}
	return n, bw.Close()
}

func readUvarint(br *bufio.Reader, h hash.Hash32) (uint64, error) {
	v, err := binary.ReadUvarint(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if h != nil {
		h.Write(binary.AppendUvarint(nil, v))
	}
	return v, nil
}

func readBytes(br *bufio.Reader, h hash.Hash32, buf []byte, n uint64, limit int) ([]byte, error) {
	if n > uint64(limit) {
		return buf, fmt.Errorf("length %d over the limit %d", n, limit)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return buf, err
	}
	h.Write(buf)
	return buf, nil
}
