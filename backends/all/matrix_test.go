package all_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/polykv/polykv/backends/all"
	"github.com/polykv/polykv/kv"
)

var persistent = []string{"badger", "pebble", "bbolt"}

// hangLimit bounds an open that must fail at once. It is not a speed
// claim: an open that waits for a lock (bbolt without a timeout waits
// forever) must fail the test instead of hanging it.
const hangLimit = 10 * time.Second

const nKeys = 300

func key(i int) []byte   { return fmt.Appendf(nil, "matrix/%05d", i) }
func value(i int) []byte { return fmt.Appendf(nil, "value-%d-%s", i, strings.Repeat("x", i%97)) }

// newStore creates a store of backend b in a fresh directory, writes nKeys
// keys and closes it.
func newStore(t *testing.T, b string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	db, err := kv.Open(t.Context(), kv.Config{Backend: b, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	var batch kv.Batch
	for i := range nKeys {
		batch.Set(key(i), value(i))
	}
	if err := db.Write(t.Context(), &batch); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkData reads every key back.
func checkData(t *testing.T, s kv.Store) {
	t.Helper()
	n := 0
	err := s.Iterate(t.Context(), kv.IterOptions{Prefix: []byte("matrix/")}, func(k, v []byte) error {
		if string(k) != string(key(n)) || string(v) != string(value(n)) {
			return fmt.Errorf("entry %d: %q = %q", n, k, v)
		}
		n++
		return nil
	})
	if err != nil || n != nKeys {
		t.Fatalf("read back %d keys, want %d: %v", n, nKeys, err)
	}
}

// dirState maps every entry under dir to its mode and, for files, the
// SHA-256 of its content.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			state[rel+"/"] = info.Mode().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		state[rel] = fmt.Sprintf("%v %d %s", info.Mode(), info.Size(), hex.EncodeToString(sum[:]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func assertUntouched(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := dirState(t, dir)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed: %q -> %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared", k)
		}
	}
}

// openWithin opens cfg, failing the test if Open does not return within
// hangLimit.
func openWithin(t *testing.T, cfg kv.Config) (*kv.DB, error) {
	t.Helper()
	type result struct {
		db  *kv.DB
		err error
	}
	ch := make(chan result, 1)
	go func() {
		db, err := kv.Open(context.Background(), cfg)
		ch <- result{db, err}
	}()
	select {
	case r := <-ch:
		if r.db != nil {
			t.Cleanup(func() { r.db.Close() })
		}
		return r.db, r.err
	case <-time.After(hangLimit):
		t.Fatalf("Open(%v) still waiting after %v", cfg, hangLimit)
		return nil, nil
	}
}

