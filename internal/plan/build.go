package plan

import (
	"slices"
	"strconv"

	"github.com/taskkit/taskkit/internal/spec"
)

// Names of the plans scheduler-lite manages itself.
const (
	Deploy       = "deploy"
	Recovery     = "recovery"
	Decommission = "decommission"
	// Update is the spec's plan that replaces deploy once a deployment has
	// completed (the SDK's Constants.UPDATE_PLAN_NAME).
	Update = "update"
)

// FromSpec builds the deploy plan and the custom plans of s. Without a plan
// named deploy, deploy is serial with one serial phase per pod type and one
// step per instance launching all of the pod's tasks. Custom plans other
// than deploy start interrupted (they run when started through the API).
func FromSpec(s *spec.ServiceSpec) (deploy *Plan, custom []*Plan) {
	for i, name := range s.Plans.Keys {
		p := fromPlanSpec(s, s.Plans.Values[i])
		if name == Deploy {
			deploy = p
		} else {
			p.Interrupted = true
			custom = append(custom, p)
		}
	}
	if deploy == nil {
		deploy = &Plan{Name: Deploy, Strategy: Serial}
		for _, pod := range s.Pods.Values {
			ph := &Phase{Name: pod.Name, Strategy: Serial}
			for i := 0; i < pod.Count; i++ {
				ph.Steps = append(ph.Steps, newStep(pod, i, pod.TaskNames()))
			}
			ph.Hold()
			deploy.Phases = append(deploy.Phases, ph)
		}
	}
	return deploy, custom
}

func fromPlanSpec(s *spec.ServiceSpec, ps *spec.PlanSpec) *Plan {
	p := &Plan{Name: ps.Name, Strategy: ps.Strategy}
	for _, phs := range ps.Phases.Values {
		ph := &Phase{Name: phs.Name, Strategy: phs.Strategy}
		pod := s.Pod(phs.Pod)
		for i := 0; pod != nil && i < pod.Count; i++ {
			for _, tasks := range phs.StepTasks(pod, i) {
				ph.Steps = append(ph.Steps, newStep(pod, i, tasks))
			}
		}
		ph.Hold()
		p.Phases = append(p.Phases, ph)
	}
	return p
}

// newStep is the SDK's DefaultStepFactory.getStep: a PENDING step, or, when
// its tasks cannot launch together (spec.StepError: a shared resource set or
// discovery prefix), a step in ERROR for good with the SDK's message, which
// keeps its plan in ERROR.
func newStep(pod *spec.PodSpec, index int, tasks []string) *Step {
	st := NewStep(pod.Name, index, tasks)
	if err := spec.StepError(pod, index, tasks); err != nil {
		st.status, st.Message, st.refused = Error, err.Error(), true
	}
	return st
}

// NewRecovery returns an empty recovery plan: one parallel phase to which
// the scheduler adds a step per pod instance it relaunches.
func NewRecovery() *Plan {
	return &Plan{Name: Recovery, Strategy: Parallel, Phases: []*Phase{{Name: "recovery", Strategy: Parallel}}}
}

// StepView is a step as the API shows it.
type StepView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
}

// PhaseView is a phase as the API shows it.
type PhaseView struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Strategy string     `json:"strategy"`
	Status   Status     `json:"status"`
	Steps    []StepView `json:"steps"`
}

// View is a plan as GET /v1/plans/{plan} shows it.
type View struct {
	Phases   []PhaseView `json:"phases"`
	Errors   []string    `json:"errors"`
	Strategy string      `json:"strategy"`
	Status   Status      `json:"status"`
}

// View describes the plan for the API.
func (p *Plan) View() View {
	v, _ := p.Refresh(View{})
	return v
}

// Refresh describes the plan for the API given old, a view of it made
// before (the zero View for none): it returns old itself and false when
// nothing the view shows changed, else a new view and true. The new view
// shares old's phases that did not change and its IDs; a view is never
// modified once made, so other goroutines may read old while the loop
// makes the next. Nothing is allocated when nothing changed.
func (p *Plan) Refresh(old View) (View, bool) {
	status := p.Status()
	changed := old.Phases == nil || status != old.Status || p.Strategy != old.Strategy ||
		len(p.Phases) != len(old.Phases) || !slices.Equal(p.Errors, old.Errors)
	var phases []PhaseView
	for i, ph := range p.Phases {
		var prev *PhaseView
		if i < len(old.Phases) {
			prev = &old.Phases[i]
		}
		pv, phChanged := p.refreshPhase(i, ph, prev)
		if phChanged && phases == nil {
			changed = true
		}
		if changed && phases == nil {
			phases = make([]PhaseView, 0, len(p.Phases))
			phases = append(phases, old.Phases[:i]...)
		}
		if phases != nil {
			phases = append(phases, pv)
		}
	}
	if !changed {
		return old, false
	}
	if phases == nil {
		phases = []PhaseView{}
	}
	return View{Phases: phases, Errors: append([]string{}, p.Errors...), Strategy: p.Strategy, Status: status}, true
}

