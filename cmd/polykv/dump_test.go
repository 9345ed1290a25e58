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

// TestAutoNeedsAnExistingStore: load or copy into auto:// of a path that
// does not exist (or is an empty directory) is a usage error naming that
// path, not the temporary one a new store is built under, and says to
// name a backend; it leaves nothing behind.
func TestAutoNeedsAnExistingStore(t *testing.T) {
	src := "pebble://" + filepath.Join(t.TempDir(), "src")
	fill(t, src, 10)
	_, dump, _ := polykv(t, nil, "dump", src)
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  func(dst string) []string
	}{
		{"load", []byte(dump), func(dst string) []string { return []string{"load", "auto://" + dst} }},
		{"copy", nil, func(dst string) []string { return []string{"copy", src, "auto://" + dst} }},
	} {
		for _, empty := range []bool{false, true} {
			parent := t.TempDir()
			dst := filepath.Join(parent, "new")
			if empty {
				if err := os.Mkdir(dst, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := polykv(t, tc.stdin, tc.args(dst)...)
			if code != 2 || !strings.Contains(stderr, dst+" ") || strings.Contains(stderr, ".partial-") ||
				!strings.Contains(stderr, `"auto" needs an existing store`) || !strings.Contains(stderr, "name a backend") {
				t.Errorf("%s into auto://%s (empty directory %v): exit %d, want 2 naming the path: %s", tc.name, dst, empty, code, stderr)
			}
			entries, _ := os.ReadDir(parent)
			if want := map[bool]int{false: 0, true: 1}[empty]; len(entries) != want {
				t.Errorf("%s into auto:// (empty directory %v) left %v", tc.name, empty, entries)
			}
		}
	}
}
