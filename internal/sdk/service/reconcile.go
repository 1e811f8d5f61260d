package service

import (
	"time"

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
// Answers are ordinary UPDATE events (no uuid, not acknowledged); updates()
// stores them and acts on differences: a task Mesos reports LOST, GONE or
// UNKNOWN goes to recovery (or its deploy step back to PENDING), a task we
// do not know is killed.

// reconciler is the reconciliation state.
type reconciler struct {
	reconciling               bool
	unanswered                map[string]string // task ID → agent ID
	delay                     time.Duration
	start, next, nextImplicit time.Time
	reconciledAt              time.Time
}

// startReconcileLocked begins explicit reconciliation after a
// subscription. Caller holds s.mu for writing.
func (s *Scheduler) startReconcileLocked(now time.Time) {
	r := &s.rec
	r.unanswered = map[string]string{}
	for _, ts := range []map[string]*taskState{s.tasks, s.retired} {
		for _, t := range ts {
			if t.live() {
				r.unanswered[t.info.TaskID.Value] = t.info.AgentID.Value
			}
		}
	}
	r.start, r.delay, r.reconciling, r.next = now, 0, true, now
	if len(r.unanswered) == 0 {
		s.finishReconcileLocked(now)
	}
}

// answeredLocked notes a status for task id. Caller holds s.mu for writing.
func (s *Scheduler) answeredLocked(id string, now time.Time) {
	if !s.rec.reconciling {
		return
	}
	delete(s.rec.unanswered, id)
	if len(s.rec.unanswered) == 0 {
		s.finishReconcileLocked(now)
	}
}

func (s *Scheduler) finishReconcileLocked(now time.Time) {
	r := &s.rec
	r.reconciling = false
	r.nextImplicit = now // an implicit round right away, then hourly
	d := now.Sub(r.start)
	s.m.Observe("reconcile.explicit", d)
	r.reconciledAt = now
	s.log.Info("tasks reconciled", "took", d.Round(time.Millisecond))
	s.wake()
}

// reconcile queues what reconciliation needs now: an explicit round for
// the unanswered tasks when one is due, else an implicit one when due.
func (s *Scheduler) reconcile(now time.Time) {
	r := &s.rec
	switch {
	case r.reconciling && !now.Before(r.next):
		r.delay = s.cfg.ReconcileBackoff.Next(r.delay)
		r.next = now.Add(r.delay)
		tasks := make(map[string]string, len(r.unanswered))
		for id, agent := range r.unanswered {
			tasks[id] = agent
		}
		s.m.Inc("reconcile.explicit")
		s.log.Info("reconciling tasks", "tasks", len(tasks))
		s.calls = append(s.calls, calls.Reconcile(calls.ReconcileTasks(tasks)))
	case !r.reconciling && !r.reconciledAt.IsZero() && !now.Before(r.nextImplicit):
		r.nextImplicit = now.Add(s.cfg.ImplicitReconcileInterval)
		s.m.Inc("reconcile.implicit")
		s.calls = append(s.calls, calls.Reconcile(calls.ReconcileTasks(nil)))
	}
}

// Reconciled reports whether explicit reconciliation has finished since the
// last subscription, and when.
func (s *Scheduler) Reconciled() (bool, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.connected && !s.rec.reconciling, s.rec.reconciledAt
}
