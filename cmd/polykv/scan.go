package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"

	"github.com/polykv/polykv/kv"
)

const scanDoc = `
Prints keys and values in key order, one line per key: the key, a tab, the
value (with --keys-only, the key alone). It reads one consistent snapshot;
the store is opened read-only. The number of keys printed goes to stderr.

Keys and values are printed escaped: printable ASCII (space to '~') as is, a
backslash as two, every other byte (control characters, tab, newline, bytes
from 0x80 on, UTF-8 included) as \xNN; a line therefore never holds a tab
but the one between key and value. --hex prints both as hex digits instead,
which 'polykv get --key-hex' takes back.

Which keys (kv.IterOptions): --prefix restricts to keys that start with it;
--start is the first key (inclusive), --end the key to stop before
(exclusive), both absolute (not relative to the prefix); prefix and range
combine as an intersection; --reverse goes from the last key down. Each
bound is given as text, or as hex digits with its -hex variant
(--prefix-hex 00ff). --limit stops after that many keys; the default, 0,
prints every key (as dump does: pipe into head for a look).
`

func runScan(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "scan", "[flags] DSN", scanDoc)
	var bounds [3]struct{ text, hex *string }
	for i, what := range []string{"print only the keys that start with this prefix,", "the first key (inclusive),", "stop before this key (exclusive),"} {
		name := boundNames[i]
		bounds[i].text = fs.String(name, "", what+" given as `TEXT`")
		bounds[i].hex = fs.String(name+"-hex", "", "--"+name+" given as `HEX` digits")
	}
	reverse := fs.Bool("reverse", false, "descending key order")
	limit := fs.Int("limit", 0, "stop after this many keys (0: no limit)")
	keysOnly := fs.Bool("keys-only", false, "print the keys alone (values are not read)")
	asHex := fs.Bool("hex", false, "print keys and values as hex digits")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN"); err != nil {
		return err
	}
	if *limit < 0 {
		return fmt.Errorf("%w: --limit %d: want 0 (no limit) or more", errUsage, *limit)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var b [3][]byte
	for i, name := range boundNames {
		if set[name] && set[name+"-hex"] {
			return fmt.Errorf("%w: give --%s or --%s-hex, not both", errUsage, name, name)
		}
		arg, isHex := *bounds[i].text, set[name+"-hex"]
		if isHex {
			arg = *bounds[i].hex
		}
		v, err := argBytes("--"+name, arg, isHex)
		if err != nil {
			return err
		}
		if len(v) > 0 {
			b[i] = v // empty: no bound
		}
	}
	if b[1] != nil && b[2] != nil && bytes.Compare(b[1], b[2]) >= 0 {
		// Nothing to visit, as kv says; often the bounds swapped for a
		// --reverse scan: say so beside the "0 keys".
		fmt.Fprintln(s.err, "polykv scan: --start is not before --end: the range is empty (with --reverse too, --start is the lower bound)")
	}
	opts := kv.IterOptions{Prefix: b[0], Start: b[1], End: b[2], Reverse: *reverse, Limit: *limit, KeysOnly: *keysOnly}
	db, err := openDSN(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	w := bufio.NewWriterSize(s.out, 64<<10)
	var line []byte
	n := 0
	err = db.Iterate(ctx, opts, func(k, v []byte) error {
		line = appendShown(line[:0], k, *asHex)
		if !*keysOnly {
			line = append(line, '\t')
			line = appendShown(line, v, *asHex)
		}
		line = append(line, '\n')
		n++
		_, err := w.Write(line)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("scan after %d keys: %w", n, err)
	}
	if *limit > 0 && n == *limit {
		fmt.Fprintf(s.err, "polykv scan: %d keys (the --limit: there may be more)\n", n)
	} else {
		fmt.Fprintf(s.err, "polykv scan: %d keys\n", n)
	}
	return db.Close()
}

// boundNames are scan's flags for kv.IterOptions' Prefix, Start and End.
var boundNames = [3]string{"prefix", "start", "end"}

// appendShown appends b escaped, or as hex digits.
func appendShown(dst, b []byte, asHex bool) []byte {
	if asHex {
		return hex.AppendEncode(dst, b)
	}
	return appendEscaped(dst, b)
}
