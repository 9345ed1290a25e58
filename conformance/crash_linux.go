//go:build linux

package conformance

import "syscall"

// childProcAttr makes a crash-test child die with its parent: a parent
// that fails or times out between stopping and killing it (a power cut)
// would otherwise leave it stopped, holding its store and the disk.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
