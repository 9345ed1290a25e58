package bbolt_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// childEnv, when set, makes the test binary run a child role instead of the
// tests: the lock and kill tests re-execute themselves.
const childEnv = "POLYKV_BBOLT_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role, os.Args))
	}
	os.Exit(m.Run())
}

func stress() bool { return os.Getenv("POLYKV_STRESS") == "1" }

// open opens a NoSync bbolt store in dir (a fresh temporary directory when
// dir is empty) and closes it at the end of the test.
func open(t testing.TB, dir string, opts map[string]string) *kv.DB {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := bbolt.Open(context.Background(), kv.Config{Path: dir, Durability: kv.NoSync, Options: opts})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// keys returns the keys opts selects, joined by commas.
func keys(t testing.TB, s kv.Store, opts kv.IterOptions) string {
	t.Helper()
	var ks []string
	err := s.Iterate(context.Background(), opts, func(k, _ []byte) error {
		ks = append(ks, string(k))
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate(%+v): %v", opts, err)
	}
	return strings.Join(ks, ",")
}

// fill writes n keys fmt.Sprintf(format, i) for i in [from, from+n) with
// value, in batches.
func fill(t testing.TB, s kv.Store, format string, from, n int, value []byte) {
	t.Helper()
	ctx := context.Background()
	w := kv.NewBulkWriter(ctx, s)
	for i := from; i < from+n; i++ {
		if err := w.Set(fmt.Appendf(nil, format, i), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// within runs fn and fails the test if it has not returned after d: a hang
// becomes a failure instead of a test binary killed by its timeout. The
// bound is a safety net, never a speed claim.
func within(t testing.TB, d time.Duration, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %s (deadlock?)", what, d)
	}
}

// writeKV creates a store in dir holding k=v and closes it.
func writeKV(t testing.TB, dir string) {
	t.Helper()
	db := open(t, dir, nil)
	if err := db.Set(context.Background(), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
