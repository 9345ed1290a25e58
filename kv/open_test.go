package kv_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/kv"
)

// fileDriver is a persistent test backend: an in-memory engine that also
// appends a line to a file in its directory each time it opens, the way a
// real engine creates its files. Its data does not survive Close; these
// tests are about the directory, not the data.
type fileDriver struct {
	name    string
	failErr error // Open fails with it when set
}

const engineFile = "ENGINE"

func (d fileDriver) Open(ctx context.Context, dir string, cfg *kv.Config) (kv.Engine, error) {
	if d.failErr != nil {
		return nil, d.failErr
	}
	if dir == "" {
		return nil, errors.New("fileDriver: no directory")
	}
	if !cfg.ReadOnly {
		f, err := os.OpenFile(filepath.Join(dir, engineFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(f, "%s opened\n", d.name)
		f.Close()
	} else if _, err := os.Stat(filepath.Join(dir, engineFile)); err != nil {
		return nil, err
	}
	return memory.Driver{}.Open(ctx, "", &kv.Config{Backend: "memory"})
}

func (fileDriver) Guarantees() kv.Guarantees { return kv.Guarantees{Persistent: true} }

func init() {
	kv.Register("testa", fileDriver{name: "testa"})
	kv.Register("testb", fileDriver{name: "testb"})
}

// dirState is the list of files in a directory tree with a digest of each
// file's content and mode.
func dirState(t testing.TB, dir string) map[string]string {
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
		state[rel] = info.Mode().String() + " " + hex.EncodeToString(sum[:])
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func assertUntouched(t testing.TB, dir string, before map[string]string) {
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

func mustOpen(t testing.TB, cfg kv.Config) *kv.DB {
	t.Helper()
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open(%v): %v", cfg, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func wantErr(t testing.TB, err, target error, mention ...string) {
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

func TestOpenNewStore(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "store")
			if existing {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			db := mustOpen(t, kv.Config{Backend: "testa", Path: dir, Durability: kv.NoSync})
			info := db.Info()
			if info.Backend != "testa" || info.Path != dir || info.Durability != kv.NoSync ||
				info.MemoryBudget != kv.DefaultMemoryBudget || !info.Guarantees.Persistent {
				t.Errorf("Info = %+v", info)
			}
			m, err := kv.ReadMarker(dir)
			if err != nil || m.Backend != "testa" || m.Format != kv.FormatVersion || m.Created.IsZero() {
				t.Errorf("ReadMarker = %+v, %v", m, err)
			}
			st, err := os.Stat(filepath.Join(dir, kv.MarkerFileName))
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("marker mode = %v, %v; want 0644", st.Mode(), err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, kv.MarkerFileName))
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil || raw["backend"] != "testa" {
				t.Errorf("marker content %s: %v", b, err)
			}
			for name := range dirState(t, dir) {
				if strings.Contains(name, ".tmp-") {
					t.Errorf("temporary file %s left", name)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopen with the same backend, and by marker.
			db2 := mustOpen(t, kv.Config{Backend: "testa", Path: dir})
			db2.Close()
			db3 := mustOpen(t, kv.Config{Backend: "auto", Path: dir})
			if db3.Info().Backend != "testa" {
				t.Errorf("auto opened %q, want testa", db3.Info().Backend)
			}
		})
	}
}

func TestOpenBackendMismatch(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, kv.Config{Backend: "testa", Path: dir}).Close()
	before := dirState(t, dir)
	for _, ro := range []bool{false, true} {
		_, err := kv.Open(t.Context(), kv.Config{Backend: "testb", Path: dir, ReadOnly: ro})
		wantErr(t, err, kv.ErrBackendMismatch, "testa", "testb", dir)
		assertUntouched(t, dir, before)
	}
	// Even while the owner holds it open, the mismatch wins over the lock.
	db := mustOpen(t, kv.Config{Backend: "testa", Path: dir})
	_, err := kv.Open(t.Context(), kv.Config{Backend: "testb", Path: dir})
	wantErr(t, err, kv.ErrBackendMismatch)
	db.Close()
}

func TestOpenNotAStore(t *testing.T) {
	t.Run("foreign files", func(t *testing.T) {
		dir := t.TempDir()
		for _, n := range []string{"000001.sst", "MANIFEST-000001", "CURRENT"} {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("not yours "+n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := dirState(t, dir)
		for _, cfg := range []kv.Config{
			{Backend: "testa", Path: dir},
			{Backend: "testa", Path: dir, ReadOnly: true},
			{Backend: "auto", Path: dir},
		} {
			_, err := kv.Open(t.Context(), cfg)
			wantErr(t, err, kv.ErrNotAStore, dir)
			assertUntouched(t, dir, before)
		}
	})
	t.Run("subdirectory", func(t *testing.T) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		before := dirState(t, dir)
		_, err := kv.Open(t.Context(), kv.Config{Backend: "testa", Path: dir})
		wantErr(t, err, kv.ErrNotAStore, "not empty")
		assertUntouched(t, dir, before)
	})
	t.Run("path is a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "data.bolt")
		os.WriteFile(p, []byte("x"), 0o644)
		_, err := kv.Open(t.Context(), kv.Config{Backend: "testa", Path: p})
		wantErr(t, err, kv.ErrNotAStore, "directory")
	})
	t.Run("missing directory", func(t *testing.T) {
		for _, cfg := range []kv.Config{
			{Backend: "auto"},
			{Backend: "testa", ReadOnly: true},
		} {
			cfg.Path = filepath.Join(t.TempDir(), "missing")
			_, err := kv.Open(t.Context(), cfg)
			wantErr(t, err, kv.ErrNotAStore)
			if _, err := os.Stat(cfg.Path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v created the directory", cfg)
			}
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		for _, cfg := range []kv.Config{
			{Backend: "auto"},
			{Backend: "testa", ReadOnly: true},
		} {
			cfg.Path = t.TempDir()
			_, err := kv.Open(t.Context(), cfg)
			wantErr(t, err, kv.ErrNotAStore)
			assertUntouched(t, cfg.Path, map[string]string{"./": dirState(t, cfg.Path)["./"]})
		}
	})
	t.Run("bad markers", func(t *testing.T) {
		for _, tc := range []struct {
			content string
			target  error
		}{
			{"garbage", kv.ErrNotAStore},
			{`{"format":1}`, kv.ErrNotAStore},
			{`{"backend":"testa","format":99}`, kv.ErrUnsupportedFormat},
			{`{"backend":"testa","format":0}`, kv.ErrUnsupportedFormat},
		} {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, kv.MarkerFileName), []byte(tc.content), 0o644)
			before := dirState(t, dir)
			for _, b := range []string{"testa", "auto"} {
				_, err := kv.Open(t.Context(), kv.Config{Backend: b, Path: dir})
				wantErr(t, err, tc.target, dir)
				assertUntouched(t, dir, before)
			}
		}
	})
}

// A marker naming a backend that keeps no store in a directory (memory,
// or a networked one) cannot be a directory store's: "auto" must not open
// that backend, which would hand back an empty in-memory store (writes
// lost at Close) or dial a cluster, instead of the directory's data.
func TestOpenAutoRefusesMarkerOfNonDirectoryBackend(t *testing.T) {
	for _, b := range []string{"memory", "testnet"} {
		t.Run(b, func(t *testing.T) {
			dir := t.TempDir()
			m := kv.Marker{Backend: b, Format: kv.FormatVersion, Created: time.Now().UTC()}
			if err := os.WriteFile(filepath.Join(dir, kv.MarkerFileName), m.Encode(), 0o644); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, dir)
			for _, ro := range []bool{false, true} {
				db, err := kv.Open(t.Context(), kv.Config{Backend: kv.AutoBackend, Path: dir, ReadOnly: ro})
				if err == nil {
					db.Close()
				}
				wantErr(t, err, kv.ErrNotAStore, dir, b)
				assertUntouched(t, dir, before)
			}
		})
	}
}

