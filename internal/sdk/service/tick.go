package service

import (
	"context"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
)

// Tick implements framework.Handler (every 250 ms and on wake, while
// subscribed): it reconciles; once reconciled, it kills the tasks steps
// relaunch (update.go), kills tasks whose pause was asked before a crash,
// and moves the decommission plan on; it revives or suppresses offers as
// the work requires, keeps the key pool ahead of the steps to launch, and
// refreshes the message of recoveries waiting for a lost agent.
func (s *Scheduler) Tick(ctx context.Context) error {
	now := s.clock.Now()
	s.reconcile(now)
	work := s.rec.reconciling
	s.mu.Lock()
	adopted := false
	if s.connected && !s.rec.reconciling {
		// What needs no offer: steps whose tasks run already, kills before
		// relaunches, decommissioning.
		_, adopted = s.adoptRunningLocked(s.killForRelaunchLocked(s.candidates(now), now), now)
		s.resendKillsLocked(now)
		s.reconcileOverridesLocked(now)
		s.decommissionLocked(now)
	}
	if st := s.currentDecomStep(); st != nil && s.cfg.Release != nil && s.decom[st].kind == decomUnreserve {
		work = true // releasing needs offers
	}
	for _, st := range s.candidates(now) {
		work = true
		if agent, until := s.pinnedAgent(st, now); agent != "" && st.Status() != plan.Prepared {
			st.Message = s.lostAgentMessage(st, agent, until, now)
		}
	}
	var call *scheduler.Call
	switch {
	case work && (s.suppressed || s.declinedShort) && now.Sub(s.lastRevive) >= s.cfg.ReviveInterval:
		call, s.suppressed, s.declinedShort, s.lastRevive = calls.Revive(), false, false, now
		s.m.Inc("revives")
	case !work && !s.suppressed && !s.anyInFlight():
		call, s.suppressed = calls.Suppress(), true
		s.m.Inc("suppresses")
	}
	var progress *job
	if adopted {
		progress = s.progressJob()
	}
	s.mu.Unlock()
	if progress != nil {
		s.out.push(progress)
	}
	if call != nil {
		s.calls = append(s.calls, call)
	}
	s.keys.Want(s.keysNeeded())
	s.flush()
	return nil
}
