package plan

import (
	"reflect"
	"testing"
)

// TestRefresh changes a two-phase plan one way per case and checks that
// Refresh reports the change, that its view is the one View makes from
// scratch, and that a phase the change did not touch is old's own (its
// steps shared, not copied); an unchanged plan gives old back.
func TestRefresh(t *testing.T) {
	tests := []struct {
		name    string
		change  func(p *Plan)
		changed bool
		// kept are the phases whose view old's must be.
		kept []int
	}{
		{"nothing", func(p *Plan) {}, false, []int{0, 1}},
		{"a step launched", func(p *Plan) { p.Phases[1].Steps[0].Launched() }, true, []int{0}},
		{"a step's message", func(p *Plan) { p.Phases[0].Steps[1].Message = "waiting for offers" }, true, []int{1}},
		{"the plan interrupted", func(p *Plan) { p.Interrupted = true }, true, nil},
		{"a phase interrupted", func(p *Plan) { p.Phases[1].Interrupted = true }, true, []int{0}},
		{"an error", func(p *Plan) { p.Errors = []string{"invalid update"} }, true, []int{0, 1}},
		{"a step forced complete", func(p *Plan) { p.Phases[0].Steps[0].ForceComplete() }, true, []int{1}},
		{"a phase added", func(p *Plan) {
			p.Phases = append(p.Phases, &Phase{Name: "extra", Strategy: Serial, Steps: []*Step{NewStep("x", 0, []string{"t"})}})
		}, true, []int{0, 1}},
		{"a phase removed", func(p *Plan) { p.Phases = p.Phases[:1] }, true, []int{0}},
		{"a step added", func(p *Plan) { p.Phases[1].Steps = append(p.Phases[1].Steps, NewStep("b", 2, []string{"t"})) }, true, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plan{Name: Deploy, Strategy: Serial, Phases: []*Phase{
				{Name: "a", Strategy: Parallel, Steps: []*Step{NewStep("a", 0, []string{"t"}), NewStep("a", 1, []string{"t"})}},
				{Name: "b", Strategy: Serial, Steps: []*Step{NewStep("b", 0, []string{"t"}), NewStep("b", 1, []string{"t"})}},
			}}
			old := p.View()
			want := p.View()
			tc.change(p)
			got, changed := p.Refresh(old)
			if changed != tc.changed {
				t.Errorf("changed %v, want %v", changed, tc.changed)
			}
			if fresh := p.View(); !reflect.DeepEqual(got, fresh) {
				t.Errorf("Refresh made\n%+v\nView makes\n%+v", got, fresh)
			}
			if !reflect.DeepEqual(old, want) {
				t.Errorf("Refresh modified old:\n%+v\nwas\n%+v", old, want)
			}
			for _, i := range tc.kept {
				if &got.Phases[i].Steps[0] != &old.Phases[i].Steps[0] {
					t.Errorf("phase %d: a new view, want old's (unchanged)", i)
				}
			}
		})
	}
}
