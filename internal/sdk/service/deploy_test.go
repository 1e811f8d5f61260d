package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

const (
	tACCEPT    = scheduler.Call_ACCEPT
	tDECLINE   = scheduler.Call_DECLINE
	tACK       = scheduler.Call_ACKNOWLEDGE
	tRECONCILE = scheduler.Call_RECONCILE
	tREVIVE    = scheduler.Call_REVIVE
	tSUPPRESS  = scheduler.Call_SUPPRESS
	tKILL      = scheduler.Call_KILL

	tRECONCILE_OPERATIONS = scheduler.Call_RECONCILE_OPERATIONS
	tACK_OPERATION        = scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS
)

// TestDeploySerial deploys a two-pod serial phase: subscribe (framework ID
// stored before use), an implicit reconciliation, a revive; each offer
// round launches the next pod, the other offer is declined; updates are
// stored, then acknowledged; the plan completes; the scheduler suppresses
// offers when idle.
func TestDeploySerial(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 2, "serial"), nil, nil)
	sub := h.start()
	if fi := sub.GetSubscribe().GetFrameworkInfo(); fi.GetID() != nil || fi.Name != "svc" || fi.GetRole() != "svc-role" || fi.User != "tester" || !fi.GetCheckpoint() {
		t.Fatalf("FrameworkInfo %+v", fi)
	}
	if code, _ := h.s.Health(); code != HealthInitializing {
		t.Errorf("health before SUBSCRIBED %d", code)
	}
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	if id, _ := h.store.FrameworkID(); id != "fw-1" {
		t.Errorf("stored framework ID %q", id)
	}
	if code, word := h.s.Health(); code != HealthDeployingPending || word != "DEPLOYING_PENDING" {
		t.Errorf("health %d %s", code, word)
	}

	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", small()...), sdktest.Offer("o2", "a2", "h2", small()...)))
	calls := h.master.Expect(t, tACCEPT, tDECLINE)
	if got := calls[0].GetAccept().OfferIDs; len(got) != 1 || got[0].Value != "o1" {
		t.Errorf("accepted %v", got)
	}
	if got := calls[1].GetDecline().OfferIDs; len(got) != 1 || got[0].Value != "o2" || calls[1].GetDecline().GetFilters().GetRefuseSeconds() != 1 {
		t.Errorf("declined %v", calls[1].GetDecline())
	}
	tis := launched(calls[0])
	if !slices.Equal(names(tis), []string{"p-0-t"}) {
		t.Fatalf("launched %v", names(tis))
	}
	stored, _ := h.store.Tasks()
	if _, ok := stored["p-0-t"]; !ok {
		t.Error("the TaskInfo was not stored before the ACCEPT")
	}
	if st := h.stepStatus(plan.Deploy, "p-0:[t]"); st != plan.Prepared {
		t.Errorf("step p-0 %s", st)
	}
	if code, _ := h.s.Health(); code != HealthDeployingPending {
		t.Errorf("health with the step PREPARED %d, want the SDK's 204", code)
	}

	id0 := taskID(t, tis, "p-0-t")
	h.master.Send(t, sdktest.Status(id0, "a1", mesos.TASK_STARTING))
	h.master.Expect(t, tACK)
	if code, _ := h.s.Health(); code != HealthDeployingPending {
		t.Errorf("health with p-0 STARTING and p-1 PENDING %d, want the SDK's 204", code)
	}
	h.master.Send(t, sdktest.Status(id0, "a1", mesos.TASK_RUNNING))
	h.master.Expect(t, tACK)
	stored, _ = h.store.Tasks()
	st := new(mesos.TaskStatus)
	if err := st.Unmarshal(stored["p-0-t"].Status); err != nil || st.GetState() != mesos.TASK_RUNNING {
		t.Errorf("stored status %v %v", st.GetState(), err)
	}
	h.eventually("step p-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "p-0:[t]") == plan.Complete })

	// The next step is eligible: offers were declined for 1 s, so revive.
	h.tick(time.Second)
	h.master.Expect(t, tREVIVE)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a2", "h2", small()...)))
	id1 := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "p-1-t")
	h.master.Send(t, sdktest.Status(id1, "a2", mesos.TASK_RUNNING))
	h.master.Expect(t, tACK)
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	if code, word := h.s.Health(); code != HealthRunning || word != "RUNNING" {
		t.Errorf("health %d %s", code, word)
	}
	pr, _ := h.store.Plans()
	if !strings.Contains(string(pr[plan.Deploy]), `"p-1:[t]":"COMPLETE"`) {
		t.Errorf("stored progress %s", pr[plan.Deploy])
	}
	// Idle: suppress; an offer that comes anyway is declined for an hour.
	h.tick(time.Second)
	h.master.Expect(t, tSUPPRESS)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o4", "a1", "h1", small()...)))
	if d := h.master.Expect(t, tDECLINE)[0].GetDecline(); d.GetFilters().GetRefuseSeconds() != 3600 {
		t.Errorf("idle decline %v", d.GetFilters())
	}
	if h.s.Metrics().Counter("offers.declined.long") != 1 || h.s.Metrics().Counter("operations.launch_group") != 2 {
		t.Errorf("metrics %+v", h.s.Metrics().Snapshot().Counters)
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestDeployParallelOneAcceptPerOffer fits several pods into one offer:
// one ACCEPT carries them all, the ports carved from the ranges.
func TestDeployParallelOneAcceptPerOffer(t *testing.T) {
	h := newHarness(t, `name: svc
pods:
  p:
    count: 3
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.2, memory: 32, ports: {web: {port: 0, env-key: PORT_WEB}}}
plans:
  deploy:
    phases:
      p: {pod: p, strategy: parallel}
`, nil, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", sdktest.CPUs(0.65), sdktest.Mem(1024), sdktest.Disk(1024), sdktest.Ports(31000, 31001)),
		sdktest.Offer("o2", "a2", "h2", small()...)))
	calls := h.master.Expect(t, tACCEPT, tACCEPT)
	a, b := launched(calls[0]), launched(calls[1])
	if len(a)+len(b) != 3 || len(a) != 2 {
		t.Fatalf("launched %v on o1 and %v on o2", names(a), names(b))
	}
	var ports []uint32
	for _, ti := range a {
		ports = append(ports, ti.Discovery.Ports.Ports[0].Number)
	}
	if !slices.Equal(ports, []uint32{31000, 31001}) {
		t.Errorf("ports %v", ports)
	}
	if n, _ := h.store.counts(); n != 1 {
		t.Errorf("%d PutTasks for one offer round, want 1", n)
	}
}

