//go:build linux

// Package supervise starts child processes and stops them without leaking a
// process or a zombie. It is what healthd uses for the supervised command and
// for command checks, and what the executor uses for task processes.
//
// Every child is started in its own process group (its pid is the group id)
// with an optional parent-death signal, so that:
//
//   - signals go to the whole group, grandchildren included;
//   - when the leader exits, whatever is left of its group is SIGKILLed
//     before the leader is reaped, so no helper it started outlives it and
//     the group id cannot be reused by an unrelated process while it is
//     being signalled; the leader stays unreaped until the group is empty or
//     the SIGKILL has been sent;
//   - when the leader exits while a stop is under way (Terminate, or
//     Stopping for a signal forwarded from elsewhere), the rest of the group
//     got the stop's signal and may still be finishing — flushing, closing
//     connections — so it gets until the stop's grace period has passed
//     (counted from the stop's first signal) before that SIGKILL, and no
//     further signal (a second SIGTERM or SIGINT forces some programs out
//     of their graceful stop); a member started after that signal and
//     orphaned by the leader's exit (a shutdown hook the leader ran) never
//     got it, and gets the stop signal and the stop's grace of its own;
//   - when the leader exits with no stop under way — on its own, or after a
//     signal sent with Signal — the rest of the group is SIGKILLed at once
//     by default (Mesos destroys a container whose task ended). With
//     Spec.GroupGrace it is stopped gracefully instead, as dumb-init stops
//     its child's group when the child exits: the stop signal, then
//     GroupGrace to exit, then SIGKILL. A member still handling a signal
//     sent with Signal less than GroupGrace before the leader exited (the
//     leader may have died of that very signal, a forwarded SIGHUP say)
//     first gets until GroupGrace after that signal to finish, without the
//     stop signal interrupting it; only what is left then gets it;
//   - if this process dies (even by SIGKILL) the kernel signals each direct
//     child.
//
// The stop signal is the one this package sends on its own initiative —
// Terminate's, GroupGrace's, a latecomer's —: SIGTERM unless
// Spec.StopSignal says otherwise (healthd's --rewrite TERM:QUIT makes it
// SIGQUIT for nginx, as dumb-init rewrites the SIGTERM it sends its child's
// group), or none at all (NoStopSignal: the grace runs with no signal, then
// SIGKILL).
//
// The lifecycle of a Process:
//
//	   Start
//	     │
//	     ▼
//	┌─────────┐  Terminate(grace): the stop signal to the group,
//	│ running │  SIGKILL to the group once grace has passed
//	└─────────┘  Stopping(sig, grace): sig to the group, a stop under way
//	     │       Signal(sig): sig to the group
//	     │ leader exits (zombie, not yet reaped)
//	     ▼
//	┌─────────┐  a stop under way: SIGKILL once the rest of the group has
//	│ exited  │  exited or the stop's grace has passed, whichever is first;
//	└─────────┘  none: SIGKILL to what is left of the group at once, or
//	     │       with GroupGrace, the stop signal (after what is left of the
//	     │       grace of a recent Signal), SIGKILL GroupGrace later
//	     │ reaped (wait4)
//	     ▼
//	┌─────────┐
//	│  done   │  Done() closed, Status() valid; Signal returns ErrDone
//	└─────────┘
//
// Reaping. Every Process is waited for by its own goroutine, which lives
// exactly as long as the child. A process that is PID 1 or a child subreaper
// (see BecomeSubreaper) also inherits orphans — grandchildren whose parent
// died — and must reap them too; ReapOrphans does that without ever stealing
// the exit status of a child started here: it peeks at exited children with
// waitid(WNOWAIT) and reaps only those it does not own. Children must
// therefore be started with Start, never with os/exec, in a process that runs
// ReapOrphans.
package supervise

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/rlimit"
)

// ErrDone is returned by Signal once the process has been reaped.
var ErrDone = errors.New("process already finished")

