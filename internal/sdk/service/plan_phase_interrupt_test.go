package service

import (
	"testing"

	"github.com/taskkit/taskkit/internal/plan"
)

// TestPlanWideCommandsLeaveAnInterruptedPhase: a phase interrupted by name
// stays interrupted through a plan-wide continue or start. The SDK's
// PlansQueries.continuePlan without a phase and PlansQueries.start call
// plan.proceed(), which is ParentElement.proceed: getStrategy().proceed(),
// the plan's own InterruptibleStrategy flag only
// (scheduler/plan/ParentElement.java, proceed; strategy/
// InterruptibleStrategy.java); a phase's strategy is proceeded only by a
// continue naming it. Plan.Continue("") and PlanCommand's start cleared
// every phase's Interrupted, so the phase an operator held (plan interrupt
// deploy --phase b) resumed.
func TestPlanWideCommandsLeaveAnInterruptedPhase(t *testing.T) {
	for _, cmd := range []string{CmdContinue, CmdStart} {
		t.Run(cmd, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			h := newHarness(t, twoPhases, st, nil)
			h.ready()
			ctx := t.Context()
			if changed, err := h.s.PlanCommand(ctx, plan.Deploy, CmdInterrupt, "b", "", nil); err != nil || !changed {
				t.Fatalf("interrupt phase b: %v %v", changed, err)
			}
			phaseB := func() plan.Status {
				v, err := h.s.PlanView(plan.Deploy)
				if err != nil {
					t.Fatal(err)
				}
				for _, ph := range v.Phases {
					if ph.Name == "b" {
						return ph.Status
					}
				}
				return ""
			}
			if got := phaseB(); got != plan.Waiting {
				t.Fatalf("phase b %s after interrupting it, want WAITING", got)
			}
			if _, err := h.s.PlanCommand(ctx, plan.Deploy, cmd, "", "", nil); err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if got := phaseB(); got != plan.Waiting {
				t.Errorf("phase b %s after a plan-wide %s, want WAITING: it is still interrupted (only a continue naming it proceeds it)", got, cmd)
			}
		})
	}
}
