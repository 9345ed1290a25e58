//go:build !linux

package conformance

import (
	"os"
	"testing"
)

// PowerCut makes the crash test's kill a power cut (see the Linux
// version). Elsewhere NewPowerCut skips the test.
type PowerCut struct {
	Cuts, Retakes int
}

// NewPowerCut skips the test: power cuts need Linux loop devices.
func NewPowerCut(t testing.TB, size int64) *PowerCut {
	t.Skip("power cut: Linux only (loop devices)")
	return nil
}

// Dir is the mount point of the test's file system.
func (p *PowerCut) Dir() string { return "" }

// Cut kills proc.
func (p *PowerCut) Cut(proc *os.Process) error { return proc.Kill() }

// Restore does nothing.
func (p *PowerCut) Restore() error { return nil }