// Spec describes a child process to start.
type Spec struct {
	// Path is the program to run; it is not looked up in PATH (use
	// exec.LookPath first).
	Path string
	// Args is the argument list including argv[0]; empty means {Path}.
	Args []string
	// Env is the environment (KEY=VALUE); nil means this process's. As with
	// os/exec, when a key repeats the last value wins.
	Env []string
	// Dir is the working directory; "" means this process's.
	Dir string
	// Stdin, Stdout and Stderr are the child's standard files; nil means
	// /dev/null.
	Stdin, Stdout, Stderr *os.File
	// ParentDeathSignal is sent to the child by the kernel if this process
	// dies first; 0 means none. Callers normally use syscall.SIGKILL.
	ParentDeathSignal syscall.Signal
	// Foreground hands the terminal to the child's process group when
	// Stdin is a terminal whose foreground process group is this
	// process's (an interactive `docker run -it`): a child in a group of
	// its own is otherwise a background job there, stopped by SIGTTIN at
	// its first read of the terminal (and by SIGTTOU at a write with
	// `stty tostop`), and waited for forever. The terminal's Ctrl-C and
	// Ctrl-Z then go to the child's group, not to this process, as with
	// tini (krallin/tini#19). While the child has the terminal, this
	// process ignores SIGTTOU (its writes there must not stop it under
	// `stty tostop`); when the child's leader exits, the terminal goes back
	// to this process's group if the child's group still has it.
	//
	// The hand-over follows job control afterwards too, as dumb-init and a
	// shell's job do: when the child's leader is stopped by SIGTTIN,
	// SIGTTOU or SIGTSTP (a background read, Ctrl-Z) and this process's
	// group has the terminal's foreground (brought there by `fg`), the
	// terminal goes to the child's group and the group is continued;
	// otherwise this process's group is stopped with the same kind of
	// signal (SIGTTIN, else SIGTSTP), so that a job-control shell sees
	// its job stopped and takes the terminal back; the kernel ignores that
	// stop when the group is orphaned (`docker run -it`). The caller calls
	// HandTerminal when it is continued (SIGCONT: `fg`). Without a
	// terminal as Stdin nothing changes.
	Foreground bool
	// Rlimits are resource limits in force from the child's first
	// instruction (internal/rlimit); none by default.
	Rlimits []rlimit.Limit
	// GroupGrace is how the rest of the process group is stopped when the
	// leader exits with no stop under way (see the package documentation):
	// 0, the default, SIGKILLs it at once; D > 0 sends it the stop signal
	// and SIGKILLs what is left D later, after first giving members up to D
	// from the last Signal to finish handling it.
	GroupGrace time.Duration
	// StopSignal is the stop signal: what Terminate sends first, what the
	// rest of the group gets under GroupGrace and what a latecomer gets
	// (see the package documentation). 0 means SIGTERM; NoStopSignal sends
	// none, so the grace runs without a signal before SIGKILL. Signals sent
	// with Signal or Stopping are the caller's and are sent as they are.
	StopSignal syscall.Signal
}

// NoStopSignal, as Spec.StopSignal, makes the stops of this package send
// no signal before their SIGKILL (healthd's --rewrite TERM:0).
const NoStopSignal syscall.Signal = -1

// Status is how a process ended.
type Status struct {
	// Code is the exit code when the process exited normally, else -1.
	Code int
	// Signal is the signal that killed it, else 0.
	Signal syscall.Signal
	// CoreDumped reports that the signal dumped core (WCOREDUMP).
	CoreDumped bool
}

// ExitCode returns the shell convention: Code for a normal exit, 128+signal
// for a process killed by a signal.
func (s Status) ExitCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

// String describes the status: "exit status 3" or "killed by signal terminated".
func (s Status) String() string {
	if s.Signal != 0 {
		return "killed by signal " + s.Signal.String()
	}
	return fmt.Sprintf("exit status %d", s.Code)
}

func statusOf(ws unix.WaitStatus) Status {
	switch {
	case ws.Signaled():
		return Status{Code: -1, Signal: syscall.Signal(ws.Signal()), CoreDumped: ws.CoreDump()}
	case ws.Exited():
		return Status{Code: ws.ExitStatus()}
	}
	return Status{Code: -1}
}

