package service

import (
	"fmt"
	"slices"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/spec"
)

// Recovery (the SDK's DefaultRecoveryPlanManager). The recovery plan has
// one parallel phase with at most one step per pod instance:
//
//	RUNNING-goal task ends after its step completed
//	   │
//	   ├─ essential, siblings still live ──▶ KILL them, wait for their ends
//	   ├─ essential, none live ──────────▶ step relaunching the whole pod
//	   └─ not essential ─────────────────▶ step relaunching that task only,
//	                                        into the pod's running executor
//
//	transient (a crash, KILLED, LOST, UNREACHABLE, pod restart):
//	    relaunched in place, on the same agent (evaluate.RecoveryTransient):
//	    for good without a replacement policy (the SDK's
//	    NeverFailureMonitor); with svc.yml's replacement-failure-policy
//	    (or --agent-lost-timeout) for its timeout, then placed anew
//	permanent (pod replace, GONE, GONE_BY_OPERATOR, the timeout passed):
//	    placed anew (evaluate.RecoveryPermanent); under
//	    replacement-failure-policy at most one such launch every
//	    min-replace-delay-secs (or -mins; the SDK's TimedLaunchConstrainer
//	    before 0.60)
//
//	crash loop: an instance whose task FAILs (ERRORs, or FINISHes with goal
//	RUNNING) again within
//	2×Backoff.Max of its previous failure gets a DELAYED step
//	(Backoff.Initial, doubling to Backoff.Max); a lost agent, a kill, a pod
//	restart or replace is never delayed.

// crashState is one pod instance's crash-loop record.
type crashState struct {
	delay       time.Duration
	lastFailure time.Time
}

// Kinds of pod kills: what an operator asked of a pod instance.
const (
	killRestart = "restart"
	killReplace = "replace"
	killPause   = "pause" // pause or resume
)

// podKill is an operator's kill of a pod instance's tasks (pod restart,
// replace, pause, resume). The instance is busy while a killed task is
// live; whatever takes the last end (the recovery plan, or a deploy or
// update step in flight, which goes back to PENDING as the SDK's
// DeploymentStep does) relaunches the instance, and the kill is settled
// (settleKillLocked).
type podKill struct {
	kind  string
	tasks []*taskState // killed while live
	grace time.Duration
	sent  time.Time
}

// killing reports whether a task k killed has not ended yet.
func (k *podKill) killing() bool {
	return k != nil && slices.ContainsFunc(k.tasks, (*taskState).live)
}

// killPodLocked records an operator's kill of inst's tasks (the KILL calls
// are the caller's): a replace is never downgraded by a later restart or
// pause. Caller holds s.mu for writing.
func (s *Scheduler) killPodLocked(inst, kind string, tasks []*taskState, now time.Time) {
	k := s.pendingKill[inst]
	if k == nil {
		k = &podKill{kind: kind}
		s.pendingKill[inst] = k
	} else if k.kind != killReplace {
		k.kind = kind
	}
	for _, t := range tasks {
		if !slices.Contains(k.tasks, t) {
			k.tasks = append(k.tasks, t)
		}
	}
	k.grace, k.sent = max(k.grace, killGrace(tasks)), now
}

// killGrace is the longest kill grace period of tasks.
func killGrace(tasks []*taskState) time.Duration {
	var d time.Duration
	for _, t := range tasks {
		d = max(d, time.Duration(t.info.GetKillPolicy().GetGracePeriod().GetNanoseconds()))
	}
	return d
}

// settleKillLocked drops inst's pod kill once every task it killed has
// ended, whoever took the ends: the instance is no longer busy. A step of
// the instance DELAYED by a crash loop is released at once: what an
// operator asks is never delayed (as the SDK's PodQueries clear the
// tasks' backoff). Caller holds s.mu for writing.
func (s *Scheduler) settleKillLocked(inst string) {
	k := s.pendingKill[inst]
	if k == nil || k.killing() {
		return
	}
	delete(s.pendingKill, inst)
	for _, p := range s.allPlans() {
		for _, st := range p.Steps() {
			if st.Instance() == inst && st.Status() == plan.Delayed {
				st.Restart()
			}
		}
	}
}

// permanentState reports whether a task ending in st must be placed anew.
func permanentState(st mesos.TaskState) bool {
	return st == mesos.TASK_GONE || st == mesos.TASK_GONE_BY_OPERATOR
}

