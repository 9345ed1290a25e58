package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/polykv/polykv/internal/dirlock"
)

// MarkerFileName is the file that marks a directory as a polykv store. It is
// written atomically before the engine first opens the directory.
const MarkerFileName = "polykv.marker"

// FormatVersion is the store format this build writes and reads.
const FormatVersion = 1

// Marker is the content of a store's marker file.
type Marker struct {
	Backend string    `json:"backend"`
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
}

// ReadMarker reads the marker of the store in dir. It returns an error
// wrapping fs.ErrNotExist when dir has no marker.
func ReadMarker(dir string) (Marker, error) {
	var m Marker
	b, err := os.ReadFile(filepath.Join(dir, MarkerFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return m, err
	}
	if err != nil {
		return m, fmt.Errorf("kv: read marker: %w", err)
	}
	return ParseMarker(b, dir)
}

// ParseMarker decodes a marker written by Marker.Encode and checks it;
// where names the store in errors. Stores that are not directories keep
// their marker in this form too (NetworkEngine).
func ParseMarker(b []byte, where string) (Marker, error) {
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %s: unreadable marker: %v", ErrNotAStore, where, err)
	}
	if m.Backend == "" {
		return m, fmt.Errorf("%w: %s: marker names no backend", ErrNotAStore, where)
	}
	if m.Format < 1 || m.Format > FormatVersion {
		return m, fmt.Errorf("%w: %s: format %d, this build reads 1 to %d", ErrUnsupportedFormat, where, m.Format, FormatVersion)
	}
	return m, nil
}

// Encode returns the marker as it is stored.
func (m Marker) Encode() []byte {
	b, _ := json.MarshalIndent(m, "", "  ") // a struct of strings, ints and a time: cannot fail
	return append(b, '\n')
}

// writeMarker writes the marker atomically: a temporary file, fsync,
// rename, fsync of the directory.
func writeMarker(dir string, m Marker) error {
	b := m.Encode()
	tmp, err := os.CreateTemp(dir, MarkerFileName+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	// CreateTemp makes the file 0600; a marker is readable by all.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmpName, filepath.Join(dir, MarkerFileName)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeStaleMarkerTemps removes the temporary files of marker writes that
// a killed process left behind. The caller holds the exclusive lock, so no
// marker write is in progress.
func removeStaleMarkerTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), MarkerFileName+".tmp-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// dirIsEmpty reports whether dir has no entries.
func dirIsEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	for _, n := range names {
		// A lock file or a marker's temporary file are left when a first
		// open was killed before its marker was in place.
		if n == dirlock.FileName || strings.HasPrefix(n, MarkerFileName+".tmp-") {
			continue
		}
		return false, nil
	}
	return true, nil
}
