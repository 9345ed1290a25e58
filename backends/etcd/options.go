package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/polykv/polykv/kv"
)

// Option keys accepted in kv.Config.Options (in a DSN, opt.NAME=VALUE).
const (
	// OptDialTimeout bounds the first connection to the cluster, a Go
	// duration. Default 5s.
	OptDialTimeout = "dial_timeout"
	// OptRequestTimeout is the deadline of every call whose context has
	// none (reads included: kv gives them the caller's context through
	// kv.ContextReader), a Go duration. Default 10s. No call waits for
	// the cluster longer than its deadline.
	OptRequestTimeout = "request_timeout"
	// OptTLSCA, OptTLSCert and OptTLSKey are PEM files: the CA that signed
	// the members' certificates, and this client's certificate and key
	// (both or neither). Any of them turns TLS on.
	OptTLSCA   = "tls_ca"
	OptTLSCert = "tls_cert"
	OptTLSKey  = "tls_key"
	// OptAutoCompact, a Go duration, makes the store compact the cluster's
	// history every interval, up to the oldest revision this process still
	// reads (see DB.Compact). Default off ("0"): on a shared cluster the
	// operator usually runs etcd's own --auto-compaction-* settings.
	OptAutoCompact = "auto_compact"
	// OptPageSize is the most keys one request of an iteration fetches.
	// Default 1000. Pages start small (64) and grow to it.
	OptPageSize = "page_size"
	// OptMaxTxnOps is the server's --max-txn-ops (default 128, etcd's
	// default). A transaction commits at most this many writes minus one
	// (the commit token) and compares at most this many reads.
	OptMaxTxnOps = "max_txn_ops"
	// OptMaxRequestBytes is the server's --max-request-bytes (default
	// 1572864, etcd's default: 1.5 MiB). The declared transaction size
	// limit is derived from it.
	OptMaxRequestBytes = "max_request_bytes"
)

// Defaults of the options.
const (
	DefaultDialTimeout     = 5 * time.Second
	DefaultRequestTimeout  = 10 * time.Second
	DefaultPageSize        = 1000
	DefaultMaxTxnOps       = 128
	DefaultMaxRequestBytes = 1536 << 10
)

// firstPageSize is the size of an iteration's first page: most short
// iterations (a Limit of a few keys) end inside it.
const firstPageSize = 64

// settings are the parsed Config.Options.
type settings struct {
	dialTimeout     time.Duration
	requestTimeout  time.Duration
	tlsCA           string
	tlsCert         string
	tlsKey          string
	autoCompact     time.Duration
	pageSize        int
	maxTxnOps       int
	maxRequestBytes int
}

func defaultSettings() settings {
	return settings{
		dialTimeout:     DefaultDialTimeout,
		requestTimeout:  DefaultRequestTimeout,
		pageSize:        DefaultPageSize,
		maxTxnOps:       DefaultMaxTxnOps,
		maxRequestBytes: DefaultMaxRequestBytes,
	}
}

var optionNames = []string{OptAutoCompact, OptDialTimeout, OptMaxRequestBytes, OptMaxTxnOps,
	OptPageSize, OptRequestTimeout, OptTLSCA, OptTLSCert, OptTLSKey}

// parseSettings checks every option; errors wrap kv.ErrInvalidConfig and
// name the option and what it accepts.
func parseSettings(opts map[string]string) (settings, error) {
	s := defaultSettings()
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := opts[k]
		var err error
		switch k {
		case OptDialTimeout:
			s.dialTimeout, err = parseDuration(k, v, false)
		case OptRequestTimeout:
			s.requestTimeout, err = parseDuration(k, v, false)
		case OptAutoCompact:
			s.autoCompact, err = parseDuration(k, v, true)
		case OptTLSCA:
			s.tlsCA = v
		case OptTLSCert:
			s.tlsCert = v
		case OptTLSKey:
			s.tlsKey = v
		case OptPageSize:
			s.pageSize, err = parseInt(k, v, 1, 1<<20)
		case OptMaxTxnOps:
			// A transaction needs two operations of its own (the commit
			// token, the turn), so 3 is the smallest with room for a write.
			s.maxTxnOps, err = parseInt(k, v, 3, 1<<20)
		case OptMaxRequestBytes:
			var n int64
			n, err = kv.ParseSize(v)
			if err == nil && (n < 64<<10 || n > 1<<30) {
				err = fmt.Errorf("%w: option %s=%s: want a size from 64KiB to 1GiB (the server's --max-request-bytes)", kv.ErrInvalidConfig, k, v)
			} else if err != nil {
				err = fmt.Errorf("%w: option %s: %w", kv.ErrInvalidConfig, k, err)
			}
			s.maxRequestBytes = int(n)
		default:
			return s, fmt.Errorf("%w: unknown etcd option %q (known: %s)", kv.ErrInvalidConfig, k, strings.Join(optionNames, ", "))
		}
		if err != nil {
			return s, err
		}
	}
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return s, fmt.Errorf("%w: options %s and %s go together (a client certificate and its key)", kv.ErrInvalidConfig, OptTLSCert, OptTLSKey)
	}
	return s, nil
}

