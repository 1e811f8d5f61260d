package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	imesos "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/spec"
)

// PinTimeout is how long a recovery waits for the failed task's own agent
// before placing the pod anywhere.
var PinTimeout = 15 * time.Second

func isTerminal(s mesos.TaskState) bool {
	return imesos.IsTerminal(s) || s == mesos.TASK_UNREACHABLE || s == mesos.TASK_UNKNOWN
}

// readinessPassed reads a status's readiness result: the DEFAULT executor's
// check_status.command.exit_code == 0, or the SDK executor's
// readiness_check_passed label.
func readinessPassed(st *mesos.TaskStatus) bool {
	if cs := st.GetCheckStatus(); cs != nil && cs.Command != nil && cs.Command.ExitCode != nil && *cs.Command.ExitCode == 0 {
		return true
	}
	for _, l := range st.GetLabels().GetLabels() {
		if l.Key == "readiness_check_passed" && l.GetValue() == "true" {
			return true
		}
	}
	return false
}

// update handles a status update: store it, move the step, start recovery
// if needed, then acknowledge.
func (s *Scheduler) update(ctx context.Context, st mesos.TaskStatus) {
	s.m.Inc("task_status." + st.GetState().String())
	s.mu.Lock()
	name, known := s.byID[st.TaskID.Value]
	var t *taskState
	if known {
		t = s.tasks[name]
	}
	if t != nil {
		b, err := st.Marshal()
		if err == nil {
			err = s.cfg.Store.PutStatus(name, b)
		}
		if err != nil {
			// Not acknowledged: Mesos re-sends it.
			s.mu.Unlock()
			s.log.Error("storing a task status; not acknowledging", "task", name, "err", err)
			return
		}
		t.status = &st
		if readinessPassed(&st) {
			t.ready = true
		}
		ready := t.ready || t.spec.ReadinessCheck == nil
		if t.step != nil {
			if t.step.TaskUpdate(name, st.GetState(), t.spec.Goal, ready, st.GetMessage(), time.Now()) {
				s.savePlans()
			}
			if isTerminal(st.GetState()) || t.step.Status() == plan.Complete {
				t.step = nil
			}
		}
		if isTerminal(st.GetState()) && t.spec.Goal == spec.GoalRunning && t.step == nil {
			s.recover(t)
		}
		s.log.Info("task status", "task", name, "state", st.GetState().String(), "message", st.GetMessage())
	} else {
		s.log.Info("status of an unknown task", "task_id", st.TaskID.Value, "state", st.GetState().String())
	}
	s.mu.Unlock()
	if st.UUID != nil && st.AgentID != nil {
		s.send(ctx, calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
	}
	s.wake()
}

// recover adds a recovery step for t's pod instance once none of its
// RUNNING-goal tasks is live any more. Caller holds s.mu.
func (s *Scheduler) recover(t *taskState) {
	inst := fmt.Sprintf("%s-%d", t.pod, t.index)
	pod := s.spec.Pod(t.pod)
	var names []string
	for _, task := range pod.Tasks.Values {
		if task.Goal != spec.GoalRunning {
			continue
		}
		other := s.tasks[TaskName(pod.Name, t.index, task.Name)]
		if other == nil || other.info == nil {
			continue // never launched: deploy's job
		}
		if other.status == nil || !isTerminal(other.status.GetState()) {
			return // still live (the executor kills the rest of the group)
		}
		names = append(names, task.Name)
	}
	if len(names) == 0 {
		return
	}
	kind := s.pendingKill[inst]
	replace := kind == "replace" || t.status.GetState() == mesos.TASK_GONE_BY_OPERATOR
	for _, n := range names {
		x := s.tasks[TaskName(pod.Name, t.index, n)]
		x.replace = replace
		x.pinUntil = time.Now().Add(PinTimeout)
	}
	delete(s.pendingKill, inst)
	ph := s.recovery.Phases[0]
	step := plan.NewStep(pod.Name, t.index, names)
	for i, old := range ph.Steps {
		if old.Instance() == inst {
			ph.Steps = append(ph.Steps[:i], ph.Steps[i+1:]...)
			break
		}
	}
	ph.Steps = append(ph.Steps, step)
	s.m.Inc("recovery.steps")
	s.log.Info("recovering", "pod", inst, "tasks", names, "replace", replace)
}

// savePlans stores every plan's progress. Caller holds s.mu.
func (s *Scheduler) savePlans() {
	for _, p := range append([]*plan.Plan{s.deploy}, s.custom...) {
		b, err := json.Marshal(p.Progress())
		if err == nil {
			err = s.cfg.Store.PutPlan(p.Name, b)
		}
		if err != nil {
			s.log.Error("storing plan progress", "plan", p.Name, "err", err)
		}
	}
}

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
	for _, p := range append([]*plan.Plan{s.deploy}, s.custom...) {
		if b, ok := plans[p.Name]; ok {
			var pr plan.Progress
			if err := json.Unmarshal(b, &pr); err != nil {
				return fmt.Errorf("stored progress of plan %s: %w", p.Name, err)
			}
			p.Restore(pr)
		}
	}
	tasks, err := s.cfg.Store.Tasks()
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	for name, rec := range tasks {
		pod, index, task, ok := s.splitName(name)
		if !ok {
			continue
		}
		ti := new(mesos.TaskInfo)
		if err := ti.Unmarshal(rec.Info); err != nil {
			return fmt.Errorf("stored task %s: %w", name, err)
		}
		t := &taskState{name: name, pod: pod.Name, index: index, spec: task, info: ti}
		for _, l := range ti.GetLabels().GetLabels() {
			switch l.Key {
			case "offer_hostname":
				t.place.Hostname = l.GetValue()
			case "offer_zone":
				t.place.Zone = l.GetValue()
			case "offer_region":
				t.place.Region = l.GetValue()
			}
		}
		t.place.AgentID = ti.AgentID.Value
		if rec.Status != nil {
			st := new(mesos.TaskStatus)
			if err := st.Unmarshal(rec.Status); err == nil {
				t.status = st
				t.ready = readinessPassed(st)
			}
		}
		s.tasks[name] = t
		s.byID[ti.TaskID.Value] = name
	}
	if n := s.cfg.Store; n != nil {
		cfg := s.cfg.Loaded
		if err := n.SetTarget(cfg.ConfigID, cfg.Rendered); err != nil {
			return fmt.Errorf("storing the target configuration: %w", err)
		}
	}
	return nil
}
