package bbolt

import (
	"log/slog"
	"os"

	bolt "go.etcd.io/bbolt"
)

// mappingWatch warns once when the data file passes half of the mapping
// made at open. Past the mapping, bbolt remaps the file at a commit, and a
// remap waits for every open read transaction: a write made from inside an
// iteration callback then waits for itself forever (package documentation,
// "Writing while iterating"). The warning comes while there is room left,
// naming the option that raises the mapping at the next open.
type mappingWatch struct {
	warnAt int64 // file size that triggers the warning; 0: never
	mapped int64 // the mapping made at open
	path   string
	logger *slog.Logger
}

// newMappingWatch returns the watch for a file opened with bo. With
// bbolt's own mapping (InitialMmapSize 0: the file's size, doubled as it
// grows) every growth remaps, so there is nothing to warn of in advance.
func newMappingWatch(path string, bo *bolt.Options, logger *slog.Logger) mappingWatch {
	if bo.InitialMmapSize <= 0 || bo.ReadOnly {
		return mappingWatch{}
	}
	mapped := int64(bo.InitialMmapSize)
	if fi, err := os.Stat(path); err == nil && fi.Size() > mapped {
		mapped = fi.Size() // bbolt maps at least the file
	}
	return mappingWatch{warnAt: mapped / 2, mapped: mapped, path: path, logger: logger}
}

// check runs at the start of each write transaction: tx.Size() is the
// file's high-water mark after the previous commit.
func (w *mappingWatch) check(tx *bolt.Tx) {
	if w.warnAt == 0 || tx.Size() < w.warnAt {
		return
	}
	w.warnAt = 0
	w.logger.Warn("bbolt: the data file is past half of its mapping; once it outgrows the mapping, "+
		"every growth remaps the file, and a write made inside an Iterate callback then waits forever. "+
		"Reopen the store with a larger "+OptInitialMmapSize,
		"path", w.path, "file_bytes", tx.Size(), "mapped_bytes", w.mapped)
}
