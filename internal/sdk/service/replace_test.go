package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestRecoveryNeverReplacesByDefault: without replacement-failure-policy
// (and without --agent-lost-timeout) a stateful pod whose agent is gone is
// never placed anew, however long it stays away, as the SDK's
// NeverFailureMonitor: its volume is its data (helper-41's fault 5).
func TestRecoveryNeverReplacesByDefault(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
	h.ready()
	first, ti := h.runOnA1()
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_UNREACHABLE))
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	h.confirmed()
	h.tick(24 * time.Hour)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	h.master.Expect(t, tDECLINE)
	msg := h.stepMessage(plan.Recovery, "p-0:[t]")
	for _, want := range []string{"waiting for agent a1 (h1) to offer resources", "never placed anew (no replacement-failure-policy)", "POST /v1/pod/p-0/replace (scheduler-lite pod replace p-0) places it anew elsewhere now, with new empty volumes (what its volumes hold is lost)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "more") {
		t.Errorf("message %q counts down", msg)
	}
	// The agent is back: relaunched on its reservation and volume.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(first))))
	if got := opTypes(h.master.Expect(t, tACCEPT)[0]); len(got) != 1 || got[0] != "LAUNCH_GROUP" {
		t.Errorf("relaunched with %v, want in place", got)
	}
}

// withPolicy gives the policy in seconds, the SDK's form since 0.58 (spec
// tests cover the minutes of the form before).
const withPolicy = withVolume + `replacement-failure-policy:
  permanent-failure-timeout-secs: 60
  min-replace-delay-secs: 600
`

// TestReplacementFailurePolicy: with the policy a failed pod instance is
// replaced once it stayed failed for permanent-failure-timeout-secs (the
// SDK's TimedFailureMonitor), and a second replacement waits until
// min-replace-delay-secs after the first launched (TimedLaunchConstrainer),
// saying so, each message naming the field as given; --agent-lost-timeout
// does not override the spec.
func TestReplacementFailurePolicy(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withPolicy, 2), nil, func(c *Config) { c.AgentLostTimeout = 5 * time.Second })
	h.ready()
	_, first := h.runOnA1()
	h.eventually("p-0 deployed", func() bool { return h.stepStatus(plan.Deploy, "p-0:[t]") == plan.Complete })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	second := launched(h.master.Expect(t, tACCEPT)[0])[0]
	h.master.Send(t, sdktest.Status(second.TaskID.Value, "a2", mesos.TASK_RUNNING))
	tis := []mesos.TaskInfo{first, second}
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, ti.AgentID.Value, mesos.TASK_UNREACHABLE))
	}
	h.eventually("recoveries", func() bool {
		return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending && h.stepStatus(plan.Recovery, "p-1:[t]") == plan.Pending
	})
	h.tick(30 * time.Second)
	msg := h.stepMessage(plan.Recovery, "p-0:[t]")
	for _, want := range []string{"for 30s more (replacement-failure-policy.permanent-failure-timeout-secs)", "then placed anew"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a3", "h3")))
	h.master.Expect(t, tDECLINE)
	h.tick(31 * time.Second)
	h.skip()
	// One is replaced; the other waits min-replace-delay-secs.
	h.expectPlacedAnew(sdktest.Offer("o4", "a3", "h3"))
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o5", "a4", "h4")))
	h.master.Expect(t, tDECLINE)
	waiting := "p-1"
	if h.stepStatus(plan.Recovery, "p-1:[t]") != plan.Pending {
		waiting = "p-0"
	}
	if msg := h.stepMessage(plan.Recovery, waiting+":[t]"); !strings.Contains(msg, waiting+" is placed anew in 10m0s (replacement-failure-policy.min-replace-delay-secs: one replacement every 10m0s)") {
		t.Errorf("message %q", msg)
	}
	h.tick(10 * time.Minute)
	h.skip()
	h.expectPlacedAnew(sdktest.Offer("o6", "a4", "h4"))
}

