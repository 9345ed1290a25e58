package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polykv/polykv/kv"
)

// TestBackupLoadRoundTrip: on every backend, the backup file is the
// store's dump byte for byte, load restores it into any backend, and the
// restored store dumps to the same bytes again.
func TestBackupLoadRoundTrip(t *testing.T) {
	backends := []string{"badger", "pebble", "bbolt"}
	for i, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			src := backend + "://" + t.TempDir() + "/src"
			fill(t, src, 2000)
			var pairs []string
			for _, h := range hostile {
				pairs = append(pairs, h.key, h.value)
			}
			put(t, src, pairs...)
			file := filepath.Join(t.TempDir(), "store.backup")
			code, out, errOut := polykv(t, nil, "backup", src, file)
			if code != 0 || out != "" || !strings.Contains(errOut, "polykv load") {
				t.Fatalf("backup: exit %d, %q: %s", code, out, errOut)
			}
			backup, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, dumped, _ := polykv(t, nil, "dump", src)
			if !bytes.HasPrefix(backup, []byte(kv.DumpMagic)) || string(backup) != dumped {
				t.Fatalf("the backup (%d bytes) is not the store's dump (%d bytes): load could not restore it", len(backup), len(dumped))
			}
			if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("backup left %s.tmp behind: %v", file, err)
			}
			if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("backup file mode: %v, %v; want 0600", st.Mode(), err)
			}
			for _, into := range []string{backend, backends[(i+1)%len(backends)]} {
				dst := into + "://" + t.TempDir() + "/dst"
				if code, _, errOut := polykv(t, backup, "load", dst); code != 0 {
					t.Fatalf("load into %s: exit %d: %s", into, code, errOut)
				}
				if _, again, _ := polykv(t, nil, "dump", dst); again != string(backup) {
					t.Errorf("restored into %s: its dump differs from the backup (%d bytes, want %d)", into, len(again), len(backup))
				}
			}
		})
	}
	t.Run("memory", func(t *testing.T) {
		// Nothing outlives a command: the API round trip, and the
		// command's backup of a fresh store (empty, and loadable).
		db, err := kv.Open(t.Context(), kv.Config{Backend: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, h := range hostile {
			if err := db.Set(t.Context(), []byte(h.key), []byte(h.value)); err != nil {
				t.Fatal(err)
			}
		}
		var backup, want bytes.Buffer
		if err := db.Backup(t.Context(), &backup); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Dump(t.Context(), db, &want); err != nil {
			t.Fatal(err)
		}
		other, err := kv.Open(t.Context(), kv.Config{Backend: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if n, err := kv.Load(t.Context(), other, bytes.NewReader(backup.Bytes())); err != nil || n != int64(len(hostile)) {
			t.Fatalf("Load of the backup: %d keys, %v", n, err)
		}
		var again bytes.Buffer
		if _, err := kv.Dump(t.Context(), other, &again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(backup.Bytes(), want.Bytes()) || !bytes.Equal(again.Bytes(), backup.Bytes()) {
			t.Errorf("memory: backup %d bytes, dump %d, dump after load %d: not identical", backup.Len(), want.Len(), again.Len())
		}
		file := filepath.Join(t.TempDir(), "empty.backup")
		if code, _, errOut := polykv(t, nil, "backup", "memory:", file); code != 0 {
			t.Fatalf("backup memory: exit %d: %s", code, errOut)
		}
		empty, _ := os.ReadFile(file)
		if code, _, errOut := polykv(t, empty, "load", "bbolt://"+t.TempDir()+"/e"); code != 0 {
			t.Errorf("load of an empty store's backup: exit %d: %s", code, errOut)
		}
	})
}

// TestBackupFile: an existing FILE is replaced only with --force; a failed
// backup leaves neither FILE nor FILE.tmp (and an older FILE untouched);
// usage errors exit 2 before anything is created.
func TestBackupFile(t *testing.T) {
	src := "bbolt://" + t.TempDir() + "/src"
	put(t, src, "k", "v")
	dir := t.TempDir()
	file := filepath.Join(dir, "b")
	if err := os.WriteFile(file, []byte("older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := polykv(t, nil, "backup", src, file); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("backup over an existing file: exit %d, want 1 asking for --force: %s", code, errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != "older backup" {
		t.Errorf("the refused backup changed the file: %q", b)
	}
	// A stale FILE.tmp from an interrupted backup is overwritten.
	if err := os.WriteFile(file+".tmp", []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := polykv(t, nil, "backup", file, "--force", src); code != 2 {
		t.Errorf("backup with its arguments swapped: exit %d, want 2: %s", code, errOut)
	}
	if code, _, errOut := polykv(t, nil, "backup", src, file, "--force"); code != 0 {
		t.Fatalf("backup --force: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(file); !bytes.HasPrefix(b, []byte(kv.DumpMagic)) {
		t.Errorf("backup --force did not replace the file: %q", b)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("FILE.tmp is left: %v", err)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"nosuch:///x", filepath.Join(dir, "n1")}, 2},
		{[]string{src}, 2},
		{[]string{src, ""}, 2},
		{[]string{src, "-"}, 2},
		{[]string{src, filepath.Join(strings.TrimPrefix(src, "bbolt://"), "n4")}, 2},
		{[]string{src, filepath.Join(strings.TrimPrefix(src, "bbolt://"), "sub", "..", "n5")}, 2},
		{[]string{"pebble://" + t.TempDir() + "/none", filepath.Join(dir, "n2")}, 1},
		{[]string{src, filepath.Join(dir, "no-such-dir", "n3")}, 1},
	} {
		code, _, errOut := polykv(t, nil, append([]string{"backup"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("backup %q: exit %d, want %d: %s", tc.args, code, tc.code, errOut)
		}
	}
	store := strings.TrimPrefix(src, "bbolt://")
	for _, d := range []string{dir, store} {
		if left, _ := filepath.Glob(filepath.Join(d, "n*")); len(left) > 0 {
			t.Errorf("failed backups left %q", left)
		}
	}
	// --force replaces regular files only: it renames a new file over the
	// old one, which turned a device (/dev/null, as root), a pipe or a
	// symbolic link into a plain file, and failed late on a directory.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "subdir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, special := range []string{link, sub} {
		code, _, errOut := polykv(t, nil, "backup", "--force", src, special)
		fi, err := os.Lstat(special)
		if code != 2 || !strings.Contains(errOut, "not a regular file") || err != nil || fi.Mode().IsRegular() {
			t.Errorf("backup --force onto %s: exit %d (%s), now %v %v; want exit 2 and the file left as it was", special, code, errOut, fi.Mode(), err)
		}
	}

	// Beside the store, in a name that starts like its directory: allowed.
	if code, _, errOut := polykv(t, nil, "backup", src, store+".backup"); code != 0 {
		t.Errorf("backup to %s.backup: exit %d: %s", store, code, errOut)
	}

	// A backup that fails while writing (here: cancelled) removes its
	// FILE.tmp and leaves the older FILE as it was.
	cfg, _ := kv.ParseDSN(src + "?readonly=true")
	db, err := kv.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before, _ := os.ReadFile(file)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := backupToFile(ctx, db, file); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled backup: %v, want context.Canceled", err)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, before) {
		t.Error("a failed backup changed the existing FILE")
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("a failed backup left FILE.tmp: %v", err)
	}
}

// stallingWriter holds the first write of a backup until release is
// closed: the backup's snapshot is taken and its first chunk read, the rest
// of the store is still to be read.
type stallingWriter struct {
	buf     bytes.Buffer
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (w *stallingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.started)
		<-w.release
	})
	return w.buf.Write(p)
}

// TestBackupWhileWriting: kv.DB.Backup on an open store while writers
// commit is one consistent snapshot. Each writer transaction increments a
// counter kept twice, under the first key and the last: a backup that read
// the store as it changed would hold two different values. The first write
// of each backup stalls until writers have committed more transactions
// after the backup began, so the backup's iteration provably spans commits.
// Two backups per backend (one with -short, 30 under POLYKV_STRESS=1).
func TestBackupWhileWriting(t *testing.T) {
	const filler = 20000 // > 1 MiB of records: the dump's buffer flushes before "z" is read
	for _, backend := range []string{"badger", "pebble", "bbolt", "memory"} {
		t.Run(backend, func(t *testing.T) {
			cfg := kv.Config{Backend: backend, Durability: kv.NoSync}
			if backend != "memory" {
				cfg.Path = filepath.Join(t.TempDir(), "s")
			}
			db, err := kv.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			w := kv.NewBulkWriter(t.Context(), db)
			val := bytes.Repeat([]byte{'v'}, 60)
			for i := range filler {
				if err := w.Set(fmt.Appendf(nil, "m%06d", i), val); err != nil {
					t.Fatal(err)
				}
			}
			if err := errors.Join(w.Set([]byte("a"), []byte("0")), w.Set([]byte("z"), []byte("0")), w.Close()); err != nil {
				t.Fatal(err)
			}

			var commits atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			writeErr := make(chan error, 2)
			for range 2 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						err := db.Update(t.Context(), func(tx kv.Txn) error {
							a, err := tx.Get([]byte("a"))
							if err != nil {
								return err
							}
							n, err := strconv.Atoi(string(a))
							if err != nil {
								return err
							}
							next := []byte(strconv.Itoa(n + 1))
							return errors.Join(tx.Set([]byte("a"), next), tx.Set([]byte("z"), next))
						})
						if err != nil {
							writeErr <- err
							return
						}
						commits.Add(1)
					}
				})
			}
			defer func() {
				close(stop)
				wg.Wait()
			}()

			rounds := 2
			switch {
			case testing.Short():
				rounds = 1
			case os.Getenv("POLYKV_STRESS") != "":
				rounds = 30
			}
			for round := range rounds {
				sw := &stallingWriter{started: make(chan struct{}), release: make(chan struct{})}
				done := make(chan error, 1)
				go func() { done <- db.Backup(t.Context(), sw) }()
				<-sw.started
				from := commits.Load()
				deadline := time.Now().Add(10 * time.Second)
				for commits.Load() < from+5 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				during := commits.Load() - from
				close(sw.release)
				if err := <-done; err != nil {
					t.Fatalf("round %d: Backup: %v", round, err)
				}
				if during < 5 {
					t.Fatalf("round %d: writers committed %d transactions during the backup, want 5 or more", round, during)
				}
				restored, err := kv.Open(t.Context(), kv.Config{Backend: "memory"})
				if err != nil {
					t.Fatal(err)
				}
				n, err := kv.Load(t.Context(), restored, bytes.NewReader(sw.buf.Bytes()))
				if err != nil || n != filler+2 {
					t.Fatalf("round %d: Load of the backup: %d keys, %v; want %d", round, n, err, filler+2)
				}
				a, errA := restored.Get(t.Context(), []byte("a"))
				z, errZ := restored.Get(t.Context(), []byte("z"))
				restored.Close()
				if errA != nil || errZ != nil || string(a) != string(z) {
					t.Fatalf("round %d: torn backup: a=%q (%v), z=%q (%v): not one snapshot", round, a, errA, z, errZ)
				}
				t.Logf("round %d: %d commits during the backup; it holds counter %s", round, during, a)
			}
			select {
			case err := <-writeErr:
				t.Fatalf("writer: %v", err)
			default:
			}
		})
	}
}