// recoverLocked decides what t's end means for its pod instance and adds a
// recovery step when something must be relaunched: once every task an
// operator's kill of the instance killed has ended, as its kind asks (the
// caller then settles the kill). Caller holds s.mu for writing; KILLs go
// into s.calls.
func (s *Scheduler) recoverLocked(t *taskState, now time.Time) {
	inst := t.instanceName()
	pod := s.spec.Pod(t.pod)
	k := s.pendingKill[inst]
	if pod == nil || k.killing() || s.coveredLocked(inst, now) {
		return // the last end of an operator's kill decides
	}
	var live, dead []*taskState
	essentialDead, permanent := false, false
	for _, x := range s.instanceTasks(pod, t.index) {
		if x.live() {
			live = append(live, x)
			continue
		}
		if x.spec.Goal != spec.GoalRunning {
			continue
		}
		dead = append(dead, x)
		if x.spec.IsEssential() {
			essentialDead = true
		}
		if x.replace || permanentState(x.status.GetState()) {
			permanent = true
		}
	}
	if len(dead) == 0 {
		return
	}
	if essentialDead && len(live) > 0 {
		// Each task is a task group of its own: nothing but these KILLs
		// ends its siblings (as the SDK's recovery of an essential task
		// relaunches the whole pod, its PlanScheduler.killTasks killing
		// them). Wait for their ends before relaunching it.
		for _, x := range live {
			s.calls = append(s.calls, killCall(x))
		}
		if k != nil {
			s.killPodLocked(inst, k.kind, live, now)
		}
		return
	}
	kind := ""
	if k != nil {
		kind = k.kind // settled by the caller (settleKillLocked)
	}
	if kind == killReplace {
		permanent = true
	}
	var names []string
	for _, x := range dead {
		x.replace = permanent
		if id := x.taskID(); x.pinFor != id || x.pinUntil.IsZero() {
			x.pinUntil, x.pinFor = s.pinDeadline(now), id
		}
		names = append(names, x.spec.Name)
	}
	// Crash-loop backoff: only for failures the user did not ask for, and
	// only for a task that failed (FAILED, ERROR, as the SDK's
	// DeploymentStep.update adds a delay for those alone; and a RUNNING
	// task's FINISHED): a lost agent, a kill, a drop is relaunched at once
	// and leaves the record as it was.
	var delay time.Duration
	cs := s.crash[inst]
	if cs == nil {
		cs = &crashState{}
		s.crash[inst] = cs
	}
	switch {
	case kind != "":
		// An operator's command starts the pod afresh: a crash right after
		// it is a first failure (the SDK's PodQueries clear the backoff).
		cs.delay, cs.lastFailure = 0, time.Time{}
	case slices.ContainsFunc(dead, (*taskState).failed):
		if !permanent && !cs.lastFailure.IsZero() && now.Sub(cs.lastFailure) < 2*s.cfg.Backoff.Max {
			delay = s.cfg.Backoff.Next(cs.delay)
		}
		cs.delay, cs.lastFailure = delay, now
	}

	ph := s.recovery.Phases[0]
	step := plan.NewStep(pod.Name, t.index, names)
	step.Backoff = s.cfg.Backoff
	step.Delay(delay, now)
	step.Message = failureMessage(t, dead)
	ph.Steps = slices.DeleteFunc(ph.Steps, func(old *plan.Step) bool { return old.Instance() == inst })
	ph.Steps = append(ph.Steps, step)
	s.m.Inc("recovery.steps")
	s.log.Info("recovering", "pod", inst, "tasks", names, "permanent", permanent, "delay", delay)
}

// failed reports whether t ended failing: TASK_FAILED or TASK_ERROR, the
// ends the SDK's DeploymentStep backs off, or TASK_FINISHED of a
// RUNNING-goal task (an exit it should not make), which the SDK relaunches
// at once every time: backed off here, so that a task exiting 0 at once is
// no relaunch loop as fast as offers come.
func (t *taskState) failed() bool {
	switch t.status.GetState() {
	case mesos.TASK_FAILED, mesos.TASK_ERROR:
		return true
	case mesos.TASK_FINISHED:
		return t.spec != nil && t.spec.Goal == spec.GoalRunning
	}
	return false
}

// failureMessage is a new recovery step's message from its first moment:
// the end of the first of dead that failed (FAILED, ERROR), else of t, as
// a step's message says a task's end (plan.Step.TaskUpdate).
func failureMessage(t *taskState, dead []*taskState) string {
	if i := slices.IndexFunc(dead, (*taskState).failed); i >= 0 {
		t = dead[i]
	}
	return strings.TrimSpace(fmt.Sprintf("%s: %s %s", t.name, t.status.GetState(), t.status.GetMessage()))
}

