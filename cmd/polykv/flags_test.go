package main

import (
	"encoding/json"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestParseInterspersed: flags are accepted after positional arguments as
// well as before them; "--" ends the flags; a flag's value is never taken
// for a positional argument, even when it looks like one.
func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		limit int
		hex   bool
		pre   string
		pos   []string
	}{
		{[]string{"DSN"}, 0, false, "", []string{"DSN"}},
		{[]string{"--limit", "5", "DSN"}, 5, false, "", []string{"DSN"}},
		{[]string{"DSN", "--limit", "5"}, 5, false, "", []string{"DSN"}},
		{[]string{"DSN", "--limit=5", "KEY", "-hex"}, 5, true, "", []string{"DSN", "KEY"}},
		{[]string{"--hex", "DSN", "KEY"}, 0, true, "", []string{"DSN", "KEY"}},
		{[]string{"DSN", "--hex=false", "KEY"}, 0, false, "", []string{"DSN", "KEY"}},
		{[]string{"DSN", "--prefix", "--limit", "KEY"}, 0, false, "--limit", []string{"DSN", "KEY"}},
		{[]string{"DSN", "--prefix", "KEY"}, 0, false, "KEY", []string{"DSN"}},
		{[]string{"DSN", "--", "--limit", "-"}, 0, false, "", []string{"DSN", "--limit", "-"}},
		{[]string{"--limit", "2", "--", "DSN", "--hex"}, 2, false, "", []string{"DSN", "--hex"}},
		{[]string{"-", "DSN"}, 0, false, "", []string{"-", "DSN"}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		limit := fs.Int("limit", 0, "")
		hex := fs.Bool("hex", false, "")
		pre := fs.String("prefix", "", "")
		if err := parse(fs, stdio{out: io.Discard, err: io.Discard}, tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *limit != tc.limit || *hex != tc.hex || *pre != tc.pre || !slices.Equal(fs.Args(), tc.pos) {
			t.Errorf("%q: limit %d hex %v prefix %q args %q; want %d %v %q %q", tc.args, *limit, *hex, *pre, fs.Args(), tc.limit, tc.hex, tc.pre, tc.pos)
		}
	}
}

// TestParseInterspersedErrors: a bad flag after the DSN is a usage error
// like one before it.
func TestParseInterspersedErrors(t *testing.T) {
	for _, args := range [][]string{
		{"DSN", "--bogus"},
		{"DSN", "--limit"},
		{"DSN", "--limit", "x"},
		{"DSN", "--hex=maybe"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("limit", 0, "")
		fs.Bool("hex", false, "")
		err := parse(fs, stdio{out: io.Discard, err: io.Discard}, args)
		if err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

// TestFlagsAfterDSN: every command that takes a DSN accepts its flags after
// it, and reports a flag it does not know after the DSN as a usage error.
func TestFlagsAfterDSN(t *testing.T) {
	dsn := "bbolt://" + t.TempDir() + "/s"
	fill(t, dsn, 50)
	for _, args := range [][]string{
		{"inspect", dsn, "--json", "--first", "1"},
		{"dump", dsn, "--help"},
		{"load", dsn, "--help"},
	} {
		if code, out, errOut := polykv(t, nil, args...); code != 0 {
			t.Errorf("polykv %q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	// check finds problems (fill writes no nodestore), but reports them as JSON.
	if _, out, _ := polykv(t, nil, "check", dsn, "--json"); !json.Valid([]byte(out)) {
		t.Errorf("check DSN --json: not JSON:\n%s", out)
	}
	for _, cmd := range []string{"inspect", "dump", "check", "recover"} {
		code, _, errOut := polykv(t, nil, cmd, dsn, "--bogus")
		if code != 2 || !strings.Contains(errOut, "bogus") {
			t.Errorf("polykv %s DSN --bogus: exit %d, want 2: %s", cmd, code, errOut)
		}
	}
}

// TestEveryCommandHelp: every command in the table answers --help, given
// before or after an argument, with its usage on stdout and exit 0, and is
// listed by the top-level usage.
func TestEveryCommandHelp(t *testing.T) {
	_, top, _ := polykv(t, nil, "--help")
	for _, c := range commands {
		if c.hidden {
			continue
		}
		if !strings.Contains(top, "\n  "+c.name+" ") {
			t.Errorf("polykv --help does not list %s", c.name)
		}
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "memory:", "-h"}} {
			code, out, errOut := polykv(t, nil, args...)
			if code != 0 || !strings.HasPrefix(out, "Usage: polykv "+c.name+" ") {
				t.Errorf("polykv %q: exit %d\n%s%s", args, code, out, errOut)
			}
		}
	}
}
