package badger_test

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/badger"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

// A commit that would leave less free space than the reserve fails with
// kv.ErrNoSpace and applies nothing; the store stays readable, and takes
// writes again once there is room (here: reopened with no reserve). A
// writable open with less than the reserve free is refused (Badger's open
// writes through memory maps, where a full disk is a SIGBUS); a read-only
// open is not. Free space is faked: the file system's changes with every
// other test.
func TestFreeSpaceReserve(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t, dir, nil)
	require.NoError(t, db.Set(ctx, []byte("before"), []byte("1")))
	require.NoError(t, db.Close())

	var free atomic.Int64
	restore := badger.SetFreeSpace(func(string) (int64, error) { return free.Load(), nil })
	defer restore()
	free.Store(1 << 30)
	_, err := badger.Open(ctx, kv.Config{Path: dir, Options: map[string]string{"free_space_reserve": "2GiB"}})
	require.ErrorIs(t, err, kv.ErrNoSpace)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Contains(t, err.Error(), "read-only")
	ro, err := badger.Open(ctx, kv.Config{Path: dir, ReadOnly: true, Options: map[string]string{"free_space_reserve": "2GiB"}})
	require.NoError(t, err)
	require.NoError(t, ro.Close())

	db = openStore(t, dir, map[string]string{"free_space_reserve": "1GiB"})
	err = db.Set(ctx, []byte("during"), []byte("2"))
	require.ErrorIs(t, err, kv.ErrNoSpace)
	require.Contains(t, err.Error(), "reserve")
	_, err = db.Get(ctx, []byte("during"))
	require.ErrorIs(t, err, kv.ErrNotFound)
	v, err := db.Get(ctx, []byte("before"))
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
	require.NoError(t, db.Close())

	db = openStore(t, dir, map[string]string{"free_space_reserve": "0"})
	require.NoError(t, db.Set(ctx, []byte("after"), []byte("3")))
}

func TestFreeSpaceReserveDefault(t *testing.T) {
	got, err := badger.FreeSpaceReserve(kv.Config{})
	require.NoError(t, err)
	n, mt, _, _ := badger.MemorySplit(0)
	require.Equal(t, int64(n+7)*mt, got)
	got, err = badger.FreeSpaceReserve(kv.Config{Options: map[string]string{"free_space_reserve": "1MiB"}})
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), got)
	_, err = badger.FreeSpaceReserve(kv.Config{Options: map[string]string{"free_space_reserve": "lots"}})
	require.ErrorIs(t, err, kv.ErrInvalidConfig)
}
