package main

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/polykv/polykv/kv"
)

const getDoc = `
Prints the value stored under KEY, followed by a newline. The store is opened
read-only. Exit code 0: found (an empty value prints as an empty line); 1: the
key is not found, or the store could not be read; 2: a usage error (a bad DSN,
bad hex, an empty KEY).

KEY is given as text, or as hex digits with --key-hex (any byte value, NUL
and 0xFF included). A KEY that starts with '-' follows "--":
polykv get DSN -- -key.

The value is printed escaped: printable ASCII (space to '~') as is, a
backslash as two, every other byte (control characters, tab, newline, bytes
from 0x80 on, UTF-8 included) as \xNN. --hex prints it as hex digits instead;
--raw writes its bytes as they are, with no newline (to redirect into a file).
`

func runGet(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "get", "[flags] DSN KEY", getDoc)
	keyHex := fs.Bool("key-hex", false, "KEY is given as hex digits")
	asHex := fs.Bool("hex", false, "print the value as hex digits")
	raw := fs.Bool("raw", false, "write the value's bytes as they are, with no newline")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN", "KEY"); err != nil {
		return err
	}
	if *asHex && *raw {
		return fmt.Errorf("%w: --hex and --raw exclude each other", errUsage)
	}
	key, err := argBytes("KEY", fs.Arg(1), *keyHex)
	if err != nil {
		return err
	}
	if err := checkKeyArg("KEY", key); err != nil {
		return err
	}
	db, err := openDSN(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("key %s: %w", escaped(key), err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	var out []byte
	switch {
	case *raw:
		out = v
	case *asHex:
		out = append(hex.AppendEncode(nil, v), '\n')
	default:
		out = append(appendEscaped(nil, v), '\n')
	}
	_, err = s.out.Write(out)
	return err
}

// checkKeyArg refuses a key that no store can hold, as a usage error.
func checkKeyArg(what string, key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: %s is empty (a key has at least one byte)", errUsage, what)
	case len(key) > kv.MaxKeySize:
		return fmt.Errorf("%w: %s has %d bytes, more than a key may have (%d)", errUsage, what, len(key), kv.MaxKeySize)
	}
	return nil
}
