package service

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// reusedSet is swappedSets with task b removed and a new task c on b's
// resource set y.
const reusedSet = `name: svc
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
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      a:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: x
      c:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: y
`

// TestNewTaskOnARemovedTasksSetIsNotHandedItsVolume: task b (volume data
// on resource set y) is removed from the pod and a new task c uses y. Every
// validator accepts it (c has no previous volumes to compare;
// ResourceSetVolumesFollowTheirTasks looks only at tasks in both
// configurations, and its own message says a removed task's volumes are
// "released with it"). The SDK builds a set's resources from the previous
// TaskInfo of a task using the set now (offer/evaluate/OfferEvaluator.java,
// getExistingResourceSetStages; TaskResourceMapper.java): c has none, so it
// never gets b's volume. b's decommission kept y's items because a task
// of the target uses set y (decommission.go, ownIDsLocked), and c's launch
// took them: c was handed b's volume, its persistence ID and data. Now c
// launches on a new volume and b's is destroyed with its reservation.
func TestNewTaskOnARemovedTasksSetIsNotHandedItsVolume(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids, before := deploySets(t, st)
	b := storedTaskInfo(t, st, "p-0-b")
	bIDs := resourceIDs(b.Resources) // what b's stored TaskInfo names

	h := restartOn(t, reusedSet, st, ids)
	h.failAll(ids)
	var got string
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; got == ""; i++ {
		if time.Now().After(deadline) || i > 40 {
			msg := ""
			if d := h.s.DebugOffers(); len(d.Outcomes) > 0 {
				o := d.Outcomes[len(d.Outcomes)-1]
				msg = o.Step + " " + o.Outcome + " " + strings.Join(o.Explanation, "; ")
			}
			t.Fatalf("p-0-c never launched: deploy %s, recovery %s; last offer: %s", h.s.PlanStatus(plan.Deploy), h.s.PlanStatus(plan.Recovery), msg)
		}
		h.tick(time.Minute)
		h.skip()
		h.mark()
		offer := fmt.Sprint("r", i)
		h.master.Send(t, sdktest.Offers(h.offer(offer, "a1", "h1")))
		if c := h.answer(offer); c != nil {
			if v, ok := volumesOf(c)["p-0-c"]; ok {
				got = v
			}
			for _, ti := range launched(c) {
				h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
			}
		}
	}
	if got == before["p-0-b"] {
		t.Errorf("new task p-0-c launched on removed task p-0-b's volume (persistence ID %s)", got)
	}
	// b's volume is released with it (DESTROYed, then UNRESERVEd), not
	// leaked.
	releasedAll(t, h, bIDs)
	destroyed := false
	for _, c := range h.master.Calls() {
		for _, op := range c.GetAccept().GetOperations() {
			for _, v := range op.GetDestroy().GetVolumes() {
				destroyed = destroyed || v.GetDisk().GetPersistence().GetID() == before["p-0-b"]
			}
		}
	}
	if !destroyed {
		t.Errorf("removed task p-0-b's volume %s was never DESTROYed", before["p-0-b"])
	}
}
