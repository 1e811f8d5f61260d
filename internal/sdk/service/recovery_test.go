package service

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

const sidecar = `name: svc
pods:
  p:
    count: 1
    tasks:
      server: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64}
      side: {goal: RUNNING, cmd: "sleep 600", cpus: 0.1, memory: 32, essential: false}
plans:
  deploy:
    phases:
      p: {pod: p, strategy: parallel}
`

// running deploys sidecar's p-0 on agent a1 and returns its launch; the
// ACCEPT is in h.accept.
func running(t *testing.T, h *harness) []mesos.TaskInfo {
	t.Helper()
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	h.accept = h.master.Expect(t, tACCEPT)[0]
	tis := launched(h.accept)
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.master.Expect(t, tACK, tACK, tSUPPRESS) // idle
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	return tis
}

// TestRecoveryEssentialInPlace: an essential task's end kills its siblings
// and relaunches the whole pod, in place: an offer of another agent does not
// do while the agent-lost timeout runs, and the step says what it waits
// for and how to stop waiting (issue 16).
func TestRecoveryEssentialInPlace(t *testing.T) {
	h := newHarness(t, sidecar, nil, func(c *Config) { c.AgentLostTimeout = 5 * time.Minute })
	tis := running(t, h)
	server, side := taskID(t, tis, "p-0-server"), taskID(t, tis, "p-0-side")
	h.master.Send(t, sdktest.Status(server, "a1", mesos.TASK_FAILED, sdktest.Message("exit 1")))
	if k := h.master.Expect(t, tACK, tKILL)[1].GetKill(); k.TaskID.Value != side {
		t.Errorf("killed %v, want the sibling", k.TaskID)
	}
	if got := h.stepStatus(plan.Recovery, "p-0:[server,side]"); got != "" {
		t.Errorf("recovery before the siblings ended: %s", got)
	}
	h.master.Send(t, sdktest.Status(side, "a1", mesos.TASK_KILLED))
	h.master.Expect(t, tACK)
	h.eventually("the recovery step", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	if code, word := h.s.Health(); code != HealthRecoveringPending || word != "RECOVERING_PENDING" {
		t.Errorf("health %d %s", code, word)
	}
	h.tick(10 * time.Second)
	msg := h.stepMessage(plan.Recovery, "p-0:[server,side]")
	for _, want := range []string{"waiting for agent a1 (h1) to offer resources", "for 4m50s more", "--agent-lost-timeout", "POST /v1/pod/p-0/replace"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if r := h.s.HealthReport(); len(r.Reasons) != 1 || !strings.Contains(r.Reasons[0], "recovery p-0:[server,side]: waiting for agent a1") {
		t.Errorf("health reasons %v", r.Reasons)
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	h.master.Expect(t, tDECLINE)
	if msg := h.stepMessage(plan.Recovery, "p-0:[server,side]"); !strings.Contains(msg, "waiting for agent a1") {
		t.Errorf("after another agent's offer: %q", msg)
	}
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(h.accept))))
	c := h.master.Expect(t, tACCEPT)[0]
	tis = launched(c)
	if !slices.Equal(names(tis), []string{"p-0-server", "p-0-side"}) || tis[0].AgentID.Value != "a1" {
		t.Errorf("relaunched %v", names(tis))
	}
	// In place: on its reservation, nothing reserved anew (a LAUNCH_GROUP
	// per task).
	if got := opTypes(c); !slices.Equal(got, []string{"LAUNCH_GROUP", "LAUNCH_GROUP"}) {
		t.Errorf("operations %v, want the LAUNCH_GROUPs alone", got)
	}
	if code, _ := h.s.Health(); code != HealthRecoveringPending {
		t.Errorf("health with the step PREPARED %d, want the SDK's 203", code)
	}
	h.master.Send(t, sdktest.Status(tis[0].TaskID.Value, "a1", mesos.TASK_STARTING))
	h.master.Expect(t, tACK)
	if code, _ := h.s.Health(); code != HealthRecoveringPending {
		t.Errorf("health with one task of the step STARTING %d, want 203", code)
	}
	h.master.Send(t, sdktest.Status(tis[1].TaskID.Value, "a1", mesos.TASK_STARTING))
	h.master.Expect(t, tACK)
	if code, word := h.s.Health(); code != HealthRecoveringStarting || word != "RECOVERING_STARTING" {
		t.Errorf("health with the step STARTING %d %s, want the SDK's 205", code, word)
	}
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.master.Expect(t, tACK, tACK)
	h.eventually("health 200", func() bool { code, _ := h.s.Health(); return code == HealthRunning })
}

