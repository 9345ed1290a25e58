package badger

import "github.com/polykv/polykv/kv"

// Badger reserves every key that starts with "!badger!" for itself
// (txn.modify returns ErrInvalidKey) and its iterators skip such keys.
// polykv promises that every key works, so keys are mapped before they
// reach Badger:
//
//	a key whose first byte is '!' is stored as "!" + 0x01 + key[1:]
//	every other key is stored unchanged
//
// The mapping is injective (stored keys starting with '!' all have 0x01
// second, and no unmapped stored key starts with '!'), never produces the
// "!badger!" prefix (the second byte is 0x01, not 'b'), and keeps bytewise
// order on all byte strings: two keys that both start with '!' compare as
// their tails do, and any other pair differs at its first byte, which the
// mapping leaves alone. Because order is kept for every string, iteration
// bounds map with the same function. Only keys starting with '!' pay one
// extra byte and an allocation; kv.MaxKeySize+1 stays far below Badger's
// 65000-byte key limit.

const (
	escapeByte = '!'
	escapeMark = 0x01
)

// maxStoredKey is the largest key Badger is ever given.
const maxStoredKey = 65000 - 1 // Badger refuses keys longer than 65000 bytes

// The longest kv key, escaped, must fit: this fails to compile otherwise.
const _ = uint(maxStoredKey - (kv.MaxKeySize + 1))

// needsEscape reports whether key is stored under another name.
func needsEscape(key []byte) bool { return len(key) > 0 && key[0] == escapeByte }

// appendStoredKey appends the stored form of key to dst.
func appendStoredKey(dst, key []byte) []byte {
	if !needsEscape(key) {
		return append(dst, key...)
	}
	dst = append(dst, escapeByte, escapeMark)
	return append(dst, key[1:]...)
}

// storedKey returns the stored form of key. It returns key itself (no
// copy) when the key needs no escape.
func storedKey(key []byte) []byte {
	if key == nil || !needsEscape(key) {
		return key
	}
	return appendStoredKey(make([]byte, 0, len(key)+1), key)
}

// appendUserKey appends the user key of the stored key sk to dst. It
// returns ok=false for a key that no user key maps to (one of Badger's
// own, which its iterators never return).
func appendUserKey(dst, sk []byte) (out []byte, ok bool) {
	if !needsEscape(sk) {
		return append(dst, sk...), true
	}
	if len(sk) < 2 || sk[1] != escapeMark {
		return dst, false
	}
	dst = append(dst, escapeByte)
	return append(dst, sk[2:]...), true
}