// A leftover FILE.tmp that is a symbolic link (or a file of another mode)
// is replaced, not written through: the backup wrote the dump into the
// link's target and left FILE a link to it; a leftover 0666 FILE.tmp
// gave a 0666 FILE, not 0600.
func TestBackupLeftoverTmp(t *testing.T) {
	src := "bbolt://" + t.TempDir() + "/src"
	put(t, src, "k", "v")
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("someone else's file"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "b")
	if err := os.Symlink(victim, file+".tmp"); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := polykv(t, nil, "backup", src, file); code != 0 {
		t.Fatalf("backup beside a leftover FILE.tmp link: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(victim); string(b) != "someone else's file" {
		t.Errorf("the backup wrote through the leftover link into its target: %.40q", b)
	}
	fi, err := os.Lstat(file)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("FILE after the backup: %v %v, want a regular file", fi.Mode(), err)
	}
	file2 := filepath.Join(dir, "b2")
	if err := os.WriteFile(file2+".tmp", []byte("stale"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file2+".tmp", 0o666); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := polykv(t, nil, "backup", src, file2); code != 0 {
		t.Fatalf("backup beside a leftover 0666 FILE.tmp: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(file2); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("FILE made over a leftover 0666 FILE.tmp: mode %v %v, want 0600", fi.Mode(), err)
	}
}

// The store's directory reached through a symbolic link is still the
// store's: a backup there is refused. A network store (etcd) has no
// directory: its key prefix is not one.
func TestBackupWithinStoreThroughLink(t *testing.T) {
	base := t.TempDir()
	src := "bbolt://" + base + "/src"
	put(t, src, "k", "v")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Join(base, "src"), link); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := polykv(t, nil, "backup", src, filepath.Join(link, "bk"))
	if code != 2 || !strings.Contains(errOut, "inside the store's directory") {
		t.Errorf("backup into the store's directory through a link: exit %d, want 2: %s", code, errOut)
	}
	if _, err := os.Lstat(filepath.Join(base, "src", "bk")); !os.IsNotExist(err) {
		t.Errorf("the backup was written inside the store: %v", err)
	}
	in, err := within("/tmp", "/tmp/x.bk")
	if err != nil || !in {
		t.Fatalf("within(/tmp, /tmp/x.bk) = %v, %v", in, err)
	}
	cfg, err := kv.ParseDSN("etcd://127.0.0.1:1/tmp")
	if err != nil || len(cfg.Endpoints) == 0 {
		t.Skipf("an etcd DSN does not parse here: %v", err)
	}
	_, _, errOut = polykv(t, nil, "backup", "etcd://127.0.0.1:1/tmp?opt.dial_timeout=100ms", filepath.Join(t.TempDir(), "x.bk"))
	if strings.Contains(errOut, "inside the store's directory") {
		t.Errorf("backup of an etcd store judged the file against its key prefix as a directory: %s", errOut)
	}
}