// TestRecoveryAgentLost: past the agent-lost timeout the pod is placed
// anew, on another agent.
func TestRecoveryAgentLost(t *testing.T) {
	h := newHarness(t, sidecar, nil, func(c *Config) { c.AgentLostTimeout = time.Minute })
	tis := running(t, h)
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_UNREACHABLE))
	}
	h.eventually("the recovery step", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.tick(61 * time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	if tis := launched(h.master.Expect(t, tACCEPT)[0]); tis[0].AgentID.Value != "a2" {
		t.Errorf("placed on %s", tis[0].AgentID.Value)
	}
}

// TestRecoveryNonEssentialCrashLoop: a non-essential task is relaunched
// alone into its pod's running executor; failing again soon, its step is
// DELAYED (health 208) until the backoff passes.
func TestRecoveryNonEssentialCrashLoop(t *testing.T) {
	h := newHarness(t, sidecar, nil, func(c *Config) { c.Backoff = plan.Backoff{Initial: 2 * time.Second, Max: 4 * time.Second} })
	tis := running(t, h)
	exec := ""
	h.onLoop(func() { exec = h.s.tasks["p-0-server"].info.Executor.ExecutorID.Value })
	side := taskID(t, tis, "p-0-side")
	h.master.Send(t, sdktest.Status(side, "a1", mesos.TASK_FAILED))
	h.master.Expect(t, tACK)
	h.eventually("recovery of side", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") == plan.Pending })
	h.skip()
	// Another agent, or the agent without the executor, does not do.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2"), sdktest.Offer("o3", "a1", "h1")))
	h.master.Expect(t, tDECLINE)
	if msg := h.stepMessage(plan.Recovery, "p-0:[side]"); !strings.Contains(msg, "p-0's executor "+exec+" no longer runs on this agent") || !strings.Contains(msg, "must run on agent a1 (its other tasks run there)") {
		t.Errorf("message %q", msg)
	}
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o4", "a1", "h1", sdktest.ReservedBy(h.accept), sdktest.Executors(exec))))
	c := h.master.Expect(t, tACCEPT)[0]
	lg := launchGroup(c)
	if lg.Executor.ExecutorID.Value != exec || len(lg.TaskGroup.Tasks) != 1 || lg.TaskGroup.Tasks[0].Name != "p-0-side" {
		t.Errorf("relaunch %v into %s", names(lg.TaskGroup.Tasks), lg.Executor.ExecutorID.Value)
	}
	// It fails again at once: DELAYED.
	h.master.Send(t, sdktest.Status(lg.TaskGroup.Tasks[0].TaskID.Value, "a1", mesos.TASK_FAILED))
	h.master.Expect(t, tACK)
	h.eventually("DELAYED", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") == plan.Delayed })
	if code, word := h.s.Health(); code != HealthDelayed || word != "DELAYED" {
		t.Errorf("health %d %s", code, word)
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o5", "a1", "h1", sdktest.ReservedBy(h.accept), sdktest.Executors(exec))))
	h.master.Expect(t, tDECLINE)
	h.tick(2 * time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o6", "a1", "h1", sdktest.ReservedBy(h.accept), sdktest.Executors(exec))))
	h.master.Expect(t, tACCEPT)
}

// TestPodRestartAndReplace: restart kills the pod's tasks and relaunches
// them in place, without backoff; replace places the pod anew.
func TestPodRestartAndReplace(t *testing.T) {
	h := newHarness(t, sidecar, nil, nil)
	tis := running(t, h)
	got, err := h.s.PodRestart(context.Background(), "p-0", false)
	if err != nil || !slices.Equal(got, []string{"p-0-server", "p-0-side"}) {
		t.Fatalf("restart %v %v", got, err)
	}
	h.master.Expect(t, tKILL, tKILL)
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_KILLED))
	}
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2"), sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(h.accept))))
	c := h.master.Expect(t, tACCEPT)[0]
	if c.GetAccept().OfferIDs[0].Value != "o3" {
		t.Errorf("restart relaunched on %v, want in place", c.GetAccept().OfferIDs)
	}
	tis = launched(c)
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("health 200", func() bool { code, _ := h.s.Health(); return code == HealthRunning })

	if _, err := h.s.PodRestart(context.Background(), "p-0", true); err != nil {
		t.Fatal(err)
	}
	h.eventually("kills", func() bool {
		n := 0
		for _, c := range h.master.Calls() {
			if c.Type == tKILL {
				n++
			}
		}
		return n >= 4
	})
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_KILLED))
	}
	h.eventually("replace recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o4", "a2", "h2")))
	if c := h.master.Expect(t, tACCEPT)[0]; c.GetAccept().OfferIDs[0].Value != "o4" {
		t.Errorf("replace launched on %v", c.GetAccept().OfferIDs)
	}
	if _, err := h.s.PodRestart(context.Background(), "nope-0", false); err == nil {
		t.Error("restart of an unknown pod")
	}
}

