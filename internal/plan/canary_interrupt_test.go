package plan

import (
	"slices"
	"testing"
)

// TestCanaryInterruptIgnored: an interrupt of a canary phase while its
// canary lasts changes nothing, as the SDK's CanaryStrategy.interrupt
// returns at once while getNextCanaryStep is not null ("Ignoring interrupt
// as we are still in canary and therefore already interrupted"; before
// the first continue PlansQueries.interrupt even answers 208, the phase's
// isInterrupted being true). So a continue naming the phase after it
// proceeds the next canary step, as without the interrupt. Interrupt set
// Phase.Interrupted, and the next continue only cleared it: the canary
// step stayed WAITING and the operator needed one continue more than the
// SDK asks for.
func TestCanaryInterruptIgnored(t *testing.T) {
	for _, tc := range []struct {
		name      string
		continued int // continues before the interrupt
		want      []string
		steps     string // shown after the interrupt and the continue
	}{
		{"BeforeFirstContinue", 0, []string{"pod-0"}, "PENDING WAITING PENDING PENDING"},
		{"AfterFirstContinue", 1, []string{"pod-0"}, "PENDING PENDING PENDING PENDING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ph := phase(SerialCanary, 4)
			ph.Hold()
			p := &Plan{Name: Deploy, Strategy: Serial, Phases: []*Phase{ph}}
			for i := 0; i < tc.continued; i++ {
				if _, err := p.Continue(ph.Name); err != nil {
					t.Fatal(err)
				}
			}
			if changed, err := p.Interrupt(ph.Name); err != nil || changed {
				t.Errorf("interrupt during the canary: changed %v, %v; want nothing changed (the SDK ignores it)", changed, err)
			}
			if _, err := p.Continue(ph.Name); err != nil {
				t.Fatal(err)
			}
			if got := names(p.Candidates(t0)); !slices.Equal(got, tc.want) {
				t.Errorf("candidates after interrupt and continue %v, want %v", got, tc.want)
			}
			if got := shown(p, ph); got != tc.steps {
				t.Errorf("steps after interrupt and continue %s, want %s", got, tc.steps)
			}
		})
	}
}
