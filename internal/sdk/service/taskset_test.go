package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// A pod whose task set changes between configurations: node, each with
// its own volume, and (withSidecar) a non-essential sidecar.
const (
	nodeOnly = `name: svc
pods:
  p:
    count: 1
    allow-decommission: true
    tasks:
      node: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64, volume: {path: data, type: ROOT, size: 100}}
`
	withSidecar = nodeOnly + `      sidecar: {goal: RUNNING, essential: false, cmd: "sleep 600", cpus: 0.25, memory: 32, volume: {path: sdata, type: ROOT, size: 20}}
`
)

// deployPod deploys yaml's one pod instance p-0 on agent a1 with store st
// and stops: it returns the ACCEPT that placed it.
func deployPod(t *testing.T, st *countingStore, yaml string) *scheduler.Call {
	t.Helper()
	h := newHarness(t, yaml, st, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	accept := h.master.Expect(t, tACCEPT)[0]
	for _, ti := range launched(accept) {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.skip() // the confirmation stored, or the restart asks about the RESERVE
	h.stop()
	return accept
}

// taskInfo returns the launched task named name (fatal when none).
func taskInfo(t *testing.T, tis []mesos.TaskInfo, name string) mesos.TaskInfo {
	t.Helper()
	i := slices.IndexFunc(tis, func(ti mesos.TaskInfo) bool { return ti.Name == name })
	if i < 0 {
		t.Fatalf("no task %s in %v", name, names(tis))
	}
	return tis[i]
}

func resourceIDs(rs []mesos.Resource) []string {
	var ids []string
	for i := range rs {
		if id := reservation.ResourceID(&rs[i]); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// sidecarRemoved deploys withSidecar's pod, restarts the scheduler on the
// target without the sidecar (mutate, when set, changes its Config), and
// waits until the sidecar is killed and the decommission's unreserve step
// STARTED.
func sidecarRemoved(t *testing.T, mutate func(*Config)) *removal {
	t.Helper()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	r := &removal{first: deployPod(t, st, withSidecar)}
	tis := launched(r.first)
	r.node, r.side = taskInfo(t, tis, "p-0-node"), taskInfo(t, tis, "p-0-sidecar")
	r.before = storedReservation(t, &harness{store: st}, "p-0")
	r.h = newHarness(t, nodeOnly, st, mutate)
	h := r.h
	h.mark()
	h.reconciled(map[string]string{"p-0-node": r.node.TaskID.Value, "p-0-sidecar": r.side.TaskID.Value})
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(r.side.TaskID.Value))
	h.master.Send(t, sdktest.Status(r.side.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("unreserve-p-0 STARTED", func() bool { return h.stepStatus(plan.Decommission, "unreserve-p-0") == plan.Started })
	return r
}

// removal is a scheduler decommissioning the sidecar of a pod it keeps:
// the pod's first ACCEPT, its two tasks, and the instance's reservation as
// deployed.
type removal struct {
	h          *harness
	first      *scheduler.Call
	node, side mesos.TaskInfo
	before     *reservation.Reservation
}

// TestTaskRemovedReleasesOnlyItsOwn: a task removed from a pod the target
// keeps (same pod, same count) is decommissioned alone: killed, then only
// what it held alone (its resource set's cpus and mem, its volume) is
// destroyed and unreserved, the step COMPLETE once that is done; the
// instance keeps the rest (the remaining task's resources and volume, the
// executor's), never marked releasing, and the remaining task relaunches on
// it, its volume kept. The SDK decommissions whole pod instances only
// (DecommissionPlanFactory); this is taskkit's extension.
func TestTaskRemovedReleasesOnlyItsOwn(t *testing.T) {
	rm := sidecarRemoved(t, nil)
	h, first, node, side, before := rm.h, rm.first, rm.node, rm.side, rm.before
	sideIDs := resourceIDs(side.Resources)
	if before == nil || len(sideIDs) != 3 {
		t.Fatalf("deployed reservation %+v, sidecar's resource IDs %v", before, sideIDs)
	}
	kept := func() bool {
		r := storedReservation(t, h, "p-0")
		return r != nil && !r.Releasing && len(r.Items) == len(before.Items)-len(sideIDs)
	}
	h.eventually("the instance keeps all but the sidecar's", kept)
	for _, v := range h.s.Reservations() {
		if v.Releasing && len(v.Resources) != len(sideIDs) {
			t.Errorf("released %d resources, want the sidecar's %d: %+v", len(v.Resources), len(sideIDs), v)
		}
	}
	h.skip()
	// What the sidecar held alone is offered once it ended; node and the
	// executor still run on the rest.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("r1", "a1", "h1", sdktest.Resources(side.Resources...))))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
		t.Fatalf("release %v", got)
	}
	if got := resourceIDs(operation(c, mesos.Offer_Operation_UNRESERVE).GetUnreserve().Resources); !slices.Equal(got, sideIDs) {
		t.Errorf("unreserved %v, want the sidecar's %v", got, sideIDs)
	}
	h.eventually("decommission COMPLETE", func() bool { return h.s.PlanStatus(plan.Decommission) == plan.Complete })
	r := storedReservation(t, h, "p-0")
	if !kept() {
		t.Fatalf("the instance's reservation after the decommission: %s", describe(r))
	}
	for _, it := range r.Items {
		if slices.Contains(sideIDs, it.ID) {
			t.Errorf("the sidecar's %s is still reserved", it.Key)
		}
	}
	for _, v := range h.s.Reservations() {
		if v.Releasing {
			t.Errorf("still releasing: %+v", v)
		}
	}

	// node ends (a pod restart): it relaunches on its reservation, its
	// volume kept, nothing destroyed.
	h.master.Send(t, sdktest.Status(node.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[node]") == plan.Pending })
	h.skip()
	held := append(slices.Clone(node.Resources), launchGroup(first).Executor.Resources...)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.Resources(held...))))
	c = h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"LAUNCH_GROUP"}) {
		t.Fatalf("relaunch %v: the remaining task's reservation was given up", got)
	}
	again := taskInfo(t, launched(c), "p-0-node")
	if !slices.EqualFunc(again.Resources, node.Resources, func(a, b mesos.Resource) bool { return a.Equivalent(b) }) {
		t.Errorf("node relaunched on %v,\nwas %v", again.Resources, node.Resources)
	}
	if msg := h.stepMessage(plan.Decommission, "unreserve-p-0"); !strings.Contains(msg, "released") {
		t.Errorf("unreserve message %q", msg)
	}
}

// describe is what a test failure says of reservation r.
func describe(r *reservation.Reservation) string {
	if r == nil {
		return "none"
	}
	keys := make([]string, len(r.Items))
	for i, it := range r.Items {
		keys[i] = it.Key
	}
	return fmt.Sprintf("releasing %v, items %v", r.Releasing, keys)
}

// TestTaskRemovedReleaser: with a configured Releaser, a task removed from
// a kept pod instance is released by it, and once it is done the scheduler
// forgets only that task's own items: the instance keeps the rest of its
// reservation, not marked releasing.
func TestTaskRemovedReleaser(t *testing.T) {
	rel := &fakeReleaser{}
	rm := sidecarRemoved(t, func(c *Config) { c.Release = rel })
	h, side, before := rm.h, rm.side, rm.before
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("r1", "a1", "h1", sdktest.Resources(side.Resources...))))
	h.eventually("decommission COMPLETE", func() bool { return h.s.PlanStatus(plan.Decommission) == plan.Complete })
	if !slices.Equal(rel.instances(), []string{"p-0-sidecar"}) {
		t.Errorf("the Releaser released %v", rel.instances())
	}
	want := len(before.Items) - len(resourceIDs(side.Resources))
	h.eventually("the instance keeps all but the sidecar's", func() bool {
		r := storedReservation(t, h, "p-0")
		return r != nil && !r.Releasing && len(r.Items) == want
	})
}

