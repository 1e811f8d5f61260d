// Package plan holds scheduler-lite's plans: a plan has phases, a phase has
// steps, a step launches some tasks of one pod instance. Strategies decide
// which steps may work next; step status follows task status updates; phase
// and plan status are aggregated from their children — all as the DC/OS SDK
// does (../../shared/research/dcos-sdk-inventory.md §4).
//
// Step life cycle:
//
//	           launch              STAGING/STARTING        RUNNING (+ready)
//	PENDING ─────────▶ PREPARED ─────────────────▶ STARTING ──────▶ STARTED ──▶ COMPLETE
//	   ▲                   │  FINISHED (goal RUNNING), KILLED, LOST, GONE, ...   │
//	   └───────────────────┴──────────────────── (back to PENDING) ◀─────────────┘ (before COMPLETE)
//	                       FAILED, ERROR ──▶ DELAYED (backoff) ──▶ eligible again
//
// Nothing here is safe for concurrent use: the scheduler guards its plans
// with its own lock.
package plan

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Status is the status of a step, phase or plan.
type Status string

// Statuses, as the SDK names them.
const (
	Error      Status = "ERROR"
	Waiting    Status = "WAITING"
	Pending    Status = "PENDING"
	Prepared   Status = "PREPARED"
	Starting   Status = "STARTING"
	Started    Status = "STARTED"
	Complete   Status = "COMPLETE"
	InProgress Status = "IN_PROGRESS"
	Delayed    Status = "DELAYED"
)

// Strategies.
const (
	Serial         = "serial"
	Parallel       = "parallel"
	SerialCanary   = "serial-canary"
	ParallelCanary = "parallel-canary"
)

// stepRank orders task-derived step statuses: a step takes the lowest
// status of its tasks, ERROR being lowest.
var stepRank = map[Status]int{Error: 0, Delayed: 1, Pending: 2, Prepared: 3, Starting: 4, Started: 5, Complete: 6}

// Step launches the tasks Tasks of pod instance Pod-Index together.
type Step struct {
	// Name is "<pod>-<index>:[task,...]".
	Name string
	// Pod is the pod type and Index the instance (set by NewStep; the step
	// caches the names they make).
	Pod   string
	Index int
	// Tasks are the task names (as in svc.yml) this step launches.
	Tasks []string
	// Message explains the status (e.g. the last failure).
	Message string

	// Backoff is the crash-loop backoff of DELAYED; the zero value is
	// DefaultBackoff.
	Backoff Backoff
	// Relaunch asks the scheduler to kill the step's running tasks before
	// it launches them again (an operator restarted the step, as the SDK's
	// PlanScheduler kills a pending step's tasks); cleared by Launched.
	Relaunch bool

	status    Status
	tasks     map[string]Status // full task name → status
	delay     time.Duration
	notBefore time.Time
	// instance and taskNames cache Instance and TaskNames (set by NewStep).
	instance  string
	taskNames []string
	// refused: the step factory refused the step; it stays ERROR.
	refused bool
	// interrupted: a canary step waiting for a continue (the SDK's
	// AbstractStep.interrupted); it shows WAITING while PENDING.
	interrupted bool
}

// Backoff is a doubling delay: Initial after the first failure, doubling up
// to Max.
type Backoff struct {
	Initial, Max time.Duration
}

// DefaultBackoff is the SDK-like crash-loop backoff: 1 s doubling to 30 s.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second}

// Next returns the delay that follows prev (0: the first).
func (b Backoff) Next(prev time.Duration) time.Duration {
	if b.Initial <= 0 {
		b = DefaultBackoff
	}
	if prev <= 0 {
		return b.Initial
	}
	return min(prev*2, b.Max)
}

// NewStep returns a PENDING step.
func NewStep(pod string, index int, tasks []string) *Step {
	s := &Step{
		Name: fmt.Sprintf("%s-%d:[%s]", pod, index, joinComma(tasks)),
		Pod:  pod, Index: index, Tasks: tasks, status: Pending,
	}
	s.instance = instanceName(pod, index)
	s.taskNames = s.computeTaskNames()
	return s
}

func instanceName(pod string, index int) string { return pod + "-" + strconv.Itoa(index) }

