package service

import (
	"context"
	"fmt"
	"testing"

	"github.com/taskkit/taskkit/internal/plan"
)

// TestCanaryScaleUpHoldsNewSteps: a serial-canary phase whose pods are
// deployed holds the instances a higher count adds, as it held the first
// ones. The SDK regenerates its plans at every start
// (scheduler/plan/strategy/CanaryStrategy.java, interruptCanarySteps): the
// canary steps are the first two steps still PENDING, each interrupted
// until a proceed; a COMPLETE step is none of them. So after a canary
// deploy of web-0..web-2 and a restart with count 5, web-3 waits for a
// first continue and web-4 for a second one; after a canary deploy of
// web-0 alone (one continue given) and a restart with count 3, web-1 and
// web-2 each wait for a continue of their own.
func TestCanaryScaleUpHoldsNewSteps(t *testing.T) {
	for _, tc := range []struct{ from, to int }{{3, 5}, {1, 3}} {
		t.Run(fmt.Sprintf("%dto%d", tc.from, tc.to), func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			ids := deployRolling(t, st, tc.from, "STRATEGY=serial-canary")
			h := newHarness(t, render(t, rolling, "STRATEGY=serial-canary", fmt.Sprint("COUNT=", tc.to)), st, nil)
			first, second := fmt.Sprintf("web-%d:[server]", tc.from), fmt.Sprintf("web-%d:[server]", tc.from+1)
			if got := h.s.PlanStatus(plan.Deploy); got != plan.Waiting {
				t.Errorf("deploy %s, want %s: the new instances are the canary", got, plan.Waiting)
			}
			for _, name := range []string{first, second} {
				if got := h.stepStatus(plan.Deploy, name); got != plan.Waiting {
					t.Errorf("%s %s before any continue, want %s", name, got, plan.Waiting)
				}
			}
			h.reconciled(ids)
			// Continued by phase, as the SDK's test_increase_count does
			// (plan continue deploy hello-deploy): a continue of the plan
			// alone leaves a canary phase held.
			if _, err := h.s.PlanCommand(context.Background(), plan.Deploy, CmdContinue, "web", "", nil); err != nil {
				t.Fatal(err)
			}
			if got := h.stepStatus(plan.Deploy, first); got != plan.Pending {
				t.Errorf("%s %s after the first continue, want %s", first, got, plan.Pending)
			}
			if got := h.stepStatus(plan.Deploy, second); got != plan.Waiting {
				t.Errorf("%s %s after the first continue, want %s: it is the second canary step", second, got, plan.Waiting)
			}
		})
	}
}
