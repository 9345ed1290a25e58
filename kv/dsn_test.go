package kv_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/polykv/polykv/kv"
)

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want kv.Config
		errs []string // substrings of the error; nil for success
	}{
		{in: "pebble:///var/lib/engine?sync=false&memory=256MiB&readonly=true&opt.compression=zstd",
			want: kv.Config{Backend: "pebble", Path: "/var/lib/engine", Durability: kv.NoSync, MemoryBudget: 256 << 20,
				ReadOnly: true, Options: map[string]string{"compression": "zstd"}}},
		{in: "badger:///data", want: kv.Config{Backend: "badger", Path: "/data"}},
		{in: "BADGER:///data", want: kv.Config{Backend: "badger", Path: "/data"}},
		{in: "bbolt:relative/dir", want: kv.Config{Backend: "bbolt", Path: "relative/dir"}},
		{in: "bbolt:./dir?sync=true", want: kv.Config{Backend: "bbolt", Path: "./dir"}},
		{in: "bbolt:../up/dir", want: kv.Config{Backend: "bbolt", Path: "../up/dir"}},
		{in: "auto:///srv/store", want: kv.Config{Backend: "auto", Path: "/srv/store"}},
		{in: "memory:", want: kv.Config{Backend: "memory"}},
		{in: "memory://", want: kv.Config{Backend: "memory"}},
		{in: "memory:?memory=64MiB", want: kv.Config{Backend: "memory", MemoryBudget: 64 << 20}},
		{in: "pebble:///a%20b/c%3Fd%23e", want: kv.Config{Backend: "pebble", Path: "/a b/c?d#e"}},
		{in: "pebble:a%20b", want: kv.Config{Backend: "pebble", Path: "a b"}},
		{in: "pebble:///d?durability=nosync", want: kv.Config{Backend: "pebble", Path: "/d", Durability: kv.NoSync}},
		{in: "pebble:///d?memory=33554432", want: kv.Config{Backend: "pebble", Path: "/d", MemoryBudget: 32 << 20}},
		{in: "pebble:///d?opt.a=1&opt.b=x%26y", want: kv.Config{Backend: "pebble", Path: "/d",
			Options: map[string]string{"a": "1", "b": "x&y"}}},
		{in: "mydriver:///d", want: kv.Config{Backend: "mydriver", Path: "/d"}},

		{in: "/var/lib/engine", errs: []string{"no backend"}},
		{in: "", errs: []string{"no backend"}},
		{in: "pebble://relative/dir", errs: []string{`host "relative"`, "pebble:relative/path"}},
		{in: "pebble://user@/d", errs: []string{"host"}},
		{in: "pebble:///d#frag", errs: []string{"fragment"}},
		{in: "pebble:///d?cache=1", errs: []string{`unknown query key "cache"`, "opt.NAME"}},
		{in: "pebble:///d?opt.=1", errs: []string{`unknown query key "opt."`}},
		{in: "pebble:///d?sync=maybe", errs: []string{"sync=maybe", "true or false"}},
		{in: "pebble:///d?durability=fast", errs: []string{"durability=fast", "nosync"}},
		{in: "pebble:///d?sync=false&durability=nosync", errs: []string{"not both"}},
		{in: "pebble:///d?sync=false&sync=true", errs: []string{"sync given 2 times"}},
		{in: "pebble:///d?memory=256M", errs: []string{"memory", "unknown unit"}},
		{in: "pebble:///d?memory=1MiB", errs: []string{"memory_budget", "at least 16MiB"}},
		{in: "pebble:///d?readonly=si", errs: []string{"readonly=si"}},
		{in: "pebble:///d?a=1;b=2", errs: []string{"query"}},
		{in: "pebble:", errs: []string{"path", "needs a directory"}},
		{in: "pebble:///d?opt.x=%zz", errs: []string{"query"}},
		{in: "pebble:a%zz", errs: []string{"invalid"}},
		{in: "memory:///x", errs: []string{"path", "memory backend"}},
		{in: "memory:?readonly=true", errs: []string{"read_only"}},
		{in: "1abc:///x", errs: []string{"invalid config"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := kv.ParseDSN(tc.in)
			if tc.errs != nil {
				if !errors.Is(err, kv.ErrInvalidConfig) {
					t.Fatalf("ParseDSN(%q) = %+v, %v; want ErrInvalidConfig", tc.in, got, err)
				}
				for _, s := range tc.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDSN(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseDSN(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
			// The canonical form reads back to the same Config.
			back, err := kv.ParseDSN(got.DSN())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseDSN(%q) = %#v, %v; want %#v", got.DSN(), back, err, got)
			}
		})
	}
}

func TestConfigDSN(t *testing.T) {
	for _, tc := range []struct {
		cfg  kv.Config
		want string
	}{
		{kv.Config{Backend: "pebble", Path: "/var/lib/engine", Durability: kv.NoSync, MemoryBudget: 256 << 20,
			ReadOnly: true, Options: map[string]string{"compression": "zstd", "a b": "c&d"}},
			"pebble:///var/lib/engine?sync=false&memory=256MiB&readonly=true&opt.a+b=c%26d&opt.compression=zstd"},
		{kv.Config{Path: "/d"}, "badger:///d"},
		{kv.Config{Backend: "memory"}, "memory:"},
		{kv.Config{Backend: "bbolt", Path: "rel/dir"}, "bbolt:rel/dir"},
		{kv.Config{Backend: "bbolt", Path: "a:b/c"}, "bbolt:a:b/c"},
		{kv.Config{Backend: "bbolt", Path: "/x y/100%/?#"}, "bbolt:///x%20y/100%25/%3F%23"},
		{kv.Config{Backend: "bbolt", Path: "q?x"}, "bbolt:q%3Fx"},
		{kv.Config{Backend: "bbolt", Path: "//twice"}, "bbolt:////twice"},
		{kv.Config{Backend: "bbolt", Path: "/d", MemoryBudget: 100_000_001}, "bbolt:///d?memory=100000001"},
	} {
		got := tc.cfg.DSN()
		if got != tc.want {
			t.Errorf("DSN(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
		if s := tc.cfg.String(); s != got {
			t.Errorf("String() = %q, DSN() = %q", s, got)
		}
		back, err := kv.ParseDSN(got)
		want := tc.cfg
		if want.Backend == "" {
			want.Backend = kv.DefaultBackend
		}
		if err != nil || !reflect.DeepEqual(back, want) {
			t.Errorf("ParseDSN(%q) = %#v, %v; want %#v", got, back, err, want)
		}
	}
}

// FuzzParseDSN checks that whatever ParseDSN accepts, DSN writes back in a
// form that parses to the same Config.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"pebble:///var/lib/engine?sync=false&memory=256MiB&readonly=true&opt.compression=zstd",
		"bbolt:rel/dir", "memory:", "auto:///x%20y", "badger:a:b?opt.k=v%26w",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := kv.ParseDSN(s)
		if err != nil {
			if !errors.Is(err, kv.ErrInvalidConfig) {
				t.Fatalf("ParseDSN(%q) error %v does not wrap ErrInvalidConfig", s, err)
			}
			return
		}
		back, err := kv.ParseDSN(c.DSN())
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("ParseDSN(%q) = %#v; DSN %q parses to %#v, %v", s, c, c.DSN(), back, err)
		}
	})
}
