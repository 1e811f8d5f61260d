package service

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestStartResumesAPlanInProgress: plan start on a plan that is not
// COMPLETE resumes it and relaunches nothing, whatever parameters come
// with it. The SDK (http/queries/PlansQueries.java, start: "If a plan is
// complete, it restarts the plan. If it is interrupted, it makes the plan
// proceed. If a plan is already in progress, it has no effect") sets the
// parameters, restarts the plan only when isComplete(), then proceeds;
// the DC/OS CLI sends the body {} when no -p is given (cli/queries/
// plan.go, Start). Here a serial deploy has web-0 COMPLETE and is
// interrupted; plan start (body {}, then with a parameter) must leave
// web-0 COMPLETE and running, and go on with web-1.
func TestStartResumesAPlanInProgress(t *testing.T) {
	for _, params := range []map[string]string{{}, {"X": "1"}} {
		t.Run(fmt.Sprint(len(params)), func(t *testing.T) {
			h := newHarness(t, render(t, rolling), nil, nil)
			h.ready()
			h.skip()
			h.master.Send(t, sdktest.Offers(sdktest.Offer("o0", "a0", "ha0", onePod()...)))
			id := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "web-0-server")
			h.update(id, "a0", mesos.TASK_RUNNING, sdktest.Ready())
			h.eventually("web-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "web-0:[server]") == plan.Complete })
			ctx := context.Background()
			if _, err := h.s.PlanCommand(ctx, plan.Deploy, CmdInterrupt, "", "", nil); err != nil {
				t.Fatal(err)
			}
			h.mark()
			if _, err := h.s.PlanCommand(ctx, plan.Deploy, CmdStart, "", "", params); err != nil {
				t.Fatal(err)
			}
			if got := h.stepStatus(plan.Deploy, "web-0:[server]"); got != plan.Complete {
				t.Errorf("web-0:[server] %s after plan start, want %s: the plan was in progress", got, plan.Complete)
			}
			if got := h.s.PlanStatus(plan.Deploy); got == plan.Waiting {
				t.Errorf("deploy %s after plan start, want it resumed", got)
			}
			h.tick(time.Second)
			h.tick(time.Second)
			h.skip()
			if slices.ContainsFunc(h.master.Calls(), killOf(id)) {
				t.Errorf("plan start killed web-0's task %s", id)
			}
		})
	}
}
