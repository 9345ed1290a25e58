//go:build !linux

package conformance

import "syscall"

// childProcAttr: nothing to set where there is no parent-death signal.
func childProcAttr() *syscall.SysProcAttr { return nil }
