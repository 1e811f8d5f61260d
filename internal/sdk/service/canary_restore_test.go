package service

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestCanaryResumesAfterCrash: a scheduler killed in the middle of a
// canary resumes it where it stopped, from the store as it writes it and
// as the scheduler before the canary steps wrote it (a continue count,
// "released", read on an upgrade). A serial-canary phase of 3 pods has
// had one continue (web-0 COMPLETE); after the restart web-1 still waits
// for its continue and web-2 is PENDING, no offer launches anything, and
// one continue of the phase releases web-1 and then, the canary over,
// web-2 with no further continue.
func TestCanaryResumesAfterCrash(t *testing.T) {
	for _, format := range []string{"current", "released count"} {
		t.Run(format, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			yaml := render(t, rolling, "STRATEGY=serial-canary")
			h := newHarness(t, yaml, st, nil)
			h.ready()
			continueWeb := func(h *harness) {
				t.Helper()
				if changed, err := h.s.PlanCommand(context.Background(), plan.Deploy, CmdContinue, "web", "", nil); err != nil || !changed {
					t.Fatalf("continue web: %v %v", changed, err)
				}
			}
			continueWeb(h)
			h.skip()
			h.master.Send(t, sdktest.Offers(sdktest.Offer("o0", "a0", "ha0", onePod()...)))
			ids := map[string]string{}
			ids["web-0-server"] = taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "web-0-server")
			h.update(ids["web-0-server"], "a0", mesos.TASK_RUNNING, sdktest.Ready())
			h.eventually("web-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "web-0:[server]") == plan.Complete })
			h.skip()
			h.stop()

			if format == "released count" {
				// The progress as the scheduler before canary steps stored
				// it: no "canary", the continues given as "released".
				plans, err := st.Plans()
				if err != nil {
					t.Fatal(err)
				}
				var pr map[string]any
				if err := json.Unmarshal(plans[plan.Deploy], &pr); err != nil {
					t.Fatal(err)
				}
				web := pr["phases"].(map[string]any)["web"].(map[string]any)
				if _, ok := web["canary"]; !ok || web["released"] != 1.0 {
					t.Fatalf("stored web phase %v: want its canary steps and released 1", web)
				}
				delete(web, "canary")
				b, _ := json.Marshal(pr)
				if err := st.PutPlan(plan.Deploy, b); err != nil {
					t.Fatal(err)
				}
			}

			h = newHarness(t, yaml, st, nil)
			for step, want := range map[string]plan.Status{"web-0:[server]": plan.Complete, "web-1:[server]": plan.Waiting, "web-2:[server]": plan.Pending} {
				if got := h.stepStatus(plan.Deploy, step); got != want {
					t.Errorf("restored %s %s, want %s", step, got, want)
				}
			}
			if got := h.s.PlanStatus(plan.Deploy); got != plan.Waiting {
				t.Errorf("restored deploy %s, want %s", got, plan.Waiting)
			}
			h.reconciled(ids)
			h.skip()
			h.mark()
			h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "ha1", onePod()...)))
			h.tick(time.Second)
			h.skip()
			for _, c := range h.master.Calls()[h.since:] {
				if got := names(launched(c)); c.Type == tACCEPT && len(got) > 0 {
					t.Fatalf("launched %v before web-1 was continued", got)
				}
			}
			continueWeb(h)
			for i := 1; i < 3; i++ {
				name, agent := fmt.Sprintf("web-%d-server", i), fmt.Sprint("a", i)
				h.skip()
				h.mark()
				h.master.Send(t, sdktest.Offers(sdktest.Offer(fmt.Sprint("p", i), agent, "h"+agent, onePod()...)))
				ids[name] = taskID(t, launched(h.awaitCall(tACCEPT, func(c *scheduler.Call) bool { return len(launched(c)) > 0 })), name)
				h.update(ids[name], agent, mesos.TASK_RUNNING, sdktest.Ready())
				h.eventually(name+" COMPLETE", func() bool { return h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)) == plan.Complete })
			}
		})
	}
}
