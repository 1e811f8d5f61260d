package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// removedSetV1 is a pod of task a on resource set x (a volume at data) and
// task b on resource set y (no volume).
const removedSetV1 = `name: svc
pods:
  p:
    count: 1
    resource-sets:
      x:
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
      y:
        cpus: 0.1
        memory: 32
    tasks:
      a:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: x
      b:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: y
`

// removedSetV2 removes task b and moves a, its volume the same, to the
// name of b's volume-less set y.
const removedSetV2 = `name: svc
pods:
  p:
    count: 1
    resource-sets:
      y:
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      a:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: y
`

// TestTaskMovedOntoARemovedVolumelessTasksSet: task a (volume data on
// resource set x) moves to the name y of task b's volume-less set while b
// is removed from the pod. TaskVolumesCannotChange accepts it (a's volumes
// are the same), and so does ResourceSetVolumesFollowTheirTasks, which
// refuses a move onto a removed task's set only when that set had volumes.
// The SDK relaunches a on the resources its own previous TaskInfo names,
// mapped to the specs of the set it uses now whatever it is called
// (offer/evaluate/OfferEvaluator.java, getExistingResourceSetStages with
// the TaskInfo of a task using the set; TaskResourceMapper.java): a keeps
// its volume. reservation.Follow refused to move x's items under y while y
// still held b's items, which no task takes away (b has no Use); nothing
// moved, the volume stage then refused a new volume at y while a's own was
// held under x, and b's decommission kept y's items (a set a task of the
// target uses, ownIDsLocked): a was never relaunched. Now b's items go to a
// released record at start (releaseRemoved): a relaunches on its own
// volume, and b's resources are unreserved.
func TestTaskMovedOntoARemovedVolumelessTasksSet(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()

	h := newHarness(t, removedSetV1, st, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	c := h.master.Expect(t, tACCEPT)[0]
	before := volumesOf(c)
	ids := map[string]string{}
	var bIDs []string // what removed task b's TaskInfo names, its executor's aside
	for _, ti := range launched(c) {
		ids[ti.Name] = ti.TaskID.Value
		if ti.Name == "p-0-b" {
			bIDs = resourceIDs(ti.Resources)
		}
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.skip()
	h.stop()
	if before["p-0-a"] == "" || len(ids) != 2 {
		t.Fatalf("deployed tasks %v, volumes %v", ids, before)
	}

	h = restartOn(t, removedSetV2, st, ids)
	h.failAll(ids)
	var got string
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; got == ""; i++ {
		if time.Now().After(deadline) || i > 40 {
			h.s.mu.RLock()
			r := h.s.reservations["p-0"]
			var keys []string
			if r != nil {
				for _, it := range r.Items {
					keys = append(keys, it.Key)
				}
			}
			h.s.mu.RUnlock()
			if d := h.s.DebugOffers(); len(d.Outcomes) > 0 {
				o := d.Outcomes[len(d.Outcomes)-1]
				t.Logf("last offer outcome: %s %s %s", o.Step, o.Outcome, strings.Join(o.Explanation, "; "))
			}
			t.Fatalf("p-0-a never relaunched: deploy %s (%s), recovery %s, decommission step %s; p-0 holds %v",
				h.s.PlanStatus(plan.Deploy), h.stepMessage(plan.Deploy, "p-0:[a]"), h.s.PlanStatus(plan.Recovery), h.stepMessage("decommission", "unreserve-p-0"), keys)
		}
		h.tick(time.Minute)
		h.skip()
		h.mark()
		offer := fmt.Sprint("r", i)
		h.master.Send(t, sdktest.Offers(h.offer(offer, "a1", "h1")))
		if c := h.answer(offer); c != nil {
			if v, ok := volumesOf(c)["p-0-a"]; ok {
				got = v
			}
		}
	}
	if got != before["p-0-a"] {
		t.Errorf("p-0-a relaunched on volume %s, want its own %s", got, before["p-0-a"])
	}
	// b's own resources are not leaked: its unreserve step releases them.
	releasedAll(t, h, bIDs)
}

// releasedAll waits for the decommission plan to complete, offering the
// agent's resources, and checks that every one of ids was UNRESERVEd and
// that no pod instance holds any of them any more.
func releasedAll(t *testing.T, h *harness, ids []string) {
	t.Helper()
	if len(ids) == 0 {
		t.Fatal("no resource IDs to look for")
	}
	unreserved := map[string]bool{}
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; h.s.PlanStatus(plan.Decommission) != plan.Complete; i++ {
		if time.Now().After(deadline) || i > 40 {
			t.Fatalf("decommission %s (%s)", h.s.PlanStatus(plan.Decommission), h.stepMessage(plan.Decommission, "unreserve-p-0"))
		}
		h.tick(time.Minute)
		h.skip()
		h.mark()
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("d", i), "a1", "h1")))
		h.answer(fmt.Sprint("d", i))
	}
	for _, c := range h.master.Calls() {
		for _, op := range c.GetAccept().GetOperations() {
			for _, r := range op.GetUnreserve().GetResources() {
				unreserved[reservation.ResourceID(&r)] = true
			}
		}
	}
	for _, id := range ids {
		if !unreserved[id] {
			t.Errorf("resource ID %s of the removed task was never UNRESERVEd", id)
		}
	}
	for _, v := range h.s.Reservations() {
		for _, r := range v.Resources {
			if slices.Contains(ids, r.ResourceID) {
				t.Errorf("%s still holds the removed task's resource %s (%s)", v.Instance, r.Key, r.ResourceID)
			}
		}
	}
}