// NewActionStep returns a PENDING step that launches no task, named name:
// its plan's owner does the work and moves it (SetStatus, Message), as the
// uninstall plan's kill-tasks or teardown. Pod is empty.
func NewActionStep(name string) *Step { return &Step{Name: name, status: Pending} }

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// Instance is the pod instance name, "<pod>-<index>".
func (s *Step) Instance() string {
	if s.instance == "" && s.Pod != "" {
		return instanceName(s.Pod, s.Index)
	}
	return s.instance
}

// TaskNames returns the full task names "<pod>-<index>-<task>" (the caller
// must not change them).
func (s *Step) TaskNames() []string {
	if s.taskNames == nil || len(s.taskNames) != len(s.Tasks) {
		return s.computeTaskNames()
	}
	return s.taskNames
}

func (s *Step) computeTaskNames() []string {
	out := make([]string, len(s.Tasks))
	for i, t := range s.Tasks {
		out[i] = instanceName(s.Pod, s.Index) + "-" + t
	}
	return out
}

// Status is the step's own status.
func (s *Step) Status() Status { return s.status }

// Interrupted reports whether the step is a canary step waiting for a
// continue of its phase.
func (s *Step) Interrupted() bool { return s.interrupted }

// Eligible reports whether the step may be launched now.
func (s *Step) Eligible(now time.Time) bool {
	return s.status == Pending || (s.status == Delayed && !now.Before(s.notBefore))
}

// Launched marks the step PREPARED: its tasks were sent to Mesos.
func (s *Step) Launched() {
	s.status = Prepared
	s.Message = ""
	s.Relaunch = false
	s.tasks = map[string]Status{}
	for _, n := range s.TaskNames() {
		s.tasks[n] = Prepared
	}
}

// Prepare marks the step PREPARED before a launch: its work has begun
// (the tasks it relaunches are being killed), msg says what it waits for.
// Task updates do not move it; Restart makes it PENDING again.
func (s *Step) Prepare(msg string) { s.status, s.tasks, s.Message = Prepared, nil, msg }

// Delay makes the step DELAYED until now+d (crash-loop backoff of a
// relaunch); d <= 0 leaves it as it is.
func (s *Step) Delay(d time.Duration, now time.Time) {
	if d <= 0 {
		return
	}
	s.status, s.delay, s.notBefore, s.tasks = Delayed, d, now.Add(d), nil
}

// NotBefore is when a DELAYED step becomes eligible again.
func (s *Step) NotBefore() time.Time { return s.notBefore }

// Restart puts the step back to PENDING, unless the step factory refused
// it (it stays ERROR, as the SDK's step keeps its errors).
func (s *Step) Restart() {
	if s.refused {
		return
	}
	s.status, s.tasks, s.Message = Pending, nil, ""
}

// ForceComplete marks the step COMPLETE.
func (s *Step) ForceComplete() { s.status, s.tasks, s.Message, s.Relaunch = Complete, nil, "", false }

// SetStatus sets the status directly (used when restoring saved progress).
func (s *Step) SetStatus(st Status) { s.status = st }

// TaskUpdate applies a status update of one of the step's tasks (full name)
// with the task's goal; ready says whether its readiness check has passed
// (true when it has none). It reports whether the step's status changed.
// Updates for tasks the step did not launch, or after it is COMPLETE, are
// ignored.
func (s *Step) TaskUpdate(task string, state mesos.TaskState, goal string, ready bool, msg string, now time.Time) bool {
	if s.status == Complete || s.tasks == nil {
		return false
	}
	if _, ok := s.tasks[task]; !ok {
		return false
	}
	var st Status
	switch state {
	case mesos.TASK_STAGING, mesos.TASK_STARTING:
		st = Starting
	case mesos.TASK_RUNNING:
		if ready && goal == "RUNNING" {
			st = Complete
		} else {
			st = Started
		}
	case mesos.TASK_FINISHED:
		if goal == "RUNNING" {
			st = Pending
		} else {
			st = Complete
		}
	case mesos.TASK_FAILED, mesos.TASK_ERROR:
		st = Delayed
	case mesos.TASK_KILLED, mesos.TASK_LOST, mesos.TASK_GONE, mesos.TASK_DROPPED, mesos.TASK_UNREACHABLE, mesos.TASK_GONE_BY_OPERATOR:
		st = Pending
	default:
		return false
	}
	s.tasks[task] = st
	lowest := Complete
	for _, t := range s.tasks {
		if stepRank[t] < stepRank[lowest] {
			lowest = t
		}
	}
	old := s.status
	switch lowest {
	case Delayed:
		s.delay = s.Backoff.Next(s.delay)
		s.notBefore = now.Add(s.delay)
		s.tasks = nil
	case Pending:
		s.tasks = nil
	case Complete:
		s.delay = 0
	}
	if st == Delayed || st == Pending {
		s.Message = fmt.Sprintf("%s: %s %s", task, state, msg)
	}
	s.status = lowest
	return old != lowest
}

