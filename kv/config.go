package kv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultBackend is the backend used when Config.Backend is empty.
const DefaultBackend = "badger"

// AutoBackend as Config.Backend opens whatever backend the directory's
// marker names (an existing store is required).
const AutoBackend = "auto"

// DefaultMemoryBudget is the memory budget used when Config.MemoryBudget is
// zero: what the engine may spend on caches and memtables.
const DefaultMemoryBudget = 256 << 20

// MinMemoryBudget is the smallest accepted memory budget.
const MinMemoryBudget = 16 << 20

// Config says which store to open and how. The zero value, with Path set,
// opens a synced Badger store with the default memory budget.
type Config struct {
	// Backend is a registered backend name ("badger", "pebble", "bbolt",
	// "memory") or "auto". Empty means DefaultBackend.
	Backend string `json:"backend,omitempty" yaml:"backend,omitempty"`
	// Path is the store's directory, for every persistent backend (bbolt
	// too: its file lives inside). It must be empty for "memory". For a
	// networked backend (one whose driver is a NetworkDriver, such as
	// "etcd") it is the store's key prefix on the cluster.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Endpoints are the cluster members a networked backend connects to
	// ("host:port"). Only a networked backend accepts them, and it needs
	// at least one.
	Endpoints []string `json:"endpoints,omitempty" yaml:"endpoints,omitempty"`
	// Username and Password authenticate to a networked backend's cluster
	// (a Password needs a Username). The password never appears in an
	// error, String or Info; DSN does contain it.
	Username string `json:"username,omitempty" yaml:"username,omitempty"`
	Password string `json:"password,omitempty" yaml:"password,omitempty"`
	// Durability is Sync (default) or NoSync; in JSON and YAML, "sync" or
	// "nosync".
	Durability Durability `json:"durability,omitempty" yaml:"durability,omitempty"`
	// MemoryBudget is the bytes the engine may use for caches and
	// memtables; 0 means DefaultMemoryBudget. Validate refuses a budget
	// larger than the machine's memory (where it is known: Linux).
	MemoryBudget int64 `json:"memory_budget,omitempty" yaml:"memory_budget,omitempty"`
	// ReadOnly opens an existing store for reading only; every write
	// returns ErrReadOnly.
	ReadOnly bool `json:"read_only,omitempty" yaml:"read_only,omitempty"`
	// Options are backend-specific settings, documented by each backend
	// package. An option the backend does not know is an error.
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
	// Logger receives the engine's log lines. Nil discards them: engines
	// never write to stderr by default.
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.Backend == "" {
		c.Backend = DefaultBackend
	}
	c.Backend = strings.ToLower(c.Backend)
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Endpoints = slices.Clone(c.Endpoints)
	if c.Options != nil {
		opts := make(map[string]string, len(c.Options))
		for k, v := range c.Options {
			opts[k] = v
		}
		c.Options = opts
	}
	return c
}

// Validate reports the first problem with c, naming the field and the
// allowed values; every error wraps ErrInvalidConfig, except an unregistered
// backend, which wraps ErrUnknownBackend. It does not touch the file system.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.checkBackendName(); err != nil {
		return err
	}
	var driver Driver
	if c.Backend != AutoBackend {
		d, ok := lookupDriver(c.Backend)
		if !ok {
			return unknownBackendError(c.Backend)
		}
		driver = d
	}
	if err := c.checkFields(); err != nil {
		return err
	}
	return validateWith(driver, &c)
}

// validateWith runs the driver's own checks of cfg, if it has any.
func validateWith(d Driver, cfg *Config) error {
	if v, ok := d.(ConfigValidator); ok {
		return v.ValidateConfig(cfg)
	}
	return nil
}

// checkBackendName checks that the backend name is a plausible one, without
// looking at the registry (a configuration may be parsed by a program that
// does not link every backend in).
func (c Config) checkBackendName() error {
	for i := 0; i < len(c.Backend); i++ {
		b := c.Backend[i]
		if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_' || b == '-') {
			return invalidf("backend %q: want a backend name such as %s (lowercase letters, digits, '-' and '_')",
				c.Backend, knownNames())
		}
	}
	return nil
}