// TestPodRestartOfEndedPod: restarting a pod whose tasks all ended starts
// its recovery at once.
func TestPodRestartOfEndedPod(t *testing.T) {
	h := newHarness(t, sidecar, nil, nil)
	tis := running(t, h)
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_GONE))
	}
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	if _, err := h.s.PodRestart(context.Background(), "p-0", false); err != nil {
		t.Fatal(err)
	}
	if got := h.stepStatus(plan.Recovery, "p-0:[server,side]"); got != plan.Pending {
		t.Errorf("recovery %s", got)
	}
}

// TestCrashLoopMessageFromTheFirstFailure: a pod that fails again soon
// after its relaunch ran gets a DELAYED recovery step whose message (and
// the health's reasons) carries that failure at once, not only after a
// relaunch fails again (helper-41's fault 7).
func TestCrashLoopMessageFromTheFirstFailure(t *testing.T) {
	h, _, side := sideFailedOnce(t)
	h.master.Send(t, sdktest.Status(side, "a1", mesos.TASK_FAILED, sdktest.Message("exit 2: no such file")))
	h.eventually("DELAYED", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") == plan.Delayed })
	want := "p-0-side: TASK_FAILED exit 2: no such file"
	if msg := h.stepMessage(plan.Recovery, "p-0:[side]"); msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	if r := h.s.HealthReport(); r.Code != HealthDelayed || len(r.Reasons) != 1 || !strings.HasSuffix(r.Reasons[0], want) {
		t.Errorf("health %d %v", r.Code, r.Reasons)
	}
}

// TestPodRestartClearsTheBackoff: a pod restart starts the pod afresh, as
// the SDK's PodQueries clear the backoff: a crash right after it is a first
// failure, relaunched at once, not DELAYED by the failure before the
// restart or by the restart itself.
func TestPodRestartClearsTheBackoff(t *testing.T) {
	h, tis, side := sideFailedOnce(t)
	h.skip()
	// The operator restarts the pod; it runs again.
	if _, err := h.s.PodRestart(context.Background(), "p-0", false); err != nil {
		t.Fatal(err)
	}
	h.master.Expect(t, tKILL, tKILL)
	h.master.Send(t, sdktest.Status(taskID(t, tis, "p-0-server"), "a1", mesos.TASK_KILLED))
	h.master.Send(t, sdktest.Status(side, "a1", mesos.TASK_KILLED))
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(h.accept))))
	relaunched := launched(h.master.Expect(t, tACCEPT)[0])
	for _, ti := range relaunched {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	}
	h.eventually("running again", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Complete })
	// It crashes at once: a first failure, not a crash loop.
	h.master.Send(t, sdktest.Status(taskID(t, relaunched, "p-0-side"), "a1", mesos.TASK_FAILED))
	h.eventually("a recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") != "" })
	if st := h.stepStatus(plan.Recovery, "p-0:[side]"); st != plan.Pending {
		t.Errorf("the crash after a restart: recovery %s, want PENDING (no backoff)", st)
	}
}

// sideFailedOnce runs the sidecar pod (backoff 2 s doubling to 4 s) whose
// side task fails once ("exit 1") and is relaunched into the pod's
// executor, RUNNING again. It returns the pod's first TaskInfos and the
// relaunched side task's ID.
func sideFailedOnce(t *testing.T) (*harness, []mesos.TaskInfo, string) {
	t.Helper()
	h := newHarness(t, sidecar, nil, func(c *Config) { c.Backoff = plan.Backoff{Initial: 2 * time.Second, Max: 4 * time.Second} })
	tis := running(t, h)
	exec := ""
	h.onLoop(func() { exec = h.s.tasks["p-0-server"].info.Executor.ExecutorID.Value })
	h.master.Send(t, sdktest.Status(taskID(t, tis, "p-0-side"), "a1", mesos.TASK_FAILED, sdktest.Message("exit 1")))
	h.master.Expect(t, tACK)
	h.eventually("recovery of side", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(h.accept), sdktest.Executors(exec))))
	side := launchGroup(h.master.Expect(t, tACCEPT)[0]).TaskGroup.Tasks[0].TaskID.Value
	h.master.Send(t, sdktest.Status(side, "a1", mesos.TASK_RUNNING))
	h.eventually("recovered", func() bool { return h.stepStatus(plan.Recovery, "p-0:[side]") == plan.Complete })
	return h, tis, side
}
