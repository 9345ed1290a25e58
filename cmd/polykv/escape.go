package main

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// How get and scan print keys and values, and read them from the command
// line.
//
// Escaped (the default): printable ASCII, from the space to '~', as is,
// except the backslash, written as two; every other byte (control
// characters, tab, newline, DEL, and every byte from 0x80 on, UTF-8
// included) as \xNN with two lowercase hex digits. The output of one key or
// value is therefore one line of printable ASCII that holds no tab: scan's
// "key<TAB>value" lines split unambiguously, a terminal is never sent a
// control sequence, and the same bytes always print the same way.
//
// Hex (--hex): lowercase hex digits, two per byte; an empty value prints
// as nothing.
//
// On the command line a key or a bound is given as text (its bytes as the
// shell passes them) or, with the flag's -hex variant, as hex digits (upper
// or lower case), which reach every byte value.

// appendEscaped appends b to dst, escaped as described above.
func appendEscaped(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range b {
		switch {
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case ' ' <= c && c <= '~':
			dst = append(dst, c)
		default:
			dst = append(dst, '\\', 'x', digits[c>>4], digits[c&0xf])
		}
	}
	return dst
}

// escaped returns b escaped, for messages.
func escaped(b []byte) string { return string(appendEscaped(nil, b)) }

// printable returns a message for a terminal: its control characters but
// newline and tab (and the bytes of invalid UTF-8) as \xNN, so that a
// key quoted raw in an error (a store's keys are any bytes) cannot send
// the terminal a control sequence. Text, UTF-8 included, stays as it is.
func printable(msg string) string { return escapeControls(msg, true) }

// printableLine is printable for one line of a report: newline and tab
// are escaped too.
func printableLine(msg string) string { return escapeControls(msg, false) }

func escapeControls(msg string, keepLines bool) string {
	control := func(r rune) bool {
		if keepLines && (r == '\n' || r == '\t') {
			return false
		}
		return r == utf8.RuneError || r < ' ' || r == 0x7f || 0x80 <= r && r < 0xa0
	}
	if strings.IndexFunc(msg, control) < 0 {
		return msg
	}
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		if control(r) {
			for _, c := range []byte(msg[i : i+n]) {
				b.WriteString(`\x`)
				b.WriteByte(digits[c>>4])
				b.WriteByte(digits[c&0xf])
			}
		} else {
			b.WriteString(msg[i : i+n])
		}
		i += n
	}
	return b.String()
}

// argBytes returns the bytes an argument names: the text itself, or, when
// isHex, the bytes its hex digits spell. what names the argument in the
// error (a usage error).
func argBytes(what, arg string, isHex bool) ([]byte, error) {
	if !isHex {
		return []byte(arg), nil
	}
	b, err := hex.DecodeString(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q is not hex: %v", errUsage, what, arg, err)
	}
	return b, nil
}
