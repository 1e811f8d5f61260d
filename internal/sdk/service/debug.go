package service

import (
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
)

// offerLogSize is how many evaluations GET /v1/debug/offers keeps.
const offerLogSize = 200

// offerLog keeps the latest evaluations (the SDK's OfferOutcomeTracker), a
// ring with its own lock: the loop adds while API readers read.
type offerLog struct {
	mu   sync.Mutex
	ring []offerEntry
	next int
}

type offerEntry struct {
	at       time.Time
	step     string
	instance string
	offer    string
	agent    string
	host     string
	outcomes []evaluate.Outcome
}

func (l *offerLog) add(at time.Time, step, instance string, o *mesos.Offer, outs []evaluate.Outcome) {
	e := offerEntry{at: at, step: step, instance: instance, offer: o.ID.Value, agent: o.AgentID.Value, host: o.Hostname, outcomes: outs}
	l.mu.Lock()
	if len(l.ring) < offerLogSize {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.next] = e
	}
	l.next = (l.next + 1) % offerLogSize
	l.mu.Unlock()
}

// OfferOutcome is one evaluation of one step against one offer, as GET
// /v1/debug/offers shows it.
type OfferOutcome struct {
	Time     time.Time `json:"timestamp"`
	Step     string    `json:"step"`
	Instance string    `json:"pod-instance-name"`
	// Outcome is "pass" or "fail".
	Outcome string `json:"outcome"`
	Offer   string `json:"offer"`
	Agent   string `json:"agent"`
	Host    string `json:"hostname"`
	// Explanation is each stage's verdict, "PASS(stage): ..." or
	// "FAIL(stage): ...", up to the first failure.
	Explanation []string `json:"explanation"`
}

// WaitingStep is a step that has not launched, and why.
type WaitingStep struct {
	Plan    string      `json:"plan"`
	Step    string      `json:"step"`
	Status  plan.Status `json:"status"`
	Message string      `json:"message"`
}

// OffersDebug is GET /v1/debug/offers: the steps waiting to launch and why
// (the question "why isn't my pod launching?"), and the latest offer
// evaluations, newest first.
type OffersDebug struct {
	Waiting  []WaitingStep  `json:"waiting"`
	Outcomes []OfferOutcome `json:"outcomes"`
}

// DebugOffers returns the waiting steps and the latest evaluations.
func (s *Scheduler) DebugOffers() OffersDebug {
	d := OffersDebug{Waiting: []WaitingStep{}, Outcomes: []OfferOutcome{}}
	s.mu.RLock()
	for _, p := range s.allPlans() {
		if p.Status() == plan.Complete {
			continue
		}
		for _, ph := range p.Phases {
			for i, st := range ph.Steps {
				switch st.Status() {
				case plan.Pending, plan.Delayed:
					d.Waiting = append(d.Waiting, WaitingStep{Plan: p.Name, Step: st.Name, Status: ph.StepStatus(i, p.Interrupted), Message: st.Message})
				}
			}
		}
	}
	s.mu.RUnlock()
	l := &s.offerLog
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(l.ring); i++ {
		e := l.ring[(l.next-1-i+2*len(l.ring))%len(l.ring)]
		o := OfferOutcome{Time: e.at, Step: e.step, Instance: e.instance, Outcome: "pass", Offer: e.offer, Agent: e.agent, Host: e.host}
		for _, out := range e.outcomes {
			o.Explanation = append(o.Explanation, out.String())
			if !out.Pass {
				o.Outcome = "fail"
			}
		}
		d.Outcomes = append(d.Outcomes, o)
	}
	return d
}