func wantErr(t *testing.T, err, target error, mention ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
	for _, s := range mention {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// TestBackendMismatch: a store of one backend opened as another fails with
// ErrBackendMismatch naming both, with every file byte-identical; "auto"
// opens it and reads the data.
func TestBackendMismatch(t *testing.T) {
	for _, a := range persistent {
		for _, b := range persistent {
			if a == b {
				continue
			}
			t.Run(a+"_as_"+b, func(t *testing.T) {
				dir := newStore(t, a)
				before := dirState(t, dir)
				for _, ro := range []bool{false, true} {
					_, err := openWithin(t, kv.Config{Backend: b, Path: dir, ReadOnly: ro})
					wantErr(t, err, kv.ErrBackendMismatch, a, b, dir)
					assertUntouched(t, dir, before)
				}
				db, err := openWithin(t, kv.Config{Backend: kv.AutoBackend, Path: dir})
				if err != nil {
					t.Fatalf("auto: %v", err)
				}
				if db.Info().Backend != a {
					t.Errorf("auto opened %q, want %q", db.Info().Backend, a)
				}
				checkData(t, db)
				db.Close()
			})
		}
	}
}

// TestForeignDirectory: files that look like another engine's, without a
// marker, are refused with ErrNotAStore and left alone.
func TestForeignDirectory(t *testing.T) {
	for _, b := range append(persistent, kv.AutoBackend) {
		t.Run(b, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range map[string]string{
				"000001.sst":      "not an sstable of yours",
				"MANIFEST-000001": "manifest",
				"CURRENT":         "MANIFEST-000001\n",
				"000002.vlog":     "vlog",
				"data.bolt":       "bolt",
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := dirState(t, dir)
			for _, ro := range []bool{false, true} {
				_, err := openWithin(t, kv.Config{Backend: b, Path: dir, ReadOnly: ro})
				wantErr(t, err, kv.ErrNotAStore, dir)
				assertUntouched(t, dir, before)
			}
		})
	}
}

// TestLockedInProcess: a second open of an open store fails at once.
func TestLockedInProcess(t *testing.T) {
	for _, b := range persistent {
		t.Run(b, func(t *testing.T) {
			dir := newStore(t, b)
			db, err := openWithin(t, kv.Config{Backend: b, Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, cfg := range []kv.Config{
				{Backend: b, Path: dir},
				{Backend: kv.AutoBackend, Path: dir},
				{Backend: b, Path: dir, ReadOnly: true},
			} {
				_, err := openWithin(t, cfg)
				wantErr(t, err, kv.ErrLocked, dir)
			}
			checkData(t, db) // the first store is unharmed
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = openWithin(t, kv.Config{Backend: b, Path: dir})
			if err != nil {
				t.Fatalf("open after Close: %v", err)
			}
			checkData(t, db)
		})
	}
}

// TestReadOnlyShared: read-only opens share the directory with each other,
// not with a writer (Pebble excepted: it never shares its directory).
func TestReadOnlyShared(t *testing.T) {
	for _, b := range persistent {
		t.Run(b, func(t *testing.T) {
			dir := newStore(t, b)
			r1, err := openWithin(t, kv.Config{Backend: b, Path: dir, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			checkData(t, r1)
			r2, err := openWithin(t, kv.Config{Backend: kv.AutoBackend, Path: dir, ReadOnly: true})
			switch {
			case err == nil:
				checkData(t, r2)
			case b == "pebble" && errors.Is(err, kv.ErrLocked):
				// Pebble locks its directory exclusively even when read-only
				// (pebble.LockDirectory): a second reader fails at once.
				t.Logf("pebble: second read-only open: %v", err)
			default:
				t.Fatalf("second read-only open: %v", err)
			}
			if err := r1.Set(t.Context(), []byte("k"), []byte("v")); !errors.Is(err, kv.ErrReadOnly) {
				t.Errorf("Set on a read-only store = %v, want ErrReadOnly", err)
			}
			_, err = openWithin(t, kv.Config{Backend: b, Path: dir})
			wantErr(t, err, kv.ErrLocked)
		})
	}
}

func TestMemoryRejectsPath(t *testing.T) {
	dir := t.TempDir()
	_, err := kv.Open(t.Context(), kv.Config{Backend: "memory", Path: dir})
	wantErr(t, err, kv.ErrInvalidConfig, "path", dir, "memory backend keeps nothing on disk")
	_, err = kv.Open(t.Context(), kv.Config{Backend: "memory", ReadOnly: true})
	wantErr(t, err, kv.ErrInvalidConfig, "read_only")
	db, err := kv.Open(t.Context(), kv.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	if db.Info().Guarantees.Persistent {
		t.Error("memory declares itself persistent")
	}
	db.Close()
}

// holdEnv makes the test binary a child that opens the store of a DSN,
// says "open" and waits to be killed.
const holdEnv = "POLYKV_ALL_TEST_HOLD"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(holdEnv); dsn != "" {
		cfg, err := kv.ParseDSN(dsn)
		if err == nil {
			_, err = kv.Open(context.Background(), cfg)
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("open")
		select {} // hold the store until killed
	}
	os.Exit(m.Run())
}

// TestLockedByOtherProcess: a store held by another process cannot be
// opened; once that process is killed with SIGKILL, it opens normally.
func TestLockedByOtherProcess(t *testing.T) {
	for _, b := range persistent {
		t.Run(b, func(t *testing.T) {
			dir := newStore(t, b)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), holdEnv+"="+kv.Config{Backend: b, Path: dir}.DSN())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			line, err := bufio.NewReader(out).ReadString('\n')
			if line != "open\n" {
				t.Fatalf("child: %q, %v", line, err)
			}
			for _, cfg := range []kv.Config{
				{Backend: b, Path: dir},
				{Backend: kv.AutoBackend, Path: dir},
				{Backend: b, Path: dir, ReadOnly: true},
			} {
				_, err := openWithin(t, cfg)
				wantErr(t, err, kv.ErrLocked, dir, fmt.Sprintf("pid %d", cmd.Process.Pid))
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			db, err := openWithin(t, kv.Config{Backend: b, Path: dir})
			if err != nil {
				t.Fatalf("open after the holder was killed: %v", err)
			}
			checkData(t, db)
		})
	}
}