// Process is a started child and its process group. It is safe for
// concurrent use.
type Process struct {
	pid    int
	exited chan struct{} // closed when the leader has exited (before reaping)
	done   chan struct{} // closed once reaped; status is then valid

	groupGrace time.Duration  // Spec.GroupGrace
	stopSignal syscall.Signal // Spec.StopSignal resolved; 0 sends nothing (kill(2) then only probes)
	fgTTY      *os.File       // Spec.Stdin when Spec.Foreground and a terminal: the one the child's group may get; nil: none

	mu          sync.Mutex
	tty         *os.File // the terminal handed to the child's group; nil: not handed
	leaderGone  bool     // the leader has exited: no more hand-over
	reaped      bool
	terminating bool
	stopBy      time.Time // when a stop under way ends; zero: none
	stopGrace   time.Duration
	stopped     map[int]bool // the group's members when the stop's signal went out
	signalledAt time.Time    // the last Signal (but SIGKILL); zero: none
	killTimer   *time.Timer
	status      Status
}

// Start starts s in a new process group and begins waiting for it.
func Start(s Spec) (*Process, error) {
	args := s.Args
	if len(args) == 0 {
		args = []string{s.Path}
	}
	env := s.Env
	if env == nil {
		env = os.Environ()
	}
	env = dedupEnv(env)
	var devnull *os.File
	files := make([]uintptr, 3)
	for i, f := range []*os.File{s.Stdin, s.Stdout, s.Stderr} {
		if f == nil {
			if devnull == nil {
				var err error
				if devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
					return nil, fmt.Errorf("opening %s: %w", os.DevNull, err)
				}
				defer devnull.Close()
			}
			f = devnull
		}
		files[i] = f.Fd()
	}
	attr := &syscall.ProcAttr{
		Dir:   s.Dir,
		Env:   env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: s.ParentDeathSignal,
		},
	}
	var tty *os.File
	if s.Foreground && s.Stdin != nil && ownsForeground(s.Stdin) {
		// The child sets its group as the terminal's foreground before
		// exec; Ctty is the descriptor in this process.
		tty = s.Stdin
		attr.Sys.Foreground, attr.Sys.Ctty = true, int(tty.Fd())
	}

	// Registering under the lock ReapOrphans holds while it peeks makes sure
	// an orphan reaper never mistakes a child that exits at once for an
	// orphan.
	owned.Lock()
	pid, err := rlimit.Start(s.Rlimits, attr.Sys, func() (int, error) { return syscall.ForkExec(s.Path, args, attr) })
	var reaped chan struct{}
	if err == nil {
		reaped = make(chan struct{})
		owned.m[pid] = reaped
	}
	owned.Unlock()
	if err != nil {
		if tty != nil {
			// The child may have taken the terminal before its exec
			// failed: its group is gone, so take it back.
			if fg, gerr := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP); gerr == nil && fg != syscall.Getpgrp() &&
				errors.Is(unix.Kill(-fg, 0), unix.ESRCH) {
				reclaimForeground(tty, fg)
			}
		}
		return nil, &StartError{Path: s.Path, Err: ExplainExecError(s.Path, err)}
	}
	p := &Process{pid: pid, exited: make(chan struct{}), done: make(chan struct{}), groupGrace: max(s.GroupGrace, 0),
		stopSignal: resolveStopSignal(s.StopSignal), tty: tty}
	if s.Foreground && s.Stdin != nil && isTerminal(s.Stdin) {
		p.fgTTY = s.Stdin
	}
	if tty != nil {
		ignoreTTOU()
	}
	go p.wait(reaped)
	return p, nil
}

// ignoreTTOU is called once the child's group has the terminal: this
// process is now a background job of it, and with `stty tostop` its next
// write there (a log line) would stop it with SIGTTOU, leaving CMD
// unsupervised and a job-control shell with a stopped job. Ignored only
// after CMD's exec, so CMD does not inherit it; the default is back once
// the terminal is (reclaimForeground).
func ignoreTTOU() { signal.Ignore(syscall.SIGTTOU) }

