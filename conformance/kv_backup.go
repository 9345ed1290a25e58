package conformance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/polykv/polykv/kv"
)

// backupRules: kv.Dump and kv.Load (and DB.Backup, which falls back to Dump)
// move a store between stores of any backend without losing a byte.
func backupRules() []rule {
	return []rule{
		{"DumpLoadRoundTrip", func(t *testing.T, e *env) {
			keys := []string{"\x00", "a", "a\x00", "!badger!x", "\xff", "\xff\xff", "empty", string(bytes.Repeat([]byte{'k'}, kv.MaxKeySize))}
			e.setAll(keys...)
			e.set("empty", "")
			before := e.scan(kv.IterOptions{})
			var buf bytes.Buffer
			n, err := kv.Dump(e.ctx, e.s, &buf)
			if err != nil || n != int64(len(before)) {
				t.Fatalf("Dump = %d records, %v; want %d, nil", n, err, len(before))
			}
			if db, ok := e.s.(*kv.DB); ok {
				var viaBackup bytes.Buffer
				if err := db.Backup(e.ctx, &viaBackup); err != nil {
					t.Fatalf("Backup: %v", err)
				}
				if !bytes.Equal(viaBackup.Bytes(), buf.Bytes()) {
					t.Errorf("Backup wrote %d bytes, Dump %d: they differ", viaBackup.Len(), buf.Len())
				}
			}
			other := newEnv(t, e.factory)
			if n, err := kv.Load(e.ctx, other.s, bytes.NewReader(buf.Bytes())); err != nil || n != int64(len(before)) {
				t.Fatalf("Load = %d records, %v; want %d, nil", n, err, len(before))
			}
			if after := other.scan(kv.IterOptions{}); !slices.Equal(before, after) {
				t.Fatalf("after Dump and Load: %v\nwant %v", after, before)
			}
		}},
		{"LoadRefusesDamagedDump", func(t *testing.T, e *env) {
			e.setAll("a", "b", "c")
			var buf bytes.Buffer
			if _, err := kv.Dump(e.ctx, e.s, &buf); err != nil {
				t.Fatal(err)
			}
			good := buf.Bytes()
			damaged := map[string][]byte{
				"truncated":     good[:len(good)-3],
				"flipped byte":  flip(good, len(kv.DumpMagic)+2),
				"no header":     good[len(kv.DumpMagic):],
				"trailing data": append(slices.Clone(good), 'x'),
				// Well formed, count and checksum right, but not a dump
				// of a store: a key twice, keys out of order.
				"repeated key":      craftDump("a", "1", "a", "2", "b", "3"),
				"keys out of order": craftDump("b", "1", "a", "2"),
			}
			for name, d := range damaged {
				other := newEnv(t, e.factory)
				if _, err := kv.Load(e.ctx, other.s, bytes.NewReader(d)); !errors.Is(err, kv.ErrBadDump) {
					t.Errorf("%s dump: Load error = %v, want kv.ErrBadDump", name, err)
				}
			}
		}},
	}
}

// craftDump encodes key, value pairs in the dump format, with a correct
// trailer, in the order given.
func craftDump(kvs ...string) []byte {
	var recs []byte
	for i := 0; i+1 < len(kvs); i += 2 {
		recs = binary.AppendUvarint(recs, uint64(len(kvs[i])))
		recs = append(recs, kvs[i]...)
		recs = binary.AppendUvarint(recs, uint64(len(kvs[i+1])))
		recs = append(recs, kvs[i+1]...)
	}
	out := append([]byte(kv.DumpMagic), recs...)
	out = binary.AppendUvarint(out, 0)
	out = binary.AppendUvarint(out, uint64(len(kvs)/2))
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(recs, crc32.MakeTable(crc32.Castagnoli)))
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x55
	return c
}
