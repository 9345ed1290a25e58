package kv_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	_ "github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

func TestDurabilityText(t *testing.T) {
	// An undefined value prints its number, the most negative too (a
	// hand-written itoa printed "durability(-)" for it).
	if got := kv.Durability(math.MinInt).String(); got != "durability(-9223372036854775808)" {
		t.Errorf("Durability(math.MinInt).String() = %q", got)
	}
	for _, tc := range []struct {
		in      string
		want    kv.Durability
		wantErr bool
	}{
		{"sync", kv.Sync, false},
		{"nosync", kv.NoSync, false},
		{"NoSync", kv.NoSync, false},
		{"SYNC", kv.Sync, false},
		{"", 0, true},
		{"no-sync", 0, true},
		{"async", 0, true},
		{"1", 0, true},
	} {
		var d kv.Durability
		err := d.UnmarshalText([]byte(tc.in))
		if tc.wantErr {
			if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), `"nosync"`) {
				t.Errorf("UnmarshalText(%q) = %v, want ErrInvalidConfig naming the allowed values", tc.in, err)
			}
			continue
		}
		if err != nil || d != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
		}
		b, err := d.MarshalText()
		if err != nil || string(b) != strings.ToLower(tc.in) {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", d, b, err, strings.ToLower(tc.in))
		}
	}
	if _, err := kv.Durability(7).MarshalText(); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("MarshalText(7) error = %v, want ErrInvalidConfig", err)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string // substring of the error; "" for none
	}{
		{"0", 0, ""},
		{"268435456", 256 << 20, ""},
		{"256MiB", 256 << 20, ""},
		{"256 MiB", 256 << 20, ""},
		{"256mib", 256 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"64KiB", 64 << 10, ""},
		{"100B", 100, ""},
		{"500MB", 500e6, ""},
		{"1GB", 1e9, ""},
		{"3kb", 3000, ""},
		{" 16MiB ", 16 << 20, ""},
		{"", 0, "want a number"},
		{"MiB", 0, "want a number"},
		{"-1", 0, "want a number"},
		{"1.5GiB", 0, "unknown unit"},
		{"256M", 0, "unknown unit"},
		{"1G", 0, "unknown unit"},
		{"12 parsecs", 0, "unknown unit"},
		{"99999999999999999999", 0, "too large"},
		{"9000000TiB", 0, "too large"},
	} {
		got, err := kv.ParseSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1000, "1000"},
		{1024, "1KiB"},
		{256 << 20, "256MiB"},
		{1 << 30, "1GiB"},
		{3 << 40, "3TiB"},
		{(1 << 30) + 1, "1073741825"},
		{1536 << 20, "1536MiB"},
	} {
		got := kv.FormatSize(tc.in)
		if got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := kv.ParseSize(got); err != nil || back != tc.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tc.in, back, err)
		}
	}
}

// configCase is one parse test: the input, and either the Config expected or
// substrings every one of which the error must contain.
type configCase struct {
	name string
	in   string
	want kv.Config
	errs []string
}

