package nodestore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// NormalizePath returns the normal form of p, the form nodestore hashes and
// stores:
//
//   - it starts with "/" ("a/b" becomes "/a/b");
//   - runs of "/" become one ("/a//b" becomes "/a/b");
//   - a trailing "/" is dropped ("/a/b/" becomes "/a/b"), except for the
//     root "/" itself;
//   - "." segments are dropped ("/a/./b" becomes "/a/b", "." becomes "/");
//   - a ".." segment is an error: a file system listing never yields one,
//     and resolving it lexically could merge two distinct nodes (through
//     a symbolic link) into one key;
//   - an empty path, or one containing a NUL byte, is an error.
//
// Nothing else changes: case, Unicode form, backslashes and spaces are
// kept byte for byte. Errors wrap ErrInvalidPath.
func NormalizePath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("%w: path %q contains a NUL byte", ErrInvalidPath, p)
	}
	if isNormal(p) {
		return p, nil
	}
	var b strings.Builder
	b.Grow(len(p) + 1)
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("%w: path %q has a \"..\" segment", ErrInvalidPath, p)
		}
		b.WriteByte('/')
		b.WriteString(seg)
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}

// isNormal reports whether p (non-empty, no NUL) is already in normal form,
// without allocating.
func isNormal(p string) bool {
	if p[0] != '/' {
		return false
	}
	if p == "/" {
		return true
	}
	if p[len(p)-1] == '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch p[start:i] {
		case "", ".", "..":
			return false
		}
		start = i + 1
	}
	return true
}

// checkNormal returns an error naming field if p is not a normalized path.
func checkNormal(field, p string) error {
	n, err := NormalizePath(p)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	if n != p {
		return fmt.Errorf("%s: %w: %q is not normalized (want %q)", field, ErrInvalidPath, p, n)
	}
	return nil
}

// parentOf returns the parent path of a normalized path, and "" for "/".
func parentOf(p string) string {
	if p == "/" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// baseOf returns the last element of a normalized path ("/" for the root).
func baseOf(p string) string {
	if p == "/" {
		return "/"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// PathHash identifies a path within a queue: the first 16 bytes of the
// SHA-256 of its normalized form. Keys hold it as 32 lowercase hex digits.
type PathHash [16]byte

// HashPath normalizes p and returns its hash.
func HashPath(p string) (PathHash, error) {
	n, err := NormalizePath(p)
	if err != nil {
		return PathHash{}, err
	}
	return hashNormal(n), nil
}

func hashNormal(p string) PathHash {
	sum := sha256.Sum256([]byte(p))
	var h PathHash
	copy(h[:], sum[:16])
	return h
}

// String returns the 32 hex digits of h, as keys hold them.
func (h PathHash) String() string { return hex.EncodeToString(h[:]) }

// AppendHex appends the 32 hex digits of h to dst.
func (h PathHash) AppendHex(dst []byte) []byte { return hex.AppendEncode(dst, h[:]) }

// ParsePathHash parses 32 hex digits.
func ParsePathHash(s string) (PathHash, error) {
	if h, ok := parseHashHex([]byte(s)); ok {
		return h, nil
	}
	var h PathHash
	if len(s) != 32 {
		return h, fmt.Errorf("%w: path hash %q: want 32 hex digits", ErrInvalidKey, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return h, fmt.Errorf("%w: path hash %q: want lowercase hex digits", ErrInvalidKey, s)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%w: path hash %q: %v", ErrInvalidKey, s, err)
	}
	return h, nil
}

// parseHashHex parses 32 lowercase hex digits without allocating (the hot
// path of key parsing); ParsePathHash says what is wrong when it fails.
func parseHashHex(b []byte) (PathHash, bool) {
	var h PathHash
	if len(b) != 2*len(h) {
		return h, false
	}
	for i := range h {
		hi, ok1 := hexDigit(b[2*i])
		lo, ok2 := hexDigit(b[2*i+1])
		if !ok1 || !ok2 {
			return h, false
		}
		h[i] = hi<<4 | lo
	}
	return h, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
