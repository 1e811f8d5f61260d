//go:build linux

// Package rlimit starts a child process with POSIX resource limits
// (setrlimit(2)) in force before its program runs, as Mesos' posix/rlimits
// isolator does for a container (src/posix/rlimits.cpp and
// installResourceLimits in src/slave/containerizer/mesos/launch.cpp, where
// the launch helper calls setrlimit and then execs).
//
// Go cannot run code in a child between fork and exec, so Start has the
// child held at its exec (package execstop: ptrace stops it with SIGTRAP
// right after a successful execve, before the new program runs one
// instruction), sets the limits on it with prlimit(2) (Set) and lets it
// go. A child started without limits is not traced at all. Where ptrace
// is forbidden (a seccomp profile or Yama's ptrace_scope 3), a child with
// limits fails to start with the system's error. A caller with more to do
// at that point (testenv also puts the child in its cgroup) calls Check,
// then execstop.Start with a hook that calls Set.
//
// The package has no Mesos dependency; the conversion from Mesos'
// RLimitInfo is internal/mesos.RLimits.
package rlimit

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/execstop"
)

// Unlimited is a soft or hard limit without bound (RLIM_INFINITY).
const Unlimited = unix.RLIM_INFINITY

// Limit is one resource limit: Resource is a unix.RLIMIT_* constant and
// Name its name for messages (Mesos' RLMT_* names, e.g. "RLMT_NOFILE");
// Soft and Hard are in the resource's unit (bytes, seconds, count), or
// Unlimited.
type Limit struct {
	Resource   int
	Name       string
	Soft, Hard uint64
}

// ErrSet matches (errors.Is) every *Error: a limit that could not be
// set, rather than a program that could not start.
var ErrSet = errors.New("cannot set resource limits")

// Error is a limit that is invalid or could not be set, worded as Mesos'
// launch helper reports it: "Failed to set RLMT_NOFILE limit: <reason>".
type Error struct {
	// Name is the limit's name (Limit.Name).
	Name string
	// Reason says why, e.g. "Invalid rlimit values".
	Reason string
	// Err is the system error, if any (syscall.EPERM, ...).
	Err error
}

// Error formats the error as Mesos does.
func (e *Error) Error() string { return "Failed to set " + e.Name + " limit: " + e.Reason }

// Is reports that e is an ErrSet.
func (e *Error) Is(target error) bool { return target == ErrSet }

// Unwrap returns the system error.
func (e *Error) Unwrap() error { return e.Err }

// Check reports a limit that setrlimit would refuse whatever the
// privileges: a soft value above the hard one (EINVAL).
func Check(limits []Limit) error {
	for _, l := range limits {
		if l.Soft > l.Hard {
			return &Error{Name: l.Name, Reason: fmt.Sprintf("soft limit %s exceeds hard limit %s", format(l.Soft), format(l.Hard)), Err: unix.EINVAL}
		}
	}
	return nil
}

func format(v uint64) string {
	if v == Unlimited {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

// Start starts a child with limits in force from its first instruction
// (package execstop holds it at its exec while Set applies them). start
// must fork and exec exactly one child on the calling goroutine (os/exec's
// Cmd.Start or syscall.ForkExec) with sys as its SysProcAttr, and return
// its pid; Start sets sys.Ptrace when there are limits. Without limits it
// only calls start.
//
// If the limits cannot be set (raising a hard limit needs
// CAP_SYS_RESOURCE), the child is killed and reaped before it ran, and
// the error names the limit; a caller using os/exec then releases its
// Process instead of waiting for it.
func Start(limits []Limit, sys *syscall.SysProcAttr, start func() (int, error)) (int, error) {
	if len(limits) == 0 {
		return start()
	}
	if err := Check(limits); err != nil {
		return 0, err
	}
	return execstop.Start(sys, start, func(pid int) error { return Set(pid, limits) })
}

// Set sets limits on process pid with prlimit(2), in order; the first
// that fails is an *Error naming it. Limits set before it stay set.
func Set(pid int, limits []Limit) error {
	for _, l := range limits {
		if err := unix.Prlimit(pid, l.Resource, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}, nil); err != nil {
			return &Error{Name: l.Name, Reason: fmt.Sprintf("soft %s, hard %s: %v", format(l.Soft), format(l.Hard), err), Err: err}
		}
	}
	return nil
}

// Get returns the current limits of process pid (0: this process) for
// resource, for tests and diagnostics.
func Get(pid, resource int) (soft, hard uint64, err error) {
	var rl unix.Rlimit
	if err := unix.Prlimit(pid, resource, nil, &rl); err != nil {
		return 0, 0, err
	}
	return rl.Cur, rl.Max, nil
}
