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

// PodPause pauses (pause true) or resumes the tasks of pod instance name
// named in tasks (svc.yml names, or full names as "web-0-server"; none: all
// its launched tasks), on the event loop: each is relaunched in place,
// idle or as it was. It returns the full names of the tasks.
func (s *Scheduler) PodPause(ctx context.Context, name string, tasks []string, pause bool) ([]string, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	target := podinfo.GoalOverrideNone
	if pause {
		target = podinfo.GoalOverridePaused
	}
	var names []string
	err := s.do(ctx, func() error {
		s.mu.Lock()
		var chosen []*taskState
		for _, t := range s.instanceTasks(pod, idx) {
			if len(tasks) == 0 || slices.Contains(tasks, t.spec.Name) || slices.Contains(tasks, t.name) {
				chosen = append(chosen, t)
			}
		}
		if len(chosen) == 0 || len(chosen) < len(tasks) {
			s.mu.Unlock()
			return fmt.Errorf("pod %s has no launched task among %s: %w", name, strings.Join(tasks, ", "), ErrNoSuchTask)
		}
		j := &job{}
		var killed []*taskState
		var dead *taskState
		for _, t := range chosen {
			names = append(names, t.name)
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
		// The override is stored before the kills.
		s.out.push(j)
		s.flush()
		s.log.Info("pod "+map[bool]string{true: "pause", false: "resume"}[pause], "pod", name, "tasks", names)
		return nil
	})
	s.wake()
	return names, err
}
