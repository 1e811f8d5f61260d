package service

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Restore after a crash (or a failover to a standby): New reads what the
// store holds, before any event is handled.
//
//	FrameworkID ──────────▶ SUBSCRIBE re-uses it
//	Plans/<plan> ─────────▶ interruptions, parameters, canary steps and
//	                        COMPLETE steps come back; a COMPLETE step
//	                        with a task that has no stored TaskInfo is
//	                        PENDING again (the SDK's DefaultStepFactory);
//	                        steps the plan no longer has (a lower count, a
//	                        pod type removed) are dropped from the store
//	Reservations/<pod> ───▶ what each pod instance reserved: its tasks
//	                        relaunch there; RESERVEs not confirmed are
//	                        reconciled after the subscription
//	Tasks/<task> ─────────▶ TaskInfo (where it runs, what it is, a pause
//	                        or replace an operator asked) and its
//	TaskStatus/<task>       latest status, when it is this TaskInfo's
//	                  ─────▶ a step whose tasks are all stored and one still
//	                        live counts as launched (adopted), so it is not
//	                        launched twice; RUNNING-goal tasks that ended
//	                        meanwhile go to recovery; reconciliation after
//	                        the subscription settles the rest
//	                        tasks of pod instances (or tasks) the target
//	                        no longer has are retired: the decommission
//	                        plan kills them, releases what they held and
//	                        erases them
//	the target ───────────▶ stored tasks it changes go out of date (their
//	                        steps PENDING again), the others are relabelled
//	                        with its ID (update.go)

// restore loads the framework ID, plan progress and tasks from the store.
func (s *Scheduler) restore() error {
	id, err := s.cfg.Store.FrameworkID()
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	s.frameworkID = id
	plans, err := s.cfg.Store.Plans()
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	var stale []*plan.Plan
	for _, p := range s.persistedPlans() {
		if b, ok := plans[p.Name]; ok {
			var pr plan.Progress
			if err := json.Unmarshal(b, &pr); err != nil {
				return fmt.Errorf("stored progress of plan %s: %w", p.Name, err)
			}
			p.Restore(pr)
			if gone := goneFrom(pr, p); len(gone) > 0 {
				s.log.Info("dropping the stored progress of steps the plan no longer has", "plan", p.Name, "steps", gone)
				stale = append(stale, p)
			}
		}
	}
	if err := s.loadReservations(); err != nil {
		return err
	}
	tasks, err := s.cfg.Store.Tasks()
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	for name, rec := range tasks {
		ti := new(mesos.TaskInfo)
		if err := ti.Unmarshal(rec.Info); err != nil {
			return fmt.Errorf("stored task %s: %w", name, err)
		}
		podName, index, task, retired, ok := s.identify(name, ti)
		if !ok {
			// Neither its labels nor a configuration say what it is: left
			// alone, as the SDK's DecommissionPlanFactory omits it; the
			// pod API lists it as the SDK's PodQueries do (UNKNOWN_POD).
			s.log.Warn("stored task of no known pod: left alone", "task", name)
			u := &taskState{name: name, info: ti}
			if st := new(mesos.TaskStatus); rec.Status != nil && st.Unmarshal(rec.Status) == nil && st.TaskID.Value == ti.TaskID.Value {
				u.status = st
			}
			s.unknown[name] = u
			continue
		}
		t := &taskState{name: name, pod: podName, index: index, spec: task, info: ti, place: podinfo.Placement(ti), retired: retired,
			replace: labelOf(ti, podinfo.LabelPermanentlyFailed) == "true"}
		// What an operator asked last (pause, resume), else as launched.
		switch labelOf(ti, podinfo.LabelGoalOverrideTarget) {
		case podinfo.GoalOverridePaused:
			t.pauseTarget = true
		case "":
			t.pauseTarget = t.launchedPaused()
		}
		if rec.Status != nil {
			st := new(mesos.TaskStatus)
			// A status of the task this TaskInfo replaced is not this
			// task's: a crash came between the relaunch's PutTasks and the
			// new task's first status.
			if err := st.Unmarshal(rec.Status); err == nil && st.TaskID.Value == ti.TaskID.Value {
				t.status = st
				t.ready = readinessPassed(st)
			}
		}
		if retired {
			s.retired[name] = t
		} else {
			s.tasks[name] = t
		}
		s.byID[ti.TaskID.Value] = name
	}
	s.resumeLocked()
	// The plans are built from the target anew at every start: what the
	// stored progress holds of steps they no longer have (pod instances a
	// lower count decommissions, a pod type or custom step removed) is
	// stale state, stored over now. The SDK keeps no progress of its own
	// for such steps (DefaultStepFactory.getStep derives a step's status
	// from the state store), so nothing of an erased instance is left.
	for _, p := range stale {
		b, err := json.Marshal(p.Progress())
		if err != nil {
			return err
		}
		if err := s.cfg.Store.PutPlan(p.Name, b); err != nil {
			return fmt.Errorf("storing the progress of plan %s: %w", p.Name, err)
		}
	}
	return nil
}