func checkParse(t *testing.T, parse func([]byte) (kv.Config, error), cases []configCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse([]byte(tc.in))
			if tc.errs != nil {
				if !errors.Is(err, kv.ErrInvalidConfig) {
					t.Fatalf("parse(%q) = %+v, %v; want an error wrapping ErrInvalidConfig", tc.in, got, err)
				}
				for _, s := range tc.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parse(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseConfigJSON(t *testing.T) {
	checkParse(t, kv.ParseConfigJSON, []configCase{
		{name: "full", in: `{"backend":"pebble","path":"/var/lib/engine","durability":"nosync",
			"memory_budget":"1GiB","read_only":true,"options":{"compression":"zstd","levels":7,"bloom":true}}`,
			want: kv.Config{Backend: "pebble", Path: "/var/lib/engine", Durability: kv.NoSync, MemoryBudget: 1 << 30,
				ReadOnly: true, Options: map[string]string{"compression": "zstd", "levels": "7", "bloom": "true"}}},
		{name: "bytes", in: `{"path":"/d","memory_budget":33554432}`,
			want: kv.Config{Path: "/d", MemoryBudget: 32 << 20}},
		{name: "sync", in: `{"backend":"bbolt","path":"d","durability":"sync"}`,
			want: kv.Config{Backend: "bbolt", Path: "d"}},
		{name: "memory", in: `{"backend":"memory"}`, want: kv.Config{Backend: "memory"}},
		{name: "null budget", in: `{"path":"/d","memory_budget":null}`, want: kv.Config{Path: "/d"}},
		{name: "unregistered backend parses", in: `{"backend":"rocksdb","path":"/d"}`,
			want: kv.Config{Backend: "rocksdb", Path: "/d"}},
		{name: "unknown field", in: `{"path":"/d","memory":"1GiB"}`, errs: []string{`"memory"`, "memory_budget"}},
		{name: "bad durability", in: `{"path":"/d","durability":"fast"}`, errs: []string{"durability", `"fast"`, `"sync" or "nosync"`}},
		{name: "numeric durability", in: `{"path":"/d","durability":1}`, errs: []string{"durability"}},
		{name: "bad budget unit", in: `{"path":"/d","memory_budget":"256M"}`, errs: []string{"memory_budget", "unknown unit"}},
		{name: "budget too small", in: `{"path":"/d","memory_budget":"1MiB"}`, errs: []string{"memory_budget", "16MiB"}},
		{name: "negative budget", in: `{"path":"/d","memory_budget":-5}`, errs: []string{"memory_budget"}},
		{name: "fractional budget", in: `{"path":"/d","memory_budget":1.5}`, errs: []string{"memory_budget"}},
		{name: "bool budget", in: `{"path":"/d","memory_budget":true}`, errs: []string{"memory_budget"}},
		{name: "read_only string", in: `{"path":"/d","read_only":"yes"}`, errs: []string{"read_only", "true or false"}},
		{name: "options list", in: `{"path":"/d","options":["a"]}`, errs: []string{"options"}},
		{name: "option object", in: `{"path":"/d","options":{"a":{"b":1}}}`, errs: []string{"options"}},
		{name: "no path", in: `{"backend":"pebble"}`, errs: []string{"path", `"pebble" needs a directory`}},
		{name: "memory with path", in: `{"backend":"memory","path":"/d"}`, errs: []string{"path", "memory backend"}},
		{name: "memory read-only", in: `{"backend":"memory","read_only":true}`, errs: []string{"read_only"}},
		{name: "bad backend name", in: `{"backend":"my db","path":"/d"}`, errs: []string{"backend", `"my db"`}},
		{name: "empty", in: ``, errs: []string{"empty"}},
		{name: "not an object", in: `[1]`, errs: []string{"object"}},
		{name: "trailing", in: `{"path":"/d"} {}`, errs: []string{"trailing"}},
		{name: "syntax", in: `{"path":`, errs: []string{"invalid config"}},
	})
}

// TestParseConfigJSONRefusesDuplicateAndMiscasedKeys: encoding/json
// matches a field name without regard to case and keeps the last of
// duplicate keys, so {"path":"/a","PATH":"/b"} opened /b without a word,
// while the same document in YAML is refused. A key given twice, or not
// spelled as the field, is an error, in options too.
func TestParseConfigJSONRefusesDuplicateAndMiscasedKeys(t *testing.T) {
	checkParse(t, kv.ParseConfigJSON, []configCase{
		{name: "duplicate", in: `{"backend":"pebble","path":"/a","backend":"badger"}`, errs: []string{`"backend"`, "twice"}},
		{name: "duplicate differing in case", in: `{"path":"/a","PATH":"/b"}`, errs: []string{`"PATH"`, "path"}},
		{name: "miscased", in: `{"Backend":"pebble","path":"/a"}`, errs: []string{`"Backend"`, "backend"}},
		{name: "duplicate option", in: `{"path":"/a","options":{"x":"1","x":"2"}}`, errs: []string{`"x"`, "twice"}},
		{name: "options differing in case", in: `{"path":"/a","options":{"x":"1","X":"2"}}`,
			want: kv.Config{Path: "/a", Options: map[string]string{"x": "1", "X": "2"}}},
	})
}

func TestParseConfigYAML(t *testing.T) {
	checkParse(t, kv.ParseConfigYAML, []configCase{
		{name: "full", in: "backend: pebble\npath: /var/lib/engine\ndurability: nosync\nmemory_budget: 256MiB\n" +
			"read_only: true\noptions:\n  compression: zstd\n  levels: 7\n",
			want: kv.Config{Backend: "pebble", Path: "/var/lib/engine", Durability: kv.NoSync, MemoryBudget: 256 << 20,
				ReadOnly: true, Options: map[string]string{"compression": "zstd", "levels": "7"}}},
		{name: "bytes", in: "path: /d\nmemory_budget: 33554432\n", want: kv.Config{Path: "/d", MemoryBudget: 32 << 20}},
		{name: "document marker", in: "---\nbackend: memory\n", want: kv.Config{Backend: "memory"}},
		{name: "unknown field", in: "path: /d\nreadonly: true\n", errs: []string{`"readonly"`, "read_only", "line 2"}},
		{name: "bad durability", in: "path: /d\ndurability: fast\n", errs: []string{"durability", `"fast"`}},
		{name: "bad budget", in: "path: /d\nmemory_budget: lots\n", errs: []string{"memory_budget"}},
		{name: "budget list", in: "path: /d\nmemory_budget: [1]\n", errs: []string{"memory_budget"}},
		{name: "options list", in: "path: /d\noptions: [a, b]\n", errs: []string{"invalid config"}},
		{name: "option nested", in: "path: /d\noptions:\n  a: {b: 1}\n", errs: []string{"options"}},
		{name: "read_only yes", in: "path: /d\nread_only: maybe\n", errs: []string{"invalid config"}},
		{name: "not a mapping", in: "- a\n- b\n", errs: []string{"mapping"}},
		{name: "two documents", in: "path: /a\n---\npath: /b\n", errs: []string{"more than one"}},
		{name: "empty", in: "", errs: []string{"empty"}},
		{name: "no path", in: "backend: bbolt\n", errs: []string{"path", "bbolt"}},
		{name: "syntax", in: "path: [\n", errs: []string{"invalid config"}},
	})
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := kv.LoadConfig(write("a.json", `{"backend":"pebble","path":"store"}`))
	if err != nil || c.Backend != "pebble" || c.Path != filepath.Join(dir, "store") {
		t.Errorf("LoadConfig(json) = %+v, %v; want the relative path resolved against the file's directory", c, err)
	}
	c, err = kv.LoadConfig(write("b.YML", "backend: bbolt\npath: /abs/store\n"))
	if err != nil || c.Backend != "bbolt" || c.Path != "/abs/store" {
		t.Errorf("LoadConfig(yml) = %+v, %v", c, err)
	}
	c, err = kv.LoadConfig(write("c.yaml", "backend: memory\n"))
	if err != nil || c.Backend != "memory" || c.Path != "" {
		t.Errorf("LoadConfig(yaml) = %+v, %v", c, err)
	}
	_, err = kv.LoadConfig(write("d.toml", "backend = 'x'"))
	if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), ".yaml") {
		t.Errorf("LoadConfig(toml) error = %v, want ErrInvalidConfig naming the known extensions", err)
	}
	p := write("e.json", `{"path":"/d","durability":"often"}`)
	_, err = kv.LoadConfig(p)
	if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), p) {
		t.Errorf("LoadConfig(bad) error = %v, want ErrInvalidConfig naming the file", err)
	}
	_, err = kv.LoadConfig(filepath.Join(dir, "missing.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadConfig(missing) error = %v, want fs.ErrNotExist", err)
	}
}

