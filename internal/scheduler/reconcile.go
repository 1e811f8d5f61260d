package scheduler

import (
	"context"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// Reconciliation (Mesos docs/reconciliation.md, the SDK's
// DefaultTaskReconciler):
//
//	SUBSCRIBED ──▶ explicit RECONCILE of every stored non-terminal task
//	     │          (offers declined meanwhile)
//	     │  not every task answered after 4 s, 8 s, 16 s, 30 s, 30 s, ...
//	     │  ──▶ explicit RECONCILE of the unanswered ones again
//	     ▼
//	every task answered ──▶ implicit RECONCILE (finds tasks Mesos knows and
//	                        we do not: they are killed) ──▶ offers used
//	                        implicit RECONCILE again every hour
//
// Answers are ordinary UPDATE events (no uuid, not acknowledged); update()
// stores them and acts on differences: a task Mesos reports LOST, GONE or
// UNKNOWN goes to recovery (or its deploy step back to PENDING), a task we
// do not know is killed.

// startReconcileLocked begins explicit reconciliation after a subscription.
// Caller holds s.mu.
func (s *Scheduler) startReconcileLocked(now time.Time) {
	s.unanswered = map[string]string{}
	for _, t := range s.tasks {
		if t.info != nil && (t.status == nil || !isTerminal(t.status.GetState())) {
			s.unanswered[t.info.TaskID.Value] = t.info.AgentID.Value
		}
	}
	s.reconcileStart = now
	s.reconcileDelay = 0
	s.reconciling = true
	s.nextReconcile = now
	if len(s.unanswered) == 0 {
		s.finishReconcileLocked(now)
	}
}

// nextReconcileLocked returns the explicit or implicit RECONCILE to send
// now, or nil. Caller holds s.mu.
func (s *Scheduler) nextReconcileLocked(now time.Time) (tasks map[string]string, implicit bool) {
	switch {
	case s.reconciling && !now.Before(s.nextReconcile):
		s.reconcileDelay = s.cfg.ReconcileBackoff.Next(s.reconcileDelay)
		s.nextReconcile = now.Add(s.reconcileDelay)
		tasks = make(map[string]string, len(s.unanswered))
		for id, agent := range s.unanswered {
			tasks[id] = agent
		}
		s.m.Inc("reconcile.explicit")
		return tasks, false
	case !s.reconciling && !s.reconciledAt.IsZero() && !now.Before(s.nextImplicit):
		s.nextImplicit = now.Add(s.cfg.ImplicitReconcileInterval)
		s.m.Inc("reconcile.implicit")
		return nil, true
	}
	return nil, false
}

// answeredLocked notes a status for task id. Caller holds s.mu.
func (s *Scheduler) answeredLocked(id string, now time.Time) {
	if !s.reconciling {
		return
	}
	delete(s.unanswered, id)
	if len(s.unanswered) == 0 {
		s.finishReconcileLocked(now)
	}
}

func (s *Scheduler) finishReconcileLocked(now time.Time) {
	s.reconciling = false
	s.nextImplicit = now // an implicit round right away, then hourly
	d := now.Sub(s.reconcileStart)
	s.m.Observe("reconcile.explicit", d)
	s.reconciledAt = now
	s.log.Info("tasks reconciled", "took", d.Round(time.Millisecond))
	s.wake()
}

// reconcile sends what reconciliation needs now; it must not be called
// with s.mu held.
func (s *Scheduler) reconcile(ctx context.Context) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	tasks, implicit := s.nextReconcileLocked(time.Now())
	s.mu.Unlock()
	switch {
	case implicit:
		s.send(ctx, calls.Reconcile(calls.ReconcileTasks(nil)))
	case tasks != nil:
		s.log.Info("reconciling tasks", "tasks", len(tasks))
		s.send(ctx, calls.Reconcile(calls.ReconcileTasks(tasks)))
	}
}

// Reconciled reports whether explicit reconciliation has finished since the
// last subscription, and when.
func (s *Scheduler) Reconciled() (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected && !s.reconciling, s.reconciledAt
}

// unknownTaskLocked handles a status of a task the scheduler does not know: a
// live one is killed (it may be a leftover of a launch whose TaskInfo was
// replaced, or of another configuration). Caller holds s.mu; the KILL goes
// into the outbox.
func (s *Scheduler) unknownTaskLocked(st *mesos.TaskStatus) {
	if isTerminal(st.GetState()) {
		return
	}
	agent := ""
	if st.AgentID != nil {
		agent = st.AgentID.Value
	}
	s.log.Warn("killing a task the scheduler does not know", "task_id", st.TaskID.Value, "state", st.GetState().String())
	s.m.Inc("tasks.killed_unknown")
	s.outbox = append(s.outbox, calls.Kill(st.TaskID.Value, agent))
}
