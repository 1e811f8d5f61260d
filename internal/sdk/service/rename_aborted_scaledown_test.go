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

// statefulRenamed is stateful with web's server on a named resource set
// (storage) instead of its own (server-resource-set): the same resources
// and volume under another name.
const statefulRenamed = `name: svc
pods:
  web:
    count: {{COUNT}}
    {{#DECOMMISSION}}allow-decommission: true{{/DECOMMISSION}}
    resource-sets:
      storage:
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      server:
        cmd: "exec sleep 600"
        resource-set: storage
`

// TestRenameWithAbortedScaleDown: a scale-down (3 to 1) begins, web-2 is
// killed and its unreserve step marks its reservation releasing, no offer
// of its agent comes; the scheduler restarts with count 3 again and the
// server's resource set renamed. The SDK keeps web-2's resources: its
// decommission plan is rebuilt without it (DecommissionPlanFactory.
// buildPlanInfo clears the DECOMMISSIONED override of a task no longer to
// decommission) and its TaskResourceMapper maps the previous TaskInfo's
// resources to the renamed set's specs by name and container path
// (offer/evaluate/TaskResourceMapper.java), so web-2 is relaunched on its
// own reservation and volume. New must run keepAborted before
// followRenames: the rename skips a releasing reservation, so the other
// way round keepAborted took web-2's back under the old set's name, and
// it stayed keyed by a set the pod no longer has.
func TestRenameWithAbortedScaleDown(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployStateful(t, st, 3)
	rs, err := st.Reservations()
	if err != nil || rs["web-2"] == nil {
		t.Fatalf("web-2 holds no reservation: %v", err)
	}

	h := newHarness(t, render(t, stateful, "COUNT=1", "DECOMMISSION=true"), st, nil)
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
	h.skip()
	h.stop()

	h = newHarness(t, render(t, statefulRenamed, "COUNT=3", "DECOMMISSION=true"), st, nil)
	// web-1, never decommissioned, is renamed at start; web-2 must be too.
	for _, inst := range []string{"web-1", "web-2"} {
		r := storedReservation(t, h, inst)
		if r == nil {
			t.Fatalf("%s holds no reservation", inst)
		}
		for key := range itemIDs(r) {
			if o := reservation.Owner(key); o != reservation.KeyExecutor && o != reservation.KeyPod && o != "storage" {
				t.Errorf("%s: stored item %s is keyed by set %s, which the pod no longer has (want storage)", inst, key, o)
			}
		}
	}
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
		h.eventually("the offer answered", func() bool {
			for _, c := range h.master.Calls() {
				if (c.Type == tACCEPT && c.GetAccept().GetOfferIDs()[0].Value == fmt.Sprint("b", i)) ||
					(c.Type == scheduler.Call_DECLINE && c.GetDecline().GetOfferIDs()[0].Value == fmt.Sprint("b", i)) {
					return true
				}
			}
			return false
		})
		if i := slices.IndexFunc(h.master.Calls(), relaunched); i >= 0 {
			accept = h.master.Calls()[i]
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
	for _, it := range mustUnmarshal(t, rs["web-2"]).Items {
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