// A first open killed before its marker was in place leaves a lock file
// and perhaps a marker's temporary file: the directory still counts as
// empty, and the next open cleans up.
func TestOpenAfterKilledFirstOpen(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "polykv.lock"), []byte("12345\n"), 0o644)
	os.WriteFile(filepath.Join(dir, kv.MarkerFileName+".tmp-123"), []byte(`{"backend":"te`), 0o600)
	db := mustOpen(t, kv.Config{Backend: "testb", Path: dir})
	if m, err := kv.ReadMarker(dir); err != nil || m.Backend != "testb" {
		t.Errorf("marker = %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(dir, kv.MarkerFileName+".tmp-123")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale marker temporary file not removed: %v", err)
	}
	db.Close()
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, kv.Config{Backend: "testa", Path: dir})
	for _, cfg := range []kv.Config{
		{Backend: "testa", Path: dir},
		{Backend: "auto", Path: dir},
		{Backend: "testa", Path: dir, ReadOnly: true},
	} {
		start := time.Now()
		_, err := kv.Open(t.Context(), cfg)
		wantErr(t, err, kv.ErrLocked, dir, "this process")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("ErrLocked took %v: Open must not wait for the lock", d)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, kv.Config{Backend: "testa", Path: dir}).Close()
}

func TestOpenReadOnlyShared(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, kv.Config{Backend: "testa", Path: dir}).Close()
	before := dirState(t, dir)
	r1 := mustOpen(t, kv.Config{Backend: "testa", Path: dir, ReadOnly: true})
	r2 := mustOpen(t, kv.Config{Backend: "auto", Path: dir, ReadOnly: true})
	if !r2.Info().ReadOnly {
		t.Error("Info().ReadOnly = false")
	}
	if err := r1.Set(t.Context(), []byte("k"), []byte("v")); !errors.Is(err, kv.ErrReadOnly) {
		t.Errorf("Set on a read-only store = %v, want ErrReadOnly", err)
	}
	_, err := kv.Open(t.Context(), kv.Config{Backend: "testa", Path: dir})
	wantErr(t, err, kv.ErrLocked)
	r1.Close()
	r2.Close()
	assertUntouched(t, dir, before)
	mustOpen(t, kv.Config{Backend: "testa", Path: dir}).Close()
}