// TestNoOfferFits: the step's message and GET /v1/debug/offers say why.
func TestNoOfferFits(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", sdktest.CPUs(0.3), sdktest.Mem(1024), sdktest.Disk(1024)),
		sdktest.Offer("o2", "a2", "h2", sdktest.CPUs(4), sdktest.Mem(1024), sdktest.Disk(10))))
	h.master.Expect(t, tDECLINE)
	msg := h.stepMessage(plan.Deploy, "p-0:[t]")
	for _, want := range []string{"waiting for an offer that fits", "h1: FAIL(resources): task p-0-t needs 0.5 cpus (0.2 cpus left)", "h2: FAIL(executor-resources): the executor of p-0 needs 256 MB disk (10 MB disk left)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	d := h.s.DebugOffers()
	if len(d.Waiting) != 1 || d.Waiting[0].Step != "p-0:[t]" || d.Waiting[0].Message != msg {
		t.Errorf("waiting %+v", d.Waiting)
	}
	if len(d.Outcomes) != 2 || d.Outcomes[0].Host != "h2" || d.Outcomes[0].Outcome != "fail" || len(d.Outcomes[0].Explanation) != 4 {
		t.Errorf("outcomes %+v", d.Outcomes)
	}
	if r := h.s.HealthReport(); len(r.Reasons) != 1 || !strings.Contains(r.Reasons[0], "deploy p-0:[t]: waiting for an offer") {
		t.Errorf("reasons %v", r.Reasons)
	}
}

// TestStoreFailureBlocksTheLaunch: TaskInfos that cannot be stored are not
// launched: no ACCEPT, the step PENDING again with the reason; statuses that
// cannot be stored are not acknowledged.
func TestStoreFailureBlocksTheLaunch(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	h.store.fail(errStore, nil)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", small()...)))
	h.eventually("the step back to PENDING", func() bool {
		return h.stepStatus(plan.Deploy, "p-0:[t]") == plan.Pending && strings.Contains(h.stepMessage(plan.Deploy, "p-0:[t]"), "disk full")
	})
	h.master.ExpectNone(t, 50*time.Millisecond)
	if stored, _ := h.store.Tasks(); len(stored) != 0 {
		t.Errorf("stored %v", stored)
	}
	h.store.fail(nil, nil)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", small()...)))
	id := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "p-0-t")
	h.store.fail(nil, errStore)
	before := len(h.master.Calls())
	_, writes := h.store.counts()
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING))
	// Once its write failed and the outbox is done, nothing more comes of
	// it (a sleep here let a slow machine check before the write).
	h.eventually("the status's write", func() bool { _, n := h.store.counts(); return n > writes })
	h.skip()
	for _, c := range h.master.Calls()[before:] {
		if c.Type == tACK {
			t.Fatal("a status that was not stored was acknowledged")
		}
	}
	h.store.fail(nil, nil)
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING)) // Mesos re-sends it
	h.eventually("the re-sent status acknowledged", func() bool {
		return slices.ContainsFunc(h.master.Calls()[before:], func(c *scheduler.Call) bool { return c.Type == tACK })
	})
}

