package service

import (
	"fmt"
	"slices"

	"github.com/taskkit/taskkit/internal/plan"
)

// The plans' views, as GET /v1/plans and /v1/plans/{plan} show them, are
// published by the loop rather than read under the state's lock: an API
// reader never waits for the loop (an offer round, a burst of status
// updates), nor for a loop descheduled by the OS while it holds the lock,
// as it would behind a writer of mu. The loop refreshes them after each
// thing it does that may change a plan (a run of events, a tick, a command
// or an outbox result run on it: publishPlans), before a command returns
// to its caller, so a command's change shows in the next read. A refresh
// walks the plans' steps and makes new views only of the phases that
// changed (plan.Refresh); the views are never modified once published.

// planViews are the listed plans' views (listedPlans' order), as one
// publication: each plan's view with its version, which changes when,
// and only when, its view does.
type planViews struct {
	plans []versionedView
}

type versionedView struct {
	name    string
	view    plan.View
	version uint64
}

func (v *planViews) get(name string) (versionedView, bool) {
	if v == nil {
		return versionedView{}, false
	}
	for _, p := range v.plans {
		if p.name == name {
			return p, true
		}
	}
	return versionedView{}, false
}

func (v *planViews) all() []versionedView {
	if v == nil {
		return nil
	}
	return v.plans
}

// publishPlans publishes the plans' views if any changed. It runs on the
// loop (or in New, before the loop starts), which reads the plans without
// the lock; when nothing changed it allocates nothing.
func (s *Scheduler) publishPlans() {
	old := s.views.Load()
	listed := s.listedPlans()
	next := s.viewScratch[:0]
	changed := old == nil || len(old.plans) != len(listed)
	for i, p := range listed {
		prev, found := old.get(p.Name)
		switch {
		case !found:
			s.viewVersion++
			prev = versionedView{name: p.Name, view: p.View(), version: s.viewVersion}
			changed = true
		default:
			if v, ch := p.Refresh(prev.view); ch {
				s.viewVersion++
				prev = versionedView{name: p.Name, view: v, version: s.viewVersion}
				changed = true
			}
		}
		if !changed && old.plans[i].name != p.Name {
			changed = true
		}
		next = append(next, prev)
	}
	s.viewScratch = next
	if changed {
		s.views.Store(&planViews{plans: slices.Clone(next)})
	}
}

// PlanNames lists the plans: deploy, recovery, decommission (while a start
// found something to decommission), then custom plans.
func (s *Scheduler) PlanNames() []string {
	var out []string
	for _, p := range s.views.Load().all() {
		out = append(out, p.name)
	}
	return out
}

// PlanView describes plan name as the loop last published it.
func (s *Scheduler) PlanView(name string) (plan.View, error) {
	v, _, err := s.PlanViewVersion(name)
	return v, err
}

// PlanViewVersion is PlanView with the view's version: a plan's view
// changes only with its version, so what a reader derives from a view
// (its JSON) may be kept while the version stays. The view is shared:
// the caller does not modify it.
func (s *Scheduler) PlanViewVersion(name string) (plan.View, uint64, error) {
	p, ok := s.views.Load().get(name)
	if !ok {
		return plan.View{}, 0, fmt.Errorf("plan %q: %w", name, ErrNotFound)
	}
	return p.view, p.version, nil
}

// PlanStatus is plan name's aggregated status ("" for an unknown plan),
// as the loop last published it.
func (s *Scheduler) PlanStatus(name string) plan.Status {
	p, _ := s.views.Load().get(name)
	return p.view.Status
}
