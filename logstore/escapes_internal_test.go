package logstore

import (
	"math/rand/v2"
	"testing"
)

// jsonEscapes counts exactly what appendJSONString adds: Add sizes entries
// against the store's limits with it.
func FuzzJSONEscapes(f *testing.F) {
	for _, s := range []string{"", "plain", "\"quoted\\\"", "\n\r\t\x00\x01\x1f\x7f", "\xff\xfe", "a\u2028b\u2029c", "é日本", "\xe2\x80", strings16()} {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := jsonEscapes(s), len(appendJSONString(nil, s))-2-len(s); got != want {
			t.Errorf("jsonEscapes(%q) = %d, appendJSONString adds %d", s, got, want)
		}
	})
}

// strings16 is 16 plain bytes, then one to escape: past the 8-byte skip.
func strings16() string { return "0123456789abcdef\"0123456789abcdef\x01" }
