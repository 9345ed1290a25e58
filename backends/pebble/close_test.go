package pebble_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/pebble"
	"github.com/polykv/polykv/kv"
	"github.com/stretchr/testify/require"
)

// allocated is the space the files under dir occupy, in allocated blocks,
// and the write-ahead logs found there.
func allocated(t testing.TB, dir string) (bytes int64, logs []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			bytes += st.Blocks * 512
		}
		if strings.HasSuffix(path, ".log") {
			logs = append(logs, filepath.Base(path))
		}
		return nil
	})
	require.NoError(t, err)
	return bytes, logs
}

// A closed store keeps one write-ahead log and none of the space Pebble
// preallocates for its logs (70 MiB per log with the default budget, up
// to three more kept for recycling), and everything written reads back
// after reopening, the memtable included.
func TestCloseTrimsWALs(t *testing.T) {
	ctx := context.Background()
	db, cfg := open(t)
	val := make([]byte, 1000)
	// Enough to fill the 64 MiB memtable several times: several logs,
	// some obsolete, some kept for recycling.
	const batches, per = 200, 1000
	for i := range batches {
		require.NoError(t, db.Update(ctx, func(tx kv.Txn) error {
			for j := range per {
				if err := tx.Set(fmt.Appendf(nil, "k%04d-%04d", i, j), val); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, db.Close())
	size, logs := allocated(t, cfg.Path)
	require.Len(t, logs, 1, "logs left after Close: %v", logs)
	// The data is about 200 MB before compression (zeros: it compresses to
	// almost nothing); the logs alone would be 280 MiB.
	require.Less(t, size, int64(64<<20), "bytes allocated after Close")

	db2, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer db2.Close()
	n := 0
	require.NoError(t, db2.Iterate(ctx, kv.IterOptions{KeysOnly: true}, func(k, _ []byte) error {
		n++
		return nil
	}))
	require.Equal(t, batches*per, n)
	// A second close after no write changes nothing and loses nothing.
	require.NoError(t, db2.Close())
	db3, err := pebble.Open(ctx, cfg)
	require.NoError(t, err)
	defer db3.Close()
	got, err := db3.Get(ctx, []byte("k0199-0999"))
	require.NoError(t, err)
	require.Len(t, got, len(val))
}