// Many goroutines race to create the same store with two backends: every
// open either wins the directory or fails with ErrLocked or
// ErrBackendMismatch, and the marker names the backend of those that won.
func TestOpenRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	var wg sync.WaitGroup
	results := make([]struct {
		backend string
		err     error
	}, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := []string{"testa", "testb"}[i%2]
			results[i].backend = b
			db, err := kv.Open(context.Background(), kv.Config{Backend: b, Path: dir})
			results[i].err = err
			if err == nil {
				time.Sleep(time.Millisecond)
				db.Close()
			}
		}()
	}
	wg.Wait()
	m, err := kv.ReadMarker(dir)
	if err != nil {
		t.Fatal(err)
	}
	won := 0
	for _, r := range results {
		switch {
		case r.err == nil:
			won++
			if r.backend != m.Backend {
				t.Errorf("%s opened a %s store", r.backend, m.Backend)
			}
		case errors.Is(r.err, kv.ErrLocked), errors.Is(r.err, kv.ErrBackendMismatch):
		default:
			t.Errorf("%s: unexpected error %v", r.backend, r.err)
		}
	}
	if won == 0 {
		t.Error("no open succeeded")
	}
}

func TestOpenEngineFailureReleasesLock(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("boom")
	_, err := kv.OpenDriver(t.Context(), kv.Config{Backend: "testa", Path: dir}, fileDriver{name: "testa", failErr: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("OpenDriver = %v, want boom", err)
	}
	mustOpen(t, kv.Config{Backend: "testa", Path: dir}).Close()
}

func TestOpenDriver(t *testing.T) {
	dir := t.TempDir()
	// The driver need not be registered; its name goes into the marker.
	db, err := kv.OpenDriver(t.Context(), kv.Config{Backend: "private", Path: dir}, fileDriver{name: "private"})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if m, err := kv.ReadMarker(dir); err != nil || m.Backend != "private" {
		t.Errorf("marker = %+v, %v", m, err)
	}
	_, err = kv.OpenDriver(t.Context(), kv.Config{Backend: "testa", Path: dir}, fileDriver{name: "testa"})
	wantErr(t, err, kv.ErrBackendMismatch, "private", "testa")

	_, err = kv.OpenDriver(t.Context(), kv.Config{Backend: "testa", Path: dir}, nil)
	wantErr(t, err, kv.ErrInvalidConfig, "nil driver")
	_, err = kv.OpenDriver(t.Context(), kv.Config{Backend: "auto", Path: dir}, fileDriver{})
	wantErr(t, err, kv.ErrInvalidConfig, "auto")
	_, err = kv.OpenDriver(t.Context(), kv.Config{Backend: "x", Path: dir, MemoryBudget: 1}, fileDriver{})
	wantErr(t, err, kv.ErrInvalidConfig, "memory_budget")
	_, err = kv.OpenDriver(t.Context(), kv.Config{Backend: "x"}, fileDriver{})
	wantErr(t, err, kv.ErrInvalidConfig, "path")
}

func TestOpenErrors(t *testing.T) {
	_, err := kv.Open(t.Context(), kv.Config{Backend: "nosuch", Path: t.TempDir()})
	wantErr(t, err, kv.ErrUnknownBackend, `"nosuch"`, "memory", "testa", "forgotten import")
	_, err = kv.Open(t.Context(), kv.Config{Backend: "memory", Path: "/tmp/somewhere"})
	wantErr(t, err, kv.ErrInvalidConfig, "path", "memory backend")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = kv.Open(ctx, kv.Config{Backend: "testa", Path: t.TempDir()})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context = %v", err)
	}
}

// childEnv carries the directory for the child role of TestOpenLockedByOtherProcess.
const childEnv = "KV_TEST_CHILD_HOLD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if _, err := kv.Open(context.Background(), kv.Config{Backend: "testa", Path: dir}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("open")
		select {} // hold the store until killed
	}
	os.Exit(m.Run())
}

func TestOpenLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
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
	for _, ro := range []bool{false, true} {
		_, err = kv.Open(t.Context(), kv.Config{Backend: "testa", Path: dir, ReadOnly: ro})
		wantErr(t, err, kv.ErrLocked, fmt.Sprintf("pid %d", cmd.Process.Pid))
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	mustOpen(t, kv.Config{Backend: "testa", Path: dir}).Close()
}
