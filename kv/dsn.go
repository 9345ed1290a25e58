package kv

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// DSNs.
//
// A DSN names a store and its options in one string, for command lines and
// environment variables:
//
//	pebble:///var/lib/engine?sync=false&memory=256MiB&opt.compression=zstd
//	badger:relative/dir          a path relative to the working directory
//	auto:///var/lib/engine       whatever backend the directory's marker names
//	memory:                      (or memory://) an in-memory store
//
// The scheme is the backend. The path follows "//" when it is absolute
// ("pebble:///abs") and follows the colon directly when it is relative
// ("pebble:rel/dir"); "pebble://rel/dir" is refused, because a URL would read
// "rel" as a host. Characters that mean something in a URL ('%', '?', '#')
// are percent-encoded in the path.
//
// Query keys (each at most once; any other key is an error):
//
//	sync=true|false          Durability Sync (default) or NoSync
//	durability=sync|nosync   the same, by name (give sync or durability, not both)
//	memory=SIZE              MemoryBudget, in bytes or as "256MiB" (see ParseSize)
//	readonly=true|false      ReadOnly
//	opt.NAME=VALUE           Options[NAME] = VALUE, a backend-specific option

// ParseDSN parses a DSN into a Config and checks its fields like
// ParseConfigJSON (whether the backend is registered is checked by Open).
// Errors wrap ErrInvalidConfig.
func ParseDSN(dsn string) (Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return Config{}, invalidf("dsn %q: %v", dsn, unwrapURLError(err))
	}
	if u.Scheme == "" {
		return Config{}, invalidf("dsn %q: no backend: want backend:///absolute/path, backend:relative/path or memory:", dsn)
	}
	if u.User != nil || u.Host != "" {
		return Config{}, invalidf("dsn %q: host %q: a DSN has no host; write %s:///absolute/path or %s:relative/path",
			dsn, u.Host, u.Scheme, u.Scheme)
	}
	if u.Fragment != "" || strings.HasSuffix(dsn, "#") {
		return Config{}, invalidf("dsn %q: unexpected fragment: percent-encode '#' in a path as %%23", dsn)
	}
	c := Config{Backend: strings.ToLower(u.Scheme), Path: u.Path}
	if u.Opaque != "" {
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return Config{}, invalidf("dsn %q: path: %v", dsn, unwrapURLError(err))
		}
		c.Path = p
	}
	if err := c.parseQuery(u.RawQuery); err != nil {
		return Config{}, invalidf("dsn %q: %w", dsn, err)
	}
	if err := c.checkParsed(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// dsnError is a DSN query problem; ParseDSN adds the DSN and
// ErrInvalidConfig.
type dsnError string

func (e dsnError) Error() string { return string(e) }

func (c *Config) parseQuery(raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return dsnError("query: " + unwrapURLError(err).Error())
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(q["sync"]) > 0 && len(q["durability"]) > 0 {
		return dsnError("give sync or durability, not both")
	}
	for _, k := range keys {
		vs := q[k]
		if len(vs) > 1 {
			return dsnError(k + " given " + strconv.Itoa(len(vs)) + " times")
		}
		v := vs[0]
		switch {
		case k == "sync":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return dsnError("sync=" + v + ": want true or false")
			}
			c.Durability = Sync
			if !b {
				c.Durability = NoSync
			}
		case k == "durability":
			if err := c.Durability.UnmarshalText([]byte(v)); err != nil {
				return dsnError("durability=" + v + `: want "sync" or "nosync"`)
			}
		case k == "memory":
			n, err := ParseSize(v)
			if err != nil {
				return dsnError("memory: " + err.Error())
			}
			c.MemoryBudget = n
		case k == "readonly":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return dsnError("readonly=" + v + ": want true or false")
			}
			c.ReadOnly = b
		case strings.HasPrefix(k, "opt.") && len(k) > len("opt."):
			if c.Options == nil {
				c.Options = make(map[string]string)
			}
			c.Options[k[len("opt."):]] = v
		default:
			return dsnError("unknown query key " + strconv.Quote(k) + ": want sync, durability, memory, readonly or opt.NAME")
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// DSN returns c as a DSN that ParseDSN reads back into an equal Config (the
// Logger aside). An empty Backend is written as DefaultBackend; only fields
// that differ from their zero value appear in the query, in a fixed order.
func (c Config) DSN() string {
	var sb strings.Builder
	backend := c.Backend
	if backend == "" {
		backend = DefaultBackend
	}
	sb.WriteString(backend)
	sb.WriteByte(':')
	if c.Path != "" {
		escaped := (&url.URL{Path: c.Path}).EscapedPath()
		if strings.HasPrefix(c.Path, "/") {
			sb.WriteString("//")
		} else {
			// An opaque path: its first segment may contain a colon
			// (EscapedPath leaves it), which is fine after the scheme.
			escaped = strings.ReplaceAll(escaped, "?", "%3F")
		}
		sb.WriteString(escaped)
	}
	var q []string
	switch c.Durability {
	case Sync:
	case NoSync:
		q = append(q, "sync=false")
	default:
		q = append(q, "durability="+url.QueryEscape(c.Durability.String()))
	}
	if c.MemoryBudget != 0 {
		q = append(q, "memory="+FormatSize(c.MemoryBudget))
	}
	if c.ReadOnly {
		q = append(q, "readonly=true")
	}
	names := make([]string, 0, len(c.Options))
	for k := range c.Options {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		q = append(q, "opt."+url.QueryEscape(k)+"="+url.QueryEscape(c.Options[k]))
	}
	if len(q) > 0 {
		sb.WriteByte('?')
		sb.WriteString(strings.Join(q, "&"))
	}
	return sb.String()
}

// String returns c.DSN().
func (c Config) String() string { return c.DSN() }
