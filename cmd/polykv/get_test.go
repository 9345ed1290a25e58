package main

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

// hostile are keys and values that break naive printing: NUL, 0xFF, a
// newline, a tab, a backslash, markup, UTF-8, a value with a terminal
// escape sequence.
var hostile = []struct{ key, value, keyShown, valueShown string }{
	{"a\x00b", "nul\x00value", `a\x00b`, `nul\x00value`},
	{"\xff\xfe", "\xff", `\xff\xfe`, `\xff`},
	{"line1\nline2", "two\nlines\r\n", `line1\x0aline2`, `two\x0alines\x0d\x0a`},
	{"<script>alert(1)</script>", "<b>&amp;</b>", "<script>alert(1)</script>", "<b>&amp;</b>"},
	{"tab\tkey", "\x1b[31mred\x1b[0m", `tab\x09key`, `\x1b[31mred\x1b[0m`},
	{`back\slash`, `C:\dir`, `back\\slash`, `C:\\dir`},
	{"café", "", `caf\xc3\xa9`, ""},
	{"plain key", "plain value", "plain key", "plain value"},
}

// put writes pairs (key, value, key, value...) into the store dsn names.
func put(t testing.TB, dsn string, pairs ...string) {
	t.Helper()
	db := openTestStore(t, dsn)
	defer db.Close()
	for i := 0; i < len(pairs); i += 2 {
		if err := db.Set(t.Context(), []byte(pairs[i]), []byte(pairs[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func hostileStore(t testing.TB, backend string) string {
	t.Helper()
	dsn := backend + "://" + t.TempDir() + "/s"
	var pairs []string
	for _, h := range hostile {
		pairs = append(pairs, h.key, h.value)
	}
	put(t, dsn, pairs...)
	return dsn
}

func TestGet(t *testing.T) {
	for _, backend := range []string{"badger", "bbolt"} {
		t.Run(backend, func(t *testing.T) {
			dsn := hostileStore(t, backend)
			for _, h := range hostile {
				// As text (where the shell can pass it), printed escaped.
				if !strings.ContainsRune(h.key, 0) {
					code, out, errOut := polykv(t, nil, "get", dsn, h.key)
					if code != 0 || out != h.valueShown+"\n" {
						t.Errorf("get %q: exit %d, %q, want %q: %s", h.key, code, out, h.valueShown+"\n", errOut)
					}
				}
				// As hex, flags after the DSN and the key; --hex and --raw.
				kh := hex.EncodeToString([]byte(h.key))
				code, out, errOut := polykv(t, nil, "get", dsn, kh, "--key-hex", "--hex")
				if want := hex.EncodeToString([]byte(h.value)) + "\n"; code != 0 || out != want {
					t.Errorf("get --key-hex %s --hex: exit %d, %q, want %q: %s", kh, code, out, want, errOut)
				}
				code, out, errOut = polykv(t, nil, "get", "--raw", "--key-hex", dsn, kh)
				if code != 0 || out != h.value {
					t.Errorf("get --raw --key-hex %s: exit %d, %q, want %q: %s", kh, code, out, h.value, errOut)
				}
			}
			code, out, errOut := polykv(t, nil, "get", dsn, "missing")
			if code != 1 || out != "" || !strings.Contains(errOut, "missing: kv: key not found") {
				t.Errorf("get of a missing key: exit %d, %q %q; want 1 and not found", code, out, errOut)
			}
			code, _, errOut = polykv(t, nil, "get", dsn, "61ff00", "--key-hex")
			if code != 1 || !strings.Contains(errOut, `a\xff\x00: kv: key not found`) {
				t.Errorf("get of a missing binary key: exit %d, %q; want 1 naming the key escaped", code, errOut)
			}
		})
	}
}

func TestGetUsage(t *testing.T) {
	dsn := hostileStore(t, "pebble")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", dsn}, "want 2 argument"},
		{[]string{"get", dsn, "a", "b"}, "want 2 argument"},
		{[]string{"get", dsn, ""}, "KEY is empty"},
		{[]string{"get", dsn, "--key-hex", "zz"}, "not hex"},
		{[]string{"get", dsn, "--key-hex", "abc"}, "not hex"},
		{[]string{"get", dsn, "--key-hex", ""}, "KEY is empty"},
		{[]string{"get", dsn, strings.Repeat("k", kv.MaxKeySize+1)}, "more than a key may have"},
		{[]string{"get", dsn, "a", "--hex", "--raw"}, "exclude each other"},
		{[]string{"get", "nosuch:///x", "a"}, "unknown backend"},
	} {
		code, out, errOut := polykv(t, nil, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("polykv %q: exit %d, %q; want 2 and %q: %s", tc.args[2:], code, out, tc.want, errOut)
		}
	}
	// A key that starts with '-' follows "--".
	put(t, dsn, "-dash", "d")
	if code, out, errOut := polykv(t, nil, "get", dsn, "--", "-dash"); code != 0 || out != "d\n" {
		t.Errorf("get DSN -- -dash: exit %d, %q: %s", code, out, errOut)
	}
	// A missing store is a failure, and get does not create it.
	if code, _, _ := polykv(t, nil, "get", "pebble://"+t.TempDir()+"/none", "a"); code != 1 {
		t.Errorf("get from a missing store: exit %d, want 1", code)
	}
	// memory: a fresh, empty store.
	if code, _, errOut := polykv(t, nil, "get", "memory:", "a"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("get from memory: exit %d: %s", code, errOut)
	}
}

// scanLines runs scan and returns its lines; it fails the test on a
// non-zero exit.
func scanLines(t testing.TB, args ...string) []string {
	t.Helper()
	code, out, errOut := polykv(t, nil, append([]string{"scan"}, args...)...)
	if code != 0 {
		t.Fatalf("scan %q: exit %d: %s", args, code, errOut)
	}
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("scan %q: output does not end with a newline: %q", args, out)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

func TestScanHostile(t *testing.T) {
	for _, backend := range []string{"badger", "bbolt"} {
		t.Run(backend, func(t *testing.T) {
			dsn := hostileStore(t, backend)
			sorted := slices.Clone(hostile)
			slices.SortFunc(sorted, func(a, b struct{ key, value, keyShown, valueShown string }) int {
				return strings.Compare(a.key, b.key)
			})
			var want, wantHex []string
			for _, h := range sorted {
				want = append(want, h.keyShown+"\t"+h.valueShown)
				wantHex = append(wantHex, hex.EncodeToString([]byte(h.key))+"\t"+hex.EncodeToString([]byte(h.value)))
			}
			got := scanLines(t, dsn)
			if !slices.Equal(got, want) {
				t.Fatalf("scan:\n%q\nwant\n%q", got, want)
			}
			for _, l := range got {
				for _, c := range []byte(l) {
					if c < ' ' && c != '\t' || c > '~' {
						t.Errorf("scan printed byte %#x in %q", c, l)
					}
				}
			}
			gotHex := scanLines(t, dsn, "--hex")
			if !slices.Equal(gotHex, wantHex) {
				t.Fatalf("scan --hex:\n%q\nwant\n%q", gotHex, wantHex)
			}
			// Every key scan --hex prints is found again by get --key-hex.
			for i, l := range gotHex {
				k, _, _ := strings.Cut(l, "\t")
				code, out, _ := polykv(t, nil, "get", "--key-hex", dsn, k)
				if code != 0 || out != sorted[i].valueShown+"\n" {
					t.Errorf("get --key-hex %s: exit %d, %q, want %q", k, code, out, sorted[i].valueShown)
				}
			}
		})
	}
}

func TestScanOptions(t *testing.T) {
	dsn := "pebble://" + t.TempDir() + "/s"
	put(t, dsn, "a:1", "v1", "a:2", "v2", "a:3", "", "b:1", "w1", "b:2", "w2", "c", "x", "\xff\xff", "top")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"a:1\tv1", "a:2\tv2", "a:3\t", "b:1\tw1", "b:2\tw2", "c\tx", `\xff\xff` + "\ttop"}},
		{[]string{"--prefix", "a:"}, []string{"a:1\tv1", "a:2\tv2", "a:3\t"}},
		{[]string{"--prefix", "a:", "--reverse"}, []string{"a:3\t", "a:2\tv2", "a:1\tv1"}},
		{[]string{"--prefix", "a:", "--start", "a:2"}, []string{"a:2\tv2", "a:3\t"}},
		{[]string{"--start", "a:3", "--end", "b:2"}, []string{"a:3\t", "b:1\tw1"}},
		{[]string{"--start", "a:3", "--end", "b:2", "--reverse"}, []string{"b:1\tw1", "a:3\t"}},
		{[]string{"--start", "b", "--limit", "2"}, []string{"b:1\tw1", "b:2\tw2"}},
		{[]string{"--reverse", "--limit", "2", "--keys-only"}, []string{`\xff\xff`, "c"}},
		{[]string{"--prefix-hex", "ff"}, []string{`\xff\xff` + "\ttop"}},
		{[]string{"--start-hex", "623a32", "--end-hex", "FFFF"}, []string{"b:2\tw2", "c\tx"}},
		{[]string{"--prefix", "b:", "--keys-only", "--hex"}, []string{"623a31", "623a32"}},
		{[]string{"--start", "b", "--end", "a"}, nil},
		{[]string{"--prefix", "zzz"}, nil},
		{[]string{"--prefix", ""}, []string{"a:1\tv1", "a:2\tv2", "a:3\t", "b:1\tw1", "b:2\tw2", "c\tx", `\xff\xff` + "\ttop"}},
	} {
		// Flags before the DSN and after it give the same lines.
		before := scanLines(t, append(slices.Clone(tc.args), dsn)...)
		after := scanLines(t, append([]string{dsn}, tc.args...)...)
		if !slices.Equal(before, tc.want) || !slices.Equal(after, tc.want) {
			t.Errorf("scan %q:\nflags first %q\nDSN first   %q\nwant        %q", tc.args, before, after, tc.want)
		}
	}
	// stderr counts the keys and says when the limit cut the scan short.
	_, _, errOut := polykv(t, nil, "scan", dsn, "--limit", "3")
	if !strings.Contains(errOut, "3 keys (the --limit") {
		t.Errorf("scan --limit 3: stderr %q", errOut)
	}
	_, _, errOut = polykv(t, nil, "scan", dsn, "--limit", "30")
	if errOut != "polykv scan: 7 keys\n" {
		t.Errorf("scan --limit 30: stderr %q", errOut)
	}
	// An empty range (often bounds swapped for --reverse) says so; it
	// printed only "0 keys".
	if code, _, errOut := polykv(t, nil, "scan", dsn, "--start", "b", "--end", "a", "--reverse"); code != 0 || !strings.Contains(errOut, "--start is not before --end") {
		t.Errorf("scan with --start after --end: exit %d, stderr %q", code, errOut)
	}
}

func TestScanUsage(t *testing.T) {
	dsn := hostileStore(t, "bbolt")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{dsn, "--limit", "-1"}, "--limit -1"},
		{[]string{dsn, "--prefix", "a", "--prefix-hex", "61"}, "not both"},
		{[]string{dsn, "--end-hex", "6"}, "not hex"},
		{[]string{dsn, "--limit"}, "needs an argument"},
		{[]string{dsn, "extra"}, "want 1 argument"},
		{[]string{"nosuch:///x"}, "unknown backend"},
	} {
		code, out, errOut := polykv(t, nil, append([]string{"scan"}, tc.args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("scan %q: exit %d, %q; want 2 and %q: %s", tc.args, code, out, tc.want, errOut)
		}
	}
	if got := scanLines(t, "memory:"); got != nil {
		t.Errorf("scan memory: %q, want nothing", got)
	}
	if code, _, _ := polykv(t, nil, "scan", "bbolt://"+t.TempDir()+"/none"); code != 1 {
		t.Errorf("scan of a missing store: exit %d, want 1", code)
	}
}
