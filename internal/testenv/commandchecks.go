package testenv

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/health"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/sandboxfs"
	"github.com/taskkit/taskkit/internal/taskcheck"
)

// startCommandChecksLocked starts a command task's health check and check,
// if it has any, once its process runs and its TASK_RUNNING is sent, as
// Mesos' command executor does (launch, src/launcher/executor.cpp): the
// checkers of package taskcheck, with HTTP and TCP checks connecting to
// the agent's IP (the task's address here; Mesos connects to 127.0.0.1 in
// the task's network) and command checks run in the sandbox with the
// task's environment. It returns what stops them (also called by a kill,
// through t.stopChecks); the sandbox they hold open is closed once both
// have ended.
func (c *Cluster) startCommandChecksLocked(e *executor, t *task, env []string) func() {
	hc, ci := t.info.HealthCheck, t.info.Check
	if hc == nil && ci == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(c.ctx)
	t.stopChecks = cancel
	var sb *sandboxfs.Dir
	if hc != nil && hc.Type == mesos.HealthCheck_COMMAND || ci != nil && ci.Type == mesos.CheckInfo_COMMAND {
		var err error
		if sb, err = openSandboxLocked(e); err != nil {
			c.log.Error("cannot open the sandbox for the task's command checks", "task", t.id(), "error", err)
		}
	}
	tg := taskcheck.Target{Host: e.agent.ip, Command: func(ci *mesos.CommandInfo) probe.Prober {
		return &sandboxCommand{ci: ci, env: append(append([]string(nil), env...), checkCommandEnv(ci)...), sandbox: sb}
	}}
	var checkers []*health.Checker
	if hc != nil {
		a := t.agent
		a.learnSecrets(hc.Command)
		ch, err := taskcheck.Health(hc, tg, func(ev health.Event) { c.commandHealthResult(t, ev) })
		if err != nil {
			// Mesos' command executor logs it and runs the task unchecked.
			c.log.Error("cannot run the task's health check", "task", t.id(), "error", err)
		} else {
			checkers = append(checkers, ch)
		}
	}
	if ci != nil {
		if ci.Command != nil {
			t.agent.learnSecrets(&ci.Command.Command)
		}
		ch, err := taskcheck.Check(ci, tg, func(st *mesos.CheckStatusInfo) { c.commandCheckResult(t, st) })
		if err != nil {
			c.log.Error("cannot run the task's check", "task", t.id(), "error", err)
		} else {
			checkers = append(checkers, ch)
		}
	}
	var running sync.WaitGroup
	for _, ch := range checkers {
		running.Add(1)
		if !c.goLocked(func() {
			defer running.Done()
			_ = ch.Run(ctx)
		}) {
			running.Done()
		}
	}
	closeSandbox := func() {
		running.Wait()
		if sb != nil {
			sb.Close()
		}
	}
	if !c.goLocked(closeSandbox) {
		cancel()
		closeSandbox()
	}
	return cancel
}

// checkCommandEnv is a check command's own variables as Mesos' checker
// sets them over the command executor's environment (commandCheck,
// src/checks/checker_process.cpp: environment[name] = variable.value()):
// a SECRET variable has no value there, so it is set empty, not resolved
// (the task's own SECRET variables are, in the environment it is added
// to).
func checkCommandEnv(ci *mesos.CommandInfo) []string {
	var env []string
	for _, v := range ci.GetEnvironment().GetVariables() {
		env = append(env, v.Name+"="+v.GetValue())
	}
	return env
}

// stopChecksLocked stops a command task's checks: Mesos' command executor
// pauses them when it kills the task and when the task has ended.
func (t *task) stopChecksLocked() {
	if t.stopChecks != nil {
		t.stopChecks()
		t.stopChecks = nil
	}
}

// checkableLocked reports whether a check's result may still be sent:
// Mesos' command executor drops results once the task is being killed or
// has ended (taskHealthUpdated, taskCheckUpdated).
func (c *Cluster) checkableLocked(t *task) bool {
	if c.stopping || t.removed || t.killing || t.p == nil || t.exec == nil || t.exec.state != execRunning ||
		t.state != mesos.TASK_RUNNING || len(t.statuses) == 0 {
		return false
	}
	select {
	case <-t.p.done:
		return false
	default:
		return true
	}
}

