package service

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// inSet is withVolume's pod with its task's resources in a named
// resource set.
const inSet = `name: svc
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
`

// TestResourceSetRenameKeepsTheVolume: a resource set renamed in svc.yml
// (same cpus, memory and volume) keeps the pod's volume at its next
// relaunch in place. The SDK matches the resources of the task's previous
// TaskInfo to the new resource set's specs by name, and a volume by its
// container path (offer/evaluate/TaskResourceMapper.java,
// getEvaluationStagesInternal; ResourceMapperUtils.findMatchingDiskSpec),
// whatever the set is called; TaskVolumesCannotChange accepts the change
// (the volumes are equal). scheduler-lite keys a reservation's items by
// resource set ID (reservation.VolumeKey): after the rename the old items
// belong to no set of the spec: the relaunch that follows a crash
// reserves anew and CREATEs a new, empty volume (the old one, left behind,
// is released), or, on an agent without room for a second reservation,
// waits for good.
func TestResourceSetRenameKeepsTheVolume(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := newHarness(t, fmt.Sprintf(inSet, "data"), st, nil)
	h.ready()
	h.runOnA1()
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.skip()
	h.stop()
	old := storedReservation(t, h, "p-0")
	var pid string
	for _, it := range old.Items {
		if v := it.Resource.GetDisk().GetPersistence().GetID(); v != "" {
			pid = v
		}
	}

	h = newHarness(t, fmt.Sprintf(inSet, "storage"), st, nil)
	if err := h.s.deploy.Errors; len(err) > 0 {
		t.Fatalf("the rename is refused: %v", err)
	}
	ti := storedTaskInfo(t, st, "p-0-t")
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE)
	h.update(ti.TaskID.Value, "a1", mesos.TASK_FAILED)
	h.eventually("a recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	h.skip()
	h.mark()
	// Room for a new reservation next to the pod's own: with none, the
	// relaunch waits for good ("task p-0-t needs 0.5 cpus (0 cpus left)").
	h.master.Send(t, sdktest.Offers(h.offer("o2", "a1", "h1")))
	c := h.awaitCall(tACCEPT, nil)
	for _, op := range c.GetAccept().GetOperations() {
		switch op.Type {
		case mesos.Offer_Operation_DESTROY:
			t.Errorf("the relaunch DESTROYs volume %v", op.GetDestroy().Volumes[0].GetDisk().GetPersistence().GetID())
		case mesos.Offer_Operation_CREATE:
			t.Errorf("the relaunch CREATEs a new volume %v", op.GetCreate().Volumes[0].GetDisk().GetPersistence().GetID())
		}
	}
	got := ""
	for _, ti := range launched(c) {
		for _, r := range ti.Resources {
			if v := r.GetDisk().GetPersistence().GetID(); v != "" {
				got = v
			}
		}
	}
	if got != pid {
		t.Errorf("relaunched on volume %q, want its own %q", got, pid)
	}
}
