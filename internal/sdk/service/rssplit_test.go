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

// splitV1: tasks a and b share the volume-less resource set x, task c
// has a volume on set z.
const splitV1 = `name: svc
pods:
  p:
    count: 1
    resource-sets:
      x:
        cpus: 0.1
        memory: 32
      z:
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      a:
        goal: ONCE
        cmd: "sleep 600"
        resource-set: x
      b:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: x
      c:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: z
plans:
  deploy:
    strategy: serial
    phases:
      init: {pod: p, steps: [{default: [[a]]}]}
      main: {pod: p, steps: [{default: [[b, c]]}]}
`

// splitV2: b gets a volume-less set y of its own, and c's set z is renamed
// w (its volume the same) with a new command, so that the update relaunches c.
const splitV2 = `name: svc
pods:
  p:
    count: 1
    resource-sets:
      x:
        cpus: 0.1
        memory: 32
      y:
        cpus: 0.1
        memory: 32
      w:
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      a:
        goal: ONCE
        cmd: "sleep 600"
        resource-set: x
      b:
        goal: RUNNING
        cmd: "sleep 600"
        resource-set: y
      c:
        goal: RUNNING
        cmd: "sleep 601"
        resource-set: w
plans:
  deploy:
    strategy: serial
    phases:
      init: {pod: p, steps: [{default: [[a]]}]}
      main: {pod: p, steps: [{default: [[b, c]]}]}
`

// TestRenameFollowedBesideAVolumelessSplit: in one update, task b leaves
// the volume-less resource set x it shared with a (an init task, goal ONCE)
// for a volume-less set y of its own, and c's set z (with a volume) is
// renamed w and its command changed. The validators accept both
// (ResourceSetVolumesFollowTheirTasks looks at tasks with volumes only;
// c's volumes are the same). The SDK maps each set's resources from the
// previous TaskInfo of a task using it now (offer/evaluate/
// OfferEvaluator.java, getExistingResourceSetStages, one set at a time;
// TaskResourceMapper.java): c keeps its volume whatever a and b do.
// reservation.Follow refused the whole instance for the split of x (an
// error for a and b), so c's rename was not followed either, at start
// (followRenames) or in the evaluation (renames): z's items stayed under z,
// and the update step that killed c was refused by the volume stage at
// every offer (its own volume held under z): c stayed down. Follow now
// maps set by set: c's volume is under w at start and c relaunches on it.
func TestRenameFollowedBesideAVolumelessSplit(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()

	h := newHarness(t, splitV1, st, nil)
	h.ready()
	before := map[string]string{}
	ids := map[string]string{}
	exec := ""
	for i := 0; len(ids) < 3; i++ {
		if i > 10 {
			t.Fatalf("deploy launched only %v: %s", ids, h.s.PlanStatus(plan.Deploy))
		}
		h.mark()
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("o", i), "a1", "h1")))
		c := h.awaitCall(tACCEPT, nil)
		maps.Copy(before, volumesOf(c))
		if lg := launchGroup(c); lg != nil && exec == "" {
			exec = lg.Executor.ExecutorID.Value
		}
		for _, ti := range launched(c) {
			ids[ti.Name] = ti.TaskID.Value
			st := mesos.TASK_RUNNING
			if ti.Name == "p-0-a" {
				st = mesos.TASK_FINISHED
			}
			h.update(ti.TaskID.Value, "a1", mesos.TASK_RUNNING)
			if st == mesos.TASK_FINISHED {
				h.update(ti.TaskID.Value, "a1", st)
			}
		}
		h.tick(time.Second)
	}
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.skip()
	h.stop()
	if before["p-0-c"] == "" || len(ids) != 3 {
		t.Fatalf("deployed tasks %v, volumes %v", ids, before)
	}

	h = restartOn(t, splitV2, st, ids)
	// c's volume follows its renamed set at start (stored), as it does
	// when the split is left out.
	h.s.mu.RLock()
	held := h.s.reservations["p-0"].Item("w/volume/data")
	h.s.mu.RUnlock()
	if held == nil {
		t.Errorf("at start, p-0-c's volume is not under its renamed set w")
	}
	// The update relaunches b and c in place (a is ONCE and finished):
	// every KILL is answered.
	killed := map[string]bool{}
	var got string
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; got == ""; i++ {
		if time.Now().After(deadline) || i > 40 {
			msg := ""
			if d := h.s.DebugOffers(); len(d.Outcomes) > 0 {
				o := d.Outcomes[len(d.Outcomes)-1]
				msg = o.Step + " " + o.Outcome + " " + strings.Join(o.Explanation, "; ")
			}
			t.Fatalf("p-0-c never relaunched: deploy %s, recovery %s; last offer: %s", h.s.PlanStatus(plan.Deploy), h.s.PlanStatus(plan.Recovery), msg)
		}
		h.tick(time.Minute)
		for _, c := range h.master.Calls() {
			if c.Type == scheduler.Call_KILL && !killed[c.GetKill().TaskID.Value] {
				id := c.GetKill().TaskID.Value
				killed[id] = true
				h.update(id, "a1", mesos.TASK_KILLED)
			}
		}
		h.skip()
		h.mark()
		offer := fmt.Sprint("r", i)
		h.master.Send(t, sdktest.Offers(withExecutor(h.offer(offer, "a1", "h1"), exec)))
		if c := h.answer(offer); c != nil {
			if v, ok := volumesOf(c)["p-0-c"]; ok {
				got = v
			}
		}
	}
	if got != before["p-0-c"] {
		t.Errorf("p-0-c relaunched on volume %s, want its own %s", got, before["p-0-c"])
	}
}
