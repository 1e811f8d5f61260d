package service

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// Each task of a pod is launched in a task group of its own, all in the
// pod's one executor (the SDK's LaunchOfferRecommendation): the executor's
// group rule (Mesos' DEFAULT executor kills the rest of a task group when
// one of its tasks ends FAILED or KILLED) never reaches a sibling, and
// which of a pod's tasks end with another is the scheduler's decision
// (helper-66's fault 07: pausing one task killed the whole pod).

// launchGroups returns an ACCEPT's LAUNCH_GROUPs, in order.
func launchGroups(t *testing.T, ops []mesos.Offer_Operation) []*mesos.Offer_Operation_LaunchGroup {
	t.Helper()
	var out []*mesos.Offer_Operation_LaunchGroup
	for _, op := range ops {
		if lg := op.GetLaunchGroup(); lg != nil {
			out = append(out, lg)
		}
	}
	return out
}

// TestPodTasksInGroupsOfOne: a pod's tasks are launched in one ACCEPT, a
// LAUNCH_GROUP per task, each with the pod's ExecutorInfo. Pausing the
// non-essential side kills side alone, and relaunches it alone into the
// running executor; pausing the essential server relaunches the whole
// pod, the scheduler killing side itself, as the SDK's recovery of an
// essential task does (TaskUtils.getPodRequirements, then
// PlanScheduler.killTasks).
func TestPodTasksInGroupsOfOne(t *testing.T) {
	h := newHarness(t, sidecar, nil, nil)
	tis := running(t, h)
	groups := launchGroups(t, h.accept.GetAccept().Operations)
	if len(groups) != 2 {
		t.Fatalf("%d LAUNCH_GROUPs, want one per task", len(groups))
	}
	for i, g := range groups {
		if len(g.TaskGroup.Tasks) != 1 || g.TaskGroup.Tasks[0].TaskID != tis[i].TaskID {
			t.Errorf("LAUNCH_GROUP %d: %v, want %s alone", i, names(g.TaskGroup.Tasks), tis[i].Name)
		}
		if !g.Executor.Equal(&groups[0].Executor) {
			t.Errorf("LAUNCH_GROUP %d: executor %v, want the pod's %v", i, g.Executor, groups[0].Executor)
		}
	}
	if n := h.s.Metrics().Counter("operations.launch_group"); n != 2 {
		t.Errorf("operations.launch_group %d, want 2", n)
	}
	exec := groups[0].Executor.ExecutorID.Value
	server, side := taskID(t, tis, "p-0-server"), taskID(t, tis, "p-0-side")

	// Pausing side: side alone.
	ctx := context.Background()
	h.mark()
	if _, err := h.s.PodPause(ctx, "p-0", []string{"side"}, true); err != nil {
		t.Fatal(err)
	}
	h.awaitCall(tKILL, killOf(side))
	h.update(side, "a1", mesos.TASK_KILLED)
	h.eventually("recovery of side", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(h.accept), sdktest.Executors(exec))))
	c := h.master.Expect(t, tACCEPT)[0]
	relaunch := launchGroups(t, c.GetAccept().Operations)
	if len(relaunch) != 1 || !slices.Equal(names(relaunch[0].TaskGroup.Tasks), []string{"p-0-side"}) || relaunch[0].Executor.ExecutorID.Value != exec {
		t.Fatalf("relaunch %v, want p-0-side alone into executor %s", opTypes(c), exec)
	}
	paused := relaunch[0].TaskGroup.Tasks[0]
	if paused.GetCommand().GetValue() != podinfo.DefaultPauseCommand {
		t.Errorf("side relaunched with %q, want the pause command", paused.GetCommand().GetValue())
	}
	h.update(paused.TaskID.Value, "a1", mesos.TASK_RUNNING)
	h.eventually("side PAUSED", func() bool {
		ps, _ := h.s.PodStatus("p-0")
		i := slices.IndexFunc(ps.Tasks, func(ts TaskStatusView) bool { return ts.Name == "p-0-side" })
		return i >= 0 && ps.Tasks[i].Status == "PAUSED"
	})
	for _, call := range h.master.Calls()[h.since:] {
		if call.Type == tKILL && call.GetKill().TaskID.Value != side {
			t.Errorf("pausing side killed %s", call.GetKill().TaskID.Value)
		}
	}

	// Pausing server: the whole pod, side killed by the scheduler.
	h.mark()
	if _, err := h.s.PodPause(ctx, "p-0", []string{"server"}, true); err != nil {
		t.Fatal(err)
	}
	h.awaitCall(tKILL, killOf(server))
	h.update(server, "a1", mesos.TASK_KILLED)
	h.awaitCall(tKILL, killOf(paused.TaskID.Value))
	h.update(paused.TaskID.Value, "a1", mesos.TASK_KILLED)
	h.eventually("recovery of the pod", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(h.accept))))
	c = h.master.Expect(t, tACCEPT)[0]
	relaunch = launchGroups(t, c.GetAccept().Operations)
	if len(relaunch) != 2 || relaunch[0].Executor.ExecutorID.Value == exec {
		t.Fatalf("relaunch %v, want both tasks, a group each, in a new executor", opTypes(c))
	}
}