// derivedStatusLocked is the task's latest update with a new uuid,
// timestamp and reason, the rest (healthy, check_status, container status)
// kept, as the command executor builds its check updates from
// lastTaskStatus (protobuf::createTaskStatus).
func (c *Cluster) derivedStatusLocked(t *task, reason mesos.TaskStatus_Reason) mesos.TaskStatus {
	st := t.statuses[len(t.statuses)-1]
	st.UUID = mesosx.NewUUID()
	ts := float64(time.Now().UnixNano()) / 1e9
	st.Timestamp = &ts
	st.Reason = &reason
	return st
}

// commandHealthResult is the command executor's taskHealthUpdated: a
// TASK_RUNNING with healthy and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
// whenever the health checker reports (taskcheck.HealthReport), then,
// once consecutive_failures is reached, the task's kill with its kill
// policy; it ends TASK_KILLED with healthy=false.
func (c *Cluster) commandHealthResult(t *task, ev health.Event) {
	report, healthy, kill := taskcheck.HealthReport(ev)
	if !report {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.checkableLocked(t) {
		return
	}
	if healthy {
		c.log.Debug("task healthy", "task", t.id())
	} else {
		c.log.Debug("task health check failed", "task", t.id(), "consecutive_failures", ev.Status.ConsecutiveFailures, "reason", t.agent.secrets.String(ev.Check.Reason))
	}
	st := c.derivedStatusLocked(t, mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
	st.Healthy = &healthy
	c.statusUpdateLocked(t, st)
	if kill {
		t.killedByHealthCheck = true
		c.killLocked(t, nil)
	}
}

// commandCheckResult is the command executor's taskCheckUpdated: a
// TASK_RUNNING with the new check_status and
// REASON_TASK_CHECK_STATUS_UPDATED when the result differs from the
// previous one (Checker::processCheckResult, src/checks/checker.cpp; the
// first is compared with the empty status every update carries).
func (c *Cluster) commandCheckResult(t *task, cs *mesos.CheckStatusInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.checkableLocked(t) {
		return
	}
	prev := t.checkStatus
	if prev == nil {
		prev = taskcheck.EmptyStatus(t.info.Check.Type)
	}
	if prev.Equal(cs) {
		return
	}
	t.checkStatus = cs
	st := c.derivedStatusLocked(t, mesos.REASON_TASK_CHECK_STATUS_UPDATED)
	st.CheckStatus = cs
	c.statusUpdateLocked(t, st)
}

// emptyCheckStatus is the check_status of every fresh update of a command
// task with a check (the command executor's createTaskStatus), nil for a
// task without one.
func emptyCheckStatus(t *task) *mesos.CheckStatusInfo {
	if t.info.Check == nil {
		return nil
	}
	return taskcheck.EmptyStatus(t.info.Check.Type)
}

// sandboxCommand runs a check's or health check's command as Mesos'
// checker does (commandCheck, src/checks/checker_process.cpp): a shell
// command through the shell the task's command gets, else value exec'd
// with arguments as its whole argument list, found as startProc finds a
// task's; in the task's sandbox, with its environment and the command's
// variables, in a process group of its own that is SIGKILLed at the
// timeout (package probe), its output appended to the sandbox's stderr.
type sandboxCommand struct {
	ci      *mesos.CommandInfo
	env     []string
	sandbox *sandboxfs.Dir
}

func (s *sandboxCommand) Probe(ctx context.Context) probe.Result {
	if s.sandbox == nil {
		return probe.Result{Status: probe.Error, Reason: "the sandbox could not be opened", ExitCode: -1}
	}
	cmd := &probe.Command{Env: s.env, Dir: s.sandbox.FDPath()}
	// Mesos' checker gives the command the command executor's stderr for
	// its stdout and stderr (commandCheck: Subprocess::FD(STDERR_FILENO)),
	// which is the sandbox's stderr file.
	if f, err := s.sandbox.OpenFile("stderr", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		defer f.Close()
		cmd.Tee = f
	}
	if s.ci.Shell == nil || *s.ci.Shell {
		cmd.Path, cmd.Args = mesosx.ShellCommand(s.ci.GetValue())
	} else {
		path, err := exec.LookPath(s.ci.GetValue())
		if err != nil {
			return probe.Result{Status: probe.Error, Reason: err.Error(), ExitCode: -1}
		}
		cmd.Path, cmd.Args = path, s.ci.Arguments
		if len(cmd.Args) == 0 {
			cmd.Args = []string{s.ci.GetValue()}
		}
	}
	return cmd.Probe(ctx)
}
