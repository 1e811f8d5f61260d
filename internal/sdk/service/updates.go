package service

import (
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
)

// updates handles a run of status updates: each moves its task and step
// (and may start a recovery); then one outbox job stores them all and
// acknowledges them. A status that cannot be stored is not acknowledged,
// so Mesos sends it again.
func (s *Scheduler) updates(sts []mesos.TaskStatus) {
	start := time.Now()
	now := s.clock.Now()
	j := &job{statuses: map[string]*mesos.TaskStatus{}}
	type logLine struct {
		msg   string
		attrs []any
	}
	var logs []logLine
	plansChanged := false
	s.mu.Lock()
	for i := range sts {
		st := &sts[i]
		s.m.Inc("task_status." + st.GetState().String())
		s.answeredLocked(st.TaskID.Value, now)
		var t *taskState
		if name, ok := s.byID[st.TaskID.Value]; ok {
			t = s.tasks[name]
			if t == nil {
				t = s.retired[name]
			}
		}
		switch {
		case t == nil:
			logs = append(logs, logLine{"status of an unknown task", []any{"task_id", st.TaskID.Value, "state", st.GetState().String()}})
			s.unknownTaskLocked(st)
		case t.status != nil && t.status.GetState() == st.GetState() && st.GetReason() == mesos.REASON_RECONCILIATION && st.UUID == nil:
			// A reconciliation answer repeating the stored state changes
			// nothing (and costs no store write: 500 of them follow
			// every restart).
		default:
			if s.taskUpdateLocked(t, st, now) {
				plansChanged = true
			}
			j.statuses[t.name] = st
			logs = append(logs, logLine{"task status", statusAttrs(t.name, st)})
		}
		if st.UUID != nil && st.AgentID != nil {
			j.calls = append(j.calls, calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		}
	}
	if plansChanged {
		p := s.progressJob()
		j.plans, j.props = p.plans, p.props
	}
	s.mu.Unlock()
	for _, l := range logs {
		s.log.Info(l.msg, l.attrs...)
	}
	// Recovery's KILLs go after the acknowledgements.
	j.calls = append(j.calls, s.calls...)
	s.calls = nil
	s.out.push(j)
	s.m.Observe("status.process", time.Since(start))
	s.wake()
}

// statusAttrs are the log attributes of a task's status: its state and
// message, and, when the status carries them, why it was sent and the
// health verdict or the check's result, which tell apart the several
// TASK_RUNNING of a task (started, health check, readiness check:
// REASON_TASK_CHECK_STATUS_UPDATED, first without a result).
func statusAttrs(name string, st *mesos.TaskStatus) []any {
	attrs := []any{"task", name, "state", st.GetState().String(), "message", st.GetMessage()}
	if st.Reason != nil {
		attrs = append(attrs, "reason", st.GetReason().String())
	}
	if st.Healthy != nil {
		attrs = append(attrs, "healthy", st.GetHealthy())
	}
	// A check's result (the readiness check's, in check_status); none
	// before its first run.
	if cs := st.GetCheckStatus(); cs != nil {
		switch {
		case cs.GetCommand() != nil && cs.GetCommand().ExitCode != nil:
			attrs = append(attrs, "check_exit_code", cs.GetCommand().GetExitCode())
		case cs.GetHTTP() != nil && cs.GetHTTP().StatusCode != nil:
			attrs = append(attrs, "check_http_status", cs.GetHTTP().GetStatusCode())
		case cs.GetTCP() != nil && cs.GetTCP().Succeeded != nil:
			attrs = append(attrs, "check_tcp_succeeded", cs.GetTCP().GetSucceeded())
		}
	}
	return attrs
}

// taskUpdateLocked applies one status to its task and step, and starts a
// recovery when a live task ended. It reports whether a plan changed.
// Caller holds s.mu for writing.
func (s *Scheduler) taskUpdateLocked(t *taskState, st *mesos.TaskStatus, now time.Time) bool {
	wasLive := t.live()
	t.status = st
	if st.GetState() == mesos.TASK_RUNNING {
		t.pinUntil, t.pinFor = time.Time{}, "" // it runs again: a next failure starts a new clock
	}
	if isTerminal(st.GetState()) {
		// Whoever takes the end (a step, the recovery plan, the
		// decommission plan), an operator's kill it ends is settled after.
		defer s.settleKillLocked(t.instanceName())
	}
	if t.retired {
		return false // the decommission plan sees its end
	}
	if readinessPassed(st) {
		t.ready = true
	}
	changed := false
	if t.step != nil {
		changed = t.step.TaskUpdate(t.name, st.GetState(), t.spec.Goal, t.readyNow(), st.GetMessage(), now)
		if msg := readinessWaitMessage(t, st); msg != "" {
			t.step.Message = msg
		} else if strings.HasPrefix(t.step.Message, readinessWaitPrefix(t.name)) {
			t.step.Message = "" // it passed, or the task is no longer running
		}
		if isTerminal(st.GetState()) || t.step.Status() == plan.Complete {
			t.step = nil
		}
	}
	// Only the first terminal status of a task counts: a re-sent update and
	// a reconciliation answer about the same end are one failure. A task a
	// step killed to relaunch it is that step's.
	if wasLive && isTerminal(st.GetState()) && t.step == nil {
		if s.killEndedLocked(t) {
			return true
		}
		s.recoverLocked(t, now)
	}
	return changed
}

// unknownTaskLocked handles a status of a task the scheduler does not know:
// a live one is killed (it may be a leftover of a launch whose TaskInfo was
// replaced, or of another configuration). Caller holds s.mu.
func (s *Scheduler) unknownTaskLocked(st *mesos.TaskStatus) {
	if isTerminal(st.GetState()) {
		return
	}
	s.m.Inc("tasks.killed_unknown")
	s.calls = append(s.calls, calls.Kill(st.TaskID.Value, st.GetAgentID().GetValue()))
}

// killCall is a KILL of a task the scheduler knows.
func killCall(t *taskState) *scheduler.Call {
	return calls.Kill(t.info.TaskID.Value, t.info.AgentID.Value)
}
