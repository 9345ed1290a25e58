//go:build linux

package bbolt_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// fileRSS is the process's resident file pages (RssFile + RssShmem, from
// /proc/self/statm), in bytes.
func fileRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f := bytes.Fields(b)
	pages, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestResidentLimitBoundsRSS: reading a 40 MiB store whole (a scan, then
// a Get of every key) maps nearly all of its file into the process without
// a limit, and keeps the process's resident file pages within the limit
// plus the reading done between two checks with one. Not parallel: it
// measures the whole process.
func TestResidentLimitBoundsRSS(t *testing.T) {
	const (
		n     = 40000
		limit = 4 << 20
		// slack: what one check interval can map past the limit (a scan
		// checks every 4096 keys, about 4 MiB of these values; Gets every
		// 256, each mapping up to 64 KiB with the kernel's fault-around).
		slack = 16 << 20
	)
	value := bytes.Repeat([]byte("v"), 1000)
	growth := func(t *testing.T, opt string) (int64, int64) {
		db := open(t, "", map[string]string{"resident_limit": opt})
		fill(t, db, "key%07d", 0, n, value)
		ctx := context.Background()
		before := fileRSS(t)
		peak := before
		i := 0
		err := db.Iterate(ctx, kv.IterOptions{}, func(k, v []byte) error {
			if i++; i%1000 == 0 {
				peak = max(peak, fileRSS(t))
			}
			return nil
		})
		if err != nil || i != n {
			t.Fatalf("scan: %d keys, %v", i, err)
		}
		for j := 0; j < n; j += 7 {
			if _, err := db.Get(ctx, []byte("key"+pad7(j))); err != nil {
				t.Fatal(err)
			}
			if j%700 == 0 {
				peak = max(peak, fileRSS(t))
			}
		}
		st, err := db.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return peak - before, st.Engine.Extra["resident_drops"]
	}
	off, _ := growth(t, "off")
	on, drops := growth(t, "4MiB")
	t.Logf("resident file pages grew by %d MiB without a limit, %d MiB with a 4 MiB limit (%d drops)", off>>20, on>>20, drops)
	if off < 30<<20 {
		t.Fatalf("without a limit the process mapped only %d MiB of a 40 MiB store: the measure cannot tell", off>>20)
	}
	if on > limit+slack {
		t.Fatalf("with a 4 MiB limit resident file pages grew by %d MiB", on>>20)
	}
	if drops == 0 {
		t.Fatal("no drop")
	}
}

func pad7(j int) string {
	s := strconv.Itoa(j)
	for len(s) < 7 {
		s = "0" + s
	}
	return s
}

// openStatm counts this process's open descriptors on /proc/self/statm
// (as /proc/self/fd links read "/proc/<pid>/statm").
func openStatm(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil &&
			target == "/proc/"+strconv.Itoa(os.Getpid())+"/statm" {
			n++
		}
	}
	return n
}

// TestResidentLimitClosesStatm: a store with resident_limit keeps
// /proc/self/statm open while it is open, and Close releases it, so a
// program opening and closing stores does not run out of descriptors.
func TestResidentLimitClosesStatm(t *testing.T) {
	before := openStatm(t)
	db, err := bbolt.Open(context.Background(), kv.Config{Path: t.TempDir(), Durability: kv.NoSync,
		Options: map[string]string{"resident_limit": "1MiB"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := openStatm(t); got != before+1 {
		db.Close()
		t.Fatalf("open store: %d descriptors on statm, want %d", got, before+1)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := openStatm(t); got != before {
		t.Fatalf("after Close: %d descriptors on statm, want %d", got, before)
	}
}
