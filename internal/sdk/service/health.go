package service

import (
	"strings"
	"time"

	"github.com/taskkit/taskkit/internal/plan"
)

// Health codes, as dcos-commons' HealthResource (its ServiceStatusCode)
// defines them: GET /v1/health answers with the code as its HTTP status.
const (
	HealthRunning            = 200 // deploy COMPLETE, nothing to recover
	HealthDeployingStarting  = 202 // every unfinished deploy step launched: tasks starting or started
	HealthRecoveringPending  = 203 // a recovery step waits for an offer or its launch
	HealthDeployingPending   = 204 // a deploy step waits for an offer or its launch
	HealthRecoveringStarting = 205 // every unfinished recovery step launched: tasks starting or started
	HealthWaitingUser        = 207 // deploy interrupted: waiting for the user
	HealthDelayed            = 208 // crash-loop backoff, deploy or recovery
	HealthInitializing       = 318 // not yet subscribed, or reconciling tasks
	HealthBackingUp          = 320 // deploy COMPLETE, a plan named like "*back*" running
	HealthRestoring          = 321 // deploy COMPLETE, a plan named like "*restor*" running
	HealthError              = 500 // a plan has errors (e.g. an invalid config)
	HealthUnavailable        = 503 // lost the master for over 10 s
)

// disconnectedGrace is how long a lost subscription may last before
// Health reports UNAVAILABLE (a re-subscription usually takes well under a
// second).
const disconnectedGrace = 10 * time.Second

// HealthReport is the service's health: its code, the code's word, and the
// reasons an operator can act on (why steps wait).
type HealthReport struct {
	Code    int
	Status  string
	Reasons []string
}

// Health returns the service's health code and its name (the SDK's
// ServiceStatusCode), the first that applies of:
//
//	503 SERVICE_UNAVAILABLE       no subscription for over 10 s
//	500 ERROR_CREATING_SERVICE    a plan has errors
//	318 INITIALIZING              not yet subscribed, or reconciling
//	207 DEPLOYING_WAITING_USER    deploy interrupted (the SDK checks it after
//	                              the next three)
//	208 DELAYED                   a deploy step in crash-loop backoff
//	204 DEPLOYING_PENDING         a deploy step PENDING or PREPARED
//	202 DEPLOYING_STARTING        deploy steps STARTING or STARTED, none pending
//	208 DELAYED                   a recovery step in crash-loop backoff
//	203 RECOVERING_PENDING        a recovery step PENDING or PREPARED
//	205 RECOVERING_STARTING       recovery steps STARTING or STARTED, none pending
//	321 RESTORING                 deploy COMPLETE, a restore plan running
//	320 BACKING_UP                deploy COMPLETE, a backup plan running
//	200 RUNNING                   deploy COMPLETE
//	503 SERVICE_UNAVAILABLE       none of these (the SDK's fallback)
//
// A restore plan is one whose name holds "restor", a backup plan one whose
// name holds "back" (the SDK's RESTORE_PLAN_REGEXP and BACKUP_PLAN_REGEXP,
// case-sensitive), running when PREPARED, STARTING, STARTED or IN_PROGRESS
// (Status.isRunning: a started plan whose steps wait for offers is
// PENDING, not yet running).
//
// The deploy and recovery codes count the plan's steps as the SDK's
// evaluatePendingOrStartingStatusCode does (pessimistically: one pending
// step makes the plan pending); held steps (WAITING) count for neither.
func (s *Scheduler) Health() (int, string) {
	r := s.HealthReport()
	return r.Code, r.Status
}

// HealthReport is Health with the reasons: the message of every deploy or
// recovery step that is not COMPLETE and has one (the last failure, the
// offer that does not fit, the lost agent it waits for).
func (s *Scheduler) HealthReport() HealthReport {
	s.mu.RLock()
	defer s.mu.RUnlock()
	code, word := s.healthLocked(s.clock.Now())
	r := HealthReport{Code: code, Status: word, Reasons: []string{}}
	if code == HealthRestoring || code == HealthBackingUp {
		for _, p := range s.runningPlans(planKind(code)) {
			r.Reasons = append(r.Reasons, "plan "+p.Name+" "+string(p.Status()))
		}
	}
	for _, p := range []*plan.Plan{s.deploy, s.recovery} {
		for _, st := range p.Steps() {
			if st.Status() != plan.Complete && st.Message != "" {
				r.Reasons = append(r.Reasons, p.Name+" "+st.Name+": "+st.Message)
			}
		}
	}
	return r
}

