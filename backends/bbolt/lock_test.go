package bbolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// newStoreDir creates a bbolt store, closes it and returns its directory.
func newStoreDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	db, err := bbolt.Open(context.Background(), kv.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBoltLockTimeoutOtherProcess: another process holds the bbolt file
// itself (not polykv's directory lock), so only bbolt's own flock stands in
// the way; Open must give up after lock_timeout with kv.ErrLocked instead
// of waiting forever, and succeed once the file is released.
func TestBoltLockTimeoutOtherProcess(t *testing.T) {
	dir := newStoreDir(t)
	_, stdin, stdout := startChild(t, "hold", filepath.Join(dir, bbolt.DataFileName))
	line, err := stdout.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child: %q, %v", line, err)
	}
	cfg := kv.Config{Path: dir, Options: map[string]string{bbolt.OptLockTimeout: "300ms"}}
	within(t, 30*time.Second, "open of a file held by another process", func() error {
		db, err := bbolt.Open(context.Background(), cfg)
		if err == nil {
			db.Close()
			return errors.New("open succeeded while another process held the file")
		}
		if !errors.Is(err, kv.ErrLocked) {
			return errors.New("want kv.ErrLocked, got: " + err.Error())
		}
		if !strings.Contains(err.Error(), bbolt.DataFileName) {
			return errors.New("error does not name the file: " + err.Error())
		}
		return nil
	})
	stdin.Close() // the child closes its handle and exits
	var db *kv.DB
	within(t, 30*time.Second, "open after release", func() (err error) {
		// The child may need a moment to exit; the default timeout (1s)
		// plus a few retries cover it.
		for range 10 {
			if db, err = bbolt.Open(context.Background(), kv.Config{Path: dir}); !errors.Is(err, kv.ErrLocked) {
				return err
			}
		}
		return err
	})
	db.Close()
}

// TestBoltLockTimeoutSameProcess: the same through a second bbolt handle
// in this process (flock locks belong to the open file, so the second
// handle conflicts with polykv's).
func TestBoltLockTimeoutSameProcess(t *testing.T) {
	dir := newStoreDir(t)
	raw, err := bolt.Open(filepath.Join(dir, bbolt.DataFileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := kv.Config{Path: dir, ReadOnly: true, Options: map[string]string{bbolt.OptLockTimeout: "200ms"}}
	within(t, 30*time.Second, "read-only open of a file held for writing", func() error {
		db, err := bbolt.Open(context.Background(), cfg)
		if err == nil {
			db.Close()
			return errors.New("open succeeded while the file was held")
		}
		if !errors.Is(err, kv.ErrLocked) {
			return errors.New("want kv.ErrLocked, got: " + err.Error())
		}
		return nil
	})
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// TestSecondOpenLocked: polykv's own directory lock refuses a second open
// at once, before bbolt is involved.
func TestSecondOpenLocked(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, nil)
	_ = db
	within(t, 30*time.Second, "second open", func() error {
		_, err := bbolt.Open(context.Background(), kv.Config{Path: dir})
		if !errors.Is(err, kv.ErrLocked) {
			return errors.New("want kv.ErrLocked, got: " + errString(err))
		}
		return nil
	})
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