// checkFields checks every field but the backend's registration.
func (c Config) checkFields() error { return c.checkFieldsFor(c.isNetwork()) }

// checkFieldsFor is checkFields with network telling whether the backend is
// a networked one (OpenDriver knows it from the driver it is given, whose
// name need not be registered).
// checkEndpoint says what is wrong with a "host:port" endpoint, or "".
// A malformed one used to pass and fail only at the first request, after
// the request timeout, with a message that did not name it.
// redactEndpoint hides what comes before the last '@' of an endpoint that
// has one: user:password@host:port given where host:port was wanted must
// not be printed back.
func redactEndpoint(ep string) string {
	if i := strings.LastIndexByte(ep, '@'); i >= 0 {
		return "…" + ep[i:]
	}
	return ep
}

func checkEndpoint(ep string) string {
	if ep == "" || strings.ContainsAny(ep, ",/?#@ ") {
		return "no ',', '/', '?', '#', '@' or space"
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return "no port, or a malformed IPv6 address: write [::1]:2379"
	}
	if host == "" {
		return "no host"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "the port is a number from 1 to 65535"
	}
	return ""
}

func (c Config) checkFieldsFor(network bool) error {
	if c.Durability != Sync && c.Durability != NoSync {
		return errInvalidDurability(c.Durability.String())
	}
	if c.MemoryBudget < MinMemoryBudget {
		return invalidf("memory_budget %d: want 0 (default %s) or at least %s",
			c.MemoryBudget, FormatSize(DefaultMemoryBudget), FormatSize(MinMemoryBudget))
	}
	// A budget the machine cannot hold is a mistake: engines size their
	// caches' bookkeeping from it when they open (Badger's block cache
	// allocates its counters at once, and a budget of 100 TiB killed the
	// process with a Go fatal error instead of an error).
	if total := physicalMemory(); total > 0 && c.MemoryBudget > total {
		return invalidf("memory_budget %s: more than this machine's memory (%.1f GiB)", FormatSize(c.MemoryBudget), float64(total)/(1<<30))
	}
	for k := range c.Options {
		if k == "" {
			return invalidf("options: an option has an empty name")
		}
	}
	for i, ep := range c.Endpoints {
		if err := checkEndpoint(ep); err != "" {
			return invalidf("endpoints[%d] %q: want host:port (%s)", i, redactEndpoint(ep), err)
		}
	}
	if c.Password != "" && c.Username == "" {
		return invalidf("password: given without a username")
	}
	if network {
		if !strings.HasPrefix(c.Path, "/") {
			return invalidf("path %q: backend %q needs a key prefix starting with '/' (the store's name on the cluster, such as \"/jobs/42\")", c.Path, c.Backend)
		}
		if len(c.Endpoints) == 0 {
			return invalidf("endpoints: backend %q needs at least one cluster member (host:port)", c.Backend)
		}
		return nil
	}
	if len(c.Endpoints) > 0 || c.Username != "" || c.Password != "" {
		what := "endpoints"
		if len(c.Endpoints) == 0 {
			what = "username"
		}
		if _, ok := lookupDriver(c.Backend); !ok && !isLocalName(c.Backend) {
			return invalidf("%s: backend %q is not linked in, and only a networked backend takes endpoints or credentials (forgotten import of its package?)", what, c.Backend)
		}
		return invalidf("%s: backend %q keeps its store in a directory; endpoints and credentials are for a networked backend such as etcd", what, c.Backend)
	}
	if c.Backend == "memory" {
		if c.Path != "" {
			return invalidf("path %q: the memory backend keeps nothing on disk, path must be empty", c.Path)
		}
		if c.ReadOnly {
			return invalidf("read_only: a memory store starts empty, read-only makes no sense")
		}
	} else if c.Path == "" {
		return invalidf("path: backend %q needs a directory", c.Backend)
	}
	return nil
}

