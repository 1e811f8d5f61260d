package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestDecommissionOfAReplacedPodCompletes: a pod instance once replaced
// off a dead agent can still be decommissioned. The SDK's decommission
// plan cleans up the resource IDs its tasks' current TaskInfos name, one
// ResourceCleanupStep each (scheduler/decommission/
// DecommissionPlanFactory.java, buildPlanInfo:
// ResourceUtils.getResourceIds(ResourceUtils.getAllResources(tasks))), so
// what the replaced incarnation left on its dead agent is no part of it.
// Here web-1's agent a1 is lost, web-1 is replaced onto a5, then the
// count goes down to 1: once the task on a5 is killed and what it holds
// on a5 unreserved, the plan must complete and erase web-1. scheduler-lite's
// unreserve step (releaseLocked) waits until every reservation of the
// instance is gone, the one left on a1 included, which a1 never offers:
// the decommission plan is stuck for good, web-1's task never erased.
func TestDecommissionOfAReplacedPodCompletes(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployStateful(t, st, 2)

	h := newHarness(t, render(t, stateful, "COUNT=2"), st, nil)
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(ids["web-0-server"], "a0", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Send(t, sdktest.Status(ids["web-1-server"], "a1", mesos.TASK_UNREACHABLE, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE)
	h.eventually("web-1 recovering", func() bool { return h.stepStatus(plan.Recovery, "web-1:[server]") == plan.Pending })
	if _, err := h.s.PodRestart(context.Background(), "web-1", true); err != nil {
		t.Fatal(err)
	}
	h.tick(time.Second)
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("n5", "a5", "ha5")))
	replaced := taskID(t, launched(h.awaitCall(tACCEPT, func(c *scheduler.Call) bool { return len(launched(c)) > 0 })), "web-1-server")
	h.update(replaced, "a5", mesos.TASK_RUNNING)
	h.confirmed()
	h.skip()
	h.stop()

	h = newHarness(t, render(t, stateful, "COUNT=1", "DECOMMISSION=true"), st, nil)
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(ids["web-0-server"], "a0", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Send(t, sdktest.Status(replaced, "a5", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(replaced))
	h.update(replaced, "a5", mesos.TASK_KILLED)
	h.eventually("unreserve-web-1 STARTED", func() bool {
		return h.stepStatus(plan.Decommission, "unreserve-web-1") == plan.Started
	})
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("r5", "a5", "ha5")))
	deadline := time.Now().Add(sdktest.Wait)
	for h.s.PlanStatus(plan.Decommission) != plan.Complete {
		if time.Now().After(deadline) {
			var held []string
			for _, r := range h.s.Reservations() {
				held = append(held, fmt.Sprintf("%s on %s (releasing %v)", r.Instance, r.AgentID, r.Releasing))
			}
			t.Fatalf("decommission %s; unreserve-web-1 %s %q; reservations held: %v", h.s.PlanStatus(plan.Decommission),
				h.stepStatus(plan.Decommission, "unreserve-web-1"), h.stepMessage(plan.Decommission, "unreserve-web-1"), held)
		}
		h.tick(time.Minute)
		time.Sleep(time.Millisecond)
	}
}
