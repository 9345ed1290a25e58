package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/polykv/polykv/kv"
)

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
	db, err := parseAndOpen(ctx, fs, s, args, true)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := kv.Dump(ctx, db, s.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.err, "polykv dump: %d keys\n", n)
	return db.Close()
}

const loadDoc = `
Reads a polykv dump (see 'polykv dump --help') from stdin into the store,
creating it if the directory does not exist (name its backend then: auto://
opens only an existing store). The store must be empty unless --merge is
given (then dumped keys overwrite existing ones).

A new store (the directory does not exist, or is empty) is built under a
temporary name beside it and renamed into place only once the whole dump is
loaded, its trailer checked and the store synced and closed: a load that
fails or is interrupted leaves no store under the name (the partial one is
removed, or left as .NAME.partial-* if the process was killed). An empty
directory on which a file system is mounted cannot be replaced so: it is
refused, before anything is written; name a directory inside it.

Into an existing store (--merge, or an empty store created earlier) the load
is written in place, in atomic chunks below the transaction limit, and is
NOT atomic as a whole: if it fails (a truncated or corrupt dump is detected by
the trailer's count and CRC), the chunks written before the failure stay. The
exit code and the message say which. A store on a cluster (etcd://…/prefix)
has no directory to stage and is always loaded in place.
`

func runLoad(ctx context.Context, s stdio, args []string) (err error) {
	fs := newFlags(s, "load", "DSN < FILE", loadDoc)
	merge := fs.Bool("merge", false, "load into a store that already has keys")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	cfg, err := parseDSN(fs.Arg(0))
	if err != nil {
		return err
	}
	// Refuse input that does not start like a dump before the store is
	// opened, which would create it.
	in := bufio.NewReaderSize(s.in, 1<<20)
	head, err := in.Peek(len(kv.DumpMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		// Input that cannot be read (a directory given with '<') is not a
		// damaged dump: say what the read said.
		return fmt.Errorf("read the dump from standard input: %w (nothing was written)", err)
	}
	if string(head) != kv.DumpMagic {
		return fmt.Errorf("%w: missing header %q (nothing was written)", kv.ErrBadDump, kv.DumpMagic)
	}
	var staged *stagedStore
	var db *kv.DB
	if cfg.ReadOnly {
		db, err = openDSN(ctx, fs.Arg(0), false) // refused below, as every write
	} else {
		if cfg, staged, err = stageNewStore(cfg); err != nil {
			return err
		}
		db, err = kv.Open(ctx, cfg)
	}
	if err != nil {
		staged.abandon()
		return err
	}
	defer func() {
		db.Close()
		if err != nil {
			staged.abandon()
		}
	}()
	if !*merge {
		empty, err := isEmpty(ctx, db)
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("%s is not empty: load into an empty store, or give --merge", kv.RedactDSN(fs.Arg(0)))
		}
	}
	cw := &countingWriter{Store: db}
	n, err := kv.Load(ctx, cw, in)
	if err != nil {
		if staged != nil {
			return fmt.Errorf("%w; the load is incomplete and %s was not created (the %d keys written before the failure were removed with the partial store)",
				err, kv.RedactDSN(fs.Arg(0)), cw.writes)
		}
		if cw.writes > 0 {
			// The chunks before the failure stay: say so, or the store
			// looks untouched (and may hold keys of a damaged dump).
			advice := "discard that store and load into an empty one"
			if *merge {
				advice = "the store now holds a part of the dump over its own keys"
			}
			damaged := ""
			if errors.Is(err, kv.ErrBadDump) {
				damaged = " (they may include keys from the damaged part)"
			}
			return fmt.Errorf("%w; the load is incomplete: %d keys were written to %s in %d chunk(s) before the failure%s: %s",
				err, cw.writes, kv.RedactDSN(fs.Arg(0)), cw.chunks, damaged, advice)
		}
		return err
	}
	if err := db.Sync(); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := staged.commit(); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "polykv load: %d keys\n", n)
	return nil
}

// countingWriter counts the writes and batches that reach a store.
type countingWriter struct {
	kv.Store
	writes, chunks int
}

// Limits are the store's: kv.Load sizes its chunks by them (a cluster
// store takes far fewer writes per transaction than kv's defaults).
func (c *countingWriter) Limits() kv.Limits { return kv.LimitsOf(c.Store) }

func (c *countingWriter) Write(ctx context.Context, b *kv.Batch) error {
	if err := c.Store.Write(ctx, b); err != nil {
		return err
	}
	c.writes += b.Len()
	c.chunks++
	return nil
}
