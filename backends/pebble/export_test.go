package pebble

import "github.com/cockroachdb/pebble/v2/vfs"

// SetWrapFS makes every engine opened afterwards use wrap(vfs.Default) as
// its file system, until the returned function restores the default. Tests
// using it must not run in parallel.
func SetWrapFS(wrap func(vfs.FS) vfs.FS) (restore func()) {
	wrapFS = wrap
	return func() { wrapFS = nil }
}
