package service

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// renamedSet is a pod whose task t uses a named resource set (with a
// volume) and whose task u, not essential (its end leaves t running), has
// its own resources.
const renamedSet = `name: svc
pods:
  p:
    count: 1
    resource-sets:
      %s:
        cpus: 0.5
        memory: 64
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      t:
        goal: RUNNING
        cmd: "echo x >> data/out && sleep 600"
        resource-set: %[1]s
      u:
        goal: RUNNING
        essential: false
        cmd: "sleep 600"
        cpus: 0.1
        memory: 32
`

// TestRenamedResourceSetReservation: a restart on a svc.yml that renames a
// resource set moves the set's reservation items under the new ID, in
// memory and in the store (a stored record of the old name is read as it
// was written), so that GET /v1/debug/reservations shows them under the
// new name with their resource IDs and nothing is released: not when
// another task of the pod relaunches (its launch keeps the items of the
// pod spec's sets), not when the pod relaunches in place, where the
// renamed set's task takes them, its volume with its persistence ID. A further restart
// changes nothing.
func TestRenamedResourceSetReservation(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := newHarness(t, fmt.Sprintf(renamedSet, "data"), st, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	c := h.master.Expect(t, tACCEPT)[0]
	ids := map[string]string{}
	exec := launchGroup(c).Executor.ExecutorID.Value
	for _, ti := range launched(c) {
		ids[ti.Name] = ti.TaskID.Value
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.skip()
	h.stop()
	old := storedReservation(t, h, "p-0")
	renamed := map[string]string{} // the key it has after the rename → resource ID
	pid := ""
	for _, it := range old.Items {
		key := it.Key
		if reservation.Owner(key) == "data" {
			key = "storage" + strings.TrimPrefix(key, "data")
		}
		renamed[key] = it.ID
		if v := it.Resource.GetDisk().GetPersistence().GetID(); v != "" {
			pid = v
		}
	}
	if len(renamed) != 8 || pid == "" || renamed["storage/volume/data"] == "" {
		t.Fatalf("deployed reservation %v", renamed)
	}
	check := func(when string) {
		t.Helper()
		for where, items := range map[string]map[string]string{"stored": itemIDs(storedReservation(t, h, "p-0")), "view": viewIDs(t, h)} {
			if !maps.Equal(items, renamed) {
				t.Errorf("%s, %s: %v,\nwant %v", when, where, items, renamed)
			}
		}
	}

	h = newHarness(t, fmt.Sprintf(renamedSet, "storage"), st, nil)
	check("restarted on the new name")
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	for _, id := range ids {
		h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)

	// u relaunches next to the running t: its launch keeps t's items.
	h.update(ids["p-0-u"], "a1", mesos.TASK_FAILED)
	h.eventually("u's recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[u]") == plan.Pending })
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(withExecutor(h.offer("o2", "a1", "h1"), exec)))
	c = h.awaitCall(tACCEPT, nil)
	if got := opTypes(c); !slices.Equal(got, []string{"LAUNCH_GROUP"}) {
		t.Errorf("u's relaunch: %v", got)
	}
	u := launched(c)[0]
	h.update(u.TaskID.Value, "a1", mesos.TASK_RUNNING)
	check("u relaunched")

	// t, essential, fails: u is killed, and the pod relaunches in place
	// on its reservation, t on the renamed set's resources and volume.
	h.mark()
	h.update(ids["p-0-t"], "a1", mesos.TASK_FAILED)
	h.awaitCall(tKILL, killOf(u.TaskID.Value))
	h.update(u.TaskID.Value, "a1", mesos.TASK_KILLED)
	h.eventually("the pod's recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t,u]") == plan.Delayed })
	h.tick(time.Minute) // past its backoff (the pod's second failure)
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("o3", "a1", "h1")))
	c = h.awaitCall(tACCEPT, nil)
	if got := opTypes(c); !slices.Equal(got, []string{"LAUNCH_GROUP", "LAUNCH_GROUP"}) {
		t.Errorf("the pod's relaunch: %v", got)
	}
	got := ""
	for _, ti := range launched(c) {
		for _, r := range ti.Resources {
			if v := r.GetDisk().GetPersistence().GetID(); v != "" && ti.Name == "p-0-t" {
				got = v
			}
		}
	}
	if got != pid {
		t.Errorf("t relaunched on volume %q, want its own %q", got, pid)
	}
	check("t relaunched")
	h.skip()
	h.stop()

	before, _ := st.Reservations()
	h = newHarness(t, fmt.Sprintf(renamedSet, "storage"), st, nil)
	if after, _ := st.Reservations(); string(after["p-0"]) != string(before["p-0"]) || len(after) != len(before) {
		t.Error("a restart after the rename rewrote the reservation")
	}
	check("restarted again")
}

// withExecutor is o with executor id running on its agent.
func withExecutor(o mesos.Offer, id string) mesos.Offer {
	o.ExecutorIDs = append(o.ExecutorIDs, mesos.ExecutorID{Value: id})
	return o
}

func itemIDs(r *reservation.Reservation) map[string]string {
	out := map[string]string{}
	if r != nil {
		for _, it := range r.Items {
			out[it.Key] = it.ID
		}
	}
	return out
}

// viewIDs is GET /v1/debug/reservations as key → resource ID, failing the
// test when it lists anything but p-0, held.
func viewIDs(t *testing.T, h *harness) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range h.s.Reservations() {
		if v.Instance != "p-0" || v.Releasing {
			t.Errorf("reservation view lists %s (releasing %v)", v.Instance, v.Releasing)
			continue
		}
		for _, r := range v.Resources {
			out[r.Key] = r.ResourceID
		}
	}
	return out
}
