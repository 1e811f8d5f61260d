//go:build linux

package probe

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/taskkit/taskkit/internal/supervise"
)

// drainTimeout bounds how long a finished check's output is read for: a
// process that left the check's group (setsid) may hold the pipe open.
const drainTimeout = 250 * time.Millisecond

// Command runs a shell command line: healthy when it exits 0. The command
// runs as `sh -c Line` with the shell task commands get
// (supervise.ShellCommand: bash when installed, else /bin/sh, as Mesos runs
// a check with its task's `sh -c`), in its own process group with stdin from
// /dev/null and stdout and stderr captured together. Whether it ends on its
// own or its context ends first, whatever is left of its process group is
// SIGKILLed before it is reaped, so a check never leaves a process behind.
type Command struct {
	// Line is the command line, run by the shell (supervise.ShellCommand).
	Line string
	// Path, when set, is run instead of Line, with Args as its argument
	// list (argv[0] included; empty means {Path}), as execve(2) takes them.
	Path string
	Args []string
	// Env is the environment; nil means this process's (the task's).
	Env []string
	// Dir is the working directory; "" means this process's.
	Dir string
	// Tee, when set, also gets the command's output (stdout and stderr
	// together) as it comes, all of it; a write error there is ignored.
	Tee io.Writer
}

// ignoreErrors is a writer whose failures do not stop a copy.
type ignoreErrors struct{ w io.Writer }

func (i ignoreErrors) Write(p []byte) (int, error) {
	_, _ = i.w.Write(p)
	return len(p), nil
}

// Probe runs the command once.
func (c *Command) Probe(ctx context.Context) Result {
	if err := ctx.Err(); err != nil {
		return TimedOut(ctx)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return Result{Status: Error, Reason: fmt.Sprintf("creating output pipe: %v", err), ExitCode: -1}
	}
	defer r.Close()
	path, args := c.Path, c.Args
	if path == "" {
		path, args = supervise.ShellCommand(c.Line)
	}
	p, err := supervise.Start(supervise.Spec{
		Path:              path,
		Args:              args,
		Env:               c.Env,
		Dir:               c.Dir,
		Stdout:            w,
		Stderr:            w,
		ParentDeathSignal: syscall.SIGKILL,
	})
	w.Close()
	if err != nil {
		return Result{Status: Error, Reason: err.Error(), ExitCode: -1}
	}

	var out capture
	var sink io.Writer = &out
	if c.Tee != nil {
		sink = io.MultiWriter(&out, ignoreErrors{c.Tee})
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(sink, r)
	}()

	timedOut := false
	select {
	case <-p.Done():
	case <-ctx.Done():
		timedOut = true
		_ = p.Kill()
		<-p.Done() // SIGKILL cannot be ignored; the waiter reaps promptly
	}
	// The group is dead, so the pipe is at EOF unless something escaped it.
	_ = r.SetReadDeadline(time.Now().Add(drainTimeout))
	<-copied

	res := Result{ExitCode: -1}
	out.result(&res)
	st := p.Status()
	switch {
	case timedOut:
		to := TimedOut(ctx)
		res.Status, res.Reason = to.Status, to.Reason
	case st.Code == 0:
		res.Status, res.Reason, res.ExitCode = Healthy, st.String(), 0
	default:
		res.Status, res.Reason, res.ExitCode, res.Signal = Unhealthy, st.String(), st.ExitCode(), st.Signal
		switch st.Code {
		case 126:
			res.Reason += " (command not executable)"
		case 127:
			res.Reason += " (command not found)"
		}
	}
	return res
}
