package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/polykv/polykv/kv"
)

const backupDoc = `
Writes a consistent backup of the store to FILE: one snapshot of every key
and value (kv.DB.Backup), in the polykv dump format on every backend (see
'polykv dump --help'). The store is opened read-only.

The backup is written to FILE.tmp, synced to disk, and only then renamed to
FILE (and the directory synced): a FILE that exists is a complete backup; an
interrupted backup leaves at most a FILE.tmp, which the next backup
overwrites. An existing FILE is replaced only with --force. FILE is created
readable by its owner only (mode 0600): it holds every value of the store.

Restore it into an empty store of any backend with load, which checks the
trailer's record count and checksum:

  polykv load pebble:///var/lib/restored < FILE

A program that has the store open backs it up through the API instead, while
it keeps writing: kv.DB.Backup writes one consistent snapshot.
`

func runBackup(ctx context.Context, s stdio, args []string) error {
	fs := newFlags(s, "backup", "[flags] DSN FILE", backupDoc)
	force := fs.Bool("force", false, "replace FILE if it exists")
	if err := parse(fs, s, args); err != nil {
		return err
	}
	if err := wantArgs(fs, "DSN", "FILE"); err != nil {
		return err
	}
	cfg, err := parseDSN(fs.Arg(0))
	if err != nil {
		return err
	}
	file := fs.Arg(1)
	switch file {
	case "":
		return fmt.Errorf("%w: FILE is empty", errUsage)
	case "-":
		return fmt.Errorf("%w: FILE is \"-\": backup writes a file (to write the same stream to stdout, use polykv dump)", errUsage)
	}
	dir := cfg.Path
	if len(cfg.Endpoints) > 0 {
		dir = "" // a cluster store's path is a key prefix, not a directory
	}
	if inside, err := within(dir, file); err != nil {
		return err
	} else if inside {
		return fmt.Errorf("%w: %s is inside the store's directory %s: a backup must live apart from the store", errUsage, file, cfg.Path)
	}
	if fi, err := os.Lstat(file); err == nil {
		switch {
		case !fi.Mode().IsRegular():
			// --force replaces by renaming over it: a device (/dev/null),
			// a pipe, a symbolic link or a directory would become, or be
			// refused as, a plain file.
			return fmt.Errorf("%w: %s exists and is not a regular file (%s): backup writes a new file in its place, so it replaces only regular files",
				errUsage, file, fileKind(fi.Mode()))
		case !*force:
			return fmt.Errorf("%s exists: give --force to replace it", file)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := openDSN(ctx, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := backupToFile(ctx, db, file)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "polykv backup: %s: %d bytes (restore: polykv load DSN < %s)\n", file, n, file)
	return nil
}

// backupToFile writes db's backup to file through file.tmp, synced and
// renamed, and returns its size. On failure file.tmp is removed and file is
// untouched.
func backupToFile(ctx context.Context, db *kv.DB, file string) (n int64, err error) {
	tmp := file + ".tmp"
	// A leftover FILE.tmp is removed, not opened: opening it would write
	// through a symbolic link into its target, and keep the mode of a file
	// made by someone else. The new one is created exclusively, mode 0600.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("remove the leftover %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	cw := &countWriter{w: f}
	if err := db.Backup(ctx, cw); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return 0, err
	}
	// The rename is durable once the directory is synced.
	if err := syncDir(filepath.Dir(file)); err != nil {
		return cw.n, fmt.Errorf("sync the directory of %s: %w", file, err)
	}
	return cw.n, nil
}

// fileKind names the kind of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// within reports whether file would be inside dir (dir empty: never),
// symbolic links resolved: a file reached through a link to the directory
// is inside it.
func within(dir, file string) (bool, error) {
	if dir == "" {
		return false, nil
	}
	d, err := resolvePath(dir)
	if err != nil {
		return false, err
	}
	f, err := resolvePath(file)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(d, f)
	if err != nil {
		return false, nil
	}
	return rel == "." || rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)), nil
}

// resolvePath returns p absolute with its symbolic links resolved, as far
// as it exists: a path whose last elements do not exist yet keeps them, under
// its longest existing parent resolved.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
