package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestDecommissionLeavesEarlierIncarnationsTracked: what a pod instance
// replaced off a lost agent left there is no part of its decommission
// (the SDK's plan cleans up the resource IDs of the tasks' current
// TaskInfos only, DecommissionPlanFactory.buildPlanInfo), but it is not
// forgotten either: once the plan is COMPLETE and web-1 erased, it is
// still tracked, releasing, in /v1/debug/reservations (the step's message
// names it), and released when the agent comes back and offers it, as the
// SDK's cleaner releases what no task names
// (DefaultScheduler.getUnexpectedResources).
func TestDecommissionLeavesEarlierIncarnationsTracked(t *testing.T) {
	st, h, _ := decommissionReplaced(t)
	h.eventually("web-1 erased", func() bool {
		tasks, _ := st.Tasks()
		_, ok := tasks["web-1-server"]
		return !ok && h.s.PlanStatus(plan.Decommission) == plan.Complete
	})
	left := func() []PodReservationView {
		var out []PodReservationView
		for _, r := range h.s.Reservations() {
			if r.Instance == "web-1" {
				out = append(out, r)
			}
		}
		return out
	}
	if l := left(); len(l) != 1 || l[0].AgentID != "a1" || !l[0].Releasing || len(l[0].Resources) == 0 {
		t.Fatalf("web-1's reservations after its decommission %+v, want what it left on a1, releasing", l)
	}
	if msg := h.stepMessage(plan.Decommission, "unreserve-web-1"); !strings.Contains(msg, "web-1@") {
		t.Errorf("unreserve-web-1 message %q does not name what is left on a1", msg)
	}

	// a1 comes back: what web-1 left there is released, then forgotten.
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("r1", "a1", "ha1")))
	rel := h.awaitCall(tACCEPT, nil)
	if got := opTypes(rel); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
		t.Fatalf("release on a1 %v", got)
	}
	h.eventually("nothing of web-1 left", func() bool {
		all, err := st.Reservations()
		if err != nil {
			t.Fatal(err)
		}
		for key := range all {
			if strings.HasPrefix(key, "web-1") {
				return false
			}
		}
		return len(left()) == 0
	})
}

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
// unreserve step (releaseLocked) waited until every reservation of the
// instance was gone, the one left on a1 included, which a1 never offers:
// the decommission plan was stuck for good, web-1's task never erased.
func TestDecommissionOfAReplacedPodCompletes(t *testing.T) {
	_, h, _ := decommissionReplaced(t)
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

// decommissionReplaced deploys web-0 and web-1 (stateful), loses web-1's
// agent a1, replaces web-1 onto a5, then restarts the scheduler with the
// count at 1: web-1's task on a5 is killed, its unreserve step STARTED and
// a5 offered again. It returns the store, the harness and the replaced
// task's ID; what web-1 left on a1 is still reserved.
func decommissionReplaced(t *testing.T) (*countingStore, *harness, string) {
	t.Helper()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
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
	return st, h, replaced
}
