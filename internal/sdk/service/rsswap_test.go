package service

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// swappedSets is a pod of two tasks, each on a named resource set of the
// same shape with a volume at data; %s and %s are a's and b's sets.
const swappedSets = `name: svc
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
        resource-set: %s
      b:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: %s
`

// restartOn starts a scheduler of yaml on st, as after a configuration
// update; fails the test if the update was refused (a false refusal is a
// fault too); expects the subscription's calls and answers its
// reconciliation: every task of ids (by name) RUNNING on a1.
func restartOn(t *testing.T, yaml string, st *countingStore, ids map[string]string) *harness {
	t.Helper()
	h := newHarness(t, yaml, st, nil)
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	if errs := h.s.deploy.Errors; len(errs) > 0 {
		t.Fatalf("the update was refused: %v", errs)
	}
	for _, id := range ids {
		h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)
	return h
}

// failAll marks the calls made so far, runs a tick (the scheduler kills
// what it relaunches) and fails every task of ids on a1.
func (h *harness) failAll(ids map[string]string) {
	h.t.Helper()
	h.mark()
	h.tick(time.Second)
	for _, id := range ids {
		h.update(id, "a1", mesos.TASK_FAILED)
	}
}

// volumesOf maps each task an ACCEPT launches to its volume's persistence
// ID.
func volumesOf(c *scheduler.Call) map[string]string {
	out := map[string]string{}
	for _, ti := range launched(c) {
		for _, r := range ti.Resources {
			if v := r.GetDisk().GetPersistence().GetID(); v != "" {
				out[ti.Name] = v
			}
		}
	}
	return out
}

// TestSwappedResourceSetsKeepTheirTasksVolumes: a and b swap resource
// sets of the same shape (a from x to y, b from y to x), which
// TaskVolumesCannotChange accepts (each task's volumes are the same). The
// SDK maps the resources of each task's previous TaskInfo to its resource
// set's specs by resource name and a volume by container path, whatever
// the set is called (offer/evaluate/TaskResourceMapper.java,
// ResourceMapperUtils.findMatchingDiskSpec), so each task relaunches on
// its own volume. The reservation is keyed by set name: before
// reservation.Follow, which moves each set's items to the set of the task
// whose TaskInfo names them (a swap rewriting both at once), a got b's
// volume and b a's, each task's data handed to the other.
func TestSwappedResourceSetsKeepTheirTasksVolumes(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids, before := deploySets(t, st)

	h := restartOn(t, fmt.Sprintf(swappedSets, "y", "x"), st, ids)
	// The pod relaunches in place, on the new configuration or after a
	// failure: kill whatever the scheduler kills, and fail the rest.
	h.failAll(ids)
	var accept *scheduler.Call
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; accept == nil; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the pod never relaunched: deploy %s, recovery %s", h.s.PlanStatus(plan.Deploy), h.s.PlanStatus(plan.Recovery))
		}
		h.tick(time.Minute)
		h.skip()
		h.mark()
		offer := fmt.Sprint("r", i)
		h.master.Send(t, sdktest.Offers(h.offer(offer, "a1", "h1")))
		if c := h.answer(offer); c != nil && len(launched(c)) > 0 {
			accept = c
		}
	}
	if got := volumesOf(accept); !maps.Equal(got, before) {
		t.Errorf("relaunched on volumes %v, want each task's own %v", got, before)
	}
}

// deploySets deploys swappedSets with a on x and b on y, and stops: the
// tasks' IDs and volumes (persistence IDs) by task name.
func deploySets(t *testing.T, st *countingStore) (ids, volumes map[string]string) {
	t.Helper()
	h := newHarness(t, fmt.Sprintf(swappedSets, "x", "y"), st, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	c := h.master.Expect(t, tACCEPT)[0]
	volumes = volumesOf(c)
	ids = map[string]string{}
	for _, ti := range launched(c) {
		ids[ti.Name] = ti.TaskID.Value
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.skip()
	h.stop()
	if len(volumes) != 2 || volumes["p-0-a"] == volumes["p-0-b"] {
		t.Fatalf("deployed volumes %v", volumes)
	}
	return ids, volumes
}

// TestMergedResourceSetsRefused: a and b, on resource sets x and y with a
// volume each, coming to share y cannot each keep their volume: the new
// configuration is refused with the validator's error naming the tasks and
// sets, the target stays, and the stored reservation is left as it was.
func TestMergedResourceSetsRefused(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	deploySets(t, st)
	v1, _, _ := st.Target()
	before, _ := st.Reservations()
	h := newHarness(t, fmt.Sprintf(swappedSets, "y", "y"), st, nil)
	if id, _, _ := st.Target(); h.s.TargetID() != v1 || id != v1 {
		t.Errorf("target %s, stored %s, want %s", h.s.TargetID(), id, v1)
	}
	v, _ := h.s.PlanView(plan.Deploy)
	want := "pods.p.tasks.b.resource-set: tasks a (on resource set x) and b (on y) would share resource set y: one of them would be handed the other's volumes"
	if v.Status != plan.Error || len(v.Errors) != 1 || !strings.Contains(v.Errors[0], want) || !strings.Contains(v.Errors[0], "[ResourceSetVolumesFollowTheirTasks]") {
		t.Errorf("deploy plan %s %q, want the error %q", v.Status, v.Errors, want)
	}
	if after, _ := st.Reservations(); !maps.EqualFunc(after, before, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Error("the stored reservation changed")
	}
}
