//go:build linux

// Package rlimit starts a child process with POSIX resource limits
// (setrlimit(2)) in force before its program runs, as Mesos' posix/rlimits
// isolator does for a container (src/posix/rlimits.cpp and
// installResourceLimits in src/slave/containerizer/mesos/launch.cpp, where
// the launch helper calls setrlimit and then execs).
//
// Go cannot run code in a child between fork and exec, so Start has the
// child stop at its exec (ptrace PTRACE_TRACEME: the kernel stops a
// traced process with SIGTRAP right after a successful execve, before
// the new program runs one instruction), sets the limits on it with
// prlimit(2) and lets it go (PTRACE_DETACH). A child started without
// limits is not traced at all. Where ptrace is forbidden (a seccomp
// profile or Yama's ptrace_scope 3), a child with limits fails to start
// with the system's error.
//
// The package has no Mesos dependency; the conversion from Mesos'
// RLimitInfo is internal/mesos.RLimits.
package rlimit

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
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

// Start starts a child with limits in force from its first instruction.
// start must fork and exec exactly one child on the calling goroutine
// (os/exec's Cmd.Start or syscall.ForkExec) with sys as its
// SysProcAttr, and return its pid; Start sets sys.Ptrace when there are
// limits. Without limits it only calls start.
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
	// The tracer is the thread that forked: ptrace requests must come
	// from it, so this goroutine keeps it until the child is detached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sys.Ptrace = true
	pid, err := start()
	if err != nil {
		return 0, err
	}
	fail := func(err error) (int, error) {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		for {
			if _, werr := unix.Wait4(pid, &ws, 0, nil); werr != unix.EINTR {
				break
			}
		}
		return 0, err
	}
	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, unix.WALL, nil)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fail(fmt.Errorf("waiting for the child to stop at exec: %w", err))
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fail(fmt.Errorf("child did not stop at exec (wait status %#x)", uint32(ws)))
	}
	for _, l := range limits {
		if err := unix.Prlimit(pid, l.Resource, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}, nil); err != nil {
			return fail(&Error{Name: l.Name, Reason: fmt.Sprintf("soft %s, hard %s: %v", format(l.Soft), format(l.Hard), err), Err: err})
		}
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("letting the child run: %w", err))
	}
	return pid, nil
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