// A Config embedded in a program's own configuration decodes with the same
// rules, and marshals back to a form that decodes to the same Config.
func TestConfigEmbedded(t *testing.T) {
	type appConfig struct {
		Name  string    `json:"name" yaml:"name"`
		Store kv.Config `json:"store" yaml:"store"`
	}
	want := kv.Config{Backend: "pebble", Path: "/x", Durability: kv.NoSync, MemoryBudget: 64 << 20,
		Options: map[string]string{"k": "v"}}

	var a appConfig
	if err := json.Unmarshal([]byte(`{"name":"n","store":{"backend":"pebble","path":"/x","durability":"nosync",
		"memory_budget":"64MiB","options":{"k":"v"}}}`), &a); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Store, want) {
		t.Errorf("json embedded: got %#v, want %#v", a.Store, want)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"durability":"nosync"`) {
		t.Errorf("json.Marshal = %s, want durability as text", b)
	}
	var a2 appConfig
	if err := json.Unmarshal(b, &a2); err != nil || !reflect.DeepEqual(a2.Store, want) {
		t.Errorf("json round trip: %#v, %v", a2.Store, err)
	}
	if err := json.Unmarshal([]byte(`{"store":{"path":"/x","bogus":1}}`), &a2); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("json embedded unknown field: %v, want ErrInvalidConfig", err)
	}

	var y appConfig
	if err := yaml.Unmarshal([]byte("name: n\nstore:\n  backend: pebble\n  path: /x\n  durability: nosync\n"+
		"  memory_budget: 64MiB\n  options: {k: v}\n"), &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y.Store, want) {
		t.Errorf("yaml embedded: got %#v, want %#v", y.Store, want)
	}
	yb, err := yaml.Marshal(y)
	if err != nil {
		t.Fatal(err)
	}
	var y2 appConfig
	if err := yaml.Unmarshal(yb, &y2); err != nil || !reflect.DeepEqual(y2.Store, want) {
		t.Errorf("yaml round trip of %s: %#v, %v", yb, y2.Store, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kv.Config
		is   error
		errs []string
	}{
		{"memory ok", kv.Config{Backend: "memory"}, nil, nil},
		{"memory upper case", kv.Config{Backend: "MEMORY"}, nil, nil},
		{"unknown backend", kv.Config{Backend: "rocksdb", Path: "/d"}, kv.ErrUnknownBackend,
			[]string{`"rocksdb"`, "memory", "auto", "forgotten import", "backends/all"}},
		{"unregistered standard backend", kv.Config{Backend: "pebble", Path: "/d"}, kv.ErrUnknownBackend,
			[]string{"backends/pebble", "backends/all"}},
		{"default backend unregistered", kv.Config{Path: "/d"}, kv.ErrUnknownBackend, []string{`"badger"`}},
		{"auto needs path", kv.Config{Backend: "auto"}, kv.ErrInvalidConfig, []string{"path"}},
		{"auto ok", kv.Config{Backend: "auto", Path: "/d"}, nil, nil},
		{"durability", kv.Config{Backend: "memory", Durability: 9}, kv.ErrInvalidConfig, []string{"durability", "nosync"}},
		{"budget", kv.Config{Backend: "memory", MemoryBudget: 1 << 20}, kv.ErrInvalidConfig, []string{"memory_budget", "16MiB", "256MiB"}},
		{"memory path", kv.Config{Backend: "memory", Path: "/tmp/x"}, kv.ErrInvalidConfig, []string{"path", "/tmp/x", "must be empty"}},
		{"memory read-only", kv.Config{Backend: "memory", ReadOnly: true}, kv.ErrInvalidConfig, []string{"read_only"}},
		{"empty option name", kv.Config{Backend: "memory", Options: map[string]string{"": "x"}}, kv.ErrInvalidConfig, []string{"options"}},
		{"bad name", kv.Config{Backend: "a/b", Path: "/d"}, kv.ErrInvalidConfig, []string{"backend", `"a/b"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.is == nil {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v", tc.cfg, err)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("Validate(%+v) = %v, want %v", tc.cfg, err, tc.is)
			}
			for _, s := range tc.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// A memory budget larger than the machine's memory is refused: Badger,
// opened with 100 TiB, died of a Go fatal error sizing its block cache.
func TestValidateBudgetAboveMachine(t *testing.T) {
	total := kv.PhysicalMemory()
	if total == 0 {
		t.Skip("the machine's memory is not known on this system")
	}
	for _, budget := range []int64{total + 1, 100 << 40} {
		err := kv.Config{Backend: "memory", MemoryBudget: budget}.Validate()
		if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "more than this machine's memory") {
			t.Errorf("Validate with memory_budget %d (machine %d) = %v", budget, total, err)
		}
	}
	if err := (kv.Config{Backend: "memory", MemoryBudget: total}).Validate(); err != nil {
		t.Errorf("Validate with the machine's whole memory as budget = %v", err)
	}
}

// A null option value is refused in YAML as in JSON: "x: ~" became the
// option text "~", and "x:" the empty text.
func TestParseConfigNullOptionRefused(t *testing.T) {
	for _, doc := range []string{"backend: pebble\npath: /d\noptions:\n  x: ~\n", "backend: pebble\npath: /d\noptions:\n  x:\n", "backend: pebble\npath: /d\noptions:\n  x: null\n"} {
		if c, err := kv.ParseConfigYAML([]byte(doc)); !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "options") {
			t.Errorf("ParseConfigYAML(%q) = %v, %v; want ErrInvalidConfig naming options", doc, c.Options, err)
		}
	}
	if _, err := kv.ParseConfigJSON([]byte(`{"backend":"pebble","path":"/d","options":{"x":null}}`)); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("ParseConfigJSON with a null option: %v, want ErrInvalidConfig", err)
	}
}