// HandTerminal gives the terminal to the child's process group when
// Spec.Foreground was set, the leader has not exited, and this process's
// group has the terminal's foreground, as it has after a job-control
// shell's `fg`; it reports whether it did. Call it when this process is
// continued (SIGCONT), before forwarding the signal: a job started in the
// background (`healthd -- cmd &`) left the terminal alone, and `fg` gives
// it to this process's group, not to the child's, whose reads of the
// terminal then stop it with SIGTTIN.
func (p *Process) HandTerminal() bool {
	if p.fgTTY == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderGone || !ownsForeground(p.fgTTY) {
		return false
	}
	if setForeground(p.fgTTY, p.pid) != nil {
		return false
	}
	if p.tty == nil {
		p.tty = p.fgTTY
	}
	ignoreTTOU()
	return true
}

// jobStopped handles the leader stopped by sig (see Spec.Foreground): the
// child's group gets the terminal and is continued when this process's
// group has it; else this process's group stops as the child did, so the
// shell whose job it is sees the job stopped.
func (p *Process) jobStopped(sig syscall.Signal) {
	switch sig {
	case syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGTSTP:
	default:
		return // SIGSTOP: someone stopped the child on purpose
	}
	if p.HandTerminal() {
		_ = unix.Kill(-p.pid, unix.SIGCONT)
		return
	}
	if sig != syscall.SIGTTIN {
		sig = syscall.SIGTSTP // SIGTTOU may be ignored here (ignoreTTOU)
	}
	_ = unix.Kill(-syscall.Getpgrp(), sig)
}

// reclaimForeground makes this process's group the foreground of tty
// again when it still is the group from (the child's, which has ended):
// a shell script that ran this process (no job control, so no shell takes
// the terminal back) would otherwise find its terminal's foreground a
// group that no longer exists, its next read of it failing or stopped by
// SIGTTIN and Ctrl-C reaching nobody. A terminal someone else has taken
// meanwhile is left alone. This process is a background job of the
// terminal now, so SIGTTOU, which tcsetpgrp(3) would raise, is blocked on
// this thread meanwhile (as the shells do around it).
func reclaimForeground(tty *os.File, from int) {
	if fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP); err != nil || fg != from {
		return
	}
	if setForeground(tty, syscall.Getpgrp()) == nil {
		signal.Reset(syscall.SIGTTOU) // the foreground again: job control as before
	}
}

// setForeground makes pgrp the foreground process group of tty
// (tcsetpgrp(3)) with SIGTTOU, which a caller in the background would
// get, blocked on this thread meanwhile, as the shells do around it.
func setForeground(tty *os.File, pgrp int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var block, old unix.Sigset_t
	const bits = 8 * unsafe.Sizeof(block.Val[0]) // per word of the set
	n := uintptr(unix.SIGTTOU) - 1
	block.Val[n/bits] |= 1 << (n % bits)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
		return err
	}
	err := unix.IoctlSetPointerInt(int(tty.Fd()), unix.TIOCSPGRP, pgrp)
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return err
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// ownsForeground reports whether f is a terminal whose foreground process
// group is this process's.
func ownsForeground(f *os.File) bool {
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == syscall.Getpgrp()
}

// resolveStopSignal turns Spec.StopSignal into the signal to send: 0 (which
// kill(2) only probes with) for NoStopSignal.
func resolveStopSignal(s syscall.Signal) syscall.Signal {
	switch {
	case s == 0:
		return syscall.SIGTERM
	case s < 0:
		return 0
	}
	return s
}

// StartError is returned by Start when the program could not be started.
type StartError struct {
	Path string
	Err  error
}

// Error names the program and the reason.
func (e *StartError) Error() string { return fmt.Sprintf("starting %s: %v", e.Path, e.Err) }

// Unwrap returns the system error (syscall.ENOENT, syscall.EACCES, ...).
func (e *StartError) Unwrap() error { return e.Err }

// ExitCode returns the shell's code for a command that could not be started:
// 127 when it does not exist, 126 when it exists but cannot be executed
// (also when what is missing is its interpreter: bash's "bad interpreter").
func (e *StartError) ExitCode() int {
	var ie *InterpreterError
	if errors.As(e.Err, &ie) {
		return 126
	}
	if errors.Is(e.Err, syscall.ENOENT) || errors.Is(e.Err, syscall.ENOTDIR) {
		return 127
	}
	return 126
}

