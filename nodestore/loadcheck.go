package nodestore

import (
	"bytes"
	"fmt"
)

// checkLoadedKey checks one key and value of a dump before Load writes it:
// the key must be of a nodestore family, well formed, and its value must
// have that family's form (a node value that decodes, names the key's
// path and is a valid node; an empty index value; a position; a positive
// 8-byte count). What a single key cannot show — a path key without its
// node, counts that disagree with the nodes — is Check's to find.
func checkLoadedKey(key, val []byte) error {
	var q QueueType
	rest, ok := cutQueue(key, &q)
	if !ok {
		return fmt.Errorf("key %q is not a nodestore key (want a src: or dst: prefix)", key)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("key %q: %s", key, fmt.Sprintf(format, args...))
	}
	switch {
	case len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9':
		ki, err := ParseNodeKey(key)
		if err != nil {
			return err
		}
		if _, ok, problem := decodeChecked(ki, key, val); !ok || problem != "" {
			return bad("node value: %s", problem)
		}
	case bytes.HasPrefix(rest, []byte("children:")):
		if _, _, ok := parseIndexKeyHashes(rest[len("children:"):]); !ok {
			return bad("want children:{parent hash}:{child hash}")
		}
		if len(val) != 0 {
			return bad("a children index value must be empty, got %d bytes", len(val))
		}
	case bytes.HasPrefix(rest, []byte(familyPath)):
		if _, ok := parseHashHex(rest[len(familyPath):]); !ok {
			return bad("want path:{hash}")
		}
		if _, _, _, err := parseStatusSuffix(q, val); err != nil {
			return bad("path value: %v", err)
		}
	case bytes.HasPrefix(rest, []byte(familyCount)):
		tail, stripe, ok := cutStripe(rest[len(familyCount):])
		if _, _, _, err := parseStatusSuffix(q, tail); err != nil || !ok {
			return bad("want count:{level}:{traversal}:{copy}, or a stripe of it (:01 to :99)")
		}
		return checkLoadedCount(key, val, stripe)
	case bytes.HasPrefix(rest, []byte(familyPendingLevel)):
		lv, stripe, ok := cutStripe(rest[len(familyPendingLevel):])
		if len(lv) != 8 || bytes.IndexFunc(lv, func(r rune) bool { return r < '0' || r > '9' }) >= 0 || !ok {
			return bad("want pendinglevel:{8-digit level}, or a stripe of it (:01 to :99)")
		}
		return checkLoadedCount(key, val, stripe)
	default:
		return bad("no nodestore key family (node, children, path, count, pendinglevel)")
	}
	return nil
}

// checkLoadedCount checks a count or pending-level value of stripe n:
// 8 bytes, big-endian, more than zero for stripe 0 (a count that drops to
// zero is deleted), a signed delta other than zero for the others.
func checkLoadedCount(key, val []byte, n int) error {
	if _, err := decodeStripe(key, val, n); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	return nil
}