// TestReplacementFailurePolicyChange: adding the policy to a deployed
// service is a new target that relaunches nothing (no SDK validator
// refuses it, and no TaskInfo depends on it).
func TestReplacementFailurePolicyChange(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	deployRolling(t, st, 3)
	v1, _, _ := st.Target()
	h := newHarness(t, render(t, rolling)+"replacement-failure-policy: {permanent-failure-timeout-mins: 5}\n", st, nil)
	if h.s.TargetID() == v1 {
		t.Fatal("the configuration did not change")
	}
	for i := 0; i < 3; i++ {
		if s := h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)); s != plan.Complete {
			t.Errorf("web-%d %s", i, s)
		}
	}
}

// TestPodRestartKeepsTheFailureClock: a pod restart of a pod whose agent
// is lost does not start replacement-failure-policy's timeout again: the
// pod is placed anew permanent-failure-timeout-secs after its task first
// failed, as the SDK's TimedFailureMonitor keys the failure by task ID
// (helper-45's fault B). A task that runs has no clock.
func TestPodRestartKeepsTheFailureClock(t *testing.T) {
	h := lostOnA1(t, fmt.Sprintf(withPolicy, 1), nil)
	h.tick(30 * time.Second)
	if _, err := h.s.PodRestart(context.Background(), "p-0", false); err != nil {
		t.Fatal(err)
	}
	h.tick(time.Second)
	if msg := h.stepMessage(plan.Recovery, "p-0:[t]"); !strings.Contains(msg, "for 29s more") {
		t.Errorf("after the restart: message %q, want the first failure's clock (29s more)", msg)
	}
	h.tick(30 * time.Second)
	h.skip()
	h.expectPlacedAnew(sdktest.Offer("o3", "a3", "h3"))
	// The new task runs: no clock is left running for it.
	calls := h.master.Calls()
	i := slices.IndexFunc(calls, func(c *scheduler.Call) bool {
		return c.Type == tACCEPT && len(launched(c)) > 0 && launched(c)[0].AgentID.Value == "a3"
	})
	h.master.Send(t, sdktest.Status(taskID(t, launched(calls[i]), "p-0-t"), "a3", mesos.TASK_RUNNING))
	h.eventually("the clock cleared", func() bool {
		h.s.mu.RLock()
		defer h.s.mu.RUnlock()
		x := h.s.tasks["p-0-t"]
		return x.status.GetState() == mesos.TASK_RUNNING && x.pinFor == "" && x.pinUntil.IsZero()
	})
}