// Phase is an ordered list of steps with a strategy.
type Phase struct {
	// Name is the phase's name.
	Name string
	// Strategy is serial, parallel, serial-canary or parallel-canary.
	Strategy string
	// Steps are the phase's steps in order.
	Steps []*Step
	// Interrupted holds the phase: no new step starts.
	Interrupted bool

	// canary are the canary steps of a canary phase, in order (the SDK's
	// CanaryStrategy.canarySteps): each is interrupted until a continue
	// naming the phase proceeds it; while one still waits, only the
	// proceeded ones work, then the phase follows its serial or parallel
	// strategy. Set by Hold and Restore.
	canary []*Step
}

// canarySteps is how many continues a canary phase needs, one per canary
// step (the SDK's CanaryStrategy.DEFAULT_PROCEED_COUNT).
const canarySteps = 2

// Plan is an ordered list of phases with a strategy.
type Plan struct {
	// Name is the plan's name (deploy, recovery, or a custom one).
	Name string
	// Strategy is serial or parallel.
	Strategy string
	// Phases are the plan's phases in order.
	Phases []*Phase
	// Errors are problems that keep the plan from working (e.g. an invalid
	// config update).
	Errors []string
	// Interrupted holds the plan.
	Interrupted bool
	// Parameters are the env values given with the last start.
	Parameters map[string]string
}

// isCanary reports whether the strategy holds steps until continued.
func isCanary(s string) bool { return s == SerialCanary || s == ParallelCanary }

// Hold makes the first two PENDING steps of a canary phase its canary
// steps, each interrupted until a continue naming the phase, as the SDK's
// CanaryStrategy does when a phase is generated (interruptCanarySteps): a
// COMPLETE step is none of them, so a phase whose pods are deployed holds
// the instances a higher count adds or a new target relaunches. The canary
// steps it had before are released. It does nothing to other phases.
func (ph *Phase) Hold() {
	ph.releaseCanary()
	if !isCanary(ph.Strategy) {
		return
	}
	for _, s := range ph.Steps {
		if len(ph.canary) == canarySteps {
			break
		}
		if s.status == Pending {
			s.interrupted = true
			ph.canary = append(ph.canary, s)
		}
	}
}

// releaseCanary forgets the phase's canary steps.
func (ph *Phase) releaseCanary() {
	for _, s := range ph.canary {
		s.interrupted = false
	}
	ph.canary = nil
}

// nextCanary is the first canary step still waiting for a continue (the
// SDK's CanaryStrategy.getNextCanaryStep), nil once the canary is over.
func (ph *Phase) nextCanary() *Step {
	for _, s := range ph.canary {
		if s.interrupted && s.status != Complete {
			return s
		}
	}
	return nil
}

// canaryHeld reports whether the phase waits for a continue: a canary
// step waits and none proceeded is still at work (the SDK's
// CanaryStrategy.isInterrupted).
func (ph *Phase) canaryHeld() bool {
	if ph.nextCanary() == nil {
		return false
	}
	for _, s := range ph.canary {
		if !s.interrupted && s.status != Complete {
			return false
		}
	}
	return true
}

// StepStatus is the status a step shows: WAITING while held (its plan or
// phase interrupted, or itself a canary step not yet continued) and not
// started.
func (ph *Phase) StepStatus(i int, planInterrupted bool) Status {
	s := ph.Steps[i]
	if (planInterrupted || ph.Interrupted || s.interrupted) && (s.status == Pending || s.status == Delayed) {
		return Waiting
	}
	return s.status
}

