package plan

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// shown is what the API shows of ph's steps, in order, as one string
// ("WAITING WAITING PENDING PENDING").
func shown(p *Plan, ph *Phase) string {
	var out []string
	for i := range ph.Steps {
		out = append(out, string(ph.StepStatus(i, p.Interrupted)))
	}
	return strings.Join(out, " ")
}

// TestCanaryStrategy follows the SDK's CanaryStrategy through the steps of
// its helloworld test (frameworks/helloworld/tests/test_canary_strategy.py,
// canary.yml: a serial plan of a parallel-canary phase and a serial-canary
// one, 4 steps each): the first two PENDING steps are the canary, each
// WAITING until a continue naming the phase; the steps after them are
// PENDING; a continue without a phase releases nothing; once both canary
// steps are continued the phase follows its own strategy.
func TestCanaryStrategy(t *testing.T) {
	hello := phase(ParallelCanary, 4)
	hello.Name = "hello-deploy"
	world := &Phase{Name: "world-deploy", Strategy: SerialCanary}
	for i := 0; i < 4; i++ {
		world.Steps = append(world.Steps, NewStep("world", i, []string{"t"}))
	}
	world.Hold()
	p := &Plan{Name: Deploy, Strategy: Serial, Phases: []*Phase{hello, world}}
	check := func(when string, wantPlan Status, wantHello, wantWorld string, wantPhases ...Status) {
		t.Helper()
		if got := p.Status(); got != wantPlan {
			t.Errorf("%s: plan %s, want %s", when, got, wantPlan)
		}
		for i, ph := range []*Phase{hello, world} {
			want := []string{wantHello, wantWorld}[i]
			if got := shown(p, ph); got != want {
				t.Errorf("%s: %s steps %s, want %s", when, ph.Name, got, want)
			}
			if got := ph.Status(p.Interrupted); got != wantPhases[i] {
				t.Errorf("%s: %s %s, want %s", when, ph.Name, got, wantPhases[i])
			}
		}
	}
	candidates := func(when string, want ...string) {
		t.Helper()
		if got := names(p.Candidates(t0)); !slices.Equal(got, want) {
			t.Errorf("%s: candidates %v, want %v", when, got, want)
		}
	}
	continuePhase := func(phase string, wantChanged bool) {
		t.Helper()
		if changed, err := p.Continue(phase); err != nil || changed != wantChanged {
			t.Errorf("continue %q: %v %v, want changed %v", phase, changed, err, wantChanged)
		}
	}
	// test_canary_init
	check("init", Waiting, "WAITING WAITING PENDING PENDING", "WAITING WAITING PENDING PENDING", Waiting, Waiting)
	candidates("init")
	// test_canary_first
	continuePhase("hello-deploy", true)
	candidates("first", "pod-0")
	complete(hello.Steps[0])
	candidates("first deployed")
	check("first", Waiting, "COMPLETE WAITING PENDING PENDING", "WAITING WAITING PENDING PENDING", Waiting, Waiting)
	// test_canary_plan_continue_noop
	continuePhase("", false)
	candidates("plan continue")
	check("plan continue", Waiting, "COMPLETE WAITING PENDING PENDING", "WAITING WAITING PENDING PENDING", Waiting, Waiting)
	// test_canary_second: world-0 continued, nothing launched (the plan is
	// serial and hello-deploy not COMPLETE).
	continuePhase("world-deploy", true)
	candidates("second")
	if got := shown(p, world); got != "PENDING WAITING PENDING PENDING" {
		t.Errorf("second: world-deploy steps %s", got)
	}
	if got := world.Status(false); got != Pending {
		t.Errorf("second: world-deploy %s, want %s", got, Pending)
	}
	if got := p.Status(); got != Waiting {
		t.Errorf("second: plan %s, want %s (hello-deploy waits, world-deploy comes after it)", got, Waiting)
	}
	// test_canary_third: hello's second continue ends its canary; the
	// parallel phase launches the rest at once, then world-0.
	continuePhase("hello-deploy", true)
	candidates("third", "pod-1", "pod-2", "pod-3")
	for _, s := range hello.Steps[1:] {
		complete(s)
	}
	candidates("third deployed", "world-0")
	complete(world.Steps[0])
	check("third", Waiting, "COMPLETE COMPLETE COMPLETE COMPLETE", "COMPLETE WAITING PENDING PENDING", Complete, Waiting)
	continuePhase("hello-deploy", false)
	// test_canary_fourth: world's second continue; serial, one at a time.
	continuePhase("world-deploy", true)
	for i := 1; i < 4; i++ {
		candidates("fourth", "world-"+string(rune('0'+i)))
		complete(world.Steps[i])
	}
	check("fourth", Complete, "COMPLETE COMPLETE COMPLETE COMPLETE", "COMPLETE COMPLETE COMPLETE COMPLETE", Complete, Complete)
	continuePhase("world-deploy", false)
}

