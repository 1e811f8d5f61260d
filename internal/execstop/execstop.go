//go:build linux

// Package execstop starts a child process held at its execve(2): work
// that must be done on the process before its program runs one
// instruction (resource limits, a cgroup to join) is done there, then
// the child is let go. It stands in for the code Mesos' launch helper
// runs between fork and exec (src/slave/containerizer/mesos/launch.cpp;
// the Linux launcher puts the child in its cgroups before it execs the
// task, src/slave/containerizer/mesos/linux_launcher.cpp), which Go
// cannot run in a child.
//
// Start has the child trace itself (PTRACE_TRACEME through
// syscall.SysProcAttr.Ptrace): the kernel stops a traced process with
// SIGTRAP right after a successful execve, before the new program's
// first instruction. The caller's hook then runs on the stopped child,
// and PTRACE_DETACH lets it run. Where ptrace is forbidden (a seccomp
// profile, Yama's ptrace_scope 3) a child with a hook fails to start with
// the system's error; one without a hook is never traced.
package execstop

import (
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Hook is work done on a started child, by pid, before its program runs.
// An error stops the start: the child is killed and reaped, never having
// run, and Start returns the error as it is.
type Hook func(pid int) error

// Start starts a child and runs before on it before its program runs.
// start must fork and exec exactly one child on the calling goroutine
// (os/exec's Cmd.Start or syscall.ForkExec) with sys as its SysProcAttr,
// and return its pid; Start sets sys.Ptrace when before is not nil.
// Without a hook it only calls start.
//
// When before fails, or the child cannot be held or let go, the child is
// killed and reaped before it ran; a caller using os/exec then releases
// its Process instead of waiting for it.
func Start(sys *syscall.SysProcAttr, start func() (int, error), before Hook) (int, error) {
	if before == nil {
		return start()
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
	if err := before(pid); err != nil {
		return fail(err)
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("letting the child run: %w", err))
	}
	return pid, nil
}