// candidates returns the steps of ph that may work now: while its canary
// lasts, the canary steps continued (the SDK's CanaryStrategy.getCandidates),
// then as its serial or parallel strategy says.
func (ph *Phase) candidates(now time.Time) []*Step {
	if ph.Interrupted {
		return nil
	}
	var out []*Step
	if ph.nextCanary() != nil {
		for _, s := range ph.canary {
			if !s.interrupted && s.Eligible(now) {
				out = append(out, s)
			}
		}
		return out
	}
	serial := ph.Strategy == Serial || ph.Strategy == SerialCanary
	for _, s := range ph.Steps {
		if s.status == Complete {
			continue
		}
		if s.Eligible(now) {
			out = append(out, s)
		}
		if serial {
			break
		}
	}
	return out
}

// Status aggregates the phase's step statuses.
func (ph *Phase) Status(planInterrupted bool) Status {
	status := func(i int) Status { return ph.StepStatus(i, planInterrupted) }
	n := len(ph.Steps)
	if ph.Strategy == Serial || ph.Strategy == SerialCanary {
		n = serialCut(n, status)
	}
	return aggregateSet(statusesOf(n, status), nil, ph.Interrupted || planInterrupted || ph.canaryHeld())
}

// Status aggregates the plan's phase statuses.
func (p *Plan) Status() Status {
	st := make([]Status, len(p.Phases))
	for i, ph := range p.Phases {
		st[i] = ph.Status(p.Interrupted)
	}
	status := func(i int) Status { return st[i] }
	n := len(st)
	if p.Strategy != Parallel {
		n = serialCut(n, status)
	}
	return aggregateSet(statusesOf(n, status), p.Errors, p.Interrupted)
}

// serialCut is how many of a serial element's n children (status(i) is
// child i's) count: up to its first one not COMPLETE when that one is in
// flight (STARTING, STARTED) or held (WAITING), else all. The SDK
// aggregates over its strategy's candidates (PlanUtils.getAggregateStatus),
// and the later children are none yet, so a roll held by a readiness check
// is STARTED, not PENDING, and a serial plan whose canary phase waits for
// a continue is WAITING, not PENDING for the phases after it
// (test_canary_strategy.py, test_canary_second).
func serialCut(n int, status func(int) Status) int {
	for i := range n {
		switch status(i) {
		case Complete:
			continue
		case Starting, Started, Waiting:
			return i + 1
		}
		return n
	}
	return n
}

// statusSet is a set of statuses: which ones children have (aggregate
// asks no more of them), made in one pass and without allocating, as a
// plan's status is for every view the loop publishes.
type statusSet uint16

// statusBits are the statuses' members of a statusSet; any other status
// is the last bit.
var statusBits = [...]Status{Error, Waiting, Pending, Prepared, Starting, Started, Complete, InProgress, Delayed}

func setOf(s Status) statusSet {
	for i, b := range statusBits {
		if s == b {
			return 1 << i
		}
	}
	return 1 << len(statusBits)
}

// statusesOf is the set of the first n children's statuses.
func statusesOf(n int, status func(int) Status) statusSet {
	var set statusSet
	for i := range n {
		set |= setOf(status(i))
	}
	return set
}

// aggregateSet is PlanUtils.getAggregateStatus of children's statuses:
// first match wins.
func aggregateSet(children statusSet, errs []string, interrupted bool) Status {
	has := func(s Status) bool { return children&setOf(s) != 0 }
	all := func(s Status) bool { return children&^setOf(s) == 0 }
	switch {
	case len(errs) > 0 || has(Error):
		return Error
	case all(Complete):
		return Complete
	case interrupted:
		return Waiting
	case all(Delayed):
		return Delayed
	case has(Prepared) || has(InProgress) || (has(Complete) && (has(Starting) || has(Started) || has(Pending) || has(Delayed))):
		return InProgress
	}
	for _, s := range []Status{Pending, Waiting, Starting, Started, Delayed} {
		if has(s) {
			return s
		}
	}
	return InProgress
}

// Candidates returns the steps of p that may be launched now, following the
// plan's and phases' strategies. An interrupted or erroneous plan has none.
func (p *Plan) Candidates(now time.Time) []*Step {
	if p.Interrupted || len(p.Errors) > 0 {
		return nil
	}
	var out []*Step
	for _, ph := range p.Phases {
		if ph.Status(false) == Complete {
			continue
		}
		out = append(out, ph.candidates(now)...)
		if p.Strategy != Parallel {
			break
		}
	}
	return out
}

// Active reports whether the plan still has work that is not held: steps
// pending or in flight.
func (p *Plan) Active() bool {
	st := p.Status()
	return st != Complete && st != Waiting && st != Error
}

