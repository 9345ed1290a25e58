package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/polykv/polykv/kv"
)

// The polykv dump format is backend independent: every key and value of a
// store in key order, then a trailer that lets load detect truncation and
// corruption.
//
//	header   the 12 bytes "POLYKVDUMP1\n"
//	record   uvarint(len(key)) key uvarint(len(value)) value   (len(key) >= 1)
//	trailer  uvarint(0) uvarint(record count) crc32c(records) as 4 bytes big-endian
//
// The CRC (Castagnoli) covers every record byte, from the first record's
// length to the last record's value. Keys are never empty, so a zero key
// length can only start the trailer.
const dumpMagic = "POLYKVDUMP1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const dumpDoc = `
Writes every key and value of the store, in key order, to stdout in the polykv
dump format (backend independent: load it into any backend):

  header   the 12 bytes "POLYKVDUMP1\n"
  record   uvarint(len(key)) key uvarint(len(value)) value      (len(key) >= 1)
  trailer  uvarint(0) uvarint(record count) crc32c(all record bytes), 4 bytes big-endian

The dump is one consistent snapshot. The store is opened read-only.
`

func runDump(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "dump", "DSN > FILE", dumpDoc)
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	db, err := openDSN(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := dump(ctx, db, s.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.err, "polykv dump: %d keys\n", n)
	return db.Close()
}

// dump writes the whole store to w and returns the number of records.
func dump(ctx context.Context, st kv.Store, w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(dumpMagic); err != nil {
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
	err := st.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
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

const loadDoc = `
Reads a polykv dump (see 'polykv dump --help') from stdin into the store,
creating it if the directory does not exist. The store must be empty unless
--merge is given (then dumped keys overwrite existing ones).

The load is written in atomic chunks below the transaction limit; the load as
a whole is NOT atomic: if it fails (a truncated or corrupt dump is detected by
the trailer's count and CRC), the chunks written before the failure stay.
Load into a fresh store and discard it on failure. The exit code says which.
`

func runLoad(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "load", "DSN < FILE", loadDoc)
	merge := fs.Bool("merge", false, "load into a store that already has keys")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	db, err := openDSN(ctx, fs.Arg(0), false)
	if err != nil {
		return err
	}
	defer db.Close()
	if !*merge {
		empty, err := isEmpty(ctx, db)
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("%s is not empty: load into an empty store, or give --merge", fs.Arg(0))
		}
	}
	n, err := load(ctx, db, s.in)
	if err != nil {
		return err
	}
	if err := db.Sync(); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "polykv load: %d keys\n", n)
	return db.Close()
}

// errBadDump is returned for input that is not a complete, intact dump.
var errBadDump = errors.New("not a valid polykv dump")

// load reads a dump from r into st and returns the number of records.
func load(ctx context.Context, st kv.Store, r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(dumpMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != dumpMagic {
		return 0, fmt.Errorf("%w: missing header %q", errBadDump, dumpMagic)
	}
	crc := crc32.New(castagnoli)
	bw := kv.NewBulkWriter(ctx, st)
	var n int64
	var key, val []byte
	for {
		klen, err := readUvarint(br, nil) // hashed below: the trailer's 0 is not
		if err != nil {
			return n, fmt.Errorf("%w: record %d: %v", errBadDump, n+1, err)
		}
		if klen == 0 {
			break
		}
		crc.Write(binary.AppendUvarint(nil, klen))
		if key, err = readBytes(br, crc, key, klen, kv.MaxKeySize); err != nil {
			return n, fmt.Errorf("%w: record %d key: %v", errBadDump, n+1, err)
		}
		vlen, err := readUvarint(br, crc)
		if err != nil {
			return n, fmt.Errorf("%w: record %d: %v", errBadDump, n+1, err)
		}
		if val, err = readBytes(br, crc, val, vlen, kv.MaxValueSize); err != nil {
			return n, fmt.Errorf("%w: record %d value: %v", errBadDump, n+1, err)
		}
		if err := bw.Set(key, val); err != nil {
			return n, err
		}
		n++
	}
	sum := crc.Sum32()
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return n, fmt.Errorf("%w: trailer: %v", errBadDump, err)
	}
	var crcBuf [4]byte
	if _, err := io.ReadFull(br, crcBuf[:]); err != nil {
		return n, fmt.Errorf("%w: trailer: %v", errBadDump, err)
	}
	if count != uint64(n) {
		return n, fmt.Errorf("%w: trailer says %d records, read %d", errBadDump, count, n)
	}
	if got := binary.BigEndian.Uint32(crcBuf[:]); got != sum {
		return n, fmt.Errorf("%w: checksum %08x, computed %08x", errBadDump, got, sum)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return n, fmt.Errorf("%w: data after the trailer", errBadDump)
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