// sidecarAdded deploys nodeOnly's pod, restarts the scheduler on yaml (a
// target that adds the sidecar), lets it reconcile node and tick once
// (calls counted from before the restart): it returns the scheduler, the
// ACCEPT that placed the pod and node's TaskInfo.
func sidecarAdded(t *testing.T, yaml string) (*harness, *scheduler.Call, mesos.TaskInfo) {
	t.Helper()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	first := deployPod(t, st, nodeOnly)
	node := taskInfo(t, launched(first), "p-0-node")
	h := newHarness(t, yaml, st, nil)
	h.mark()
	h.reconciled(map[string]string{"p-0-node": node.TaskID.Value})
	h.tick(time.Second)
	return h, first, node
}

// TestTaskAddedRelaunchesThePod: a task the target adds to a running pod
// (same pod, same count) is launched with the pod: the step kills the
// pod's running task, as the SDK's PlanScheduler.killTasks kills the tasks
// of the resource sets a step consumes before it evaluates offers, so that
// the instance's reservation is offered again; then the pod relaunches on
// it, the remaining task on its own resources and volume, the new task on
// a new resource set reserved next to them (nothing destroyed or
// unreserved), and the step completes.
func TestTaskAddedRelaunchesThePod(t *testing.T) {
	h, _, node := sidecarAdded(t, withSidecar)
	h.awaitCall(tKILL, killOf(node.TaskID.Value))
	if msg := h.stepMessage(plan.Deploy, "p-0:[node,sidecar]"); !strings.Contains(msg, "tasks added to the pod (p-0-sidecar)") {
		t.Errorf("step message %q", msg)
	}
	h.master.Send(t, sdktest.Status(node.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("step PENDING", func() bool { return h.stepStatus(plan.Deploy, "p-0:[node,sidecar]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("o2", "a1", "h1")))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"RESERVE", "CREATE", "LAUNCH_GROUP", "LAUNCH_GROUP"}) {
		t.Fatalf("relaunch with the new task: %v", got)
	}
	tis := launched(c)
	if got := names(tis); !slices.Equal(got, []string{"p-0-node", "p-0-sidecar"}) {
		t.Fatalf("launched %v", got)
	}
	again := taskInfo(t, tis, "p-0-node")
	if !slices.EqualFunc(again.Resources, node.Resources, func(a, b mesos.Resource) bool { return a.Equivalent(b) }) {
		t.Errorf("node relaunched on %v,\nwas %v", again.Resources, node.Resources)
	}
	side := taskInfo(t, tis, "p-0-sidecar")
	reserved := resourceIDs(operation(c, mesos.Offer_Operation_RESERVE).GetReserve().Resources)
	if want := resourceIDs(side.Resources); !slices.Equal(reserved, want) {
		t.Errorf("reserved %v, want the sidecar's resource set %v", reserved, want)
	}
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	if r := storedReservation(t, h, "p-0"); r == nil || r.Releasing || len(r.Items) != 9 {
		t.Errorf("the instance's reservation after the update: %s", describe(r))
	}
}

// withSidecarOwnStep is withSidecar with a deploy plan of explicit steps:
// the sidecar alone in a step of its own, after node's.
const withSidecarOwnStep = withSidecar + `plans:
  deploy:
    strategy: serial
    phases:
      p-phase:
        strategy: serial
        pod: p
        steps:
          - default: [[node], [sidecar]]
`

// TestTaskAddedInItsOwnStep: a task the target adds to a running pod, in
// a step of its own (a plan with explicit steps), deploys: the step
// launches it into the running pod, its own resource set and volume
// reserved next to the instance's, and kills nothing, as the SDK's
// PlanScheduler.killTasks kills only the tasks of the resource sets the
// step consumes (the new task's, which none runs); node's step stays
// COMPLETE, node keeps running, and the deploy completes.
func TestTaskAddedInItsOwnStep(t *testing.T) {
	h, first, _ := sidecarAdded(t, withSidecarOwnStep)
	h.eventually("node's step COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "p-0:[node]") == plan.Complete })
	h.skip()
	// The agent offers what the instance holds, and says its executor runs.
	o := h.offer("o2", "a1", "h1")
	o.ExecutorIDs = append(o.ExecutorIDs, launchGroup(first).Executor.ExecutorID)
	h.master.Send(t, sdktest.Offers(o))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"RESERVE", "CREATE", "LAUNCH_GROUP"}) {
		t.Fatalf("sidecar launch: %v", got)
	}
	tis := launched(c)
	if got := names(tis); !slices.Equal(got, []string{"p-0-sidecar"}) {
		t.Fatalf("launched %v, want the sidecar alone", got)
	}
	if got, want := launchGroup(c).Executor.ExecutorID.Value, launchGroup(first).Executor.ExecutorID.Value; got != want {
		t.Errorf("sidecar launched on executor %s, want the running pod's %s", got, want)
	}
	side := taskInfo(t, tis, "p-0-sidecar")
	reserved := resourceIDs(operation(c, mesos.Offer_Operation_RESERVE).GetReserve().Resources)
	if want := resourceIDs(side.Resources); !slices.Equal(reserved, want) {
		t.Errorf("reserved %v, want the sidecar's resource set %v", reserved, want)
	}
	h.master.Send(t, sdktest.Status(side.TaskID.Value, "a1", mesos.TASK_RUNNING))
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	for _, c := range h.master.Calls()[h.since:] {
		if c.Type == tKILL {
			t.Errorf("killed %s: the new task's step consumes no running task's resource set", c.GetKill().GetTaskID().Value)
		}
	}
	if r := storedReservation(t, h, "p-0"); r == nil || r.Releasing || len(r.Items) != 9 {
		t.Errorf("the instance's reservation after the update: %s", describe(r))
	}
}
