package service

import (
	"context"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
)

// Tick implements framework.Handler (every 250 ms and on wake, while
// subscribed): it reconciles (tasks, and RESERVEs and UNRESERVEs not
// confirmed); once reconciled, it kills the tasks steps relaunch
// (update.go), kills tasks whose pause was asked before a crash, and moves
// the decommission plan on; it revives offers declined or suppressed when
// work needs them, suppresses them when idle and nothing released waits
// for its agent's offer, keeps the key pool ahead
// of the steps to launch, refreshes the message of recoveries waiting
// for a lost agent, and stores those whose wait ran out as permanent.
func (s *Scheduler) Tick(ctx context.Context) error {
	defer s.publishPlans()
	now := s.clock.Now()
	s.reconcile(now)
	if !s.rec.reconciling {
		s.reconcileOperations(now, false)
	}
	// Released reservations (what a replaced or decommissioned pod left)
	// keep offers coming, unsuppressed, but are no work: they are released
	// from the offers their agents make anyway (offers.go).
	work, release := s.rec.reconciling, s.releasing()
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
	if s.decomReleasing() {
		work = true // releasing needs offers
	}
	var expired *job
	for _, st := range s.candidates(now) {
		work = true
		if agent, until := s.pinnedAgent(st, now); agent != "" && st.Status() != plan.Prepared {
			st.Message = s.lostAgentMessage(st, agent, until, now)
		}
		if s.isRecoveryStep(st) && s.pinExpired(st, now) {
			expired = s.markPermanentLocked(st, expired)
		}
	}
	var call *scheduler.Call
	switch {
	case work && (s.suppressed || s.declinedShort || s.declinedLong) && now.Sub(s.lastRevive) >= s.cfg.ReviveInterval:
		call, s.suppressed, s.declinedShort, s.declinedLong, s.lastRevive = calls.Revive(), false, false, false, now
		s.m.Inc("revives")
	case !work && !release && !s.suppressed && !s.anyInFlight():
		call, s.suppressed = calls.Suppress(), true
		s.m.Inc("suppresses")
	}
	var progress *job
	if adopted {
		progress = s.progressJob()
	}
	s.mu.Unlock()
	if expired != nil {
		s.out.push(expired)
	}
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

// markPermanentLocked marks the tasks of recovery step st, whose agent
// stayed away past the replacement timeout, as permanently failed: their
// TaskInfos get the permanently-failed label, stored by j (a new job when
// nil, returned), as the SDK's TimedFailureMonitor stores it once the
// timeout passed (FailureUtils.setPermanentlyFailed). The clock itself is
// kept in memory only, so a restart before the timeout passes starts it
// again; one after it does not undo the verdict. Caller holds s.mu.
func (s *Scheduler) markPermanentLocked(st *plan.Step, j *job) *job {
	for _, name := range st.TaskNames() {
		t := s.tasks[name]
		if t == nil || t.replace || t.info == nil {
			continue
		}
		t.replace = true
		t.info = withLabel(t.info, podinfo.LabelPermanentlyFailed, "true")
		if j == nil {
			j = &job{}
		}
		j.tasks = append(j.tasks, t.info)
	}
	return j
}