func (s *Scheduler) healthLocked(now time.Time) (int, string) {
	if !s.connected && !s.disconnectedAt.IsZero() && now.Sub(s.disconnectedAt) > disconnectedGrace {
		return HealthUnavailable, "SERVICE_UNAVAILABLE"
	}
	for _, p := range s.allPlans() {
		if len(p.Errors) > 0 || (p.Status() == plan.Error && !p.Interrupted) {
			return HealthError, "ERROR_CREATING_SERVICE"
		}
	}
	if (!s.connected && s.rec.reconciledAt.IsZero()) || s.rec.reconciling {
		return HealthInitializing, "INITIALIZING"
	}
	// The SDK counts the deploy's steps first, so an interrupted deploy
	// with a step still starting says 202; the interrupt is what an
	// operator needs to see, so 207 comes first here.
	if s.deploy.Interrupted || s.deploy.Status() == plan.Waiting {
		return HealthWaitingUser, "DEPLOYING_WAITING_USER"
	}
	switch stepsHealth(s.deploy) {
	case plan.Delayed:
		return HealthDelayed, "DELAYED"
	case plan.Pending:
		return HealthDeployingPending, "DEPLOYING_PENDING"
	case plan.Starting:
		return HealthDeployingStarting, "DEPLOYING_STARTING"
	}
	switch stepsHealth(s.recovery) {
	case plan.Delayed:
		return HealthDelayed, "DELAYED"
	case plan.Pending:
		return HealthRecoveringPending, "RECOVERING_PENDING"
	case plan.Starting:
		return HealthRecoveringStarting, "RECOVERING_STARTING"
	}
	if s.deploy.Status() != plan.Complete {
		// Nothing above applies yet the deploy is not done (the SDK's
		// fallback too).
		return HealthUnavailable, "SERVICE_UNAVAILABLE"
	}
	// Low-priority codes, for a complete deploy only (the SDK's order).
	if len(s.runningPlans("restor")) > 0 {
		return HealthRestoring, "RESTORING"
	}
	if len(s.runningPlans("back")) > 0 {
		return HealthBackingUp, "BACKING_UP"
	}
	return HealthRunning, "RUNNING"
}

// planKind is the part of a plan's name that makes it a restore or backup
// plan, for health code 321 or 320.
func planKind(code int) string {
	if code == HealthRestoring {
		return "restor"
	}
	return "back"
}

// runningPlans returns the plans whose name holds kind and whose status
// is running as the SDK's Status.isRunning counts it. Caller holds s.mu.
func (s *Scheduler) runningPlans(kind string) []*plan.Plan {
	var out []*plan.Plan
	for _, p := range s.allPlans() {
		if !strings.Contains(p.Name, kind) {
			continue
		}
		switch p.Status() {
		case plan.Prepared, plan.Starting, plan.Started, plan.InProgress:
			out = append(out, p)
		}
	}
	return out
}

// stepsHealth sums up p's steps as the SDK's health does, first match
// wins: Delayed when a step not held is in crash-loop backoff, Pending when
// one is PENDING or PREPARED, Starting when one is STARTING or STARTED,
// else "" (every step COMPLETE, held or in error).
func stepsHealth(p *plan.Plan) plan.Status {
	var pending, starting bool
	for _, ph := range p.Phases {
		for i := range ph.Steps {
			switch ph.StepStatus(i, p.Interrupted) {
			case plan.Delayed:
				return plan.Delayed
			case plan.Pending, plan.Prepared:
				pending = true
			case plan.Starting, plan.Started:
				starting = true
			}
		}
	}
	switch {
	case pending:
		return plan.Pending
	case starting:
		return plan.Starting
	}
	return ""
}
