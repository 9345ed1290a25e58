package main

import (
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestMemoryLimitFor(t *testing.T) {
	unset := func(string) (string, bool) { return "", false }
	set := func(k string) (string, bool) { return "300MiB", k == "GOMEMLIMIT" }
	badger := kv.Config{Backend: "badger", MemoryBudget: 128 << 20}
	if got := memoryLimitFor(badger, unset); got != 256<<20 {
		t.Errorf("badger, GOMEMLIMIT unset: %d, want %d", got, 256<<20)
	}
	if got := memoryLimitFor(badger, set); got != 0 {
		t.Errorf("GOMEMLIMIT set: %d, want 0 (the user's limit wins)", got)
	}
	if got := memoryLimitFor(kv.Config{Backend: "memory"}, unset); got != 0 {
		t.Errorf("memory backend: %d, want 0", got)
	}
}
