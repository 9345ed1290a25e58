package conformance

import (
	"path/filepath"
	"testing"
)

// WithPowerCut returns opts with each kill made a power cut: in the
// parent, a new PowerCut of size bytes (NewPowerCut: skipped where it
// cannot be mounted) and each mode's store in a directory on it; in a
// crash child, opts unchanged (it writes where its parent says). Call it
// in the test that calls RunCrash, before RunCrash.
func WithPowerCut(t *testing.T, opts CrashOptions, size int64) CrashOptions {
	t.Helper()
	if InChild() {
		return opts
	}
	pc := NewPowerCut(t, size)
	opts.PowerCut = pc
	opts.Location = func(t *testing.T) string { return filepath.Join(pc.Dir(), filepath.Base(t.Name())) }
	return opts
}