// isNetwork reports whether c's backend is registered with a NetworkDriver.
func (c Config) isNetwork() bool {
	d, ok := lookupDriver(c.Backend)
	if !ok {
		return false
	}
	_, ok = d.(NetworkDriver)
	return ok
}

// isLocalName reports whether name is one of the standard directory (or
// memory) backends, or "auto", linked in or not.
func isLocalName(name string) bool {
	switch name {
	case "badger", "pebble", "bbolt", "memory", AutoBackend:
		return true
	}
	return false
}

// invalidf returns an error wrapping ErrInvalidConfig.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// knownNames lists the backends for messages: the registered ones, or the
// standard ones when none is linked in.
func knownNames() string {
	known := Backends()
	if len(known) == 0 {
		known = []string{"badger", "bbolt", "memory", "pebble"}
	}
	return strings.Join(append(known, AutoBackend), ", ")
}

func unknownBackendError(name string) error {
	hint := "github.com/polykv/polykv/backends/all or the backend's own package"
	switch name {
	case "badger", "pebble", "bbolt", "memory":
		hint = "github.com/polykv/polykv/backends/" + name + " or backends/all"
	}
	return fmt.Errorf("%w %q (known: %s; forgotten import of %s?)",
		ErrUnknownBackend, name, strings.Join(append(Backends(), AutoBackend), ", "), hint)
}

// knownList returns names sorted, for messages.
func knownList(names []string) []string {
	sort.Strings(names)
	return names
}

// Loading a Config from JSON and YAML.
//
// Both formats use the field names of the struct tags (backend, path,
// endpoints, username, password, durability, memory_budget, read_only,
// options); endpoints is a list of "host:port" strings. durability is "sync" or
// "nosync"; memory_budget is a number of bytes or a size string such as
// "256MiB" (see ParseSize); options values may be strings, numbers or
// booleans and are kept as their text. An unknown field (names are matched
// exactly, in JSON too), or a field or option given twice, is an error.

// configDoc is the on-disk shape of a Config. It has no methods, so that
// decoding into it does not recurse into Config's own unmarshalers.
type configDoc struct {
	Backend      string                 `json:"backend" yaml:"backend"`
	Path         string                 `json:"path" yaml:"path"`
	Endpoints    []string               `json:"endpoints" yaml:"endpoints"`
	Username     string                 `json:"username" yaml:"username"`
	Password     string                 `json:"password" yaml:"password"`
	Durability   Durability             `json:"durability" yaml:"durability"`
	MemoryBudget sizeText               `json:"memory_budget" yaml:"memory_budget"`
	ReadOnly     bool                   `json:"read_only" yaml:"read_only"`
	Options      map[string]optionValue `json:"options" yaml:"options"`
}

const configFields = "backend, path, endpoints, username, password, durability, memory_budget, read_only, options"

func (d *configDoc) config() Config {
	c := Config{
		Backend:      d.Backend,
		Path:         d.Path,
		Endpoints:    slices.Clone(d.Endpoints),
		Username:     d.Username,
		Password:     d.Password,
		Durability:   d.Durability,
		MemoryBudget: int64(d.MemoryBudget),
		ReadOnly:     d.ReadOnly,
	}
	if d.Options != nil {
		c.Options = make(map[string]string, len(d.Options))
		for k, v := range d.Options {
			c.Options[k] = string(v)
		}
	}
	return c
}

// sizeText is a memory size written as a number of bytes or a size string.
type sizeText int64

func (s *sizeText) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return invalidf("memory_budget %s: %v", b, err)
	}
	switch v := v.(type) {
	case nil:
		*s = 0
		return nil
	case string:
		return s.set(v)
	case float64:
		return s.set(string(b))
	default:
		return invalidf("memory_budget %s: want a number of bytes or a size such as \"256MiB\"", b)
	}
}

func (s *sizeText) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return invalidf("memory_budget (line %d): want a number of bytes or a size such as \"256MiB\"", n.Line)
	}
	if n.Tag == "!!null" {
		*s = 0
		return nil
	}
	return s.set(n.Value)
}

