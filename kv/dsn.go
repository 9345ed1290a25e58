package kv

import (
	"net/url"
	"slices"
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
//	etcd://user:pass@h1:2379,h2:2379/jobs/42?opt.dial_timeout=5s
//	                             a store on a cluster (a networked backend)
//
// The scheme is the backend. The path follows "//" when it is absolute
// ("pebble:///abs") and follows the colon directly when it is relative
// ("pebble:rel/dir"); "pebble://rel/dir" is refused, because a URL would read
// "rel" as a host.
//
// Only a networked backend (one whose driver is a NetworkDriver: etcd)
// takes a host: the comma-separated cluster members become
// Config.Endpoints, the user information Config.Username and
// Config.Password (percent-encoded), and the path, which starts with '/',
// the store's key prefix (Config.Path). A DSN naming a host for a backend
// that is not linked into the program says so. The password never appears
// in an error (see RedactDSN) or in Config.String; Config.DSN does write
// it. Characters that mean something in a URL ('%', '?', '#') are
// percent-encoded in the path. An '@' after a ':' must end the user
// information: in a password '/', '?', '#' and '@' are written %2F, %3F,
// %23 and %40, and '@' in a path or an option %40. A DSN with any other
// '@' is refused, since part of a password would be read as a host, the
// path or the query (see RedactDSN for what its error shows).
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
	shown := RedactDSN(dsn)
	if strayAt(dsn) {
		// Parsed as written, a password holding '/', '?', '#' or '@' would
		// end the hosts early: its tail would become a host, the path (a
		// key prefix sent to the cluster) or the query, and be printed.
		return Config{}, invalidf("dsn %q: an '@' that does not end the user information (backend://user:password@host:port/prefix): "+
			"percent-encode '/', '?', '#' and '@' in a password (%%2F, %%3F, %%23, %%40), and '@' in a path or option (%%40)", shown)
	}
	rest, auth, hasAuth := splitAuthority(dsn)
	u, err := url.Parse(rest)
	if err != nil {
		return Config{}, invalidf("dsn %q: %v", shown, unwrapURLError(err))
	}
	if u.Scheme == "" {
		return Config{}, invalidf("dsn %q: no backend: want backend:///absolute/path, backend:relative/path or memory:", shown)
	}
	c := Config{Backend: strings.ToLower(u.Scheme), Path: u.Path}
	if hasAuth {
		if err := c.parseAuthority(auth); err != nil {
			return Config{}, invalidf("dsn %q: %w", shown, err)
		}
	}
	if u.Fragment != "" || strings.HasSuffix(dsn, "#") {
		return Config{}, invalidf("dsn %q: unexpected fragment: percent-encode '#' in a path as %%23", shown)
	}
	if u.Opaque != "" {
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return Config{}, invalidf("dsn %q: path: %v", shown, unwrapURLError(err))
		}
		c.Path = p
	}
	if err := c.parseQuery(u.RawQuery); err != nil {
		return Config{}, invalidf("dsn %q: %w", shown, err)
	}
	if err := c.checkParsed(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// splitAuthority cuts the authority (what follows "scheme://" up to the
// next '/', '?' or '#') out of a DSN; hasAuth is false when there is none
// or it is empty. It does not use url.Parse: a list of hosts
// ("h1:2379,[::1]:2379") is not a URL host.
func splitAuthority(dsn string) (rest, auth string, hasAuth bool) {
	i := strings.Index(dsn, "://")
	if i <= 0 || strings.ContainsAny(dsn[:i], "/?#") {
		return dsn, "", false
	}
	start := i + len("://")
	end := len(dsn)
	if j := strings.IndexAny(dsn[start:], "/?#"); j >= 0 {
		end = start + j
	}
	if end == start {
		return dsn, "", false
	}
	return dsn[:start] + dsn[end:], dsn[start:end], true
}

// RedactDSN returns dsn with the password of its user information, if
// any, replaced by "xxxxx" (as url.URL.Redacted does), for messages and
// logs. Everything else is kept as written. The password is what lies
// between the first ':' after the scheme and the last '@': where a
// password holding an unencoded '/', '?', '#' or '@' ends (ParseDSN
// refuses such a DSN, see strayAt), and so also the hosts and path of a
// DSN with an '@' in its path ("etcd://h:2379/a@b" shows as
// "etcd://h:xxxxx@b").
func RedactDSN(dsn string) string {
	colon, at, ok := passwordSpan(dsn)
	if !ok {
		return dsn
	}
	return dsn[:colon+1] + "xxxxx" + dsn[at:]
}

// passwordSpan finds what may be a password in dsn: from the first ':'
// after the scheme ("scheme://" or "scheme:"; the whole DSN when it has
// none) to the last '@', when such a ':' comes before that '@'; in a DSN
// without "//", from the scheme's own ':' when no other comes before the
// '@', since that "scheme" may be a user name whose DSN lost its scheme.
func passwordSpan(dsn string) (colon, at int, ok bool) {
	at = strings.LastIndex(dsn, "@")
	if at < 0 {
		return 0, 0, false
	}
	start, scheme := 0, -1
	if i := strings.Index(dsn, ":"); i > 0 && !strings.ContainsAny(dsn[:i], "/?#@") {
		start, scheme = i+1, i
		if strings.HasPrefix(dsn[start:], "//") {
			start += 2
			scheme = -1
		}
	}
	if start > at {
		return 0, 0, false
	}
	c := strings.Index(dsn[start:at], ":")
	if c < 0 {
		if scheme >= 0 {
			// No "//": what reads as a scheme may be a user name and the
			// rest its password ("user:pw@h:2379/p", the scheme left
			// out).
			return scheme, at, true
		}
		return 0, 0, false
	}
	return start + c, at, true
}

// strayAt reports whether dsn holds an '@', after a ':', that does not end
// the user information of its authority ("etcd://u:p@h:2379/p"): a
// password with an unencoded '/', '?' or '#' ends the authority early
// ("etcd://u:1234/secret@h:2379/p" reads as host "u:1234" and path
// "/secret@h:2379/p"), one with an '@' and a '/' leaves its tail in the
// hosts ("etcd://u:p@ss/word@h:2379/p": host "ss"), and one without "//"
// is a path ("etcd:u:secret@h:2379/p"), as is one whose scheme was left
// out ("u:secret@h:2379/p" would be backend "u" with the password in its
// path). Such a DSN is refused, and an '@' that belongs to a path or an
// option is written %40.
func strayAt(dsn string) bool {
	_, at, ok := passwordSpan(dsn)
	if !ok {
		return false
	}
	_, auth, hasAuth := splitAuthority(dsn)
	if !hasAuth {
		return true
	}
	end := strings.Index(dsn, "://") + len("://") + len(auth)
	return at >= end
}

// parseAuthority reads "user:password@host1:port,host2:port" into c. Only
// a networked backend takes one; the message for a directory backend says
// how to write its path instead.
func (c *Config) parseAuthority(auth string) error {
	userinfo, hosts, hasUser := "", auth, false
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		userinfo, hosts, hasUser = auth[:at], auth[at+1:], true
	}
	if !c.isNetwork() {
		if _, ok := lookupDriver(c.Backend); !ok && !isLocalName(c.Backend) {
			return dsnError("host " + strconv.Quote(hosts) + ": backend " + strconv.Quote(c.Backend) +
				" is not linked in, and a host needs a networked backend (forgotten import of its package?)")
		}
		return dsnError("host " + strconv.Quote(hosts) + ": a " + c.Backend + " DSN has no host; write " +
			c.Backend + ":///absolute/path or " + c.Backend + ":relative/path")
	}
	if hasUser {
		user, pass, hasPass := strings.Cut(userinfo, ":")
		u, err := url.PathUnescape(user)
		if err != nil {
			return dsnError("username: invalid percent-encoding")
		}
		p, err := url.PathUnescape(pass)
		if err != nil {
			return dsnError("password: invalid percent-encoding")
		}
		c.Username = u
		if hasPass {
			c.Password = p
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return dsnError("hosts " + strconv.Quote(hosts) + ": an empty host; want host:port[,host:port...]")
		}
		c.Endpoints = append(c.Endpoints, h)
	}
	return nil
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
	if len(c.Endpoints) > 0 || c.Username != "" {
		sb.WriteString("//")
		if c.Username != "" {
			ui := url.User(c.Username)
			if c.Password != "" {
				ui = url.UserPassword(c.Username, c.Password)
			}
			sb.WriteString(ui.String())
			sb.WriteByte('@')
		}
		sb.WriteString(strings.Join(c.Endpoints, ","))
		if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
			// A prefix without a leading '/' cannot follow a host:
			// checkFields refuses it for a networked backend.
			sb.WriteByte('/')
		}
		sb.WriteString(escapePath(c.Path))
	} else if c.Path != "" {
		escaped := escapePath(c.Path)
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

// escapePath percent-encodes path for a DSN, '@' included (see strayAt),
// which a URL path may hold as it is.
func escapePath(path string) string {
	return strings.ReplaceAll((&url.URL{Path: path}).EscapedPath(), "@", "%40")
}

// String returns c.DSN() with the password, if any, replaced by "xxxxx":
// safe for messages and logs. DSN itself contains the password (it must
// read back into the same Config).
func (c Config) String() string {
	if c.Password != "" {
		c.Password = "xxxxx"
	}
	// Credentials written into an endpoint (user:password@host:port) are
	// refused by Validate, which shows them as "…@host:port"; a Config that
	// holds them is printed the same way (ParseConfigJSON and
	// ParseConfigYAML return it beside their error).
	if slices.ContainsFunc(c.Endpoints, func(ep string) bool { return strings.Contains(ep, "@") }) {
		eps := make([]string, len(c.Endpoints))
		for i, ep := range c.Endpoints {
			eps[i] = redactEndpoint(ep)
		}
		c.Endpoints = eps
	}
	return c.DSN()
}
