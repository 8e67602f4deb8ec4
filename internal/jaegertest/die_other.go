//go:build !linux

package jaegertest

import "syscall"

// dieWithParent has no parent-death signal to ask for outside Linux:
// there a test binary killed hard leaves its Jaeger running.
func dieWithParent() *syscall.SysProcAttr { return nil }