func (s *sizeText) set(text string) error {
	n, err := ParseSize(text)
	if err != nil {
		return fmt.Errorf("%w: memory_budget: %w", ErrInvalidConfig, err)
	}
	*s = sizeText(n)
	return nil
}

// optionValue is a backend option's value: a string, a number or a boolean,
// kept as text.
type optionValue string

func (o *optionValue) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return invalidf("options: %v", err)
	}
	switch v := v.(type) {
	case string:
		*o = optionValue(v)
	case float64, bool:
		*o = optionValue(b)
	default:
		return invalidf("options: value %s: want a string, a number or a boolean", b)
	}
	return nil
}

func (o *optionValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return invalidf("options (line %d): want a string, a number or a boolean", n.Line)
	}
	*o = optionValue(n.Value)
	return nil
}

// UnmarshalJSON decodes a Config from the JSON form described above. Fields
// absent from the input keep their value in c.
func (c *Config) UnmarshalJSON(b []byte) error {
	if err := checkJSONKeys(b); err != nil {
		return err
	}
	d := c.doc()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return jsonConfigError(err)
	}
	*c = d.config().withLogger(c.Logger)
	return nil
}

// checkJSONKeys refuses a key of the object b that is not spelled as a
// field, a field given twice and an option given twice. encoding/json
// matches names without regard to case and keeps the last of duplicate
// keys, so {"path":"/a","PATH":"/b"} opened /b without a word, where YAML
// refuses both.
func checkJSONKeys(b []byte) error {
	return eachJSONKey(b, "field", func(k string, v json.RawMessage) error {
		if !strings.Contains(", "+configFields+",", ", "+k+",") {
			return invalidf("unknown field %q: want one of %s", k, configFields)
		}
		if k == "options" {
			return eachJSONKey(v, "option", func(string, json.RawMessage) error { return nil })
		}
		return nil
	})
}

// eachJSONKey calls fn with each key of the JSON object b and its value,
// and refuses a key given twice (what names it in the error). It returns
// nil when b is not a well-formed object: the decoder says what is wrong
// with it.
func eachJSONKey(b []byte, what string, fn func(key string, value json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		if seen[k] {
			return invalidf("%s %q given twice", what, k)
		}
		seen[k] = true
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalYAML decodes a Config from the YAML form described above. Fields
// absent from the input keep their value in c.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return invalidf("line %d: want a mapping of %s", n.Line, configFields)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !strings.Contains(", "+configFields+",", ", "+k+",") {
			return invalidf("unknown field %q (line %d): want one of %s", k, n.Content[i].Line, configFields)
		}
		if v := n.Content[i+1]; k == "options" && v.Kind == yaml.MappingNode {
			// yaml.v3 gives a null ("~", or nothing after the colon) to no
			// Unmarshaler: the option would become "", where JSON refuses it.
			for j := 0; j+1 < len(v.Content); j += 2 {
				if o := v.Content[j+1]; o.Kind == yaml.ScalarNode && o.Tag == "!!null" {
					return invalidf("options: %q (line %d): null; want a string, a number or a boolean", v.Content[j].Value, o.Line)
				}
			}
		}
	}
	d := c.doc()
	if err := n.Decode(&d); err != nil {
		return yamlConfigError(err)
	}
	*c = d.config().withLogger(c.Logger)
	return nil
}

func (c *Config) doc() configDoc {
	d := configDoc{
		Backend:      c.Backend,
		Path:         c.Path,
		Endpoints:    slices.Clone(c.Endpoints),
		Username:     c.Username,
		Password:     c.Password,
		Durability:   c.Durability,
		MemoryBudget: sizeText(c.MemoryBudget),
		ReadOnly:     c.ReadOnly,
	}
	if c.Options != nil {
		d.Options = make(map[string]optionValue, len(c.Options))
		for k, v := range c.Options {
			d.Options[k] = optionValue(v)
		}
	}
	return d
}

func (c Config) withLogger(l *slog.Logger) Config {
	c.Logger = l
	return c
}