// refreshPhase is Refresh for phase i: prev itself (and false) when
// unchanged, else a new view reusing prev's IDs.
func (p *Plan) refreshPhase(i int, ph *Phase, prev *PhaseView) (PhaseView, bool) {
	status := ph.Status(p.Interrupted)
	if prev != nil && prev.Name == ph.Name && prev.Strategy == ph.Strategy && prev.Status == status && len(prev.Steps) == len(ph.Steps) {
		same := true
		for j, st := range ph.Steps {
			sv := &prev.Steps[j]
			if sv.Name != st.Name || sv.Message != st.Message || sv.Status != ph.StepStatus(j, p.Interrupted) {
				same = false
				break
			}
		}
		if same {
			return *prev, false
		}
	}
	id := p.Name + "-" + strconv.Itoa(i)
	if prev != nil {
		id = prev.ID
	}
	pv := PhaseView{ID: id, Name: ph.Name, Strategy: ph.Strategy, Status: status, Steps: make([]StepView, len(ph.Steps))}
	for j, st := range ph.Steps {
		sid := ""
		if prev != nil && j < len(prev.Steps) {
			sid = prev.Steps[j].ID
		} else {
			sid = id + "-" + strconv.Itoa(j)
		}
		pv.Steps[j] = StepView{ID: sid, Name: st.Name, Status: ph.StepStatus(j, p.Interrupted), Message: st.Message}
	}
	return pv, true
}

// Progress is what the store keeps of a plan so that a restarted scheduler
// resumes where it stopped.
type Progress struct {
	Interrupted bool              `json:"interrupted"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	// Phases maps a phase name to its saved state.
	Phases map[string]PhaseProgress `json:"phases"`
}

// PhaseProgress is a phase's saved state.
type PhaseProgress struct {
	Interrupted bool `json:"interrupted"`
	// Released is a canary phase's progress in the format before Canary:
	// 0 holds the phase, 1 released its first step, 2 all. It is still
	// written (the continues given while the canary lasts, 2 once it is
	// over: an older scheduler started on the store holds a canary that
	// waits and releases one that is over) and read when Canary is absent.
	Released int `json:"released"`
	// Canary maps each canary step of a canary phase to whether it still
	// waits for a continue; absent once the canary is over.
	Canary map[string]bool `json:"canary,omitempty"`
	// Steps maps a step name to its status; only COMPLETE is restored.
	Steps map[string]Status `json:"steps"`
}

// Progress returns the plan's saved form.
func (p *Plan) Progress() Progress {
	pr := Progress{Interrupted: p.Interrupted, Parameters: p.Parameters, Phases: map[string]PhaseProgress{}}
	for _, ph := range p.Phases {
		pp := PhaseProgress{Interrupted: ph.Interrupted, Steps: map[string]Status{}}
		for _, s := range ph.Steps {
			pp.Steps[s.Name] = s.status
		}
		if isCanary(ph.Strategy) {
			pp.Released = canarySteps
		}
		if ph.nextCanary() != nil {
			pp.Released, pp.Canary = 0, map[string]bool{}
			for _, s := range ph.canary {
				pp.Canary[s.Name] = s.interrupted
				if !s.interrupted {
					pp.Released++
				}
			}
		}
		pr.Phases[ph.Name] = pp
	}
	return pr
}

// Restore applies saved progress: interruptions, parameters, canary
// steps and COMPLETE steps. Other steps start PENDING again; the
// scheduler's task state decides the rest.
//
// A canary phase whose saved steps were all COMPLETE holds its PENDING
// steps anew (Hold: the instances a higher count adds), as the SDK's
// regenerated phase does; one whose work was under way resumes its canary
// where it stopped: the saved canary steps and which of them still wait,
// or, from the format before it, Released (0 holds it anew, 1 keeps the
// first step continued and holds the next PENDING one, 2 ends the canary).
func (p *Plan) Restore(pr Progress) {
	p.Interrupted = pr.Interrupted
	p.Parameters = pr.Parameters
	for _, ph := range p.Phases {
		pp, ok := pr.Phases[ph.Name]
		if !ok {
			continue
		}
		ph.Interrupted = pp.Interrupted
		underway := false
		for _, s := range ph.Steps {
			if pp.Steps[s.Name] == Complete {
				s.status = Complete
			}
		}
		for _, st := range pp.Steps {
			underway = underway || st != Complete
		}
		if !isCanary(ph.Strategy) {
			continue
		}
		switch {
		case !underway || (pp.Canary == nil && pp.Released <= 0):
			ph.Hold()
		case pp.Canary != nil:
			ph.releaseCanary()
			for _, s := range ph.Steps {
				if waits, ok := pp.Canary[s.Name]; ok {
					s.interrupted = waits
					ph.canary = append(ph.canary, s)
				}
			}
		case pp.Released == 1 && len(ph.Steps) > 0:
			ph.releaseCanary()
			ph.canary = []*Step{ph.Steps[0]}
			for _, s := range ph.Steps[1:] {
				if s.status == Pending {
					s.interrupted = true
					ph.canary = append(ph.canary, s)
					break
				}
			}
		default:
			ph.releaseCanary()
		}
	}
}
