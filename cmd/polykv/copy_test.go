package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polykv/polykv/conformance"
	"github.com/polykv/polykv/kv"
)

// failingStore fails every Write after the first ok ones.
type failingStore struct {
	kv.Store
	ok int
}

func (f *failingStore) Write(ctx context.Context, b *kv.Batch) error {
	if f.ok == 0 {
		return errors.New("disk full")
	}
	f.ok--
	return f.Store.Write(ctx, b)
}

// TestCopyFailureSaysWhatWasWritten: a copy that fails after some chunks
// were written must say that the destination now holds a part of the
// source, not only the cause.
func TestCopyFailureSaysWhatWasWritten(t *testing.T) {
	open := func() *kv.DB {
		db, err := kv.Open(t.Context(), kv.Config{Backend: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	src, dst := open(), open()
	w := kv.NewBulkWriter(t.Context(), src)
	for i := range 3000 {
		if err := w.Set(fmt.Appendf(nil, "k%06d", i), bytes.Repeat([]byte{'v'}, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := copyStore(t.Context(), src, &failingStore{Store: dst, ok: 2})
	n := 0
	if err := dst.Iterate(t.Context(), kv.IterOptions{KeysOnly: true}, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing was written: the test needs more than two chunks")
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "incomplete") ||
		!strings.Contains(err.Error(), fmt.Sprintf("%d keys", n)) {
		t.Errorf("copy failed after writing %d keys; its error does not say so: %v", n, err)
	}
}

// TestLoadCopyIntoEmptyDirectory: a DST that is an existing empty
// directory is staged and moved into place, as the docs say. os.Rename
// refuses to replace a directory, so both commands failed after all the
// work, and the message named as holding the store a staging directory
// that had been removed.
func TestLoadCopyIntoEmptyDirectory(t *testing.T) {
	base := t.TempDir()
	src := "pebble://" + filepath.Join(base, "src")
	want := fill(t, src, 200)
	_, dump, _ := polykv(t, nil, "dump", src)
	for _, tc := range []struct{ cmd, dst, link string }{
		{"load", "bbolt://" + filepath.Join(base, "load-dst"), ""},
		{"copy", "badger://" + filepath.Join(base, "copy-dst"), ""},
		// The empty directory reached through a symbolic link: the
		// store goes into the directory, the link stays.
		{"load", "pebble://" + filepath.Join(base, "load-link"), filepath.Join(base, "load-real")},
		{"copy", "bbolt://" + filepath.Join(base, "copy-link"), filepath.Join(base, "copy-real")},
	} {
		dir := tc.dst[strings.Index(tc.dst, "://")+3:]
		made := dir
		if tc.link != "" {
			made = tc.link
			if err := os.Symlink(tc.link, dir); err != nil {
				t.Fatal(err)
			}
		}
		// A mode of the user's own, which the store's directory keeps.
		if err := os.Mkdir(made, 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(made, 0o711); err != nil {
			t.Fatal(err)
		}
		code, errOut := loadOrCopy(t, tc.cmd, dump, src, tc.dst)
		if code != 0 {
			t.Errorf("%s into an existing empty directory: exit %d: %s", tc.cmd, code, errOut)
			continue
		}
		if got := contents(t, tc.dst); !maps.Equal(got, want) {
			t.Errorf("%s into an existing empty directory: %d keys, want %d", tc.cmd, len(got), len(want))
		}
		if fi, err := os.Stat(made); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("%s into an existing empty directory (mode 0711): now %v, %v", tc.cmd, fi.Mode(), err)
		}
		if tc.link != "" {
			if fi, err := os.Lstat(dir); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s through a link: the link %s is no longer a link (%v, %v)", tc.cmd, dir, fi.Mode(), err)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(base, ".*partial*")); len(left) > 0 {
			t.Errorf("%s left staging directories: %q", tc.cmd, left)
		}
	}
}

// TestLoadCopyNewStoreMode: a store that load or copy creates has the
// mode of one kv.Open creates (0755 less the umask). The staging
// directory was made by os.MkdirTemp, 0700, and kept that mode when it
// was renamed into place.
func TestLoadCopyNewStoreMode(t *testing.T) {
	base := t.TempDir()
	src := "pebble://" + filepath.Join(base, "src")
	fill(t, src, 50)
	_, dump, _ := polykv(t, nil, "dump", src)
	opened := filepath.Join(base, "opened")
	db := openTestStore(t, "bbolt://"+opened)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(opened)
	if err != nil {
		t.Fatal(err)
	}
	want := fi.Mode().Perm()
	for _, tc := range []struct{ cmd, dst string }{
		{"load", "bbolt://" + filepath.Join(base, "load-dst")},
		{"copy", "badger://" + filepath.Join(base, "copy-dst")},
	} {
		code, errOut := loadOrCopy(t, tc.cmd, dump, src, tc.dst)
		if code != 0 {
			t.Errorf("%s into a new store: exit %d: %s", tc.cmd, code, errOut)
			continue
		}
		dir := tc.dst[strings.Index(tc.dst, "://")+3:]
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s into a new store: mode %v; kv.Open makes %v", tc.cmd, got, want)
		}
	}
}

// TestCopyIntoSource: a destination inside the source's directory is a
// usage error (it was copied there, inside the source store).
func TestCopyIntoSource(t *testing.T) {
	dir := t.TempDir() + "/src"
	put(t, "pebble://"+dir, "k", "v")
	for _, dst := range []string{"bbolt://" + dir + "/sub", "bbolt://" + dir} {
		if code, _, errOut := polykv(t, nil, "copy", "pebble://"+dir, dst); code != 2 || !strings.Contains(errOut, "inside the source") {
			t.Errorf("copy into %s: exit %d: %s; want 2", dst, code, errOut)
		}
	}
	if _, err := os.Stat(dir + "/sub"); !os.IsNotExist(err) {
		t.Errorf("the refused copy created %s/sub: %v", dir, err)
	}
}

// loadOrCopy runs polykv load (dump on its stdin) or copy (from src) into
// dst, and returns its exit code and stderr.
func loadOrCopy(t *testing.T, cmd, dump, src, dst string) (int, string) {
	t.Helper()
	var code int
	var errOut string
	if cmd == "load" {
		code, _, errOut = polykv(t, []byte(dump), "load", dst)
	} else {
		code, _, errOut = polykv(t, nil, "copy", src, dst)
	}
	return code, errOut
}

// TestCopyRefusalDoesNotAdviseDiscarding: a copy refused before it wrote
// anything (the destination already holds keys) leaves the destination as
// it was, and must not tell the user to discard it: every copy error used
// to end in "discard the destination and copy into an empty store", which
// for a refused non-empty destination is advice to delete a store holding
// the user's own data.
func TestCopyRefusalDoesNotAdviseDiscarding(t *testing.T) {
	base := t.TempDir()
	src := "pebble://" + filepath.Join(base, "src")
	dst := "bbolt://" + filepath.Join(base, "dst")
	fill(t, src, 50)
	want := fill(t, dst, 20)
	code, _, errOut := polykv(t, nil, "copy", src, dst)
	if code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("copy into a store that holds keys: exit %d, %s; want 1 and 'not empty'", code, errOut)
	}
	if strings.Contains(errOut, "discard") {
		t.Errorf("copy refused before writing anything, yet advises discarding the destination: %s", errOut)
	}
	sameContents(t, contents(t, dst), want)
}

// TestLoadCopyIntoEmptyMountPoint: an empty directory on which a file
// system is mounted (XFS, tmpfs and NFS mount points and container volumes
// are empty) cannot be replaced by a store built beside it. load and copy
// built the whole store on the parent's file system and only then failed
// to move it into place (remove: device or resource busy), leaving it
// there; they are refused before anything is written. Linux and root only
// (a tmpfs).
func TestLoadCopyIntoEmptyMountPoint(t *testing.T) {
	mnt := conformance.MountTmpfs(t, 8<<20)
	src := "pebble://" + filepath.Join(t.TempDir(), "src")
	fill(t, src, 50)
	_, dump, _ := polykv(t, nil, "dump", src)
	for _, cmd := range []string{"load", "copy"} {
		code, errOut := loadOrCopy(t, cmd, dump, src, "bbolt://"+mnt)
		if code != 2 || !strings.Contains(errOut, "mounted") || !strings.Contains(errOut, mnt+" ") {
			t.Errorf("%s into an empty mount point: exit %d, want 2 saying it is a mount point: %s", cmd, code, errOut)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(mnt), ".*partial*")); len(left) > 0 {
			t.Errorf("%s into an empty mount point left %q on the parent's file system", cmd, left)
			for _, l := range left {
				os.RemoveAll(l)
			}
		}
		if entries, _ := os.ReadDir(mnt); len(entries) > 0 {
			t.Errorf("%s into an empty mount point wrote into it: %v", cmd, entries)
		}
	}
	// A directory inside it, as the message says, is staged on the
	// mounted file system and moved into place.
	dst := "bbolt://" + filepath.Join(mnt, "store")
	if code, errOut := loadOrCopy(t, "load", dump, src, dst); code != 0 {
		t.Fatalf("load into a directory inside the mount point: exit %d: %s", code, errOut)
	}
	sameContents(t, contents(t, dst), contents(t, src))
}