// TestCanaryHoldsNewSteps: Hold makes the first two PENDING steps the
// canary, COMPLETE ones excluded (test_increase_count: one new step,
// WAITING, released by one continue), and releases the canary it had.
func TestCanaryHoldsNewSteps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		complete int // steps COMPLETE before Hold
		n        int
		want     string
		after    []string // candidates after one continue of the phase
		rest     []string // candidates after a second one
	}{
		{"one new", 4, 5, "COMPLETE COMPLETE COMPLETE COMPLETE WAITING", []string{"pod-4"}, []string{"pod-4"}},
		{"two new", 3, 5, "COMPLETE COMPLETE COMPLETE WAITING WAITING", []string{"pod-3"}, []string{"pod-3"}},
		{"three new", 1, 4, "COMPLETE WAITING WAITING PENDING", []string{"pod-1"}, []string{"pod-1"}},
		{"none new", 3, 3, "COMPLETE COMPLETE COMPLETE", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ph := phase(SerialCanary, tc.n)
			for _, s := range ph.Steps[:tc.complete] {
				complete(s)
			}
			ph.Hold()
			p := &Plan{Name: Deploy, Strategy: Serial, Phases: []*Phase{ph}}
			if got := shown(p, ph); got != tc.want {
				t.Errorf("steps %s, want %s", got, tc.want)
			}
			if got := p.Candidates(t0); len(got) != 0 && tc.complete < tc.n {
				t.Errorf("candidates before a continue: %v", names(got))
			}
			p.Continue("p")
			if got := names(p.Candidates(t0)); !slices.Equal(got, tc.after) {
				t.Errorf("after one continue: %v, want %v", got, tc.after)
			}
			p.Continue("p")
			if got := names(p.Candidates(t0)); !slices.Equal(got, tc.rest) {
				t.Errorf("after two continues: %v, want %v", got, tc.rest)
			}
		})
	}
}

// TestCanaryRestore: saved progress comes back. A canary under way resumes
// where it stopped, in the current format or the one before it (released:
// a continue count, read on an upgrade); a canary phase whose saved steps
// were all COMPLETE holds the steps it has gained. Each case gives the
// saved JSON of phase p (4 serial-canary steps pod-0..3), the statuses
// shown after Restore, the candidates after each continue of the phase
// (steps completing as they are launched; once both canary steps are
// continued a serial phase launches one step at a time), and what
// Progress saves again.
func TestCanaryRestore(t *testing.T) {
	const c = `"COMPLETE"`
	const pe = `"PENDING"`
	steps := func(st ...string) string {
		var kv []string
		for i, s := range st {
			kv = append(kv, `"pod-`+string(rune('0'+i))+`:[t]":`+s)
		}
		return `"steps":{` + strings.Join(kv, ",") + `}`
	}
	for _, tc := range []struct {
		name, saved string
		want        string
		continues   [][]string
		canary      map[string]bool
		released    int
	}{
		{"old format, held", `{"interrupted":false,"released":0,` + steps(pe, pe, pe, pe) + `}`,
			"WAITING WAITING PENDING PENDING", [][]string{{"pod-0"}, {"pod-1"}}, map[string]bool{"pod-0:[t]": true, "pod-1:[t]": true}, 0},
		{"old format, first released", `{"interrupted":false,"released":1,` + steps(c, pe, pe, pe) + `}`,
			"COMPLETE WAITING PENDING PENDING", [][]string{{"pod-1"}}, map[string]bool{"pod-0:[t]": false, "pod-1:[t]": true}, 1},
		{"old format, over", `{"interrupted":false,"released":2,` + steps(c, c, pe, pe) + `}`,
			"COMPLETE COMPLETE PENDING PENDING", nil, nil, 2},
		{"old format, deployed, a pod added", `{"interrupted":false,"released":2,` + steps(c, c, c) + `}`,
			"COMPLETE COMPLETE COMPLETE WAITING", [][]string{{"pod-3"}}, map[string]bool{"pod-3:[t]": true}, 0},
		{"canary under way", `{"interrupted":false,"released":1,"canary":{"pod-1:[t]":false,"pod-2:[t]":true},` + steps(c, pe, pe, pe) + `}`,
			"COMPLETE PENDING WAITING PENDING", [][]string{{"pod-1"}}, map[string]bool{"pod-1:[t]": false, "pod-2:[t]": true}, 1},
		{"deployed, two pods added", `{"interrupted":false,"released":2,` + steps(c, c) + `}`,
			"COMPLETE COMPLETE WAITING WAITING", [][]string{{"pod-2"}, {"pod-3"}}, map[string]bool{"pod-2:[t]": true, "pod-3:[t]": true}, 0},
		{"interrupted phase", `{"interrupted":true,"released":2,` + steps(c, c, pe, pe) + `}`,
			"COMPLETE COMPLETE WAITING WAITING", nil, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pp PhaseProgress
			if err := json.Unmarshal([]byte(tc.saved), &pp); err != nil {
				t.Fatal(err)
			}
			p := &Plan{Name: Deploy, Strategy: Serial, Phases: []*Phase{phase(SerialCanary, 4)}}
			p.Restore(Progress{Phases: map[string]PhaseProgress{"p": pp}})
			ph := p.Phases[0]
			if got := shown(p, ph); got != tc.want {
				t.Errorf("restored %s, want %s", got, tc.want)
			}
			saved := p.Progress().Phases["p"]
			if saved.Released != tc.released || len(saved.Canary) != len(tc.canary) {
				t.Errorf("saved again: released %d canary %v, want %d %v", saved.Released, saved.Canary, tc.released, tc.canary)
			}
			for k, v := range tc.canary {
				if w, ok := saved.Canary[k]; !ok || w != v {
					t.Errorf("saved again: canary %v, want %v", saved.Canary, tc.canary)
				}
			}
			if got := p.Candidates(t0); ph.canaryHeld() && len(got) != 0 {
				t.Errorf("candidates of a held canary: %v", names(got))
			}
			for i, want := range tc.continues {
				p.Continue("p")
				got := p.Candidates(t0)
				if !slices.Equal(names(got), want) {
					t.Errorf("continue %d: candidates %v, want %v", i+1, names(got), want)
				}
				for _, s := range got {
					complete(s)
				}
			}
			// Once the canary is over, the phase rolls on by itself.
			for guard := 0; guard < 8 && p.Status() != Complete && !ph.Interrupted; guard++ {
				got := p.Candidates(t0)
				if len(got) == 0 {
					t.Fatalf("stuck at %s after the continues", shown(p, ph))
				}
				for _, s := range got {
					complete(s)
				}
			}
		})
	}
}
