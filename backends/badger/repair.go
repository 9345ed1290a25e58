package badger

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// removeEmptyLogs deletes the zero-length .vlog and .mem files in dir
// before Badger opens it.
//
// Badger creates a log file (O_CREATE|O_EXCL) and only then extends it and
// writes its header. A process killed between the two leaves a file of
// zero bytes, and Badger v4.9 cannot open such a directory again: opening
// an existing empty log returns ristretto's z.NewFile sentinel, which
// valueLog.open and openMemTables treat as a failure ("Open existing file:
// ... err: Create a new file"), after Badger has already started its
// background goroutines. The crash test finds this within a few hundred
// kills. An empty log holds no entry and nothing points into it, so
// removing it loses nothing.
func removeEmptyLogs(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() || (!strings.HasSuffix(name, ".vlog") && !strings.HasSuffix(name, ".mem")) {
			continue
		}
		info, err := de.Info()
		if err != nil || info.Size() != 0 {
			continue
		}
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove empty log %s: %w", path, err)
		}
		removed = true
		if log != nil {
			log.Warn("badger: removed an empty log file left by an interrupted open", slog.String("file", path))
		}
	}
	if removed {
		return fsyncFile(dir)
	}
	return nil
}

// uncleanLog returns the name of a log file in dir that only a read-write
// open can deal with, or "" if there is none: a memtable log (.mem), which
// Badger deletes when it closes cleanly and, after a kill, must truncate
// at its last entry before it can read it (Badger preallocates the file),
// or an empty log (see removeEmptyLogs). A read-only open refuses the
// store with kv.ErrNeedsRecovery instead of letting Badger fail half way
// through its open ("Log truncate required to run DB. This might result
// in data loss", which is not so: only the unused end of the file goes).
func uncleanLog(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() {
			continue
		}
		if strings.HasSuffix(name, ".mem") {
			return name, nil
		}
		if strings.HasSuffix(name, ".vlog") {
			if info, err := de.Info(); err == nil && info.Size() == 0 {
				return name, nil
			}
		}
	}
	return "", nil
}
