package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

func scan(t testing.TB, s kv.Store, opts kv.IterOptions) string {
	t.Helper()
	var keys []string
	err := s.Iterate(context.Background(), opts, func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate(%+v): %v", opts, err)
	}
	return strings.Join(keys, ",")
}

// TestIterBounds checks the engine's seek logic at every kind of bound,
// including bounds that fall between keys, on keys, and outside the data.
func TestIterBounds(t *testing.T) {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Enough keys for a multi-level tree.
	for i := 0; i < 1000; i += 2 {
		if err := db.Set(ctx, fmt.Appendf(nil, "k%04d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		start, end string
		reverse    bool
		want       string
	}{
		{"k0000", "k0005", false, "k0000,k0002,k0004"},
		{"k0000", "k0005", true, "k0004,k0002,k0000"},
		{"k0001", "k0004", false, "k0002"},
		{"k0001", "k0004", true, "k0002"},
		{"k0994", "", false, "k0994,k0996,k0998"},
		{"k0994", "", true, "k0998,k0996,k0994"},
		{"k0995", "z", true, "k0998,k0996"},
		{"a", "k0003", true, "k0002,k0000"},
		{"a", "b", true, ""},
		{"a", "b", false, ""},
		{"x", "", true, ""},
		{"x", "", false, ""},
		{"k0500", "k0501", true, "k0500"},
		{"k0501", "k0502", true, ""},
	} {
		opts := kv.IterOptions{Start: []byte(tc.start), End: []byte(tc.end), Reverse: tc.reverse}
		if got := scan(t, db, opts); got != tc.want {
			t.Errorf("[%s, %s) reverse=%v = %q, want %q", tc.start, tc.end, tc.reverse, got, tc.want)
		}
	}
}

func TestUnknownOption(t *testing.T) {
	_, err := kv.Open(context.Background(), kv.Config{Backend: "memory", Options: map[string]string{"x": "1"}})
	if !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("Open with an unknown option = %v, want ErrInvalidConfig", err)
	}
}

func TestInfo(t *testing.T) {
	db, err := kv.Open(context.Background(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := db.Info().Guarantees
	if g.Persistent || !g.AtomicDeleteRange {
		t.Fatalf("Guarantees = %+v, want not persistent, atomic range deletes", g)
	}
}
