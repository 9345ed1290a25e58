//go:build linux

package bbolt_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

// TestMappingFallbackUnderAddressLimit: under an address-space limit
// (ulimit -v) smaller than the default mapping, Open retries with smaller
// mappings instead of failing, and the store works. Runs in a child that
// sets RLIMIT_AS.
func TestMappingFallbackUnderAddressLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector needs more address space than the limit allows")
	}
	if bbolt.DefaultInitialMmapSize < 4<<30 {
		t.Skip("default mapping is small on this platform")
	}
	_, _, stdout := startChild(t, "rlimit", t.TempDir())
	line, err := stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("child: %q, %v", line, err)
	}
	got, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(line), "mapped "), 10, 64)
	if err != nil {
		t.Fatalf("child said %q", line)
	}
	if got >= int64(bbolt.DefaultInitialMmapSize) {
		t.Fatalf("mapped %d under a limit below the default %d", got, bbolt.DefaultInitialMmapSize)
	}
	t.Logf("under the limit the store mapped %d bytes", got)
}

// rlimitChild limits the address space to what the process uses plus 6
// GiB, opens a store with the default mapping and writes to it.
func rlimitChild(dir string) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &cur); err != nil {
		return err
	}
	vm, err := vmSize()
	if err != nil {
		return err
	}
	lim := syscall.Rlimit{Cur: vm + 6<<30, Max: cur.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		return err
	}
	ctx := context.Background()
	db, err := bbolt.Open(ctx, kv.Config{Path: dir, Durability: kv.NoSync})
	if err != nil {
		return err
	}
	defer db.Close()
	for i := range 1000 {
		if err := db.Set(ctx, fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			return err
		}
	}
	st, err := db.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("mapped %d\n", st.Engine.Extra["initial_mmap_size"])
	return nil
}

// vmSize is the process's current virtual size in bytes.
func vmSize() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmSize:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}