// TestRestartStartsTheFailureClockAgain: the permanent-failure clock is kept
// in memory only, as the SDK's TimedFailureMonitor keeps it (a wrong system
// clock after an outage must not shorten the wait): a scheduler restarted
// half-way through the timeout waits the whole timeout again, from the
// failure its restore sees.
func TestRestartStartsTheFailureClockAgain(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	spec := fmt.Sprintf(withPolicy, 1)
	h := lostOnA1(t, spec, st)
	h.tick(40 * time.Second)
	if msg := h.stepMessage(plan.Recovery, "p-0:[t]"); !strings.Contains(msg, "for 20s more") {
		t.Fatalf("before the restart: message %q, want 20s more", msg)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	// The new process's clock reads later than the old deadline: a stored
	// deadline would place the pod anew at once.
	h = restarted(t, spec, st, sdktest.NewClock(epoch.Add(5*time.Minute)))
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	h.master.Expect(t, tDECLINE)
	if msg := h.stepMessage(plan.Recovery, "p-0:[t]"); !strings.Contains(msg, "for 59s more") {
		t.Errorf("after the restart: message %q, want the whole timeout again (59s more)", msg)
	}
}

// TestExpiredFailureSurvivesRestart: once the timeout has passed, the
// verdict is stored (the permanently-failed label, as the SDK's
// TimedFailureMonitor stores it): a scheduler restarted before the pod is
// placed anew places it anew, it does not wait the timeout again.
func TestExpiredFailureSurvivesRestart(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	spec := fmt.Sprintf(withPolicy, 1)
	h := lostOnA1(t, spec, st)
	h.tick(61 * time.Second)
	h.skip() // stored
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	h = restarted(t, spec, st, sdktest.NewClock(epoch))
	h.tick(time.Second)
	h.skip()
	h.expectPlacedAnew(sdktest.Offer("o2", "a2", "h2"))
}

// lostOnA1 deploys spec's one pod on agent a1 (store st; nil: a new one)
// and reports its task UNREACHABLE: the pod waits for a1 in a recovery.
func lostOnA1(t *testing.T, spec string, st *countingStore) *harness {
	t.Helper()
	h := newHarness(t, spec, st, nil)
	h.ready()
	_, first := h.runOnA1()
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	h.master.Send(t, sdktest.Status(first.TaskID.Value, "a1", mesos.TASK_UNREACHABLE))
	h.eventually("a recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	return h
}

// restarted starts a new scheduler of spec on st with clock, as a restart
// after a crash, expects its subscription's calls and waits for its
// restored recovery of p-0.
func restarted(t *testing.T, spec string, st *countingStore, clock *sdktest.Clock) *harness {
	t.Helper()
	h := newHarness(t, spec, st, func(c *Config) { c.Clock = clock })
	h.clock = clock
	h.start()
	h.subscribe("fw-1")
	// The subscription's calls (its unreachable task is not asked about:
	// an implicit RECONCILE) are made before the test's next events: made
	// after its skip, they came before the DECLINE it expects.
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.eventually("the recovery restored", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	return h
}

// TestAgentLostTwiceIsNoCrashLoop: a pod whose agent is lost, comes back
// and is lost again soon after is PENDING again, waiting for its agent, as
// after the first loss, not DELAYED (health 208) as a crash loop: the
// SDK's DeploymentStep backs off only on TASK_FAILED and TASK_ERROR; a
// lost, unreachable or killed task is PENDING at once. A crash soon after
// is a first failure (the losses do not count), a second one a crash loop;
// a RUNNING-goal task that FINISHes counts as a crash (our difference:
// the SDK relaunches it at once, every time).
func TestAgentLostTwiceIsNoCrashLoop(t *testing.T) {
	for _, crash := range []mesos.TaskState{mesos.TASK_FAILED, mesos.TASK_ERROR, mesos.TASK_FINISHED} {
		t.Run(crash.String(), func(t *testing.T) {
			h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
			h.ready()
			first, ti := h.runOnA1()
			h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
			backOnA1 := func(offer string) {
				t.Helper()
				h.skip()
				h.master.Send(t, sdktest.Offers(sdktest.Offer(offer, "a1", "h1", sdktest.ReservedBy(first))))
				ti = launched(h.master.Expect(t, tACCEPT)[0])[0]
				h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
				h.eventually("running again", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Complete })
			}
			end := func(what string, state mesos.TaskState, want plan.Status) {
				t.Helper()
				h.confirmed()
				h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", state, sdktest.Message("exit 1")))
				h.eventually(what+": a recovery", func() bool {
					st := h.stepStatus(plan.Recovery, "p-0:[t]")
					return st == plan.Pending || st == plan.Delayed
				})
				if st := h.stepStatus(plan.Recovery, "p-0:[t]"); st != want {
					t.Fatalf("%s (%s): recovery %s, want %s", what, state, st, want)
				}
			}
			for i, state := range []mesos.TaskState{mesos.TASK_UNREACHABLE, mesos.TASK_LOST, mesos.TASK_UNREACHABLE, mesos.TASK_KILLED} {
				end(fmt.Sprint("end ", i+1), state, plan.Pending)
				if code, word := h.s.Health(); code == HealthDelayed {
					t.Errorf("end %d: health %d %s", i+1, code, word)
				}
				if state != mesos.TASK_KILLED {
					h.skip()
					h.master.Send(t, sdktest.Offers(sdktest.Offer(fmt.Sprintf("o%d-away", i), "a2", "h2")))
					h.master.Expect(t, tDECLINE)
					if msg := h.stepMessage(plan.Recovery, "p-0:[t]"); !strings.Contains(msg, "waiting for agent a1 (h1) to offer resources") {
						t.Errorf("end %d: message %q", i+1, msg)
					}
				}
				// The agent is back within seconds.
				backOnA1(fmt.Sprintf("o%d-back", i))
				h.tick(10 * time.Second)
			}
			end("first crash", crash, plan.Pending)
			backOnA1("o-crash")
			end("second crash", crash, plan.Delayed)
		})
	}
}