func parseDuration(k, v string, zeroOK bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d == 0 && !zeroOK {
		want := "a positive duration such as 5s"
		if zeroOK {
			want = "a duration such as 5m, or 0 for off"
		}
		return 0, fmt.Errorf("%w: option %s=%q: want %s", kv.ErrInvalidConfig, k, v, want)
	}
	return d, nil
}

func parseInt(k, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: option %s=%q: want an integer from %d to %d", kv.ErrInvalidConfig, k, v, lo, hi)
	}
	return n, nil
}

// tlsConfig returns the client's TLS configuration, or nil without TLS
// options. It reads the files.
func (s settings) tlsConfig() (*tls.Config, error) {
	if s.tlsCA == "" && s.tlsCert == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.tlsCA != "" {
		pem, err := os.ReadFile(s.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("%w: option %s: %w", kv.ErrInvalidConfig, OptTLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: option %s: %s holds no PEM certificate", kv.ErrInvalidConfig, OptTLSCA, s.tlsCA)
		}
		c.RootCAs = pool
	}
	if s.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("%w: options %s/%s: %w", kv.ErrInvalidConfig, OptTLSCert, OptTLSKey, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// limits are the kv limits a store declares for these server settings and
// key prefix. A commit sends, besides its writes, one compare and one put
// of its commit token, one compare of the priority turn (and, by a
// priority transaction, its delete), and one compare per key or range it
// read; the bytes of a request count every key with the store's prefix.
// So:
//
//   - MaxTxnOps is max_txn_ops - 2 (the token's put, the turn's delete);
//   - MaxTxnBytes keeps a quarter of max_request_bytes for the compares
//     and the token, and scales the rest by what one write really costs on
//     the wire (the prefix, "/k/" and about 16 bytes of framing) against
//     the kv.TxnEntryOverhead that kv.EntrySize counts;
//   - MaxValueSize is at most MaxTxnBytes less one key's worth;
//   - MaxKeySize is kv's, or a quarter of MaxTxnBytes when that is less
//     (a long prefix, a small max_request_bytes).
func (s settings) limits(prefixLen int) kv.Limits {
	wire := prefixLen + len(dataInfix) + 16
	budget := s.maxRequestBytes * 3 / 4
	if wire > kv.TxnEntryOverhead {
		budget = budget * kv.TxnEntryOverhead / wire
	}
	l := kv.DefaultLimits()
	l.MaxTxnOps = min(l.MaxTxnOps, s.maxTxnOps-2)
	l.MaxTxnBytes = min(l.MaxTxnBytes, budget)
	l.MaxKeySize = min(l.MaxKeySize, budget/4)
	l.MaxValueSize = min(l.MaxValueSize, budget-l.MaxKeySize-kv.TxnEntryOverhead)
	return l
}

// minTxnBytes is the smallest MaxTxnBytes a store may declare: below it the
// prefix is too long for the server's max_request_bytes to carry useful
// transactions (nodestore writes a folder's completion, a few KiB, in one).
const minTxnBytes = 16 << 10

// checkPrefixRoom refuses a key prefix so long, for max_request_bytes, that
// the store would declare transactions smaller than minTxnBytes: every key
// of a request carries the prefix.
func (s settings) checkPrefixRoom(prefix string) error {
	if l := s.limits(len(prefix)); l.MaxTxnBytes < minTxnBytes {
		return fmt.Errorf("%w: etcd: a key prefix of %d bytes (%s) leaves %d bytes per transaction within max_request_bytes %d, less than %d: shorten the prefix or raise max_request_bytes",
			kv.ErrInvalidConfig, len(prefix), shortPrefix(prefix), l.MaxTxnBytes, s.maxRequestBytes, minTxnBytes)
	}
	return nil
}

// shortPrefix quotes prefix for a message, cut after 64 bytes.
func shortPrefix(prefix string) string {
	if len(prefix) <= 64 {
		return strconv.Quote(prefix)
	}
	return strconv.Quote(prefix[:64]) + "…"
}
