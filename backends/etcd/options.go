package etcd

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
	// reads on the cluster (see DB.Compact). Default off ("0"): on a shared cluster the
	// operator usually runs etcd's own --auto-compaction-* settings.
	OptAutoCompact = "auto_compact"
	// OptPageSize is the most keys one request of an iteration fetches.
	// Default 1000. Pages start small (64) and grow to it.
	OptPageSize = "page_size"
	// OptMaxTxnOps is the server's --max-txn-ops (default 128, etcd's
	// default). A transaction commits at most this many writes minus two
	// (the commit token, the priority turn's release) and compares at most
	// this many keys and ranges read, minus two.
	OptMaxTxnOps = "max_txn_ops"
	// OptMaxRequestBytes is the server's --max-request-bytes (default
	// 1572864, etcd's default: 1.5 MiB). The declared transaction size
	// limit is derived from it: three quarters, less the commit's own
	// operations (see limits); the last quarter is for the compares of
	// what a transaction read.
	OptMaxRequestBytes = "max_request_bytes"
	// OptMaxResponseBytes is what one read response should bring at most,
	// keys and values (default 4MiB): GetMany, IterateMany and reverse or
	// paged iterations ask for fewer keys per request than their count
	// limits when the values read so far say a full request would bring
	// more (respbytes.go). A size from 64KiB to 1GiB.
	OptMaxResponseBytes = "max_response_bytes"
)

// Defaults of the options.
const (
	DefaultDialTimeout      = 5 * time.Second
	DefaultRequestTimeout   = 10 * time.Second
	DefaultPageSize         = 1000
	DefaultMaxTxnOps        = 128
	DefaultMaxRequestBytes  = 1536 << 10
	DefaultMaxResponseBytes = 4 << 20
)

// firstPageSize is the size of an iteration's first page: most short
// iterations (a Limit of a few keys) end inside it.
const firstPageSize = 64

// settings are the parsed Config.Options.
type settings struct {
	dialTimeout      time.Duration
	requestTimeout   time.Duration
	tlsCA            string
	tlsCert          string
	tlsKey           string
	autoCompact      time.Duration
	pageSize         int
	maxTxnOps        int
	maxRequestBytes  int
	maxResponseBytes int
}

func defaultSettings() settings {
	return settings{
		dialTimeout:      DefaultDialTimeout,
		requestTimeout:   DefaultRequestTimeout,
		pageSize:         DefaultPageSize,
		maxTxnOps:        DefaultMaxTxnOps,
		maxRequestBytes:  DefaultMaxRequestBytes,
		maxResponseBytes: DefaultMaxResponseBytes,
	}
}

var optionNames = []string{OptAutoCompact, OptDialTimeout, OptMaxRequestBytes, OptMaxResponseBytes,
	OptMaxTxnOps, OptPageSize, OptRequestTimeout, OptTLSCA, OptTLSCert, OptTLSKey}

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
			s.maxRequestBytes, err = parseSize(k, v, " (the server's --max-request-bytes)")
		case OptMaxResponseBytes:
			s.maxResponseBytes, err = parseSize(k, v, "")
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

// parseSize reads a size from 64KiB to 1GiB; note ends the message of a
// refused one.
func parseSize(k, v, note string) (int, error) {
	n, err := kv.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%w: option %s: %w", kv.ErrInvalidConfig, k, err)
	}
	if n < 64<<10 || n > 1<<30 {
		return 0, fmt.Errorf("%w: option %s=%s: want a size from 64KiB to 1GiB%s", kv.ErrInvalidConfig, k, v, note)
	}
	return int(n), nil
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

