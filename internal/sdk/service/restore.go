package service

import (
	"encoding/json"
	"fmt"
	"slices"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
)

// Restore after a crash (or a failover to a standby): New reads what the
// store holds, before any event is handled.
//
//	FrameworkID ──────────▶ SUBSCRIBE re-uses it
//	Plans/<plan> ─────────▶ interruptions, parameters, canary stages and
//	                        COMPLETE steps come back
//	Tasks/<task> ─────────▶ TaskInfo (where it runs, what it is) and its
//	TaskStatus/<task>       latest status, when it is this TaskInfo's
//	                  ─────▶ a step whose tasks are all stored and one still
//	                        live counts as launched (adopted), so it is not
//	                        launched twice; RUNNING-goal tasks that ended
//	                        meanwhile go to recovery; reconciliation after
//	                        the subscription settles the rest
//	the configuration ────▶ stored as the target

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
	for _, p := range s.persistedPlans() {
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
		t := &taskState{name: name, pod: pod.Name, index: index, spec: task, info: ti, place: podinfo.Placement(ti)}
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
		s.tasks[name] = t
		s.byID[ti.TaskID.Value] = name
	}
	s.resumeLocked()
	cfg := s.cfg.Loaded
	if err := s.cfg.Store.SetTarget(cfg.ConfigID, cfg.Rendered); err != nil {
		return fmt.Errorf("storing the target configuration: %w", err)
	}
	return nil
}

// resumeLocked reattaches restored steps to the tasks they launched before
// a restart, so that a step in flight is not launched twice: a step whose
// tasks all have a stored TaskInfo counts as launched, and the stored
// statuses (then reconciliation) move it on. Then RUNNING-goal tasks that
// ended while the scheduler was away go to recovery.
func (s *Scheduler) resumeLocked() {
	now := s.clock.Now()
	for _, p := range s.persistedPlans() {
		for _, st := range p.Steps() {
			if st.Status() == plan.Complete {
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
