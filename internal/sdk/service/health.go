package service

import (
	"time"

	"github.com/taskkit/taskkit/internal/plan"
)

// Health codes (inventory §3): GET /v1/health answers with the code as its
// HTTP status.
const (
	HealthRunning              = 200 // deploy COMPLETE, nothing to recover
	HealthDeployingPending     = 202 // deploy waiting for offers
	HealthRecoveringPending    = 203 // recovery waiting for offers
	HealthDeployingInProgress  = 204 // deploy launching tasks
	HealthRecoveringInProgress = 205 // recovery launching tasks
	HealthWaiting              = 207 // deploy interrupted: waiting for the user
	HealthDelayed              = 208 // crash-loop backoff, deploy or recovery
	HealthInitializing         = 318 // not yet subscribed, or reconciling tasks
	HealthError                = 500 // a plan has errors (e.g. an invalid config)
	HealthUnavailable          = 503 // lost the master for over 10 s
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

// Health returns the service's health code and a word for it, the first
// that applies of:
//
//	503 UNAVAILABLE             no subscription for over 10 s
//	318 INITIALIZING            not yet subscribed, or reconciling
//	500 ERROR                   a plan has errors
//	207 WAITING_FOR_USER        deploy interrupted
//	208 DELAYED                 a deploy or recovery step in crash-loop backoff
//	202 / 204 DEPLOYING_*       deploy pending / in progress
//	203 / 205 RECOVERING_*      recovery pending / in progress
//	200 RUNNING
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
	switch {
	case !s.connected && !s.disconnectedAt.IsZero() && now.Sub(s.disconnectedAt) > disconnectedGrace:
		return HealthUnavailable, "UNAVAILABLE"
	case !s.connected && s.rec.reconciledAt.IsZero(), s.rec.reconciling:
		return HealthInitializing, "INITIALIZING"
	}
	for _, p := range s.allPlans() {
		if len(p.Errors) > 0 || (p.Status() == plan.Error && !p.Interrupted) {
			return HealthError, "ERROR"
		}
	}
	deploy := s.deploy.Status()
	if deploy == plan.Waiting {
		return HealthWaiting, "WAITING_FOR_USER"
	}
	if delayed(s.deploy) || delayed(s.recovery) {
		return HealthDelayed, "DELAYED"
	}
	switch deploy {
	case plan.Complete:
	case plan.Pending:
		return HealthDeployingPending, "DEPLOYING_PENDING"
	default:
		return HealthDeployingInProgress, "DEPLOYING_IN_PROGRESS"
	}
	switch s.recovery.Status() {
	case plan.Complete:
		return HealthRunning, "RUNNING"
	case plan.Pending:
		return HealthRecoveringPending, "RECOVERING_PENDING"
	default:
		return HealthRecoveringInProgress, "RECOVERING_IN_PROGRESS"
	}
}

// delayed reports whether a step of p that is not held is in crash-loop
// backoff.
func delayed(p *plan.Plan) bool {
	for _, ph := range p.Phases {
		for i := range ph.Steps {
			if ph.StepStatus(i, p.Interrupted) == plan.Delayed {
				return true
			}
		}
	}
	return false
}