// limits are the kv limits a store declares for these server settings,
// key prefix and user name. A commit sends, besides its writes, one
// compare and one put of its commit token, one compare of the priority
// turn (and, by a priority transaction, its delete), up to tokenDeletes
// deletes of old tokens, and one compare per key or range it read; the
// bytes of a request count every key with the store's prefix, and the
// server counts them with the header it adds (user name included). So:
//
//   - MaxTxnOps is max_txn_ops - 2 (the token's put, the turn's delete;
//     the old tokens' deletes take what is left);
//   - MaxTxnBytes is three quarters of max_request_bytes less
//     commitOverhead (about 1 KiB for a short prefix), scaled by what one
//     write really costs on the wire (the prefix, "/k/" and up to 16
//     bytes of framing) against the kv.TxnEntryOverhead that kv.EntrySize
//     counts; the last quarter is for the compares of what the
//     transaction read (checked by Commit, compareBytes);
//   - MaxValueSize is at most MaxTxnBytes less one key's worth;
//   - MaxKeySize is kv's, or a quarter of MaxTxnBytes when that is less
//     (a long prefix, a small max_request_bytes).
//
// A transaction within all of them is accepted by the server
// (TestMaximalTransactionFits).
func (s settings) limits(prefix, username string) kv.Limits {
	wire := len(prefix) + len(dataInfix) + 16
	budget := s.maxRequestBytes*3/4 - commitOverhead(prefix, username, s.tokenDeletes(prefix), s.maxRequestBytes)
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

// tokenDeletes is how many old commit tokens one commit of the store with
// this prefix deletes: up to tokenDeletesPerCommit, within a sixteenth of
// max_request_bytes.
func (s settings) tokenDeletes(prefix string) int {
	return max(0, min(tokenDeletesPerCommit, s.maxRequestBytes/16/(len(prefix)+len(tokenInfix)+64)))
}

// commitOverhead is the most that a commit's own operations add to its
// request as the server measures it against max_request_bytes: its
// commit token's compare and put (on a lease), the priority turn's compare
// (a priority transaction's, with its value: the larger) and delete, the
// Else read of the turn, tokenDeletes deletes of old tokens, and the
// header the server adds before it checks the size (request ID, user
// name, auth revision). It is measured on those messages, then grown by
// the bytes that length prefixes gain in a full request: the
// transaction's own (txnLengthGrowth), and those of writes of 2 MiB or
// more, whose framing exceeds the 16 bytes limits counts per write (up to
// 8 bytes more each, at most one per 2 MiB of the request).
func commitOverhead(prefix, username string, tokenDeletes, maxRequestBytes int) int {
	token := []byte(prefix + tokenInfix + rand.Text())
	turn := []byte(prefix + turnName)
	lease := int64(math.MaxInt64)
	txn := &pb.TxnRequest{
		Compare: []*pb.Compare{
			{Target: pb.Compare_CREATE, Key: token, TargetUnion: &pb.Compare_CreateRevision{}},
			{Target: pb.Compare_VALUE, Key: turn, TargetUnion: &pb.Compare_Value{Value: []byte(rand.Text())}},
		},
		Success: []*pb.RequestOp{
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: token, Value: []byte(tokenApplied), Lease: lease}}},
			{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: turn}}},
		},
		Failure: []*pb.RequestOp{
			{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: turn, CountOnly: true}}},
		},
	}
	for range tokenDeletes {
		txn.Success = append(txn.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: token}}})
	}
	req := &pb.InternalRaftRequest{
		Header: &pb.RequestHeader{ID: math.MaxUint64, Username: username, AuthRevision: math.MaxUint64},
		Txn:    txn,
	}
	return proto.Size(req) + txnLengthGrowth + 8*(maxRequestBytes>>21+1)
}

// txnLengthGrowth bounds what the length prefix of a commit's TxnRequest
// inside the server's request gains from its writes and compares (a
// varint: at most 5 bytes up to 1 GiB).
const txnLengthGrowth = 4

// compareBytes is what cmp adds to a commit's request: the message and its
// field's tag and length.
func compareBytes(cmp clientv3.Cmp) int {
	n := proto.Size(cmp.GetCompare())
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

// minTxnBytes is the smallest MaxTxnBytes a store may declare: below it the
// prefix is too long for the server's max_request_bytes to carry useful
// transactions (nodestore writes a folder's completion, a few KiB, in one).
const minTxnBytes = 16 << 10

// checkPrefixRoom refuses a key prefix so long, for max_request_bytes, that
// the store would declare transactions smaller than minTxnBytes: every key
// of a request carries the prefix.
func (s settings) checkPrefixRoom(prefix, username string) error {
	if l := s.limits(prefix, username); l.MaxTxnBytes < minTxnBytes {
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
