//go:build !linux

package etcdtest

import (
	"syscall"
	"time"
)

// memberSysProcAttr has nothing to add outside Linux: there is no
// parent-death signal, so members rely on t.Cleanup alone.
func memberSysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped cannot observe the process state portably, so Pause returns
// as soon as the signal is sent.
func waitStopped(int, time.Duration) error { return nil }
