package logstore

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestProbeJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', ' ', '"', '\\', 0, 1, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xff, '<', 'z'}
	for n := 0; n < 200000; n++ {
		l := r.IntN(40)
		b := make([]byte, l)
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = byte(r.IntN(256))
			}
		}
		s := string(b)
		ours := appendJSONString(nil, s)
		var a, w string
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("%q: ours %q invalid: %v", s, ours, err)
		}
		ref, _ := json.Marshal(s)
		json.Unmarshal(ref, &w)
		if a != w {
			t.Fatalf("%q: ours %q -> %q, json %q -> %q", s, ours, a, ref, w)
		}
	}
}