// wait is the goroutine that owns the child: it waits for the leader to exit
// without reaping it, kills what is left of the group while the group id is
// still pinned by the zombie leader, then reaps.
func (p *Process) wait(reaped chan struct{}) {
	var info unix.Siginfo
	opts := unix.WEXITED | unix.WNOWAIT
	if p.fgTTY != nil {
		opts |= unix.WSTOPPED // job control: see Spec.Foreground
	}
	var err error
	for {
		err = ignoringEINTR(func() error { return unix.Waitid(unix.P_PID, p.pid, &info, opts, nil) })
		if err != nil || info.Code != cldStopped {
			break
		}
		// WNOWAIT left the stop to be reported again: consume it (or
		// nothing, if the leader has been continued or has exited since).
		var seen unix.Siginfo
		_ = ignoringEINTR(func() error {
			return unix.Waitid(unix.P_PID, p.pid, &seen, unix.WSTOPPED|unix.WNOHANG, nil)
		})
		p.jobStopped(syscall.Signal(siginfoStatus(&info)))
	}
	p.mu.Lock()
	p.leaderGone = true
	tty := p.tty
	p.mu.Unlock()
	if tty != nil {
		reclaimForeground(tty, p.pid)
	}
	close(p.exited)
	p.mu.Lock()
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	p.mu.Unlock()
	st := Status{Code: -1}
	if err == nil {
		// The zombie leader keeps the group id ours meanwhile.
		p.stopRest()
		_ = unix.Kill(-p.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		if ignoringEINTR(func() error { _, err := unix.Wait4(p.pid, &ws, 0, nil); return err }) == nil {
			st = statusOf(ws)
		}
	}
	owned.Lock()
	delete(owned.m, p.pid)
	owned.Unlock()
	close(reaped)

	p.mu.Lock()
	p.reaped, p.status = true, st
	p.mu.Unlock()
	close(p.done)
}

// stopRest runs once the leader has exited, before the SIGKILL to what is
// left of its group: it gives the rest of the group the time the package
// documentation promises.
func (p *Process) stopRest() {
	p.mu.Lock()
	stopBy, settleBy := p.stopBy, p.signalledAt.Add(p.groupGrace)
	p.mu.Unlock()
	if stopBy.IsZero() && p.groupGrace > 0 {
		// Members may still be handling a recent signal (a no-op when
		// there was none: settleBy is then long past).
		awaitGroup(p.pid, settleBy)
		if n, err := groupMembers(p.pid); err != nil || n == 0 {
			return
		}
		p.mu.Lock()
		if p.stopBy.IsZero() { // else a stop began meanwhile: its signal went out
			p.stopBy = time.Now().Add(p.groupGrace)
			_ = unix.Kill(-p.pid, p.stopSignal)
		}
		stopBy = p.stopBy
		p.mu.Unlock()
	}
	if !stopBy.IsZero() {
		awaitGroup(p.pid, p.latecomersStopped(stopBy))
	}
}

// latecomersStopped sends the stop signal to the members of the group
// started after the stop's signal went out (they never got it) whose parent
// is gone from the group: a shutdown hook the leader started, orphaned by
// its exit. It returns when the rest of the group is to be SIGKILLed:
// stopBy, or the stop's grace after that signal when there were such
// members (with NoStopSignal they get the grace alone). Those that
// got the stop's signal get no second one (a second SIGTERM or SIGINT
// forces some programs out of their graceful stop), nor do the children of
// live members (a helper's flush runs commands of its own).
func (p *Process) latecomersStopped(stopBy time.Time) time.Time {
	p.mu.Lock()
	stopped, grace := p.stopped, p.stopGrace
	p.mu.Unlock()
	if stopped == nil {
		return stopBy
	}
	ms, _ := groupProcs(p.pid)
	live := make(map[int]bool, len(ms))
	for _, m := range ms {
		live[m.pid] = true
	}
	late := false
	for _, m := range ms {
		if !stopped[m.pid] && !live[m.ppid] {
			late = unix.Kill(m.pid, p.stopSignal) == nil || late
		}
	}
	if late {
		return later(stopBy, time.Now().Add(grace))
	}
	return stopBy
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Exited is closed once the leader has exited, before the rest of its group
// is stopped and the leader is reaped (Done).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Pid returns the child's pid, which is also its process group id.
func (p *Process) Pid() int { return p.pid }

// Done is closed once the process has been reaped; Status is valid then.
func (p *Process) Done() <-chan struct{} { return p.done }

// Status returns how the process ended; it is only meaningful after Done.
func (p *Process) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Signal sends sig to the whole process group. It returns ErrDone once the
// process has been reaped (the group id may then belong to someone else).
// With Spec.GroupGrace, a leader exiting within GroupGrace of the signal
// leaves the rest of the group that long to finish handling it (see the
// package documentation).
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sig != syscall.SIGKILL && sig != 0 {
		p.signalledAt = time.Now()
	}
	return p.signalLocked(sig)
}

func (p *Process) signalLocked(sig syscall.Signal) error {
	if p.reaped {
		return ErrDone
	}
	if err := unix.Kill(-p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling process group %d with %v: %w", p.pid, sig, err)
	}
	return nil
}

// Stopping sends sig to the group and records that a stop is under way, so
// that when the leader exits the rest of the group gets until grace after
// the first stop began before it is SIGKILLed (see the package
// documentation). It never SIGKILLs a leader that is still running: use it
// for a signal whose sender owns the escalation (a SIGTERM forwarded from
// Mesos, say). It returns ErrDone once the process has been reaped.
func (p *Process) Stopping(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markStopLocked(grace)
	return p.signalLocked(sig)
}

func (p *Process) markStopLocked(grace time.Duration) {
	if p.stopBy.IsZero() {
		p.stopGrace = max(grace, 0)
		p.stopBy = time.Now().Add(p.stopGrace)
		// Who gets the stop's signal: a member started after it (a
		// shutdown hook the leader runs on SIGTERM) gets one of its own
		// when the leader exits (stopRest).
		ms, _ := groupProcs(p.pid)
		p.stopped = make(map[int]bool, len(ms))
		for _, m := range ms {
			p.stopped[m.pid] = true
		}
	}
}

// Terminate sends the stop signal (Spec.StopSignal, SIGTERM by default) to
// the group and SIGKILL once grace has passed if the leader has not exited
// by then (grace <= 0 kills at once); if the leader exits first, the rest
// of the group gets what is left of grace (see the package documentation).
// It never blocks; wait on Done. Calling it again does not restart the
// grace period. It reports whether this call started the termination.
func (p *Process) Terminate(grace time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminating || p.reaped {
		return false
	}
	p.terminating = true
	p.markStopLocked(grace)
	if grace <= 0 {
		_ = p.signalLocked(syscall.SIGKILL)
		return true
	}
	_ = p.signalLocked(p.stopSignal)
	select {
	case <-p.exited:
		// The waiter gives the rest of the group its grace already.
	default:
		p.killTimer = time.AfterFunc(grace, func() { _ = p.Signal(syscall.SIGKILL) })
	}
	return true
}

// groupPoll is how often awaitGroup looks whether the group is empty.
const groupPoll = 20 * time.Millisecond

// awaitGroup returns once no live process but the (exited) leader is left
// in process group pgid, or at deadline.
func awaitGroup(pgid int, deadline time.Time) {
	for time.Now().Before(deadline) {
		if alive, err := groupMembers(pgid); err != nil || alive == 0 {
			return
		}
		time.Sleep(min(groupPoll, time.Until(deadline)))
	}
}

// Kill sends SIGKILL to the whole group now.
func (p *Process) Kill() error { return p.Signal(syscall.SIGKILL) }

// dedupEnv drops every entry whose key appears again later.
func dedupEnv(env []string) []string {
	last := make(map[string]int, len(env))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	if len(last) == len(env) {
		return env
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
