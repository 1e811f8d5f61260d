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

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/rlimit"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// proc is a child process in its own process group. Every signal goes to
// the whole group.
type proc struct {
	cmd   *exec.Cmd
	pid   int
	done  chan struct{} // closed once waited for
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
}

// startProc starts spec in a new process group with a parent-death signal,
// stdout and stderr appended to files in its sandbox (never through a
// link: a fetched archive may have put one there). The caller must arrange for
// wait to be called.
func startProc(spec procSpec) (*proc, error) {
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
	started := false
	_, err = rlimit.Start(spec.limits, cmd.SysProcAttr, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		started = true
		return cmd.Process.Pid, nil
	})
	if err != nil {
		if started {
			_ = cmd.Process.Release() // killed and reaped by rlimit.Start
		}
		return nil, fmt.Errorf("starting %q: %w", spec.value, err)
	}
	return &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}, nil
}

// wait reaps the process, then kills whatever is left in its group and
// its session — an executor's tasks in their own process groups included
// (as Mesos destroys a container and its nested containers) — and closes
// done.
func (p *proc) wait() {
	p.err = p.cmd.Wait()
	p.state = p.cmd.ProcessState
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	killSession(p.pid)
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

// describeExit says how a process ended, in the command executor's words.
func describeExit(st *os.ProcessState) (msg string, ok bool) {
	if st == nil {
		return "Command exited abnormally", false
	}
	if ws, isWS := st.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
		return fmt.Sprintf("Command terminated with signal %s", signalName(ws.Signal())), false
	}
	code := st.ExitCode()
	return fmt.Sprintf("Command exited with status %d", code), code == 0
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "Killed"
	case syscall.SIGTERM:
		return "Terminated"
	}
	return s.String()
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
