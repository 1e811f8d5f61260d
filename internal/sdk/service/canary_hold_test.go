package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// canary is the SDK's helloworld canary.yml, without volumes and ports.
const canary = `name: svc
pods:
  hello:
    count: 4
    tasks:
      server: {goal: RUNNING, cmd: "sleep 600", cpus: 0.1, memory: 32}
  world:
    count: 4
    tasks:
      server: {goal: RUNNING, cmd: "sleep 600", cpus: 0.1, memory: 32}
plans:
  deploy:
    strategy: serial
    phases:
      hello-deploy: {strategy: parallel-canary, pod: hello}
      world-deploy: {strategy: serial-canary, pod: world}
`

// TestPlanContinueLeavesCanariesHeld: plan continue without a phase does
// not release a canary phase. The SDK's PlansQueries.continuePlan calls
// plan.proceed(), which is the plan's own strategy's proceed
// (scheduler/plan/ParentElement.java, proceed: getStrategy().proceed());
// a phase's CanaryStrategy is proceeded only by a continue naming the
// phase. The SDK's own test says so (frameworks/helloworld/tests/
// test_canary_strategy.py, test_canary_plan_continue_noop: "the plan
// doesn't have the waiting bit set, so telling it to continue should be a
// no-op ... Shouldn't have deployed a second task"). Here hello-0 is
// deployed by "plan continue deploy hello-deploy"; "plan continue deploy"
// must then leave hello-1 WAITING and launch nothing.
func TestPlanContinueLeavesCanariesHeld(t *testing.T) {
	h := newHarness(t, canary, nil, nil)
	h.ready()
	ctx := context.Background()
	if _, err := h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "hello-deploy", "", nil); err != nil {
		t.Fatal(err)
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o0", "a0", "ha0", small()...)))
	id := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "hello-0-server")
	h.update(id, "a0", mesos.TASK_RUNNING)
	h.eventually("hello-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "hello-0:[server]") == plan.Complete })

	if _, err := h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := h.stepStatus(plan.Deploy, "hello-1:[server]"); got != plan.Waiting {
		t.Errorf("hello-1:[server] %s after plan continue deploy, want %s (the canary is continued by phase)", got, plan.Waiting)
	}
	h.tick(time.Second)
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "ha1", small()...)))
	h.tick(time.Second)
	h.skip()
	for _, c := range h.master.Calls()[h.since:] {
		if c.Type == tACCEPT {
			if got := names(launched(c)); len(got) > 0 {
				t.Errorf("plan continue deploy launched %v: the canary phase was not continued", got)
			}
		}
	}
}

// TestCanaryStepStatuses: while a canary phase holds, only its canary
// steps are WAITING; the steps after them are PENDING, as the SDK's
// CanaryStrategy interrupts only the first two pending steps
// (scheduler/plan/strategy/CanaryStrategy.java, interruptCanarySteps) and a
// step shows WAITING only when interrupted (scheduler/plan/
// AbstractStep.java). The SDK's own test checks the API's statuses
// (frameworks/helloworld/tests/test_canary_strategy.py, test_canary_init
// and test_canary_first): WAITING, WAITING, PENDING, PENDING, then
// COMPLETE, WAITING, PENDING, PENDING once hello-0 is deployed.
func TestCanaryStepStatuses(t *testing.T) {
	h := newHarness(t, canary, nil, nil)
	h.ready()
	check := func(when string, want ...plan.Status) {
		t.Helper()
		for _, pod := range []string{"hello", "world"} {
			for i, w := range want {
				if pod == "world" && i == 0 && w == plan.Complete {
					w = plan.Waiting
				}
				step := fmt.Sprintf("%s-%d:[server]", pod, i)
				if got := h.stepStatus(plan.Deploy, step); got != w {
					t.Errorf("%s: %s %s, want %s", when, step, got, w)
				}
			}
		}
	}
	check("at start", plan.Waiting, plan.Waiting, plan.Pending, plan.Pending)
	if _, err := h.s.PlanCommand(context.Background(), plan.Deploy, CmdContinue, "hello-deploy", "", nil); err != nil {
		t.Fatal(err)
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o0", "a0", "ha0", small()...)))
	id := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "hello-0-server")
	h.update(id, "a0", mesos.TASK_RUNNING)
	h.eventually("hello-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "hello-0:[server]") == plan.Complete })
	check("hello-0 deployed", plan.Complete, plan.Waiting, plan.Pending, plan.Pending)
}
