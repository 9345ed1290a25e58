package pebble_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

const fullOpenChildEnv = "POLYKV_PEBBLE_FULLOPEN_CHILD" // the store directory

// fullOpenKeys is what the child commits before it ends without closing.
const fullOpenKeys = 2000

// fullOpenBudget keeps the free-space reserve (7 memtables) well inside
// the tmpfs.
const fullOpenBudget = 16 << 20

// A store left by a crash has a log to flush before Pebble's Open returns.
// On a full disk that flush fails, and Pebble retries it at once, for as
// long as the disk stays full: Open never returns (seen with the engine
// before this test: a store reopened on a tmpfs left full hung in
// pebble.Open). The engine must refuse the open instead, with
// kv.ErrNoSpace naming the space it needs, while a read-only open still
// reads everything; once space is back the store opens with every
// acknowledged write. Linux and root only (a size-limited tmpfs).
func TestOpenOnFullDiskIsRefused(t *testing.T) {
	if dir := os.Getenv(fullOpenChildEnv); dir != "" {
		fullOpenChild(dir)
		return
	}
	mnt := conformance.MountTmpfs(t, 256<<20)
	cfg := kv.Config{Backend: "pebble", Path: filepath.Join(mnt, "store"), MemoryBudget: fullOpenBudget}
	ctx := context.Background()

	// The child commits (Sync) and exits without closing: a crash.
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenOnFullDiskIsRefused$", "-test.count=1")
	cmd.Env = append(os.Environ(), fullOpenChildEnv+"="+cfg.Path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)

	ballast := filepath.Join(mnt, "ballast")
	require.NoError(t, conformance.FillTo(ballast, 0))

	// Bounded by a timer: the engine that hung must fail the test, not
	// stop the test binary.
	type result struct {
		db  *kv.DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		db, err := kv.Open(ctx, cfg)
		done <- result{db, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("opening a store with a log to flush on a full disk did not return in 30 s")
	}
	if res.err == nil {
		res.db.Close()
		t.Fatal("a store with a log to flush opened on a full disk")
	}
	require.ErrorIs(t, res.err, kv.ErrNoSpace)
	require.ErrorIs(t, res.err, syscall.ENOSPC)
	require.Contains(t, res.err.Error(), "read-only")
	t.Logf("on the full disk: %v", res.err)

	// Read-only, nothing is flushed: everything is there.
	ro := cfg
	ro.ReadOnly = true
	db, err := kv.Open(ctx, ro)
	require.NoError(t, err)
	checkFullOpenKeys(t, db)
	require.NoError(t, db.Close())

	require.NoError(t, os.Remove(ballast))
	db, err = kv.Open(ctx, cfg)
	require.NoError(t, err)
	checkFullOpenKeys(t, db)
	require.NoError(t, db.Set(ctx, []byte("after"), nil))
	require.NoError(t, db.Close())

	// A store closed cleanly has no log to flush, but below the reserve a
	// writable open is refused all the same (its commits would be, and its
	// Close rotates the log into space that is not there); read-only, it
	// opens and reads.
	reserve, err := pebble.FreeSpaceReserve(cfg)
	require.NoError(t, err)
	require.NoError(t, conformance.FillTo(ballast, reserve/2))
	_, err = kv.Open(ctx, cfg)
	require.ErrorIs(t, err, kv.ErrNoSpace)
	require.Contains(t, err.Error(), "reserve")
	db, err = kv.Open(ctx, ro)
	require.NoError(t, err)
	checkFullOpenKeys(t, db)
	require.NoError(t, db.Close())
	require.NoError(t, os.Remove(ballast))
}

func fullOpenChild(dir string) {
	ctx := context.Background()
	db, err := kv.Open(ctx, kv.Config{Backend: "pebble", Path: dir, MemoryBudget: fullOpenBudget})
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	value := make([]byte, 1000)
	for i := range fullOpenKeys {
		if err := db.Set(ctx, fmt.Appendf(nil, "k%06d", i), value); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
	}
	os.Exit(0) // no Close: the log is not flushed
}

func checkFullOpenKeys(t *testing.T, db *kv.DB) {
	t.Helper()
	for i := range fullOpenKeys {
		_, err := db.Get(context.Background(), fmt.Appendf(nil, "k%06d", i))
		require.NoError(t, err, "acknowledged key %d", i)
	}
}
