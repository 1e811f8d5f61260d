package service

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/config"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/spec"
)

// Rolling a new target configuration out (the SDK's DefaultStepFactory and
// DeploymentStep with PlanScheduler.killTasks):
//
//	New ──▶ for every stored task: podinfo.Expected (what the target builds
//	        in its place) and podinfo.Diff
//	          same ──▶ its TaskInfo is relabelled with the target's ID
//	          differs ──▶ out of date: its step goes back to PENDING (a
//	                      canary phase is held again)
//	        configurations no task refers to are deleted
//
//	the phase strategy makes a step a candidate (serial: one at a time)
//	   ──▶ its live tasks (all of them: one is out of date, or an
//	       operator restarted the step) are KILLed with their kill grace
//	       period; the step is PREPARED and its instance busy
//	   ──▶ their ends ──▶ the step is PENDING and launches them again, in
//	       place (pinned to their agent for --agent-lost-timeout, their
//	       TaskInfos in Requirement.Previous), from the target
//	   ──▶ RUNNING and ready ──▶ COMPLETE ──▶ the next step
//
// A step none of whose tasks runs launches them at once. A step that
// launches again a task that ended while it worked (a failure before the
// step completed) kills its running tasks first too (toReplace). A
// kill -9 of the scheduler at any point repeats at most the kill: the
// relaunched TaskInfos are stored (and so up to date) before their launch.

// killResend is how long a kill may go unanswered before it is sent again
// (on top of the task's kill grace period).
const killResend = 30 * time.Second

// updateKill is a pod instance's tasks killed so that a step relaunches
// them (a configuration update, a restarted step).
type updateKill struct {
	step  *plan.Step
	tasks []*taskState
	grace time.Duration
	sent  time.Time
}

// reconcileTarget compares every stored task with what the target builds
// in its place: the ones that differ are out of date and their steps go
// back to PENDING; the others are relabelled with the target's ID. Then the
// configurations no task refers to are deleted. It runs in New, after
// restore, before the event loop.
func (s *Scheduler) reconcileTarget() error {
	byInst := map[string][]*taskState{}
	for _, t := range s.tasks {
		if t.info != nil {
			byInst[t.instanceName()] = append(byInst[t.instanceName()], t)
		}
	}
	insts := make([]string, 0, len(byInst))
	for i := range byInst {
		insts = append(insts, i)
	}
	sort.Strings(insts)
	relabel := map[string][]byte{}
	for _, inst := range insts {
		ts := byInst[inst]
		sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
		req := &evaluate.Requirement{Pod: s.spec.Pod(ts[0].pod), Index: ts[0].index, Paused: map[string]bool{}, Region: s.target.Region}
		prev := map[string]*mesos.TaskInfo{}
		for _, t := range ts {
			req.Tasks = append(req.Tasks, t.spec.Name)
			prev[t.name] = t.info
			if t.pauseTarget {
				req.Paused[t.spec.Name] = true
			}
		}
		want, err := s.build.Expected(req, prev, s.frameworkID, s.deploy.Parameters)
		if err != nil {
			s.log.Warn("cannot tell whether a pod instance is up to date; it is left as it runs", "pod", inst, "err", err)
			continue
		}
		for _, t := range ts {
			if t.spec.Goal == spec.GoalOnce {
				continue // done once, whatever the configuration (the SDK's hasReachedGoalState)
			}
			if d := podinfo.Diff(t.info, want[t.name], s.templateOf); len(d) > 0 {
				t.outdated = d
				s.log.Info("task out of date", "task", t.name, "configuration", labelOf(t.info, podinfo.LabelTargetConfiguration), "target", s.target.ID, "differs", strings.Join(d, ", "))
				continue
			}
			if labelOf(t.info, podinfo.LabelTargetConfiguration) != s.target.ID {
				ti := withLabel(t.info, podinfo.LabelTargetConfiguration, s.target.ID)
				b, err := ti.Marshal()
				if err != nil {
					return err
				}
				relabel[t.name] = b
				t.info = ti
			}
		}
	}
	if err := putChunked(s.cfg.Store.PutTasks, relabel); err != nil {
		return fmt.Errorf("storing the tasks relabelled with configuration %s: %w", s.target.ID, err)
	}
	if len(relabel) > 0 {
		s.log.Info("tasks on the target configuration", "tasks", len(relabel), "target", s.target.ID)
	}
	s.restartOutdated()
	return s.cleanConfigurations()
}

// withLabel returns a copy of ti with label key set to value.
func withLabel(ti *mesos.TaskInfo, key, value string) *mesos.TaskInfo {
	c := *ti
	var labels []mesos.Label
	found := false
	for _, l := range ti.GetLabels().GetLabels() {
		if l.Key == key {
			l.Value, found = &value, true
		}
		labels = append(labels, l)
	}
	if !found {
		labels = append(labels, mesos.Label{Key: key, Value: &value})
	}
	c.Labels = &mesos.Labels{Labels: labels}
	return &c
}

// putChunked stores kv in transactions of at most maxChunk bytes.
func putChunked(put func(map[string][]byte) error, kv map[string][]byte) error {
	return putGrouped(put, kv, func(k string) string { return k })
}

