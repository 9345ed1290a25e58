package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/polykv/polykv/kv"
)

const copyDoc = `
Copies every key and value of SRC into DST, which may use another backend
(badger:///old → pebble:///new), then verifies: both stores are read again in
key order and their key counts and SHA-256 digests of every (key, value) must
match. DST must be empty (it is created if its directory does not exist; name
its backend then: auto:// opens only an existing store). SRC is opened
read-only and copied from one consistent snapshot.

A new DST (its directory does not exist, or is empty) is built under a
temporary name beside it and renamed into place only once the copy is
verified, synced and closed: a copy that fails or is interrupted leaves no
store under DST's name (an empty directory on which a file system is
mounted cannot be replaced so: it is refused, before anything is written;
name a directory inside it). Into an empty store created earlier, the copy is
written in place in atomic chunks below the transaction limit and is not
atomic as a whole: on failure DST holds a part of SRC. The exit code says so.
A store on a cluster (etcd://…/prefix) has no directory to stage: it is
always written in place, in chunks below the store's own limits.
`

func runCopy(ctx context.Context, s stdio, args []string) (err error) {
	fs := newFlags(s, "copy", "SRC_DSN DST_DSN", copyDoc)
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "SRC_DSN", "DST_DSN"); err != nil {
		return err
	}
	// Both DSNs are checked before either store is opened: a mistake in
	// the destination's is a usage error (exit code 2) like the source's.
	cfg, err := parseDSN(fs.Arg(1))
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	srcCfg, err := parseDSN(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if len(srcCfg.Endpoints) == 0 && len(cfg.Endpoints) == 0 {
		// A store inside the source's directory would be counted in the
		// source's size, and copied by a later copy of it.
		if inside, err := within(srcCfg.Path, cfg.Path); err != nil {
			return err
		} else if inside {
			return fmt.Errorf("%w: the destination %s is inside the source's directory %s", errUsage, cfg.Path, srcCfg.Path)
		}
	}
	src, err := openDSN(ctx, fs.Arg(0), true)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	var staged *stagedStore
	var dst *kv.DB
	if cfg.ReadOnly {
		dst, err = openDSN(ctx, fs.Arg(1), false) // refused at the first write
	} else {
		if cfg, staged, err = stageNewStore(cfg); err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		dst, err = kv.Open(ctx, cfg)
	}
	if err != nil {
		staged.abandon()
		return fmt.Errorf("destination: %w", err)
	}
	defer func() {
		dst.Close()
		if err != nil {
			staged.abandon()
		}
	}()
	res, err := copyStore(ctx, src, dst)
	if err != nil {
		if staged != nil {
			return fmt.Errorf("%w (%s was not created: the partial copy was removed)", err, kv.RedactDSN(fs.Arg(1)))
		}
		if res.written == 0 {
			// Refused or failed before the first chunk (a destination
			// that holds keys): it is as it was, and may hold the user's
			// data, so it is not to be discarded.
			return err
		}
		return fmt.Errorf("%w: discard the destination and copy into an empty store", err)
	}
	if err := src.Close(); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := staged.commit(); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "copied %d keys (%d bytes) in %d chunks from %s to %s; verified: sha256 %s\n",
		res.keys, res.bytes, res.chunks, src.Info().Backend, dst.Info().Backend, res.digest)
	return nil
}

type copyResult struct {
	keys, bytes int64
	chunks      int
	written     int // keys written to the destination, whether or not the copy succeeded
	digest      string
}

// copyStore copies src into the empty dst and verifies the copy.
func copyStore(ctx context.Context, src, dst kv.Store) (copyResult, error) {
	var res copyResult
	empty, err := isEmpty(ctx, dst)
	if err != nil {
		return res, fmt.Errorf("destination: %w", err)
	}
	if !empty {
		return res, fmt.Errorf("destination is not empty: copy needs an empty store")
	}
	bw := kv.NewBulkWriter(ctx, dst)
	h := newDigest()
	err = src.View(ctx, func(tx kv.ReadTxn) error {
		return tx.Iterate(kv.IterOptions{}, func(k, v []byte) error {
			h.add(k, v)
			res.keys++
			res.bytes += int64(len(k) + len(v))
			return bw.Set(k, v)
		})
	})
	if err == nil {
		err = bw.Close()
	}
	res.written, _ = bw.Written()
	if err != nil {
		err = fmt.Errorf("copy after %d keys: %w", res.keys, err)
		if written, chunks := bw.Written(); written > 0 {
			// The chunks before the failure stay: say so.
			err = fmt.Errorf("%w; the copy is incomplete: %d keys were written to the destination in %d chunk(s) before the failure",
				err, written, chunks)
		}
		return res, err
	}
	if err := dst.Sync(); err != nil {
		return res, err
	}
	_, res.chunks = bw.Written()
	res.digest = h.sum()
	// Verify: read the destination again and compare.
	v := newDigest()
	err = dst.View(ctx, func(tx kv.ReadTxn) error {
		return tx.Iterate(kv.IterOptions{}, func(k, val []byte) error {
			v.add(k, val)
			return nil
		})
	})
	if err != nil {
		return res, fmt.Errorf("the copy of %d keys is written but its verification did not finish: %w", res.keys, err)
	}
	if v.n != res.keys || v.sum() != res.digest {
		return res, fmt.Errorf("verify FAILED: source has %d keys (sha256 %s), destination %d keys (sha256 %s)",
			res.keys, res.digest, v.n, v.sum())
	}
	return res, nil
}

// digest hashes an ordered sequence of (key, value) pairs, each length
// prefixed so that no two different sequences hash alike by construction.
type digest struct {
	h   hash.Hash
	n   int64
	buf []byte
}

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) add(k, v []byte) {
	d.buf = binary.AppendUvarint(d.buf[:0], uint64(len(k)))
	d.buf = append(d.buf, k...)
	d.buf = binary.AppendUvarint(d.buf, uint64(len(v)))
	d.h.Write(d.buf)
	d.h.Write(v)
	d.n++
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