// Phase returns the phase named name, or nil.
func (p *Plan) Phase(name string) *Phase {
	for _, ph := range p.Phases {
		if ph.Name == name {
			return ph
		}
	}
	return nil
}

// Steps returns every step of the plan.
func (p *Plan) Steps() []*Step {
	var out []*Step
	for _, ph := range p.Phases {
		out = append(out, ph.Steps...)
	}
	return out
}

// Interrupt holds the plan, or only the phase named phase. It reports false
// when that was already so (a no-op), and for a canary phase while its
// canary lasts: the canary holds it already, as the SDK's
// CanaryStrategy.interrupt ignores an interrupt while a canary step waits
// for a continue (getNextCanaryStep), so the next continue naming the
// phase proceeds its next canary step.
func (p *Plan) Interrupt(phase string) (bool, error) {
	if phase == "" {
		if p.Interrupted {
			return false, nil
		}
		p.Interrupted = true
		return true, nil
	}
	ph := p.Phase(phase)
	if ph == nil {
		return false, fmt.Errorf("plan %s has no phase %q", p.Name, phase)
	}
	if ph.Interrupted || ph.nextCanary() != nil {
		return false, nil
	}
	ph.Interrupted = true
	return true, nil
}

// Continue releases the plan, or one phase. Without a phase it clears the
// plan's own interrupt alone, as the SDK's PlansQueries.continuePlan calls
// plan.proceed(), the plan's own strategy (ParentElement.proceed,
// InterruptibleStrategy.proceed): a phase interrupted by name and a canary
// phase stay held until a continue names them. A phase named resumes if
// interrupted, or a canary phase proceeds its next canary step (the SDK's
// CanaryStrategy.proceed). It reports false for a no-op.
func (p *Plan) Continue(phase string) (bool, error) {
	if phase == "" {
		if !p.Interrupted {
			return false, nil
		}
		p.Interrupted = false
		return true, nil
	}
	ph := p.Phase(phase)
	if ph == nil {
		return false, fmt.Errorf("plan %s has no phase %q", p.Name, phase)
	}
	if ph.Interrupted {
		ph.Interrupted = false
		return true, nil
	}
	if s := ph.nextCanary(); s != nil {
		s.interrupted = false
		return true, nil
	}
	return false, nil
}

// Step returns the step named name of phase phase ("" for any phase), or
// nil.
func (p *Plan) Step(phase, name string) *Step {
	for _, ph := range p.Phases {
		if phase != "" && ph.Name != phase {
			continue
		}
		for _, s := range ph.Steps {
			if s.Name == name {
				return s
			}
		}
	}
	return nil
}

// Restart resets every step to PENDING (or only those of one phase), each
// to relaunch its tasks (Step.Relaunch), as an operator asks; a canary
// phase holds again (Hold).
func (p *Plan) Restart(phase string) {
	for _, ph := range p.Phases {
		if phase != "" && ph.Name != phase {
			continue
		}
		for _, s := range ph.Steps {
			s.Restart()
			s.Relaunch = true
		}
		ph.Hold()
	}
}

// ForceComplete marks every step of the plan (or of phase phase) COMPLETE
// (the SDK's forceComplete).
func (p *Plan) ForceComplete(phase string) {
	for _, ph := range p.Phases {
		if phase != "" && ph.Name != phase {
			continue
		}
		for _, s := range ph.Steps {
			s.ForceComplete()
		}
	}
}

// PhaseByNameOrID returns the phase named ref, or whose view ID ("<plan>-<i>")
// it is; nil when none.
func (p *Plan) PhaseByNameOrID(ref string) *Phase {
	for i, ph := range p.Phases {
		if ph.Name == ref || fmt.Sprintf("%s-%d", p.Name, i) == ref {
			return ph
		}
	}
	return nil
}

// StepByNameOrID returns the step of ph named ref, or whose view ID
// ("<plan>-<i>-<j>") it is; nil when none.
func (p *Plan) StepByNameOrID(ph *Phase, ref string) *Step {
	i := slices.Index(p.Phases, ph)
	for j, s := range ph.Steps {
		if s.Name == ref || fmt.Sprintf("%s-%d-%d", p.Name, i, j) == ref {
			return s
		}
	}
	return nil
}