// putReservations stores reservations kv in transactions of at most
// maxChunk bytes (ZooKeeper refuses a request over 1 MiB), a pod
// instance's reservation and its released records ("<instance>@<ID>")
// always in the same one: an item moving between them (given up, taken
// back) is never in both, nor in neither, whatever crash comes between
// two transactions.
func putReservations(put func(map[string][]byte) error, kv map[string][]byte) error {
	return putGrouped(put, kv, func(k string) string {
		inst, _, _ := strings.Cut(k, "@")
		return inst
	})
}

// putGrouped stores kv in transactions of at most maxChunk bytes, the
// keys group maps to the same group in the same transaction (a group
// over maxChunk alone in one).
func putGrouped(put func(map[string][]byte) error, kv map[string][]byte, group func(string) string) error {
	groups := map[string][]string{}
	for k := range kv {
		g := group(k)
		groups[g] = append(groups[g], k)
	}
	chunk, size := map[string][]byte{}, 0
	for _, keys := range groups {
		n := 0
		for _, k := range keys {
			n += len(kv[k])
		}
		if size > 0 && size+n > maxChunk {
			if err := put(chunk); err != nil {
				return err
			}
			chunk, size = map[string][]byte{}, 0
		}
		for _, k := range keys {
			chunk[k] = kv[k]
		}
		size += n
	}
	if len(chunk) == 0 {
		return nil
	}
	return put(chunk)
}

// restartOutdated puts the steps of out-of-date tasks back to PENDING, in
// every persisted plan; a canary phase with such a step holds its first two
// PENDING steps again, each until a continue naming the phase (the SDK
// regenerates the phase's CanaryStrategy at start).
func (s *Scheduler) restartOutdated() {
	for _, p := range s.persistedPlans() {
		for _, ph := range p.Phases {
			restarted := false
			for _, st := range ph.Steps {
				parts := s.outdatedParts(st)
				if len(parts) == 0 {
					continue
				}
				if st.Status() != plan.Pending {
					for _, name := range st.TaskNames() {
						if t := s.tasks[name]; t != nil && t.step == st {
							t.step = nil
						}
					}
					st.Restart()
					restarted = true
				}
				st.Message = fmt.Sprintf("out of date (%s): relaunched on configuration %s when its turn comes", strings.Join(parts, ", "), s.target.ID)
			}
			if restarted {
				ph.Hold()
			}
		}
	}
}

// outdatedParts are what the target changes of st's tasks, merged.
func (s *Scheduler) outdatedParts(st *plan.Step) []string {
	var parts []string
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil {
			for _, p := range t.outdated {
				if !slices.Contains(parts, p) {
					parts = append(parts, p)
				}
			}
		}
	}
	return parts
}

// cleanConfigurations deletes the stored configurations that neither the
// target nor a stored task refers to (the SDK's clearConfigsNotListed), and
// keeps the others for their templates.
func (s *Scheduler) cleanConfigurations() error {
	stored, err := s.cfg.Store.Configurations()
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	used := map[string]bool{}
	for _, ts := range []map[string]*taskState{s.tasks, s.retired} {
		for _, t := range ts {
			if t.info != nil {
				used[labelOf(t.info, podinfo.LabelTargetConfiguration)] = true
			}
		}
	}
	ids := make([]string, 0, len(stored))
	for id := range stored {
		ids = append(ids, id)
	}
	unused := config.Unused(ids, s.target.ID, used)
	if len(unused) > 0 {
		if err := s.cfg.Store.DeleteConfigurations(unused...); err != nil {
			return fmt.Errorf("deleting unused configurations: %w", err)
		}
		s.log.Info("configurations no task uses deleted", "configurations", strings.Join(unused, ", "))
	}
	s.configs = map[string]*config.Configuration{s.target.ID: s.target}
	for id, b := range stored {
		if !used[id] || id == s.target.ID {
			continue
		}
		c, err := config.Unmarshal(b)
		if err != nil {
			s.log.Warn("stored configuration unreadable; its templates are not served", "configuration", id, "err", err)
			continue
		}
		s.configs[id] = c
	}
	return nil
}

// templateOf returns the content of a config template of a configuration
// the scheduler keeps (the target, and those tasks run with).
func (s *Scheduler) templateOf(configID, pod, task, name string) (string, bool) {
	c := s.configs[configID]
	if c == nil {
		return "", false
	}
	return c.Template(pod, task, name)
}

// toReplace returns st's live tasks that must end before st launches them
// again: all of them when one of them is out of date, when an operator
// restarted the step, when the step launches again a task it launched
// before (one that ended while the step worked on it: a failure before it
// was ready, an operator's kill), or when it also launches a task that has
// no TaskInfo yet (one the target added to a running pod: the pod
// relaunches on its reservation with the new task). The SDK's
// DeploymentStep launches every task of its step until all are at their
// goal, and its PlanScheduler.killTasks kills every task of the resource
// sets a step consumes before it evaluates offers. Each task runs in a
// task group of its own, so nothing else kills them: a step's tasks that
// are not killed here keep running (a task in a step of its own, as a
// plan's explicit steps may put it, is not touched by its siblings').
func (s *Scheduler) toReplace(st *plan.Step) []*taskState {
	all := st.Relaunch || len(s.addedTasks(st)) > 0 || len(s.outdatedParts(st)) > 0 || len(s.endedTasks(st)) > 0
	var out []*taskState
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.live() && all {
			out = append(out, t)
		}
	}
	return out
}