// goneFrom lists the phases and steps ("phase/step") saved progress pr
// holds that plan p no longer has.
func goneFrom(pr plan.Progress, p *plan.Plan) []string {
	cur := p.Progress()
	var gone []string
	for name, pp := range pr.Phases {
		cp, ok := cur.Phases[name]
		if !ok {
			gone = append(gone, name)
			continue
		}
		for step := range pp.Steps {
			if _, ok := cp.Steps[step]; !ok {
				gone = append(gone, name+"/"+step)
			}
		}
	}
	slices.Sort(gone)
	return gone
}

// identify finds the pod type, index and task spec of a stored task: from
// its task_type and index labels, else from its name against the target's
// pods, then the previous target's. retired reports that the target has no
// such pod instance or task (it is decommissioned); task is nil when no
// configuration knows it. ok is false when nothing says what it is.
func (s *Scheduler) identify(name string, ti *mesos.TaskInfo) (pod string, index int, task *spec.TaskSpec, retired, ok bool) {
	pod, idx := labelOf(ti, podinfo.LabelTaskType), labelOf(ti, podinfo.LabelTaskIndex)
	i, err := strconv.Atoi(idx)
	if pod == "" || err != nil || !strings.HasPrefix(name, taskenv.InstanceName(pod, i)+"-") {
		specs := []*spec.ServiceSpec{s.spec}
		if s.previous != nil {
			specs = append(specs, s.previous.Spec)
		}
		found := false
		for _, sp := range specs {
			if p, pi, t, ok := splitName(sp, name); ok {
				pod, i, task, found = p.Name, pi, t, true
				break
			}
		}
		if !found {
			return "", 0, nil, false, false
		}
	}
	tname := strings.TrimPrefix(name, taskenv.InstanceName(pod, i)+"-")
	p := s.spec.Pod(pod)
	if p == nil || i >= p.Count {
		if p != nil {
			task, _ = p.Tasks.Get(tname)
		} else if s.previous != nil && s.previous.Spec.Pod(pod) != nil {
			task, _ = s.previous.Spec.Pod(pod).Tasks.Get(tname)
		}
		return pod, i, task, true, true
	}
	t, ok := p.Tasks.Get(tname)
	if !ok {
		return pod, i, nil, true, true // a task the pod no longer has
	}
	return pod, i, t, false, true
}

// labelOf is the value of label key of ti ("" when it has none).
func labelOf(ti *mesos.TaskInfo, key string) string {
	for _, l := range ti.GetLabels().GetLabels() {
		if l.Key == key {
			return l.GetValue()
		}
	}
	return ""
}

// resumeLocked reattaches restored steps to the tasks they launched before
// a restart, so that a step in flight is not launched twice: a step whose
// tasks all have a stored TaskInfo counts as launched, and the stored
// statuses (then reconciliation) move it on. A COMPLETE step is COMPLETE
// only with its tasks stored: one with a task that has no TaskInfo (never
// launched, or erased by the decommission plan of a lower count that a
// higher one brought back) is PENDING again, as the SDK's
// DefaultStepFactory.getStep derives a step's status from the state store.
// Then RUNNING-goal tasks that ended while the scheduler was away go to
// recovery.
func (s *Scheduler) resumeLocked() {
	now := s.clock.Now()
	for _, p := range s.persistedPlans() {
		for _, st := range p.Steps() {
			if st.Status() == plan.Complete {
				s.unbackedLocked(p, st)
				continue
			}
			var ts []*taskState
			for _, name := range st.TaskNames() {
				if t := s.tasks[name]; t != nil && t.info != nil {
					ts = append(ts, t)
				}
			}
			if len(ts) == 0 || len(ts) != len(st.Tasks) || !slices.ContainsFunc(ts, (*taskState).live) {
				continue
			}
			s.adoptLocked(st, nil, now)
		}
	}
	for _, t := range s.tasks {
		if t.info != nil && t.step == nil && !t.live() {
			s.recoverLocked(t, now)
		}
	}
}

// unbackedLocked puts COMPLETE step st of plan p back to PENDING when one
// of its tasks has no stored TaskInfo: nothing runs what it completed.
// Caller holds s.mu.
func (s *Scheduler) unbackedLocked(p *plan.Plan, st *plan.Step) {
	var missing []string
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t == nil || t.info == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	st.Restart()
	st.Message = "no stored task (" + strings.Join(missing, ", ") + "): launched when its turn comes"
	s.log.Info("completed step has no stored task: pending again", "plan", p.Name, "step", st.Name, "tasks", strings.Join(missing, ", "))
}
