package service

import (
	"context"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// The pod commands (restart, replace, pause, resume) against steps in
// flight, crashes and each other: the faults helper-41's breaker found.

// TestPausedPodCompletes: a paused task has no readiness check, so it counts
// as ready (the SDK gives it PAUSE_READINESS_COMMAND, which passes): the
// recovery that relaunches it paused completes, and a configuration update
// with the pause in place rolls it paused and goes on to the next pod.
func TestPausedPodCompletes(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 2)
	h := newHarness(t, render(t, rolling, "COUNT=2"), st, nil)
	h.reconciled(ids)
	if _, err := h.s.PodPause(context.Background(), "web-0", nil, true); err != nil {
		t.Fatal(err)
	}
	h.awaitCall(tKILL, killOf(ids["web-0-server"]))
	h.update(ids["web-0-server"], "a0", mesos.TASK_KILLED)
	h.mark()
	h.tick(time.Second)
	h.master.Send(t, sdktest.Offers(h.offer("p1", "a0", "ha0")))
	ti := launched(h.awaitCall(tACCEPT, nil))[0]
	if ti.Check != nil || labelOf(&ti, podinfo.LabelGoalOverride) != podinfo.GoalOverridePaused {
		t.Fatalf("paused launch %v %v", ti.Check, ti.Labels)
	}
	h.update(ti.TaskID.Value, "a0", mesos.TASK_RUNNING) // no readiness result: it has no check
	h.eventually("the paused pod's recovery COMPLETE", func() bool { return h.stepStatus(plan.Recovery, "web-0:[server]") == plan.Complete })
	if code, word := h.s.Health(); code != HealthRunning {
		t.Errorf("health %d %s", code, word)
	}
	h.skip()
	h.stop()

	// A new configuration, the pause still in place: web-0 is relaunched
	// paused, completes, and the serial roll goes on to web-1.
	h = newHarness(t, render(t, rolling, "COUNT=2", "GREETING=hola"), st, nil)
	h.reconciled(map[string]string{"web-0-server": ti.TaskID.Value, "web-1-server": ids["web-1-server"], "side-0-t": ids["side-0-t"]})
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ti.TaskID.Value))
	h.update(ti.TaskID.Value, "a0", mesos.TASK_KILLED)
	h.mark()
	h.tick(time.Second)
	h.master.Send(t, sdktest.Offers(h.offer("p2", "a0", "ha0")))
	rolled := launched(h.awaitCall(tACCEPT, nil))[0]
	if rolled.GetCommand().GetValue() != podinfo.DefaultPauseCommand || envOf(&rolled)["GREETING"] != "hola" {
		t.Fatalf("rolled %q GREETING=%q", rolled.GetCommand().GetValue(), envOf(&rolled)["GREETING"])
	}
	h.update(rolled.TaskID.Value, "a0", mesos.TASK_RUNNING)
	h.eventually("web-0 rolled", func() bool { return h.stepStatus(plan.Deploy, "web-0:[server]") == plan.Complete })
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-1-server"]))
}
