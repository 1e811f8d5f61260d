package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/taskkit/taskkit/internal/execstop"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/rlimit"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// proc is a child process in its own process group. Every signal goes to
// the whole group.
type proc struct {
	cmd   *exec.Cmd
	pid   int
	cg    *cpuCgroup     // destroyed once the process is reaped; nil without cgroups/cpu
	fz    *freezerCgroup // destroyed once the process is reaped; nil with the posix launcher
	done  chan struct{}  // closed once waited for
	state *os.ProcessState
	err   error
}

// procSpec describes a process to start.
type procSpec struct {
	shell bool
	value string
	args  []string
	env   []string
	// sandbox is the working directory, open: the process starts in it
	// through its descriptor and stdout and stderr are opened in it
	// without following a link (package sandboxfs), so a link put in
	// place of a directory above it since it was made redirects neither.
	sandbox *sandboxfs.Dir
	// limits are the container's rlimits (ContainerInfo.rlimit_info), in
	// force before its program runs.
	limits []rlimit.Limit
	// cgroup is the container's cgroup (cgroups/cpu), or nil: the process
	// joins it before its program runs, and it is destroyed when the
	// process has been reaped, or at once if it cannot start. startProc
	// takes it over in every case.
	cgroup *cpuCgroup
	// freezer is the container's freezer cgroup (the linux launcher), or
	// nil: the process is born in it, and it is destroyed as cgroup is.
	freezer *freezerCgroup
}

// startProc starts spec in a new process group with a parent-death signal,
// stdout and stderr appended to files in its sandbox (never through a
// link: a fetched archive may have put one there). The caller must arrange for
// wait to be called.
func startProc(spec procSpec) (*proc, error) {
	p, err := startProcIn(spec)
	if err != nil && spec.freezer != nil {
		spec.freezer.destroy()
	}
	if err != nil && spec.cgroup != nil {
		spec.cgroup.destroy()
	}
	return p, err
}

func startProcIn(spec procSpec) (*proc, error) {
	var cmd *exec.Cmd
	if spec.shell {
		path, args := mesosx.ShellCommand(spec.value)
		cmd = &exec.Cmd{Path: path, Args: args}
	} else {
		if spec.value == "" {
			return nil, errors.New("command has no value")
		}
		cmd = exec.Command(spec.value)
		if len(spec.args) > 0 {
			cmd.Args = append([]string(nil), spec.args...)
		}
	}
	// The child changes into /proc/self/fd/N before exec: its own copy of
	// the sandbox's descriptor, open until then.
	cmd.Dir = spec.sandbox.FDPath()
	cmd.Env = spec.env
	// A new session (and so a new process group, pgid = pid): the
	// processes an executor starts in their own process groups stay in its
	// session, so wait can destroy the whole "container".
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	stdout, stderr, err := spec.sandbox.OpenStdio()
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := rlimit.Check(spec.limits); err != nil {
		return nil, fmt.Errorf("starting %q: %w", spec.value, err)
	}
	started := false
	fork := func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		started = true
		return cmd.Process.Pid, nil
	}
	start := func(fork func() (int, error)) (int, error) {
		return execstop.Start(cmd.SysProcAttr, fork, spec.beforeExec())
	}
	if spec.freezer != nil {
		_, err = spec.freezer.start(func(forkIn func(func() (int, error)) (int, error)) (int, error) {
			return start(func() (int, error) { return forkIn(fork) })
		})
	} else {
		_, err = start(fork)
	}
	if err != nil {
		if started {
			_ = cmd.Process.Release() // killed and reaped by execstop.Start
		}
		return nil, fmt.Errorf("starting %q: %w", spec.value, err)
	}
	return &proc{cmd: cmd, pid: cmd.Process.Pid, cg: spec.cgroup, fz: spec.freezer, done: make(chan struct{})}, nil
}

// beforeExec is what is done to the process held at its exec, before its
// program runs: its rlimits set, then it joins its cgroup (as Mesos'
// launch helper sets rlimits and its Linux launcher places the child in
// its cgroups before the task's program runs). Nil when there is nothing
// to do: the process is then not traced at all.
func (spec procSpec) beforeExec() execstop.Hook {
	if len(spec.limits) == 0 && spec.cgroup == nil {
		return nil
	}
	return func(pid int) error {
		if err := rlimit.Set(pid, spec.limits); err != nil {
			return err
		}
		if spec.cgroup != nil {
			return spec.cgroup.add(pid)
		}
		return nil
	}
}

// wait reaps the process, then destroys its container as the launcher
// does — linux: everything in its freezer cgroup; posix: whatever is left
// in its group and its session, an executor's tasks in their own process
// groups included (as Mesos destroys a container and its nested
// containers) — then kills what is left in its cpu cgroup, which it
// removes, and closes done.
func (p *proc) wait() {
	p.err = p.cmd.Wait()
	p.state = p.cmd.ProcessState
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	if p.fz != nil {
		p.fz.destroy() // in any session, wherever it was re-parented
	} else {
		killSession(p.pid)
	}
	if p.cg != nil {
		p.cg.destroy() // kills what is left in it, in any session
	}
	close(p.done)
}

// killSession SIGKILLs every process of session sid (read from /proc).
func killSession(sid int) {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 4 || f[3] != strconv.Itoa(sid) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil && pid != sid {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.pid, sig)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitStatus is the raw wait status, as Mesos reports in FAILURE events.
func (p *proc) waitStatus() int32 {
	if p.state == nil {
		return -1
	}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok {
		return int32(ws)
	}
	return int32(p.state.ExitCode())
}

// describeExit says how a process ended, in the command executor's words
// ("Command " + WSTRINGIFY(status), src/common/status_utils.hpp: the
// signal as strsignal(3) words it, " (core dumped)" when it dumped core).
func describeExit(st *os.ProcessState) (msg string, ok bool) {
	if st == nil {
		return "Command exited abnormally", false
	}
	if ws, isWS := st.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
		msg = "Command terminated with signal " + signalName(ws.Signal())
		if ws.CoreDump() {
			msg += " (core dumped)"
		}
		return msg, false
	}
	code := st.ExitCode()
	return fmt.Sprintf("Command exited with status %d", code), code == 0
}

// signalName is strsignal(3)'s text: Go's, capitalized ("Killed",
// "Segmentation fault").
func signalName(s syscall.Signal) string {
	name := s.String()
	if name == "" {
		return name
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// killAll stops procs: SIGTERM to every group, SIGKILL to those still alive
// after grace, and waits (bounded) for every one to be reaped.
func killAll(procs []*proc, grace time.Duration) {
	for _, p := range procs {
		p.signal(syscall.SIGTERM)
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			for _, q := range procs {
				q.signal(syscall.SIGKILL)
			}
			deadline.Reset(time.Hour)
		}
	}
	final := time.NewTimer(10 * time.Second)
	defer final.Stop()
	for _, p := range procs {
		p.signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-final.C:
			return
		}
	}
}
