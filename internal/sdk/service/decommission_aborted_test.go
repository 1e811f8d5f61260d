package service

import (
	"fmt"
	"slices"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// stateful is rolling's web pod with a persistent volume.
const stateful = `name: svc
pods:
  web:
    count: {{COUNT}}
    {{#DECOMMISSION}}allow-decommission: true{{/DECOMMISSION}}
    tasks:
      server:
        cmd: "exec sleep 600"
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
`

// deployStateful deploys stateful with count web pods, web-i on agent
// a<i>, and stops the scheduler. It returns the task IDs by name.
func deployStateful(t *testing.T, st *countingStore, count int) map[string]string {
	t.Helper()
	h := newHarness(t, render(t, stateful, fmt.Sprint("COUNT=", count)), st, nil)
	h.ready()
	ids := map[string]string{}
	for i := 0; i < count; i++ {
		h.skip()
		agent := fmt.Sprint("a", i)
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("o", i), agent, "h"+agent)))
		name := fmt.Sprintf("web-%d-server", i)
		ids[name] = taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), name)
		h.update(ids[name], agent, mesos.TASK_RUNNING)
		h.eventually(name+" COMPLETE", func() bool { return h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)) == plan.Complete })
		h.tick(time.Second)
	}
	h.confirmed()
	h.skip()
	h.stop()
	return ids
}

// TestDecommissionAbortedKeepsTheVolume: a scale-down aborted by raising
// the count again before the decommission released anything relaunches
// the instance in place, on its reservation and volume. The SDK rebuilds
// its decommission plan at every start from the stored tasks and the
// target's counts and clears the DECOMMISSIONED override of a task no
// longer to decommission (scheduler/decommission/DecommissionPlanFactory.
// java, buildPlanInfo: "This can happen if a prior decommission operation
// was aborted"); its resource cleaner releases only resource IDs no kept
// task names (scheduler/DefaultScheduler.java, getUnexpectedResources:
// a task neither permanently failed nor DECOMMISSIONING keeps its
// resources), and the recovery plan relaunches the KILLED task in place.
// Here 3 web pods go down to 1: web-2 is killed, its unreserve step has
// begun, no offer of its agent came, when the scheduler restarts with 3.
// web-2 must be relaunched on its old resource IDs and volume, nothing of
// it DESTROYed or UNRESERVEd.
func TestDecommissionAbortedKeepsTheVolume(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids, web2 := abortedScaleDown(t, st)

	h := newHarness(t, render(t, stateful, "COUNT=3", "DECOMMISSION=true"), st, nil)
	if names := h.s.PlanNames(); slices.Contains(names, plan.Decommission) {
		t.Errorf("plans %v: nothing is to be decommissioned at count 3", names)
	}
	awaitWeb2InPlace(t, h, ids, web2)
}

func mustUnmarshal(t *testing.T, b []byte) *reservation.Reservation {
	t.Helper()
	r, err := reservation.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deployedWeb2 deploys three web pods (deployStateful) on st and returns
// their task IDs by name and web-2's stored reservation record.
func deployedWeb2(t *testing.T, st *countingStore) (map[string]string, []byte) {
	t.Helper()
	ids := deployStateful(t, st, 3)
	rs, err := st.Reservations()
	if err != nil || rs["web-2"] == nil {
		t.Fatalf("web-2 holds no reservation: %v", err)
	}
	return ids, rs["web-2"]
}

// abortedScaleDown deploys three web pods on st (deployedWeb2), then runs a
// scheduler whose target has one until web-2's task is killed and its
// unreserve step began (scaleDownWeb2), and stops it there, before any
// offer of web-2's agent: the scale-down a restart with three aborts.
func abortedScaleDown(t *testing.T, st *countingStore) (map[string]string, []byte) {
	t.Helper()
	ids, web2 := deployedWeb2(t, st)
	h := newHarness(t, render(t, stateful, "COUNT=1", "DECOMMISSION=true"), st, nil)
	scaleDownWeb2(t, h, ids)
	h.skip()
	h.stop()
	return ids, web2
}

// scaleDownWeb2 starts h, whose target lowered the count of web pods
// deployed by deployStateful to 1, reconciles ids as running, and waits
// until web-2's task is killed and its unreserve step STARTED.
func scaleDownWeb2(t *testing.T, h *harness, ids map[string]string) {
	t.Helper()
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	for name, id := range ids {
		h.master.Send(t, sdktest.Status(id, "a"+name[4:5], mesos.TASK_RUNNING, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-2-server"]))
	h.update(ids["web-2-server"], "a2", mesos.TASK_KILLED)
	h.eventually("unreserve-web-2 STARTED", func() bool {
		return h.stepStatus(plan.Decommission, "unreserve-web-2") == plan.Started
	})
}

// awaitWeb2InPlace starts h with web-2's task (of ids) KILLED and the
// others running, offers web-2's agent a2 until web-2 is relaunched, and
// fails unless it is relaunched on the resource IDs of stored (web-2's
// reservation before the scale-down) with nothing DESTROYed or
// UNRESERVEd.
func awaitWeb2InPlace(t *testing.T, h *harness, ids map[string]string, stored []byte) {
	t.Helper()
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	for name, id := range ids {
		state := mesos.TASK_RUNNING
		if name == "web-2-server" {
			state = mesos.TASK_KILLED
		}
		h.master.Send(t, sdktest.Status(id, "a"+name[4:5], state, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)
	relaunched := func(c *scheduler.Call) bool {
		return slices.Contains(names(launched(c)), "web-2-server")
	}
	deadline := time.Now().Add(sdktest.Wait)
	var accept *scheduler.Call
	for i := 0; accept == nil; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("web-2 never relaunched; recovery %s, plans %v", h.s.PlanStatus(plan.Recovery), h.s.PlanNames())
		}
		h.tick(time.Minute)
		h.skip()
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("b", i), "a2", "ha2")))
		if c := h.answer(fmt.Sprint("b", i)); c != nil && relaunched(c) {
			accept = c
		}
	}
	for _, c := range h.master.Calls() {
		for _, op := range c.GetAccept().GetOperations() {
			if op.Type == mesos.Offer_Operation_DESTROY || op.Type == mesos.Offer_Operation_UNRESERVE {
				rs := append(op.GetDestroy().GetVolumes(), op.GetUnreserve().GetResources()...)
				t.Errorf("offer %s: %s of web-2's %s", c.GetAccept().GetOfferIDs()[0].Value, op.Type, reservation.Describe(rs))
			}
		}
	}
	old := map[string]bool{}
	for _, it := range mustUnmarshal(t, stored).Items {
		old[it.ID] = true
	}
	for _, ti := range launched(accept) {
		for _, r := range ti.Resources {
			if id := reservation.ResourceID(&r); id != "" && !old[id] {
				t.Errorf("web-2 relaunched on a new reservation %s (%s), not on its own", id, reservation.Describe([]mesos.Resource{r}))
			}
		}
	}
}
