package bench

import (
	"context"
	"testing"
)

// isVersionOf accepts what YCSB writes for a record (a version below
// 1000, read-modify-written or not) and refuses another record's value.
func TestValuesIsVersionOf(t *testing.T) {
	vals := newValues(newEnv(context.Background(), Spec{Seed: DefaultSeed}, t.TempDir()), ycsbValue)
	rmw := append([]byte(nil), vals.of(42+7)...)
	rmw[0]++
	for _, c := range []struct {
		name string
		v    []byte
		want bool
	}{
		{"inserted", vals.of(42), true},
		{"updated", vals.of(42 + 999), true},
		{"read-modify-written", rmw, true},
		{"another record's", vals.of(42 + 5000), false},
		{"cut short", vals.of(42)[:ycsbValue-1], false},
	} {
		if got := vals.isVersionOf(42, c.v); got != c.want {
			t.Errorf("%s: isVersionOf = %v, want %v", c.name, got, c.want)
		}
	}
}
