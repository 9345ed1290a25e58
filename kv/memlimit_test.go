package kv_test

import (
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestSuggestedMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kv.Config
		want int64
	}{
		{"defaults", kv.Config{Path: "/x"}, 2 * kv.DefaultMemoryBudget},
		{"badger 1GiB", kv.Config{Backend: "badger", MemoryBudget: 1 << 30}, 2 << 30},
		{"pebble", kv.Config{Backend: "Pebble", MemoryBudget: 64 << 20}, 128 << 20},
		{"bbolt", kv.Config{Backend: "bbolt"}, 2 * kv.DefaultMemoryBudget},
		{"auto", kv.Config{Backend: kv.AutoBackend, MemoryBudget: 100 << 20}, 200 << 20},
		{"memory: the data is the heap", kv.Config{Backend: "memory"}, 0},
		{"budget below the minimum", kv.Config{MemoryBudget: 1 << 20}, 0},
		{"negative budget", kv.Config{MemoryBudget: -1}, 0},
	} {
		if got := kv.SuggestedMemoryLimit(tc.cfg); got != tc.want {
			t.Errorf("%s: SuggestedMemoryLimit = %d, want %d", tc.name, got, tc.want)
		}
	}
}
