package etcd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestAncestorsOf(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"/", nil},
		{"/a", nil},
		{"/a/b", []string{"/a"}},
		{"/a/b/", []string{"/a", "/a/b"}},
		{"/a//x", []string{"/a", "/a/"}},
		{"//", []string{"/"}},
	} {
		got, err := ancestorsOf(tc.prefix)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ancestorsOf(%q) = %q, %v; want %q", tc.prefix, got, err, tc.want)
		}
		// Every key of the store lies under each ancestor's keys.
		for _, a := range got {
			if !strings.HasPrefix(tc.prefix+storeSuffix, a+storeSuffix) {
				t.Errorf("ancestorsOf(%q) gives %q, which does not contain it", tc.prefix, a)
			}
		}
	}
	if _, err := ancestorsOf(strings.Repeat("/x", maxAncestors+2)); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("a prefix of %d levels: %v, want ErrInvalidConfig", maxAncestors+2, err)
	}
}
