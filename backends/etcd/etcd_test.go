package etcd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/etcd"
	"github.com/polykv/polykv/internal/etcdtest"
	"github.com/polykv/polykv/kv"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, cluster.Config(newPrefix()))
	if err := db.Set(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	v, err := db.Get(ctx, []byte("a"))
	if err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if _, err := db.Get(ctx, []byte("b")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(b) = %v", err)
	}
	err = db.Update(ctx, func(tx kv.Txn) error {
		v, err := tx.Get([]byte("a"))
		if err != nil {
			return err
		}
		return tx.Set([]byte("b"), append(v, '2'))
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get(ctx, []byte("b")); err != nil || string(v) != "12" {
		t.Fatalf("Get(b) = %q, %v", v, err)
	}
	if !db.Info().Guarantees.Shared {
		t.Error("Info().Guarantees.Shared = false for an etcd store")
	}
}

// TestPrefixesIsolated: two stores on one cluster see only their own keys,
// and neither sees the other's marker or commit tokens.
func TestPrefixesIsolated(t *testing.T) {
	ctx := t.Context()
	p := newPrefix()
	a := openStore(t, cluster.Config(p))
	b := openStore(t, cluster.Config(p+"x")) // a sibling, not nested: "P/k/..." vs "Px/k/..."
	for i, db := range []*kv.DB{a, b} {
		if err := db.Set(ctx, []byte{'k', byte('0' + i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, db := range []*kv.DB{a, b} {
		var keys []string
		if err := db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := string([]byte{'k', byte('0' + i)}); len(keys) != 1 || keys[0] != want {
			t.Errorf("store %d holds %q, want only %q", i, keys, want)
		}
	}
}

func TestMarkerRules(t *testing.T) {
	ctx := t.Context()
	p := newPrefix()
	db := openStore(t, cluster.Config(p))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The same prefix opened as another backend's store.
	other := cluster.Config(p)
	other.Backend = "etcd2"
	if _, err := kv.OpenDriver(ctx, other, etcd.Driver{}); !errors.Is(err, kv.ErrBackendMismatch) {
		t.Errorf("open of an etcd store as backend etcd2 = %v, want ErrBackendMismatch", err)
	}
	// Keys without a marker: not a store.
	foreign := newPrefix()
	w := openStore(t, cluster.Config(foreign+"/k")) // writes under foreign+"/k/..."
	if err := w.Set(ctx, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Open(ctx, cluster.Config(foreign)); !errors.Is(err, kv.ErrNotAStore) {
		t.Errorf("open of a prefix holding keys but no marker = %v, want ErrNotAStore", err)
	}
	ro := cluster.Config(newPrefix())
	ro.ReadOnly = true
	if _, err := kv.Open(ctx, ro); !errors.Is(err, kv.ErrNotAStore) {
		t.Errorf("read-only open of an empty prefix = %v, want ErrNotAStore", err)
	}
}

// TestConcurrentFirstOpens: processes opening one fresh prefix at once
// all succeed (any number may have a store open), and of two backends
// opening it at once one creates the store and the other hears
// ErrBackendMismatch. An open that found no marker, then keys (the
// marker another open had just created), failed with ErrNotAStore: 10 of
// 160 opens in an audit.
func TestConcurrentFirstOpens(t *testing.T) {
	ctx := t.Context()
	rounds := 20
	if testing.Short() {
		rounds = 8
	}
	for range rounds {
		p := newPrefix()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for j := range errs {
			wg.Go(func() {
				cfg := cluster.Config(p)
				var db *kv.DB
				var err error
				if j == 3 {
					cfg.Backend = "etcd2"
					db, err = kv.OpenDriver(ctx, cfg, etcd.Driver{})
				} else {
					db, err = kv.Open(ctx, cfg)
				}
				if err == nil {
					err = db.Close()
				}
				errs[j] = err
			})
		}
		wg.Wait()
		mismatches := 0
		for j, err := range errs {
			switch {
			case errors.Is(err, kv.ErrBackendMismatch):
				mismatches++
			case err != nil:
				t.Errorf("prefix %s: open %d: %v", p, j, err)
			}
		}
		if errs[3] == nil && mismatches != 3 || errs[3] != nil && mismatches != 1 {
			t.Errorf("prefix %s: opens %v: want either the three etcd opens or the etcd2 one refused as a mismatch", p, errs)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		edit func(c *kv.Config)
		want []string
	}{
		{"NoSync", func(c *kv.Config) { c.Durability = kv.NoSync }, []string{"nosync", "fsync"}},
		{"UnknownOption", func(c *kv.Config) { c.Options["cache"] = "1" }, []string{`unknown etcd option "cache"`, "request_timeout"}},
		{"BadTimeout", func(c *kv.Config) { c.Options[etcd.OptRequestTimeout] = "soon" }, []string{"request_timeout", "duration"}},
		{"ZeroTimeout", func(c *kv.Config) { c.Options[etcd.OptDialTimeout] = "0s" }, []string{"dial_timeout"}},
		// 2 was accepted, declared 0 writes per transaction (read by kv as
		// "undeclared", 65,536), and every write panicked.
		{"TinyResponse", func(c *kv.Config) { c.Options[etcd.OptMaxResponseBytes] = "4KiB" }, []string{"max_response_bytes", "from 64KiB"}},
		{"TinyTxnOps", func(c *kv.Config) { c.Options[etcd.OptMaxTxnOps] = "2" }, []string{"max_txn_ops", "from 3"}},
		{"CertWithoutKey", func(c *kv.Config) { c.Options[etcd.OptTLSCert] = "/x.pem" }, []string{"tls_cert", "tls_key"}},
		// A prefix so long that its keys leave no room in a request: it
		// opened, declared limits that contradicted each other, and every
		// write could fail for good once old commit tokens were deleted.
		{"LongPrefix", func(c *kv.Config) { c.Path = "/" + strings.Repeat("p", 100<<10) }, []string{"key prefix of 102401 bytes", "shorten the prefix"}},
		{"ManySlashes", func(c *kv.Config) { c.Path = strings.Repeat("/a", 70) }, []string{"has 70 slashes", "at most 65"}},
		{"MissingCA", func(c *kv.Config) { c.Options[etcd.OptTLSCA] = "/nonexistent/ca.pem" }, []string{"tls_ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cluster.Config(newPrefix())
			tc.edit(&cfg)
			_, err := kv.Open(ctx, cfg)
			if !errors.Is(err, kv.ErrInvalidConfig) {
				t.Fatalf("Open = %v, want ErrInvalidConfig", err)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error of %d bytes: want a message that does not echo a long prefix whole", len(err.Error()))
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestDeclaredLimits: the store declares the limits of the server it is
// told about, and a transaction of exactly those limits commits.
func TestDeclaredLimits(t *testing.T) {
	ctx := t.Context()
	db := openStore(t, cluster.Config(newPrefix()))
	l := kv.LimitsOf(db)
	if want := int(cluster.Settings().MaxTxnOps) - 2; l.MaxTxnOps != want {
		t.Errorf("MaxTxnOps = %d, want %d (the server's max-txn-ops less the commit token and the priority turn)", l.MaxTxnOps, want)
	}
	if l.MaxTxnBytes >= int(cluster.Settings().MaxRequestBytes) || l.MaxTxnBytes < 1<<20 {
		t.Errorf("MaxTxnBytes = %d: want below the server's %d and at least 1 MiB", l.MaxTxnBytes, cluster.Settings().MaxRequestBytes)
	}
	// A maximal transaction: MaxTxnOps writes whose sizes add up close
	// to MaxTxnBytes.
	v := make([]byte, l.MaxTxnBytes/l.MaxTxnOps-kv.TxnEntryOverhead-8)
	start := time.Now()
	err := db.Update(ctx, func(tx kv.Txn) error {
		for i := range l.MaxTxnOps {
			if err := tx.Set([]byte{'m', byte(i >> 16), byte(i >> 8), byte(i)}, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update of %d writes of %d bytes: %v", l.MaxTxnOps, len(v), err)
	}
	t.Logf("a maximal transaction (%d writes, %d bytes) committed in %v", l.MaxTxnOps, l.MaxTxnOps*(len(v)+4+kv.TxnEntryOverhead), time.Since(start))
	// A read set larger than one Txn's compares fails clearly, never a
	// weaker check.
	err = db.Update(ctx, func(tx kv.Txn) error {
		for i := range l.MaxTxnOps + 1 {
			if _, err := tx.Get([]byte{'r', byte(i >> 16), byte(i >> 8), byte(i)}); !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
		return tx.Set([]byte("w"), nil)
	})
	if !errors.Is(err, kv.ErrTxnTooLarge) || !strings.Contains(err.Error(), "max-txn-ops") {
		t.Errorf("Update reading %d keys = %v, want ErrTxnTooLarge naming max-txn-ops", l.MaxTxnOps+1, err)
	}

	// Reads whose keys exceed what a request can carry beside the writes:
	// a clear ErrTxnTooLarge before anything is sent (it was the server's
	// "received message larger than max", naming nothing).
	bigKey := func(i int) []byte { return append(bytes.Repeat([]byte("r"), 30<<10), byte(i)) }
	err = db.Update(ctx, func(tx kv.Txn) error {
		for i := range 80 {
			if _, err := tx.Get(bigKey(i)); !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
		return tx.Set([]byte("w"), nil)
	})
	if !errors.Is(err, kv.ErrTxnTooLarge) || !strings.Contains(err.Error(), "max-request-bytes") {
		t.Errorf("Update reading 80 keys of 30 KiB = %v, want ErrTxnTooLarge naming max-request-bytes", err)
	}

	// The smallest server limit: one write per transaction.
	cfg := cluster.Config(newPrefix())
	cfg.Options = map[string]string{etcd.OptMaxTxnOps: "3"}
	tiny := openStore(t, cfg)
	if got := kv.LimitsOf(tiny).MaxTxnOps; got != 1 {
		t.Errorf("max_txn_ops=3: MaxTxnOps = %d, want 1", got)
	}
	for i := range 20 { // past the commit tokens one commit may delete
		if err := tiny.Set(ctx, []byte{'k', byte(i)}, []byte("v")); err != nil {
			t.Fatalf("max_txn_ops=3: Set %d: %v", i, err)
		}
	}
	err = tiny.Update(ctx, func(tx kv.Txn) error {
		return errors.Join(tx.Set([]byte("a"), nil), tx.Set([]byte("b"), nil))
	})
	if !errors.Is(err, kv.ErrTxnTooLarge) {
		t.Errorf("max_txn_ops=3: Update of two writes = %v, want ErrTxnTooLarge", err)
	}
}

// TestUnavailableWithinDeadline: with its only member stopped, calls fail
// with kv.ErrUnavailable within the caller's deadline, or within
// request_timeout when the context has none; never hang.
func TestUnavailableWithinDeadline(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := c.Config("/unavailable")
	cfg.Options[etcd.OptRequestTimeout] = "1s"
	db := openStore(t, cfg)
	if err := db.Set(t.Context(), []byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	// A second handle whose own deadline is far away: its reads must end
	// at the caller's deadline (kv.ContextReader), not at request_timeout.
	patient := c.Config("/unavailable")
	patient.Options[etcd.OptRequestTimeout] = "60s"
	pdb := openStore(t, patient)
	if err := c.Stop(0); err != nil {
		t.Fatal(err)
	}
	check := func(what string, limit time.Duration, call func(ctx context.Context) error, ctx context.Context) {
		t.Helper()
		start := time.Now()
		err := call(ctx)
		took := time.Since(start)
		t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
		if !errors.Is(err, kv.ErrUnavailable) {
			t.Errorf("%s = %v, want ErrUnavailable", what, err)
		}
		if err != nil && !strings.Contains(err.Error(), "/unavailable") {
			t.Errorf("%s = %v: the message does not name the store (/unavailable)", what, err)
		}
		if took > limit {
			t.Errorf("%s took %v, want at most %v", what, took, limit)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	check("Set with a 2 s deadline", 3*time.Second, func(ctx context.Context) error { return db.Set(ctx, []byte("b"), nil) }, ctx)
	noDeadline := context.Background()
	check("Set without deadline (request_timeout 1s)", 2*time.Second, func(ctx context.Context) error { return db.Set(ctx, []byte("b"), nil) }, noDeadline)
	check("Get without deadline", 2*time.Second, func(ctx context.Context) error { _, err := db.Get(ctx, []byte("a")); return err }, noDeadline)
	check("Iterate without deadline", 2*time.Second, func(ctx context.Context) error {
		return db.Iterate(ctx, kv.IterOptions{}, func(_, _ []byte) error { return nil })
	}, noDeadline)
	check("View without deadline", 2*time.Second, func(ctx context.Context) error {
		return db.View(ctx, func(tx kv.ReadTxn) error {
			return tx.Iterate(kv.IterOptions{}, func(_, _ []byte) error { return nil })
		})
	}, noDeadline)
	check("Update without deadline", 2*time.Second, func(ctx context.Context) error {
		return db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("c"), nil) })
	}, noDeadline)
	// Reads with a 1 s deadline on the handle whose request_timeout is 60 s.
	reads := map[string]func(ctx context.Context) error{
		"Get": func(ctx context.Context) error { _, err := pdb.Get(ctx, []byte("a")); return err },
		"Iterate": func(ctx context.Context) error {
			return pdb.Iterate(ctx, kv.IterOptions{}, func(_, _ []byte) error { return nil })
		},
		"View": func(ctx context.Context) error {
			return pdb.View(ctx, func(tx kv.ReadTxn) error { _, err := tx.Get([]byte("a")); return err })
		},
		"Update reading": func(ctx context.Context) error {
			return pdb.Update(ctx, func(tx kv.Txn) error { _, err := tx.Get([]byte("a")); return err })
		},
	}
	for what, call := range reads {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		check(what+" with a 1 s deadline (request_timeout 60s)", 5*time.Second, call, ctx)
		cancel()
	}
	// Restarted, the same store works again once the client has redialled
	// the member (its backoff is capped at 1 s): each call before that
	// fails within request_timeout with ErrUnavailable or, for a write,
	// ErrOutcomeUnknown — never hangs, never another error.
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	for attempt := 1; ; attempt++ {
		err := db.Set(t.Context(), []byte("d"), nil)
		if err == nil {
			t.Logf("Set succeeded %v after the restart (attempt %d)", time.Since(restarted).Round(time.Millisecond), attempt)
			break
		}
		if !errors.Is(err, kv.ErrUnavailable) && !errors.Is(err, kv.ErrOutcomeUnknown) {
			t.Fatalf("Set after the member restarted (attempt %d): %v, want nil, ErrUnavailable or ErrOutcomeUnknown", attempt, err)
		}
		if time.Since(restarted) > 20*time.Second {
			t.Fatalf("Set still fails 20 s after the member restarted: %v", err)
		}
	}
	if _, err := db.Get(t.Context(), []byte("d")); err != nil {
		t.Errorf("Get of the key set after the restart: %v", err)
	}
}

// TestCompactKeepsLiveSnapshots: Compact compacts up to the oldest live
// snapshot of the process: that snapshot still reads what it saw. Stats
// reports the cluster.
func TestCompactKeepsLiveSnapshots(t *testing.T) {
	ctx := t.Context()
	db := openStore(t, cluster.Config(newPrefix()))
	if err := db.Set(ctx, []byte("k"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	err := db.View(ctx, func(tx kv.ReadTxn) error {
		if err := db.Set(ctx, []byte("k"), []byte("new")); err != nil {
			return err
		}
		if err := db.Compact(ctx); err != nil {
			return err
		}
		v, err := tx.Get([]byte("k"))
		if err != nil || string(v) != "old" {
			t.Errorf("snapshot read after Compact = %q, %v; want \"old\"", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Engine.DiskBytes <= 0 || st.Engine.Extra["revision"] <= 0 || st.Engine.Extra["members"] != 3 || st.Engine.Extra["leader"] == 0 {
		t.Errorf("Stats = %+v: want db size, revision, a leader and 3 members", st.Engine)
	}
}

// TestCompactKeepsOtherHandlesSnapshots: Compact keeps what every
// snapshot of the process on the cluster reads, whichever handle (kv.DB)
// took it, of the same store or another: it kept only its own handle's,
// and a View of another handle failed its next read.
func TestCompactKeepsOtherHandlesSnapshots(t *testing.T) {
	ctx := t.Context()
	cfg := cluster.Config(newPrefix())
	a := openStore(t, cfg)
	b := openStore(t, cfg)
	other := openStore(t, cluster.Config(newPrefix()))
	if err := a.Set(ctx, []byte("k"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		db   *kv.DB
	}{{"another handle of the store", b}, {"a handle of another store", other}} {
		err := a.View(ctx, func(tx kv.ReadTxn) error {
			if _, err := tx.Get([]byte("k")); err != nil {
				return err
			}
			if err := b.Set(ctx, []byte("k"), []byte("new")); err != nil {
				return err
			}
			if err := c.db.Compact(ctx); err != nil {
				return err
			}
			v, err := tx.Get([]byte("k"))
			if err != nil || string(v) != "old" {
				t.Errorf("%s compacted: the snapshot read %q, %v; want \"old\"", c.name, v, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s compacted: %v", c.name, err)
		}
		if err := a.Set(ctx, []byte("k"), []byte("old")); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.Stats()
	if err != nil || st.Engine.Extra["oldest_live_revision"] != 0 {
		t.Errorf("Stats once every snapshot ended: %+v, %v; want oldest_live_revision 0", st.Engine.Extra, err)
	}
}

// TestCompactKeepsLiveIterations: an iteration outside a transaction
// reads its pages at the revision of its first; a Compact of the same
// process between two pages keeps that revision. A reverse iteration did
// not pin it, and its next page failed with "required revision has been
// compacted" (an audit of the etcd backend).
func TestCompactKeepsLiveIterations(t *testing.T) {
	ctx := t.Context()
	cfg := cluster.Config(newPrefix())
	cfg.Options = map[string]string{etcd.OptPageSize: "10"}
	db := openStore(t, cfg)
	var b kv.Batch
	for i := range 100 {
		if err := b.Set(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	for _, reverse := range []bool{false, true} {
		n := 0
		err := db.Iterate(ctx, kv.IterOptions{Prefix: []byte("k"), Reverse: reverse}, func(k, _ []byte) error {
			if n++; n == 25 {
				if err := db.Set(ctx, []byte("k050"), []byte("changed")); err != nil {
					return err
				}
				return db.Compact(ctx)
			}
			return nil
		})
		if err != nil || n != 100 {
			t.Errorf("iteration (reverse %v) with a Compact after 25 keys: %d keys, %v; want 100, no error", reverse, n, err)
		}
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatalf("Compact once the iterations ended: %v", err)
	}
}

// TestDialTimeoutBoundsOpen: an open of an address where no member
// listens fails within dial_timeout, not request_timeout (gRPC connects
// lazily: the first request waited for its whole timeout), and a
// malformed endpoint is refused before anything connects.
func TestDialTimeoutBoundsOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cfg := kv.Config{Backend: etcd.Name, Path: "/dial", Endpoints: []string{closed},
		Options: map[string]string{etcd.OptDialTimeout: "500ms", etcd.OptRequestTimeout: "20s"}}
	start := time.Now()
	_, err = kv.Open(t.Context(), cfg)
	if took := time.Since(start); !errors.Is(err, kv.ErrUnavailable) || took > 10*time.Second {
		t.Errorf("open of %s with dial_timeout 500ms, request_timeout 20s: %v after %v; want ErrUnavailable well before 20 s", closed, err, took)
	}
	// With a password the client authenticates while it connects: that
	// failed as "connect: ... context deadline exceeded", naming neither
	// the endpoint nor the timeout.
	withPassword := cfg
	withPassword.Username, withPassword.Password = "u", "s3cret-pw"
	_, err = kv.Open(t.Context(), withPassword)
	if msg := fmt.Sprint(err); !errors.Is(err, kv.ErrUnavailable) || !strings.Contains(msg, closed) || !strings.Contains(msg, "dial_timeout 500ms") || strings.Contains(msg, "s3cret-pw") {
		t.Errorf("open of %s with a password: %v; want ErrUnavailable naming the endpoint and dial_timeout, not the password", closed, err)
	}
	for _, ep := range []string{"localhost", "127.0.0.1:notaport", "127.0.0.1:99999", "[::1", ":2379"} {
		bad := cfg
		bad.Endpoints = []string{ep}
		if _, err := kv.Open(t.Context(), bad); !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), ep) {
			t.Errorf("open with endpoint %q: %v, want ErrInvalidConfig naming it", ep, err)
		}
	}
}

// TestMarkerCallsAfterClose: the engine's marker calls return ErrClosed
// after Close, at once, like every other call (they answered gRPC's
// "connection is closing" after seconds).
func TestMarkerCallsAfterClose(t *testing.T) {
	db := openStore(t, cluster.Config(newPrefix()))
	ne, ok := db.Engine().(kv.NetworkEngine)
	if !ok {
		t.Fatalf("%T is not a kv.NetworkEngine", db.Engine())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err1 := ne.ReadMarker(ctx)
	_, err2 := ne.Empty(ctx)
	_, err3 := ne.CreateMarker(ctx, kv.Marker{Backend: etcd.Name})
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, kv.ErrClosed) {
			t.Errorf("marker call %d after Close: %v, want ErrClosed", i, err)
		}
	}
}

func ExampleOpen() {
	ctx := context.Background()
	db, err := etcd.Open(ctx, kv.Config{
		Endpoints: []string{"etcd1:2379", "etcd2:2379", "etcd3:2379"},
		Path:      "/jobs/42", // the store's key prefix on the cluster
		Options:   map[string]string{etcd.OptRequestTimeout: "5s"},
	})
	if err != nil {
		return
	}
	defer db.Close()
	_ = db.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) })
}

// TestNestedStoresRefused: a store's keys are everything under P+"/", so a
// store whose prefix lies under another's (P+"/k" holds P's data keys,
// P+"/t" its commit tokens) would share keys with it: one store's
// DeletePrefix would wipe the other. Opening it is refused with
// ErrNotAStore, whichever is opened first; a sibling prefix is not nested.
func TestNestedStoresRefused(t *testing.T) {
	ctx := t.Context()
	p := newPrefix()
	outer := openStore(t, cluster.Config(p))
	if err := outer.Set(ctx, []byte("x"), []byte("outer")); err != nil {
		t.Fatal(err)
	}
	for _, inner := range []string{p + "/k", p + "/t", p + "/k/x/y", p + "/", p + "//z"} {
		db, err := kv.Open(ctx, cluster.Config(inner))
		if err == nil {
			_ = db.Close()
		}
		if !errors.Is(err, kv.ErrNotAStore) || !strings.Contains(err.Error(), p) {
			t.Errorf("open of %q inside the store %q = %v; want ErrNotAStore naming the outer store", inner, p, err)
		}
	}
	// The other order: the inner store first, then the outer one.
	q := newPrefix()
	openStore(t, cluster.Config(q+"/a/b"))
	if db, err := kv.Open(ctx, cluster.Config(q+"/a")); !errors.Is(err, kv.ErrNotAStore) {
		if err == nil {
			_ = db.Close()
		}
		t.Errorf("open of %q around the store %q = %v; want ErrNotAStore", q+"/a", q+"/a/b", err)
	}
	openStore(t, cluster.Config(p+"x")) // a sibling: "P/..." and "Px/..." share no key
	if v, err := outer.Get(ctx, []byte("x")); err != nil || string(v) != "outer" {
		t.Errorf("the outer store's key after the refused opens: %q, %v", v, err)
	}
}

// TestStatsWithAMemberDown: Stats answers with the first endpoint's
// member stopped, from the members that answer, and says how many did.
// The endpoints were asked in turn within one deadline, and the client
// waited for the stopped member until that deadline ended: Stats failed
// with two of three members up.
func TestStatsWithAMemberDown(t *testing.T) {
	s := etcdtest.DefaultSettings()
	s.UnsafeNoFsync = true
	c := etcdtest.StartWith(t, 3, s)
	cfg := c.Config("/stats")
	cfg.Options[etcd.OptRequestTimeout] = "3s"
	cfg.Options[etcd.OptDialTimeout] = "1s"
	db := openStore(t, cfg)
	if err := db.Set(t.Context(), []byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats()
	if err != nil || st.Engine.Extra["members"] != 3 || st.Engine.Extra["members_answered"] != 3 {
		t.Fatalf("Stats with every member up = %+v, %v; want 3 members, 3 answered", st.Engine, err)
	}
	if err := c.StopNow(0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st, err = db.Stats()
	took := time.Since(start)
	t.Logf("Stats with member 0 stopped: %v after %v (%v)", err, took.Round(time.Millisecond), st.Engine.Extra)
	if err != nil {
		t.Fatalf("Stats with 2 of 3 members up: %v", err)
	}
	if st.Engine.Extra["members"] != 3 || st.Engine.Extra["members_answered"] != 2 || st.Engine.Extra["revision"] <= 0 || st.Engine.DiskBytes <= 0 {
		t.Errorf("Stats with member 0 stopped = %+v: want 3 members, 2 answered, a revision and a size", st.Engine)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("Stats took %v: a stopped member should cost dial_timeout (1s), not request_timeout (3s)", took.Round(time.Millisecond))
	}
}
