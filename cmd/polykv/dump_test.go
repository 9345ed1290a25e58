package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadReportsReadError: standard input that cannot be read (a
// directory given with '<') is reported as the read error it is, not as a
// dump without its header, and creates nothing.
func TestLoadReportsReadError(t *testing.T) {
	in, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dir := filepath.Join(t.TempDir(), "new")
	var out, errOut bytes.Buffer
	code := run(t.Context(), stdio{in: in, out: &out, err: &errOut}, []string{"load", "pebble://" + dir})
	if code != 1 || !strings.Contains(errOut.String(), "is a directory") || strings.Contains(errOut.String(), "missing header") {
		t.Errorf("load from a directory: exit %d, want 1 and the read error: %s", code, errOut.String())
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a failed load left a store in %s", dir)
	}
}
