package bbolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polykv/polykv/backends/bbolt"
	"github.com/polykv/polykv/kv"
)

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    map[string]string
		wantErr string // substring; "" means the open succeeds
		check   func(t *testing.T, st kv.Stats)
	}{
		{name: "none"},
		{name: "unknown key", opts: map[string]string{"cache_size": "1"},
			wantErr: `unknown option "cache_size" (accepted: freelist, initial_mmap_size, lock_timeout, no_freelist_sync, page_size, resident_limit)`},
		{name: "freelist array", opts: map[string]string{"freelist": "array"}},
		{name: "freelist map", opts: map[string]string{"freelist": "map"}},
		{name: "freelist bad", opts: map[string]string{"freelist": "list"}, wantErr: `freelist="list"`},
		{name: "no_freelist_sync", opts: map[string]string{"no_freelist_sync": "true"}},
		{name: "no_freelist_sync bad", opts: map[string]string{"no_freelist_sync": "yes please"}, wantErr: "no_freelist_sync"},
		{name: "page_size", opts: map[string]string{"page_size": "16KiB"}, check: func(t *testing.T, st kv.Stats) {
			if got := st.Engine.Extra["page_size"]; got != 16384 {
				t.Errorf("page_size = %d, want 16384", got)
			}
		}},
		{name: "page_size not a power of two", opts: map[string]string{"page_size": "5000"}, wantErr: "power of two"},
		{name: "page_size too small", opts: map[string]string{"page_size": "512"}, wantErr: "power of two"},
		{name: "initial_mmap_size bytes", opts: map[string]string{"initial_mmap_size": "1048576"}, check: func(t *testing.T, st kv.Stats) {
			if got := st.Engine.Extra["initial_mmap_size"]; got != 1<<20 {
				t.Errorf("initial_mmap_size = %d", got)
			}
		}},
		{name: "initial_mmap_size unit", opts: map[string]string{"initial_mmap_size": "2GiB"}, check: func(t *testing.T, st kv.Stats) {
			if got := st.Engine.Extra["initial_mmap_size"]; got != 2<<30 {
				t.Errorf("initial_mmap_size = %d", got)
			}
		}},
		{name: "initial_mmap_size zero", opts: map[string]string{"initial_mmap_size": "0"}},
		{name: "initial_mmap_size negative", opts: map[string]string{"initial_mmap_size": "-1"}, wantErr: "initial_mmap_size"},
		{name: "initial_mmap_size bad unit", opts: map[string]string{"initial_mmap_size": "3 parsecs"}, wantErr: "initial_mmap_size"},
		{name: "resident_limit default", check: func(t *testing.T, st kv.Stats) {
			if want := residentLimitIfSupported(kv.DefaultMemoryBudget); st.Engine.Extra["resident_limit"] != want {
				t.Errorf("resident_limit = %d, want %d (the default budget)", st.Engine.Extra["resident_limit"], want)
			}
		}},
		{name: "resident_limit unit", opts: map[string]string{"resident_limit": "64MiB"}, check: func(t *testing.T, st kv.Stats) {
			if want := residentLimitIfSupported(64 << 20); st.Engine.Extra["resident_limit"] != want {
				t.Errorf("resident_limit = %d, want %d", st.Engine.Extra["resident_limit"], want)
			}
		}},
		{name: "resident_limit off", opts: map[string]string{"resident_limit": "off"}, check: func(t *testing.T, st kv.Stats) {
			if got := st.Engine.Extra["resident_limit"]; got != 0 {
				t.Errorf("resident_limit = %d, want 0 (off)", got)
			}
		}},
		{name: "resident_limit zero", opts: map[string]string{"resident_limit": "0"}, check: func(t *testing.T, st kv.Stats) {
			if got := st.Engine.Extra["resident_limit"]; got != 0 {
				t.Errorf("resident_limit = %d, want 0 (off)", got)
			}
		}},
		{name: "resident_limit bad", opts: map[string]string{"resident_limit": "lots"}, wantErr: "resident_limit"},
		{name: "resident_limit negative", opts: map[string]string{"resident_limit": "-5"}, wantErr: "resident_limit"},
		{name: "lock_timeout", opts: map[string]string{"lock_timeout": "250ms"}},
		{name: "lock_timeout zero", opts: map[string]string{"lock_timeout": "0s"}, wantErr: "positive duration"},
		{name: "lock_timeout bad", opts: map[string]string{"lock_timeout": "soon"}, wantErr: "lock_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := bbolt.Open(context.Background(), kv.Config{Path: t.TempDir(), Durability: kv.NoSync, Options: tc.opts})
			if tc.wantErr != "" {
				if err == nil {
					db.Close()
					t.Fatalf("open succeeded, want an error containing %q", tc.wantErr)
				}
				if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q: want kv.ErrInvalidConfig containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			fill(t, db, "k%04d", 0, 500, []byte("value"))
			if got := count(t, db, kv.IterOptions{}); got != 500 {
				t.Fatalf("%d keys", got)
			}
			if tc.check != nil {
				st, err := db.Stats()
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, st)
			}
		})
	}
}

// TestOptionsKeptAcrossReopen: a store created with one page size and
// freelist reopens with others given (bbolt reads the page size from the
// file) and keeps its data.
func TestOptionsKeptAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, map[string]string{"page_size": "8192", "no_freelist_sync": "true", "freelist": "array"})
	fill(t, db, "k%04d", 0, 1000, []byte("value"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, map[string]string{"page_size": "4096"})
	if got := count(t, db, kv.IterOptions{}); got != 1000 {
		t.Fatalf("%d keys after reopen", got)
	}
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Engine.Extra["page_size"]; got != 8192 {
		t.Fatalf("page_size = %d after reopen, want the file's 8192", got)
	}
}

// TestValidateConfig: the driver checks its options without touching the
// file system.
func TestValidateConfig(t *testing.T) {
	d := bbolt.Driver{}
	if err := d.ValidateConfig(&kv.Config{Options: map[string]string{"freelist": "array", "lock_timeout": "2s"}}); err != nil {
		t.Fatal(err)
	}
	err := d.ValidateConfig(&kv.Config{Options: map[string]string{"nope": "1"}})
	if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("ValidateConfig with an unknown key: %v", err)
	}
}

// TestBadOptionTouchesNothing: kv.Open asks the driver to check its
// options before it creates the directory.
func TestBadOptionTouchesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	_, err := kv.Open(context.Background(), kv.Config{Backend: "bbolt", Path: dir, Options: map[string]string{"freelist": "tree"}})
	if !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("open with a bad option: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the directory was created (or stat failed): %v", err)
	}
}
