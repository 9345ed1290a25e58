package main

import (
	"strings"
	"testing"
)

// TestInspectRejectsNegativeFirst: --first below 0 is a usage error
// naming the flag; it used to be taken silently as 0.
func TestInspectRejectsNegativeFirst(t *testing.T) {
	code, out, stderr := polykv(t, nil, "inspect", "--first", "-1", "memory:")
	if code != 2 || !strings.Contains(stderr, "--first -1") {
		t.Errorf("inspect --first -1: exit %d, want 2 naming --first:\n%s%s", code, out, stderr)
	}
	if code, _, stderr := polykv(t, nil, "inspect", "--first", "0", "memory:"); code != 0 {
		t.Errorf("inspect --first 0: exit %d: %s", code, stderr)
	}
}
