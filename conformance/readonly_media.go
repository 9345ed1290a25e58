package conformance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/polykv/polykv/internal/dirlock"
	"github.com/polykv/polykv/kv"
)

// RunReadOnlyMedia checks a store on a read-only file system: a tmpfs
// (Linux, root only; the test skips elsewhere, saying why) gets a store
// with some of TxnWorkload's transactions, closed cleanly, and is
// remounted read-only. Then
//
//   - a read-only open works and reads every transaction, and a second
//     read-only open works beside it;
//   - a read-write open fails with kv.ErrIO (and syscall.EROFS), its
//     message saying the file system is read-only.
//
// Then the same without kv's lock file (a store copied onto read-only
// media without it): read-only opens still work.
func RunReadOnlyMedia(t *testing.T, cfg kv.Config) {
	t.Helper()
	if cfg.Backend == "memory" {
		t.Skip("readonly media: the memory backend writes no files")
	}
	for _, withLock := range []bool{true, false} {
		name := "lockfile"
		if !withLock {
			name = "nolockfile"
		}
		t.Run(name, func(t *testing.T) {
			// Large enough for Badger's free-space reserve; unwritten
			// tmpfs space costs nothing.
			mnt := MountTmpfs(t, 1<<30)
			c := cfg
			c.Path = filepath.Join(mnt, "store")
			ctx := t.Context()
			db, err := kv.Open(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			last := -1
			wctx, cancel := context.WithCancel(ctx)
			err = TxnWorkload{}.Child(wctx, db, func(i int) {
				if last = i; i == 99 {
					cancel()
				}
			})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if !withLock {
				if err := os.Remove(filepath.Join(c.Path, dirlock.FileName)); err != nil {
					t.Fatal(err)
				}
			}
			RemountReadOnly(t, mnt)

			ro := c
			ro.ReadOnly = true
			db1, err := kv.Open(ctx, ro)
			if err != nil {
				t.Fatalf("read-only open on a read-only file system: %v", err)
			}
			defer db1.Close()
			db2, err := kv.Open(ctx, ro)
			if err != nil {
				t.Fatalf("second read-only open on a read-only file system, beside the first: %v", err)
			}
			for i, s := range []kv.Store{db1, db2} {
				r := TxnWorkload{}.Check(t, s, last)
				if r.Committed != last+1 {
					t.Errorf("read-only open %d sees %d transactions, want %d", i+1, r.Committed, last+1)
				}
				for _, p := range r.Problems {
					t.Errorf("read-only open %d: %s", i+1, p)
				}
			}
			if err := db2.Close(); err != nil {
				t.Errorf("close of a read-only open: %v", err)
			}
			if err := db1.Close(); err != nil {
				t.Errorf("close of a read-only open: %v", err)
			}

			rw, err := kv.Open(ctx, c)
			if err == nil {
				rw.Close()
				t.Fatal("a read-write open on a read-only file system succeeded")
			}
			if !errors.Is(err, kv.ErrIO) || !errors.Is(err, syscall.EROFS) {
				t.Errorf("read-write open on a read-only file system: %v; want kv.ErrIO and syscall.EROFS", err)
			}
			t.Logf("readonly media: %s: read-write open: %v", cfg.Backend, err)
		})
	}
}
