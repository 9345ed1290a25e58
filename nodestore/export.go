package nodestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/polykv/polykv/kv"
)

// Export calls fn with every key and value of every nodestore family (node
// keys, children index, path keys, counters), in key order, from one
// consistent snapshot. Keys of other layers sharing the kv.Store (such as
// logstore's "log:" keys) are not visited: nodestore owns exactly the keys
// starting with "dst:" or "src:". key and value are valid only until fn
// returns. fn returning kv.SkipAll stops the export without error.
func (s *Store) Export(ctx context.Context, fn func(key, value []byte) error) error {
	if err := s.ready(ctx, "Export"); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("nodestore: export: %w: nil function", ErrInvalidArgument)
	}
	err := s.kv.View(ctx, func(tx kv.ReadTxn) error {
		for _, q := range Queues {
			stop := false
			err := tx.Iterate(kv.IterOptions{Prefix: appendQueue(nil, q)}, func(k, v []byte) error {
				err := fn(k, v)
				if errors.Is(err, kv.SkipAll) {
					stop = true
				}
				return err
			})
			if err != nil || stop {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("nodestore: export: %w", err)
	}
	return nil
}

// dumpMagic starts every dump written by Dump.
const dumpMagic = "polykv-nodestore-dump 1\n"

// Dump writes Export's keys and values to w in a simple stream: the line
// "polykv-nodestore-dump 1\n", then for each key a uvarint length and the
// key, a uvarint length and the value. Load reads it back, on any backend.
func (s *Store) Dump(ctx context.Context, w io.Writer) error {
	if err := s.ready(ctx, "Dump"); err != nil {
		return err
	}
	if w == nil {
		return fmt.Errorf("nodestore: dump: %w: nil io.Writer", ErrInvalidArgument)
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(dumpMagic); err != nil {
		return fmt.Errorf("nodestore: dump: %w", err)
	}
	var lb [binary.MaxVarintLen64]byte
	err := s.Export(ctx, func(k, v []byte) error {
		for _, b := range [][]byte{k, v} {
			n := binary.PutUvarint(lb[:], uint64(len(b)))
			if _, err := bw.Write(lb[:n]); err != nil {
				return err
			}
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("nodestore: dump: %w", err)
	}
	return nil
}

// Load reads a stream written by Dump into s, which must hold no nodestore
// key yet (ErrExists otherwise). Every key must belong to a nodestore
// family and have its form, and every value the form of its family's (a
// node that decodes and is valid, a position, a positive count): any other
// record fails the load with ErrCorrupt naming the record. It writes in chunks (kv.BulkWriter): the load is not atomic, and
// an interrupted load leaves a partial store — delete the "dst:" and "src:"
// prefixes and load again. Run Check afterwards to verify the result. It
// returns the number of keys written.
func (s *Store) Load(ctx context.Context, r io.Reader) (int, error) {
	if err := s.ready(ctx, "Load"); err != nil {
		return 0, err
	}
	if r == nil {
		return 0, fmt.Errorf("nodestore: load: %w: nil io.Reader", ErrInvalidArgument)
	}
	empty := true
	if err := s.Export(ctx, func(_, _ []byte) error { empty = false; return kv.SkipAll }); err != nil {
		return 0, fmt.Errorf("nodestore: load: %w", err)
	}
	if !empty {
		return 0, fmt.Errorf("nodestore: load: %w: the store already holds nodestore keys", ErrExists)
	}
	br := bufio.NewReader(r)
	magic := make([]byte, len(dumpMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != dumpMagic {
		return 0, fmt.Errorf("nodestore: load: %w: not a nodestore dump (bad header)", ErrCorrupt)
	}
	bw := kv.NewBulkWriter(ctx, s.kv)
	readField := func(buf []byte) ([]byte, error) {
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if l > kv.MaxValueSize {
			return nil, fmt.Errorf("%w: field of %d bytes", ErrCorrupt, l)
		}
		buf = append(buf[:0], make([]byte, l)...)
		_, err = io.ReadFull(br, buf)
		return buf, err
	}
	var key, val []byte
	n := 0
	for {
		var err error
		key, err = readField(key)
		if err == io.EOF {
			break
		}
		if err == nil {
			val, err = readField(val)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: truncated dump after %d keys", ErrCorrupt, n)
			} else if !errors.Is(err, ErrCorrupt) {
				err = fmt.Errorf("%w: record %d: %v", ErrCorrupt, n+1, err) // a length that is not a varint, or a read error
			}
			return n, fmt.Errorf("nodestore: load: %w", err)
		}
		if err := checkLoadedKey(key, val); err != nil {
			return n, fmt.Errorf("nodestore: load: %w: record %d: %v", ErrCorrupt, n+1, err)
		}
		if isStripeKey(key) {
			s.stripeReads.Store(stripeReadsYes) // Count must sum them from now on
		}
		if err := bw.Set(key, val); err != nil {
			return n, fmt.Errorf("nodestore: load: %w", err)
		}
		n++
	}
	if err := bw.Close(); err != nil {
		return n, fmt.Errorf("nodestore: load: %w", err)
	}
	return n, nil
}