// endedTasks returns the tasks st launches again: those it launched
// before (they have a TaskInfo) that are not live.
func (s *Scheduler) endedTasks(st *plan.Step) []string {
	var out []string
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.info != nil && !t.live() {
			out = append(out, name)
		}
	}
	return out
}

// addedTasks returns the tasks of st that have no stored TaskInfo while
// another of st's tasks has one: tasks the target added to a launched pod.
func (s *Scheduler) addedTasks(st *plan.Step) []string {
	var added []string
	launched := false
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t == nil || t.info == nil {
			added = append(added, name)
		} else {
			launched = true
		}
	}
	if !launched {
		return nil
	}
	return added
}

// killForRelaunchLocked kills the live tasks each of steps must replace:
// such a step is PREPARED, its instance busy, until they have ended. It
// returns the other steps, which may launch now. Caller holds s.mu.
func (s *Scheduler) killForRelaunchLocked(steps []*plan.Step, now time.Time) []*plan.Step {
	var out []*plan.Step
	for _, st := range steps {
		kill := s.toReplace(st)
		if len(kill) == 0 {
			out = append(out, st)
			continue
		}
		u := &updateKill{step: st, tasks: kill, sent: now, grace: killGrace(kill)}
		var names []string
		for _, t := range kill {
			s.calls = append(s.calls, killCall(t))
			t.pinUntil = s.pinDeadline(now)
			names = append(names, t.name)
		}
		s.updating[st.Instance()] = u
		why := "out of date (" + strings.Join(s.outdatedParts(st), ", ") + ")"
		if len(s.outdatedParts(st)) == 0 {
			switch added, ended := s.addedTasks(st), s.endedTasks(st); {
			case len(added) > 0:
				why = "tasks added to the pod (" + strings.Join(added, ", ") + ")"
			case st.Relaunch:
				why = "restarted"
			case len(ended) > 0:
				why = "relaunching the step's tasks, as " + strings.Join(ended, ", ") + " ended"
			}
		}
		st.Prepare(fmt.Sprintf("%s: killing %s (kill grace period %s) to relaunch on configuration %s", why, strings.Join(names, ", "), u.grace, s.target.ID))
		s.m.Inc("update.kills")
		s.log.Info("killing to relaunch", "step", st.Name, "tasks", names, "why", why, "target", s.target.ID)
	}
	return out
}

// killEndedLocked notes the end of t, which a step killed to relaunch it:
// once all of that step's killed tasks have ended, the step is PENDING
// (it launches them on the next offer). It reports whether t was such a
// task. Caller holds s.mu.
func (s *Scheduler) killEndedLocked(t *taskState) bool {
	inst := t.instanceName()
	u := s.updating[inst]
	if u == nil || !slices.Contains(u.tasks, t) {
		return false
	}
	for _, k := range u.tasks {
		if k.live() {
			return true
		}
	}
	delete(s.updating, inst)
	if u.step.Status() == plan.Prepared {
		u.step.Restart()
		u.step.Message = "relaunching on configuration " + s.target.ID
	}
	return true
}

// resendKillsLocked sends again the kills that went unanswered for their
// grace period plus killResend. Caller holds s.mu.
func (s *Scheduler) resendKillsLocked(now time.Time) {
	resend := func(tasks []*taskState, grace time.Duration, sent *time.Time) {
		if now.Sub(*sent) < grace+killResend {
			return
		}
		*sent = now
		for _, t := range tasks {
			if t.live() {
				s.calls = append(s.calls, killCall(t))
			}
		}
	}
	for _, u := range s.updating {
		resend(u.tasks, u.grace, &u.sent)
	}
	for _, k := range s.pendingKill {
		resend(k.tasks, k.grace, &k.sent)
	}
}

// reconcileOverridesLocked kills the live tasks that do not run as an
// operator asked: a pause or resume stored just before a crash, as the SDK
// kills tasks whose goal state override is PENDING at start; a replace
// stored before a crash, or whose KILL was lost. They are relaunched as
// asked. Caller holds s.mu.
func (s *Scheduler) reconcileOverridesLocked(now time.Time) {
	for _, t := range s.tasks {
		inst := t.instanceName()
		k := s.pendingKill[inst]
		pause := t.step == nil && t.pauseTarget != t.launchedPaused() && k == nil
		if !t.live() || !pause && !t.replace || s.updating[inst] != nil || k != nil && slices.Contains(k.tasks, t) {
			continue
		}
		kind := killPause
		if t.replace {
			kind = killReplace
		}
		s.killPodLocked(inst, kind, []*taskState{t}, now)
		s.calls = append(s.calls, killCall(t))
		s.log.Info("killing to relaunch as asked", "task", t.name, "paused", t.pauseTarget, "replace", t.replace)
	}
}