func jsonConfigError(err error) error {
	if errors.Is(err, ErrInvalidConfig) {
		return err
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalidf("%s: got a JSON %s, want %s", te.Field, te.Value, jsonKind(te.Type.Kind()))
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return invalidf("unknown field %s: want one of %s", strings.TrimPrefix(msg, "json: unknown field "), configFields)
	}
	return invalidf("%v", err)
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Map:
		return "an object"
	default:
		return k.String()
	}
}

func yamlConfigError(err error) error {
	if errors.Is(err, ErrInvalidConfig) {
		return err
	}
	return invalidf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// ParseConfigJSON parses a Config from JSON and checks its fields (see
// Validate; whether the backend is registered is checked by Open). Defaults
// are not filled in: an absent field stays zero.
func ParseConfigJSON(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, invalidf("empty JSON document")
		}
		return Config{}, invalidf("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, invalidf("trailing data after the JSON object")
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return Config{}, invalidf("want a JSON object with fields %s", configFields)
	}
	if err := c.UnmarshalJSON(raw); err != nil {
		return Config{}, err
	}
	return c, c.checkParsed()
}

// ParseConfigYAML parses a Config from a YAML document and checks its fields
// like ParseConfigJSON.
func ParseConfigYAML(b []byte) (Config, error) {
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, invalidf("empty YAML document")
		}
		return Config{}, yamlConfigError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, invalidf("more than one YAML document")
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = *n.Content[0]
	}
	var c Config
	if err := c.UnmarshalYAML(&n); err != nil {
		return Config{}, err
	}
	return c, c.checkParsed()
}

// checkParsed checks a parsed configuration: every field but whether its
// backend is registered.
func (c Config) checkParsed() error {
	d := c.withDefaults()
	if err := d.checkBackendName(); err != nil {
		return err
	}
	return d.checkFields()
}

// LoadConfig reads a Config from a file: JSON for a ".json" name, YAML for
// ".yaml" or ".yml". A relative Path in the file is taken relative to the
// file's directory, so a configuration can sit beside its store (a
// networked backend's Path is a key prefix and stays as written).
func LoadConfig(path string) (Config, error) {
	var parse func([]byte) (Config, error)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		parse = ParseConfigJSON
	case ".yaml", ".yml":
		parse = ParseConfigYAML
	default:
		return Config{}, fmt.Errorf("%w: config file %s: unknown extension %q, want .json, .yaml or .yml",
			ErrInvalidConfig, path, filepath.Ext(path))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("kv: config file: %w", err)
	}
	c, err := parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%w (config file %s)", err, path)
	}
	if c.Path != "" && !filepath.IsAbs(c.Path) && !c.withDefaults().isNetwork() {
		c.Path = filepath.Join(filepath.Dir(path), c.Path)
	}
	return c, nil
}

// Sizes.

// ParseSize parses a size in bytes: a non-negative integer, optionally
// followed (with or without a space) by a unit: B; KiB, MiB, GiB, TiB
// (powers of 1024); KB, MB, GB, TB (powers of 1000). Units are matched
// without regard to case. A bare K, M or G is refused as ambiguous.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && '0' <= t[i] && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes or a size such as \"256MiB\" or \"1GiB\"", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: number too large", s)
	}
	unit := strings.TrimSpace(t[i:])
	var mult int64
	switch strings.ToLower(unit) {
	case "", "b":
		mult = 1
	case "kib":
		mult = 1 << 10
	case "mib":
		mult = 1 << 20
	case "gib":
		mult = 1 << 30
	case "tib":
		mult = 1 << 40
	case "kb":
		mult = 1e3
	case "mb":
		mult = 1e6
	case "gb":
		mult = 1e9
	case "tb":
		mult = 1e12
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q, want B, KiB, MiB, GiB, TiB, KB, MB, GB or TB", s, unit)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// FormatSize writes n bytes in the largest binary unit that divides it
// exactly ("256MiB", "1GiB", "1000"); ParseSize reads it back.
func FormatSize(n int64) string {
	units := []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}
	if n > 0 {
		for _, u := range units {
			if n%(1<<u.shift) == 0 {
				return strconv.FormatInt(n>>u.shift, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(n, 10)
}