// TestStatusBurstIsOneTransaction: a run of updates read together costs
// one store transaction, and every one is acknowledged after it.
func TestStatusBurstIsOneTransaction(t *testing.T) {
	const pods = 40
	h := newHarness(t, fmt.Sprintf(oneTask, pods, "parallel"), nil, nil)
	h.ready()
	var offers []mesos.Offer
	for i := range 4 {
		offers = append(offers, sdktest.Offer(fmt.Sprint("o", i), fmt.Sprint("a", i), fmt.Sprint("h", i), sdktest.CPUs(8), sdktest.Mem(8192), sdktest.Disk(8192)))
	}
	h.master.Send(t, sdktest.Offers(offers...))
	var tis []mesos.TaskInfo
	for _, c := range h.master.Expect(t, tACCEPT, tACCEPT, tACCEPT, tACCEPT) {
		tis = append(tis, launched(c)...)
	}
	if len(tis) != pods {
		t.Fatalf("launched %d", len(tis))
	}
	_, before := h.store.counts()
	// Hold the loop while the updates queue up, so they are read as one
	// run: held on it before they are sent, let go once the session's
	// reader has passed every one on (sleeps here failed under load).
	held, release := make(chan struct{}), make(chan struct{})
	go h.onLoop(func() { close(held); <-release })
	select {
	case <-held:
	case <-time.After(sdktest.Wait):
		t.Fatal("the event loop did not take the work")
	}
	var evs []*scheduler.Event
	for _, ti := range tis {
		evs = append(evs, sdktest.Status(ti.TaskID.Value, ti.AgentID.Value, mesos.TASK_RUNNING))
	}
	h.master.Send(t, evs...)
	h.master.Delivered(t)
	close(release)
	types := make([]scheduler.Call_Type, pods)
	for i := range types {
		types[i] = tACK
	}
	h.master.Expect(t, types...)
	if _, after := h.store.counts(); after-before != 1 {
		t.Errorf("%d status transactions for a burst of %d updates, want 1", after-before, pods)
	}
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
}

// TestFrameworkErrors: an ERROR saying another instance took over ends Run
// with ErrFailedOver; the framework ID is kept.
func TestFrameworkErrors(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	h.master.Send(t, sdktest.Error("Framework failed over"))
	select {
	case err := <-h.done:
		h.cancel = nil
		if !errors.Is(err, framework.ErrFailedOver) {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(sdktest.Wait):
		t.Fatal("Run did not end")
	}
}

// TestResubscribe: a dropped stream is re-subscribed (after the backoff)
// with the same framework ID; health says UNAVAILABLE only after 10 s.
func TestResubscribe(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	h.master.Drop()
	h.eventually("disconnected", func() bool { return !h.s.Connected() })
	if code, _ := h.s.Health(); code == HealthUnavailable {
		t.Error("unavailable at once")
	}
	h.eventually("the backoff timer", func() bool { return h.clock.Waiters() > 0 })
	h.clock.Advance(11 * time.Second)
	if code, word := h.s.Health(); code != HealthUnavailable || word != "SERVICE_UNAVAILABLE" {
		t.Errorf("health %d %s", code, word)
	}
	sub := h.master.Subscription(t, 2)
	if sub.GetSubscribe().FrameworkInfo.GetID().GetValue() != "fw-1" {
		t.Errorf("re-subscribed as %v", sub.GetSubscribe().FrameworkInfo.GetID())
	}
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.eventually("connected", h.s.Connected)
}

// TestCommandsNeedTheLoop: without Run, commands fail with ErrNotRunning
// (after 10 s; here the context ends first).
func TestCommandsNeedTheLoop(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.s.PlanCommand(ctx, plan.Deploy, CmdInterrupt, "", "", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("command without a loop: %v", err)
	}
}

// TestRefusedAcceptIsUndone: an ACCEPT the master refuses leaves the step
// PENDING, with the reason, and the next offer launches it.
func TestRefusedAcceptIsUndone(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	h.master.Refuse(func(c *scheduler.Call) error {
		if c.Type == tACCEPT {
			return sdktest.ErrRefused
		}
		return nil
	})
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", small()...)))
	h.eventually("the step back to PENDING", func() bool {
		return h.stepStatus(plan.Deploy, "p-0:[t]") == plan.Pending && strings.Contains(h.stepMessage(plan.Deploy, "p-0:[t]"), "refused by the test")
	})
	if ps, err := h.s.PodStatus("p-0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a pod whose launch was refused: %+v, %v; want ErrNotFound (no task launched)", ps, err)
	}
	h.master.Refuse(nil)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", small()...)))
	h.master.Expect(t, tACCEPT)
}
