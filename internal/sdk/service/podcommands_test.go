package service

import (
	"context"
	"fmt"
	"slices"
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

// inFlight is a web-0 whose step is in flight when a pod command comes.
type inFlight struct {
	h          *harness
	id, agent  string // the live task's ID, its agent
	plan, step string
}

// TestPodCommandsWhileStepInFlight: pod restart, replace or pause while
// web-0's deploy or update step is in flight (launched, not yet ready; or
// killing to relaunch; or DELAYED after a failure): the step takes the
// task's end (PENDING) and relaunches it, as asked (in place, anew,
// paused), as the SDK's DeploymentStep and PlanScheduler do; nothing stays
// busy with nothing in flight.
func TestPodCommandsWhileStepInFlight(t *testing.T) {
	deploying := func(t *testing.T) inFlight {
		h := newHarness(t, render(t, rolling, "COUNT=1"), nil, nil)
		h.ready()
		h.master.Send(t, sdktest.Offers(sdktest.Offer("o0", "a0", "ha0", onePod()...)))
		id := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "web-0-server")
		h.update(id, "a0", mesos.TASK_RUNNING) // not ready
		return inFlight{h, id, "a0", plan.Deploy, "web-0:[server]"}
	}
	rolling := func(t *testing.T, ready bool) inFlight {
		st := openStore(t, t.TempDir())
		t.Cleanup(func() { st.Close() })
		ids := deployRolling(t, st, 1)
		h := newHarness(t, render(t, rolling, "COUNT=1", "GREETING=hola"), st, nil)
		h.reconciled(ids)
		h.tick(time.Second)
		h.awaitCall(tKILL, killOf(ids["web-0-server"]))
		if !ready {
			return inFlight{h, ids["web-0-server"], "a0", plan.Deploy, "web-0:[server]"}
		}
		h.update(ids["web-0-server"], "a0", mesos.TASK_KILLED)
		h.mark()
		h.tick(time.Second)
		h.master.Send(t, sdktest.Offers(h.offer("r0", "a0", "ha0")))
		id := taskID(t, launched(h.awaitCall(tACCEPT, nil)), "web-0-server")
		h.update(id, "a0", mesos.TASK_RUNNING) // not ready
		return inFlight{h, id, "a0", plan.Deploy, "web-0:[server]"}
	}
	for _, tc := range []struct {
		name   string
		setup  func(*testing.T) inFlight
		cmd    string // restart, replace, pause
		failed bool   // the task FAILs before the command: the step is DELAYED
	}{
		{"restart while deploying", deploying, "restart", false},
		{"replace while deploying", deploying, "replace", false},
		{"pause while deploying", deploying, "pause", false},
		{"restart while DELAYED", deploying, "restart", true},
		{"restart while an update kills", func(t *testing.T) inFlight { return rolling(t, false) }, "restart", false},
		{"restart while an update starts", func(t *testing.T) inFlight { return rolling(t, true) }, "restart", false},
		{"replace while an update starts", func(t *testing.T) inFlight { return rolling(t, true) }, "replace", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.setup(t)
			h := f.h
			if s := h.stepStatus(f.plan, f.step); s == plan.Complete || s == plan.Pending {
				t.Fatalf("%s not in flight: %s", f.step, s)
			}
			if tc.failed {
				h.update(f.id, f.agent, mesos.TASK_FAILED)
				h.eventually("DELAYED", func() bool { return h.stepStatus(f.plan, f.step) == plan.Delayed })
			}
			var err error
			if tc.cmd == "pause" {
				_, err = h.s.PodPause(context.Background(), "web-0", nil, true)
			} else {
				_, err = h.s.PodRestart(context.Background(), "web-0", tc.cmd == "replace")
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.failed {
				h.awaitCall(tKILL, killOf(f.id))
				h.update(f.id, f.agent, mesos.TASK_KILLED)
			}
			h.eventually(f.step+" PENDING", func() bool { return h.stepStatus(f.plan, f.step) == plan.Pending })
			h.mark()
			h.tick(2 * time.Second) // past a DELAYED step's backoff
			h.tick(time.Second)
			want := f.agent
			if tc.cmd == "replace" {
				want = "a7"
			}
			h.master.Send(t, sdktest.Offers(h.offer("n1", "a7", "ha7"), h.offer("n0", f.agent, "h"+f.agent)))
			ti := launched(h.awaitCall(tACCEPT, nil))[0]
			if ti.Name != "web-0-server" || ti.AgentID.Value != want {
				t.Errorf("relaunched %s on %s, want %s", ti.Name, ti.AgentID.Value, want)
			}
			opts := []sdktest.StatusOption{sdktest.Ready()}
			if tc.cmd == "pause" {
				if ti.GetCommand().GetValue() != podinfo.DefaultPauseCommand {
					t.Errorf("not relaunched paused: %q", ti.GetCommand().GetValue())
				}
				opts = nil
			}
			h.update(ti.TaskID.Value, want, mesos.TASK_RUNNING, opts...)
			h.eventually(f.step+" COMPLETE", func() bool { return h.stepStatus(f.plan, f.step) == plan.Complete })
			h.onLoop(func() {
				if len(h.s.pendingKill) > 0 || len(h.s.updating) > 0 {
					t.Errorf("busy with nothing in flight: pending kills %v, updates %v", h.s.pendingKill, h.s.updating)
				}
			})
		})
	}
}

