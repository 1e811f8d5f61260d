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
)

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
	start := time.Now()
	defer func() { s.m.Observe("status.process", time.Since(start)) }()
	s.mu.Lock()
	s.answeredLocked(st.TaskID.Value, time.Now())
	name, known := s.byID[st.TaskID.Value]
	var t *taskState
	if known {
		t = s.tasks[name]
	}
	// A reconciliation answer repeating the stored state changes nothing
	// (and costs no store write: 500 of them follow every restart).
	same := t != nil && t.status != nil && t.status.GetState() == st.GetState() &&
		st.GetReason() == mesos.REASON_RECONCILIATION && st.UUID == nil
	if t != nil && !same {
		wasLive := t.live()
		b, err := st.Marshal()
		if err == nil {
			ws := time.Now()
			err = s.cfg.Store.PutStatus(name, b)
			s.m.Observe("status.store", time.Since(ws))
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
		// Only the first terminal status of a task counts: a re-sent update
		// and a reconciliation answer about the same end are one failure.
		if wasLive && isTerminal(st.GetState()) && t.step == nil {
			s.recover(t)
		}
		s.log.Info("task status", "task", name, "state", st.GetState().String(), "message", st.GetMessage())
	} else if t == nil {
		s.log.Info("status of an unknown task", "task_id", st.TaskID.Value, "state", st.GetState().String())
		s.unknownTaskLocked(&st)
	}
	acks := s.acks
	s.mu.Unlock()
	// Acknowledged only once stored (an early return above skips this).
	if st.UUID != nil && st.AgentID != nil {
		ack := calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID)
		if acks == nil {
			s.send(ctx, ack)
		} else {
			select {
			case acks <- ack:
			case <-ctx.Done():
			}
		}
	}
	s.flush(ctx)
	s.wake()
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
			// A status of the task this TaskInfo replaced is not this
			// task's: a crash came between the relaunch's PutTasks and
			// the new task's first status.
			if err := st.Unmarshal(rec.Status); err == nil && st.TaskID.Value == ti.TaskID.Value {
				t.status = st
				t.ready = readinessPassed(st)
			}
		}
		s.tasks[name] = t
		s.byID[ti.TaskID.Value] = name
	}
	s.resumeLocked()
	if n := s.cfg.Store; n != nil {
		cfg := s.cfg.Loaded
		if err := n.SetTarget(cfg.ConfigID, cfg.Rendered); err != nil {
			return fmt.Errorf("storing the target configuration: %w", err)
		}
	}
	return nil
}