// forever is the pin of a relaunch in place that is never given up.
var forever = time.Date(9999, time.January, 1, 0, 0, 0, 0, time.UTC)

// replacePolicy is how long a failed pod instance is relaunched in place
// before it is replaced, and what says so: svc.yml's
// replacement-failure-policy (the SDK's TimedFailureMonitor), else an
// explicit --agent-lost-timeout; ok is false when neither is set, and the
// instance is never replaced by itself (NeverFailureMonitor).
func (s *Scheduler) replacePolicy() (after time.Duration, source string, ok bool) {
	if rp := s.spec.ReplacementFailurePolicy; rp != nil {
		return rp.PermanentFailureTimeout(), rp.PermanentFailureTimeoutField(), true
	}
	if s.cfg.AgentLostTimeout > 0 {
		return s.cfg.AgentLostTimeout, "--agent-lost-timeout", true
	}
	return 0, "", false
}

// pinDeadline is until when a relaunch in place decided now waits for its
// agent: forever without a replacement policy.
func (s *Scheduler) pinDeadline(now time.Time) time.Time {
	after, _, ok := s.replacePolicy()
	if !ok {
		return forever
	}
	return now.Add(after)
}

// replaceHeldUntil is, for a recovery step that would place its pod
// instance anew now, until when replacement-failure-policy's
// min-replace-delay holds it after the last replacement launched (the
// SDK's TimedLaunchConstrainer before 0.60 removed it, which held every
// PERMANENT recovery, pod replace included); zero when it may launch.
func (s *Scheduler) replaceHeldUntil(st *plan.Step, now time.Time) time.Time {
	rp := s.spec.ReplacementFailurePolicy
	if rp == nil || s.lastReplace.IsZero() || !s.isRecoveryStep(st) || !s.permanentRecovery(st, now) {
		return time.Time{}
	}
	if until := s.lastReplace.Add(rp.MinReplaceDelay()); now.Before(until) {
		return until
	}
	return time.Time{}
}

// replaceHeldMessage says why a replacement waits.
func (s *Scheduler) replaceHeldMessage(st *plan.Step, until, now time.Time) string {
	rp := s.spec.ReplacementFailurePolicy
	return fmt.Sprintf("%s is placed anew in %s (%s: one replacement every %s)",
		st.Instance(), until.Sub(now).Round(time.Second), rp.MinReplaceDelayField(), rp.MinReplaceDelay())
}

// coveredLocked reports whether a deploy step will launch pod instance
// inst itself: one that is working (PREPARED, STARTING, STARTED, DELAYED)
// or may start now, or one that never launched it; or a step killed its
// tasks to relaunch them. A step that waits its turn (a serial roll, a held
// plan) leaves a task of its instance that ends to the recovery plan, which
// relaunches it on the target configuration (as the SDK's recovery works
// on what no plan is working on).
func (s *Scheduler) coveredLocked(inst string, now time.Time) bool {
	if s.updating[inst] != nil {
		return true
	}
	var candidates []*plan.Step
	for _, st := range s.deploy.Steps() {
		if st.Instance() != inst || st.Status() == plan.Complete {
			continue
		}
		if st.Status() != plan.Pending || !s.launchedBefore(st) {
			return true
		}
		if candidates == nil {
			candidates = s.deploy.Candidates(now)
		}
		if slices.Contains(candidates, st) {
			return true
		}
	}
	return false
}

// launchedBefore reports whether some task of st has a TaskInfo: it ran
// before (the step updates it, or relaunches it).
func (s *Scheduler) launchedBefore(st *plan.Step) bool {
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.info != nil {
			return true
		}
	}
	return false
}

// adoptLocked marks step st launched: the tasks named in launched were
// just launched; its other tasks keep their current state (they run
// already). Caller holds s.mu for writing.
func (s *Scheduler) adoptLocked(st *plan.Step, launched []string, now time.Time) {
	st.Launched()
	for _, name := range st.TaskNames() {
		t := s.tasks[name]
		if t == nil {
			continue
		}
		t.step = st
		if slices.Contains(launched, name) || t.status == nil {
			continue
		}
		st.TaskUpdate(name, t.status.GetState(), t.spec.Goal, t.readyNow(), t.status.GetMessage(), now)
	}
	if st.Status() == plan.Complete || st.Status() == plan.Pending || st.Status() == plan.Delayed {
		for _, name := range st.TaskNames() {
			if t := s.tasks[name]; t != nil && t.step == st {
				t.step = nil
			}
		}
	}
}
