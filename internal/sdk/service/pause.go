package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/taskkit/taskkit/internal/sdk/podinfo"
)

// Pausing a pod (the SDK's PodQueries.pause/resume and its
// GoalStateOverride.PAUSED):
//
//	POST /v1/pod/web-0/pause ["server"]
//	   ──▶ the stored TaskInfo says goal_override_target=PAUSED (written
//	       before anything is killed)
//	   ──▶ KILL ──▶ recovery relaunches it in place, paused: its command is
//	       the pause command (PAUSE_OVERRIDE_CMD), no health or readiness
//	       check, label goal_override=PAUSED ──▶ status PAUSED; with no
//	       readiness check it counts as ready (readyNow): its step completes
//	POST /v1/pod/web-0/resume: the same with NONE ──▶ its own command and
//	       checks again
//
// A pause or resume stored just before a crash is carried out after the
// restart (reconcileOverridesLocked).

// ErrNoSuchTask marks a pause or resume naming a task the pod does not have
// (or has not launched).
var ErrNoSuchTask = fmt.Errorf("no such task: %w", ErrNotFound)

// PodPause is PodOverride without whether anything changed.
func (s *Scheduler) PodPause(ctx context.Context, name string, tasks []string, pause bool) ([]string, error) {
	names, _, err := s.PodOverride(ctx, name, tasks, pause)
	return names, err
}

// PodOverride pauses (pause true) or resumes the tasks of pod instance
// name named in tasks (svc.yml names, or full names as "web-0-server",
// each any number of times; none: all its launched tasks), on the event
// loop: each is relaunched in place, idle or as it was. It returns the
// full names of the tasks, and changed false when each of them was paused
// (or resumed) already, or being relaunched so: then nothing is stored or
// killed (the API answers 208, as for a plan command that changes
// nothing). An unknown pod, an instance with no launched task, or a task
// it has not launched is ErrNotFound (the SDK's podNotFoundResponse). An
// instance being decommissioned has its tasks killed, nothing stored
// (retiredPodCommand), changed true.
func (s *Scheduler) PodOverride(ctx context.Context, name string, tasks []string, pause bool) ([]string, bool, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		names, err := s.retiredPodCommand(ctx, name, tasks)
		return names, err == nil, err
	}
	target := podinfo.GoalOverrideNone
	if pause {
		target = podinfo.GoalOverridePaused
	}
	var names []string
	changed := false
	err := s.do(ctx, func() error {
		s.mu.Lock()
		chosen, err := s.chooseTasksLocked(name, s.instanceTasks(pod, idx), tasks)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		j := &job{}
		var killed []*taskState
		var dead *taskState
		for _, t := range chosen {
			names = append(names, t.name)
			if t.pauseTarget == pause && t.launchedPaused() == pause {
				continue
			}
			changed = true
			t.pauseTarget = pause
			t.info = withLabel(t.info, podinfo.LabelGoalOverrideTarget, target)
			j.tasks = append(j.tasks, t.info)
			switch {
			case t.launchedPaused() == pause:
			case t.live():
				j.calls = append(j.calls, killCall(t))
				killed = append(killed, t)
			case t.status != nil:
				dead = t
			}
		}
		if now := s.clock.Now(); len(killed) > 0 || dead != nil {
			s.killPodLocked(name, killPause, killed, now)
			if len(killed) == 0 {
				s.recoverLocked(dead, now)
			}
			s.settleKillLocked(name)
		}
		s.mu.Unlock()
		if !changed {
			return nil
		}
		// The override is stored before the kills.
		s.out.push(j)
		s.flush()
		s.log.Info("pod "+map[bool]string{true: "pause", false: "resume"}[pause], "pod", name, "tasks", names)
		return nil
	})
	s.wake()
	return names, changed, err
}

// chooseTasksLocked returns the tasks of pod instance name (its launched
// ones, all) that tasks names, each once however often or in whichever
// form it is named (none: all of them), or ErrNoSuchTask naming what it
// lacks. Caller holds s.mu.
func (s *Scheduler) chooseTasksLocked(name string, all []*taskState, tasks []string) ([]*taskState, error) {
	if len(all) == 0 {
		return nil, fmt.Errorf("pod %s has no launched task: %w", name, ErrNoSuchTask)
	}
	if len(tasks) == 0 {
		return all, nil
	}
	var chosen []*taskState
	var missing, have []string
	for _, want := range tasks {
		i := slices.IndexFunc(all, func(t *taskState) bool { return t.name == want || t.name == name+"-"+want })
		switch {
		case i < 0:
			if !slices.Contains(missing, want) {
				missing = append(missing, want)
			}
		case !slices.Contains(chosen, all[i]):
			chosen = append(chosen, all[i])
		}
	}
	if len(missing) > 0 {
		for _, t := range all {
			have = append(have, strings.TrimPrefix(t.name, name+"-"))
		}
		return nil, fmt.Errorf("pod %s has no launched task %s (it has %s): %w", name, strings.Join(missing, ", "), strings.Join(have, ", "), ErrNoSuchTask)
	}
	return chosen, nil
}