// TestUpdateRelaunchesItsStep: a configuration that changes one task of
// a step relaunches every task of the step, as the SDK's DeploymentStep
// launches them all and its PlanScheduler.killTasks kills them first:
// with a task group per task, nothing else would end side.
func TestUpdateRelaunchesItsStep(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	first := deployPod(t, st, sidecar)
	server, side := taskID(t, launched(first), "p-0-server"), taskID(t, launched(first), "p-0-side")

	h := newHarness(t, strings.Replace(sidecar, `server: {goal: RUNNING, cmd: "sleep 600"`, `server: {goal: RUNNING, cmd: "sleep 601"`, 1), st, nil)
	h.mark()
	h.reconciled(map[string]string{"p-0-server": server, "p-0-side": side})
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(server))
	h.awaitCall(tKILL, killOf(side))
	if msg := h.stepMessage(plan.Deploy, "p-0:[server,side]"); !strings.Contains(msg, "out of date (command)") || !strings.Contains(msg, "killing p-0-server, p-0-side") {
		t.Errorf("step message %q", msg)
	}
	c := relaunchStep(t, h, first, server, side)
	if n := len(launchGroups(t, c.GetAccept().Operations)); n != 2 {
		t.Errorf("%d LAUNCH_GROUPs, want one per task", n)
	}
}

// TestStepRelaunchesItsTasks: a task that fails while its deploy step
// works (before the step completed) is relaunched with the rest of its
// step: the step kills its live tasks first, as the SDK's DeploymentStep
// launches every task of its step and PlanScheduler.killTasks kills them
// (what the executor's group rule did when a pod was one task group).
func TestStepRelaunchesItsTasks(t *testing.T) {
	h := newHarness(t, sidecar, nil, func(c *Config) { c.Backoff = plan.Backoff{Initial: 2 * time.Second, Max: 4 * time.Second} })
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	first := h.master.Expect(t, tACCEPT)[0]
	tis := launched(first)
	server, side := taskID(t, tis, "p-0-server"), taskID(t, tis, "p-0-side")
	h.mark()
	h.update(side, "a1", mesos.TASK_RUNNING)
	h.update(server, "a1", mesos.TASK_FAILED)
	h.tick(5 * time.Second) // past the backoff
	h.awaitCall(tKILL, killOf(side))
	if msg := h.stepMessage(plan.Deploy, "p-0:[server,side]"); !strings.Contains(msg, "as p-0-server ended: killing p-0-side") {
		t.Errorf("step message %q", msg)
	}
	relaunchStep(t, h, first, side)
}

// relaunchStep ends the killed tasks (TASK_KILLED on a1), waits for the
// sidecar pod's deploy step to be PENDING again, offers a1 back with
// first's reservations and checks that the ACCEPT relaunches both of the
// step's tasks; it returns that ACCEPT.
func relaunchStep(t *testing.T, h *harness, first *scheduler.Call, killed ...string) *scheduler.Call {
	t.Helper()
	for _, id := range killed {
		h.update(id, "a1", mesos.TASK_KILLED)
	}
	h.eventually("step PENDING", func() bool { return h.stepStatus(plan.Deploy, "p-0:[server,side]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(first))))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := names(launched(c)); !slices.Equal(got, []string{"p-0-server", "p-0-side"}) {
		t.Errorf("relaunched %v, want the step's tasks", got)
	}
	return c
}