// TestPodKillWaitsForEveryEnd: a pod restart's recovery waits for every
// killed task's end, in whatever order they come, and relaunches the pod
// as one (not the sidecar alone into the executor being killed); a pause
// of the essential task kills its sibling too, and the whole pod comes
// back without a crash-loop delay. A KILL unanswered is sent again.
func TestPodKillWaitsForEveryEnd(t *testing.T) {
	h := newHarness(t, sidecar, nil, nil)
	tis := running(t, h)
	server, side := taskID(t, tis, "p-0-server"), taskID(t, tis, "p-0-side")
	if _, err := h.s.PodRestart(context.Background(), "p-0", false); err != nil {
		t.Fatal(err)
	}
	h.awaitCall(tKILL, killOf(server))
	h.update(side, "a1", mesos.TASK_KILLED)
	h.mark()
	h.tick(time.Second)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(h.accept))))
	h.awaitCall(tDECLINE, nil)
	if got := h.stepStatus(plan.Recovery, "p-0:[side]"); got != "" {
		t.Fatalf("the sidecar relaunched alone while the server is being killed: %s", got)
	}
	// Unanswered past its grace period (none) + 30 s: the KILL again.
	h.mark()
	h.tick(31 * time.Second)
	h.awaitCall(tKILL, killOf(server))
	h.update(server, "a1", mesos.TASK_KILLED)
	h.eventually("the pod's recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.mark()
	h.tick(time.Second)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(h.accept))))
	tis = launched(h.awaitCall(tACCEPT, nil))
	if !slices.Equal(names(tis), []string{"p-0-server", "p-0-side"}) {
		t.Fatalf("relaunched %v", names(tis))
	}
	for _, ti := range tis {
		h.update(ti.TaskID.Value, "a1", mesos.TASK_RUNNING)
	}
	h.eventually("recovered", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Complete })

	// Pausing the essential task: its end kills the sidecar, then the pod
	// comes back, not DELAYED though it failed twice in a row.
	server, side = taskID(t, tis, "p-0-server"), taskID(t, tis, "p-0-side")
	if _, err := h.s.PodPause(context.Background(), "p-0", []string{"server"}, true); err != nil {
		t.Fatal(err)
	}
	h.awaitCall(tKILL, killOf(server))
	h.update(server, "a1", mesos.TASK_KILLED)
	h.awaitCall(tKILL, killOf(side))
	h.update(side, "a1", mesos.TASK_KILLED)
	h.eventually("the paused pod's recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[server,side]") == plan.Pending })
	h.onLoop(func() {
		if len(h.s.pendingKill) > 0 {
			t.Errorf("pending kills left: %v", h.s.pendingKill)
		}
	})
}

// TestReplaceSurvives: a pod replace is stored with the tasks (the SDK's
// permanently-failed label) before the KILL, so neither a restart that
// follows nor a scheduler crash before the kill takes effect turns it into
// a relaunch in place: the pod is placed anew, with a new reservation and
// volume.
func TestReplaceSurvives(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool // a pod restart follows the replace
		crash   bool // the scheduler crashes before the KILL's answer
		ended   bool // ... and Mesos killed the task meanwhile
	}{
		{"restart after replace", true, false, false},
		{"crash before the kill", false, true, false},
		{"crash after the kill", false, true, true},
		{"restart then crash", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			h := newHarness(t, fmt.Sprintf(withVolume, 1), st, nil)
			h.ready()
			first, ti := h.runOnA1()
			h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
			h.confirmed()
			if _, err := h.s.PodRestart(context.Background(), "p-0", true); err != nil {
				t.Fatal(err)
			}
			h.awaitCall(tKILL, killOf(ti.TaskID.Value))
			if got := storedLabel(t, h, "p-0-t", podinfo.LabelPermanentlyFailed); got != "true" {
				t.Errorf("stored permanently-failed %q before the KILL", got)
			}
			if tc.restart {
				if _, err := h.s.PodRestart(context.Background(), "p-0", false); err != nil {
					t.Fatal(err)
				}
				h.skip()
				if got := storedLabel(t, h, "p-0-t", podinfo.LabelPermanentlyFailed); got != "true" {
					t.Errorf("a restart undid the stored replace: %q", got)
				}
			}
			if tc.crash {
				h.skip()
				h.stop()
				h = newHarness(t, fmt.Sprintf(withVolume, 1), st, nil)
				h.start()
				h.subscribe("fw-1")
				h.master.Expect(t, tRECONCILE, tREVIVE)
				state := mesos.TASK_RUNNING // the KILL never arrived
				if tc.ended {
					state = mesos.TASK_KILLED
				}
				h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", state, sdktest.Reconciliation()))
				h.master.Expect(t, tRECONCILE) // the implicit round
				if !tc.ended {
					h.tick(time.Second)
					h.awaitCall(tKILL, killOf(ti.TaskID.Value)) // carried out after the restart
				}
			}
			if !tc.ended {
				h.update(ti.TaskID.Value, "a1", mesos.TASK_KILLED)
			}
			h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
			h.tick(time.Second)
			h.skip()
			// Its old agent offers its reservation and room: placed anew.
			h.expectPlacedAnew(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(first), sdktest.CPUs(4), sdktest.Mem(4096), sdktest.Disk(4096)))
		})
	}
}
