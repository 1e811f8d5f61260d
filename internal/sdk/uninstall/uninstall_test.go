package uninstall

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/store"
)

// stored makes a bbolt store holding framework ID fw (unless empty) and
// tasks: name → state (0 for none stored).
func stored(t *testing.T, fw string, tasks map[string]mesos.TaskState) (string, store.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if fw != "" {
		st.SetFrameworkID(fw)
	}
	for name, state := range tasks {
		ti := mesos.TaskInfo{Name: name, TaskID: mesos.TaskID{Value: "id-" + name}, AgentID: mesos.AgentID{Value: "a1"}}
		b, _ := ti.Marshal()
		st.PutTasks(map[string][]byte{name: b})
		if state != 0 {
			s, _ := sdktest.Status("id-"+name, "a1", state).Update.Status.Marshal()
			st.PutStatus(name, s)
		}
	}
	return path, st
}

type run struct {
	u     *Uninstaller
	m     *sdktest.Master
	clock *sdktest.Clock
	done  chan struct{}
	res   Result
	err   error
}

func start(t *testing.T, st store.Store, refuse func(*scheduler.Call) error) *run {
	t.Helper()
	r := &run{m: sdktest.NewMaster(), clock: sdktest.NewClock(time.Unix(0, 0)), done: make(chan struct{})}
	r.m.Refuse(refuse)
	u, err := New(Config{Store: st, Caller: r.m, Clock: r.clock, MasterURL: "http://master.test", KillTimeout: 20 * time.Second,
		Registration: framework.Registration{Name: "svc", Role: "svc-role", User: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	r.u = u
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.res, r.err = u.Run(ctx); close(r.done) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *run) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(sdktest.Wait):
		t.Fatal("the uninstall did not end")
	}
}

func messages(v plan.View) map[string]string {
	out := map[string]string{}
	for _, ph := range v.Phases {
		for _, st := range ph.Steps {
			out[st.Name] = string(st.Status) + ": " + st.Message
		}
	}
	return out
}

// TestUninstall: every live task the store knows is killed, a task only
// Mesos knows too; offers are declined, updates acknowledged; once the
// kills are answered the framework is torn down and the store deleted; the
// plan says so step by step.
func TestUninstall(t *testing.T) {
	path, st := stored(t, "fw-1", map[string]mesos.TaskState{"p-0-t": mesos.TASK_RUNNING, "p-1-t": 0, "p-2-t": mesos.TASK_FINISHED})
	r := start(t, st, nil)
	if v, _ := r.u.PlanView(plan.Deploy); v.Status != plan.Pending && v.Status != plan.InProgress {
		t.Errorf("plan %s", v.Status)
	}
	sub := r.m.Subscription(t, 1)
	if sub.GetSubscribe().FrameworkInfo.GetID().GetValue() != "fw-1" {
		t.Fatalf("subscribed as %v", sub.GetSubscribe().FrameworkInfo.GetID())
	}
	r.m.Send(t, sdktest.Subscribed("fw-1"))
	calls := r.m.Expect(t, scheduler.Call_KILL, scheduler.Call_KILL, scheduler.Call_RECONCILE)
	killed := map[string]bool{}
	for _, c := range calls[:2] {
		killed[c.GetKill().TaskID.Value] = true
	}
	if !killed["id-p-0-t"] || !killed["id-p-1-t"] {
		t.Errorf("killed %v", killed)
	}
	deadline := time.Now().Add(sdktest.Wait)
	for {
		v, _ := r.u.PlanView(plan.Deploy)
		if v.Phases[0].Name == "uninstall" && strings.Contains(messages(v)["kill-tasks"], "STARTED: 2 task(s) killed, 0 ended, waiting for 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan %+v", messages(v))
		}
		time.Sleep(time.Millisecond)
	}
	r.m.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")),
		sdktest.Status("id-stray", "a2", mesos.TASK_RUNNING, sdktest.Reconciliation()),
		sdktest.Status("id-p-0-t", "a1", mesos.TASK_KILLED),
		sdktest.Status("id-p-1-t", "a1", mesos.TASK_KILLED))
	r.m.Expect(t, scheduler.Call_DECLINE, scheduler.Call_KILL, scheduler.Call_ACKNOWLEDGE, scheduler.Call_ACKNOWLEDGE)
	r.m.Send(t, sdktest.Status("id-stray", "a2", mesos.TASK_KILLED))
	r.m.Expect(t, scheduler.Call_ACKNOWLEDGE, scheduler.Call_TEARDOWN)
	r.wait(t)
	if r.err != nil || r.res != (Result{FrameworkID: "fw-1", Killed: 3, Ended: 3}) {
		t.Errorf("result %+v %v", r.res, r.err)
	}
	v, _ := r.u.PlanView(plan.Deploy)
	m := messages(v)
	if v.Status != plan.Complete || m["kill-tasks"] != "COMPLETE: 3 tasks killed (3 ended before the teardown)" || m["teardown"] != "COMPLETE: framework fw-1 torn down" ||
		!strings.HasPrefix(m["unreserve-resources"], "COMPLETE: nothing reserved") || m["clear-state"] != "COMPLETE: state deleted" {
		t.Errorf("plan %s %v", v.Status, m)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the state file is left: %v", err)
	}
	if r.u.PlanStatus() != plan.Complete {
		t.Error("PlanStatus")
	}
	if _, err := r.u.PlanView("recovery"); err == nil {
		t.Error("only deploy is served")
	}
}

// TestUninstallKillTimeout: tasks that do not end in KillTimeout are left
// to the TEARDOWN.
func TestUninstallKillTimeout(t *testing.T) {
	_, st := stored(t, "fw-1", map[string]mesos.TaskState{"p-0-t": mesos.TASK_RUNNING})
	r := start(t, st, nil)
	r.m.Subscription(t, 1)
	r.m.Send(t, sdktest.Subscribed("fw-1"))
	r.m.Expect(t, scheduler.Call_KILL, scheduler.Call_RECONCILE)
	r.clock.Advance(20 * time.Second)
	r.m.Expect(t, scheduler.Call_TEARDOWN)
	r.wait(t)
	if r.err != nil || r.res.Killed != 1 || r.res.Ended != 0 {
		t.Errorf("result %+v %v", r.res, r.err)
	}
}

// TestUninstallWithoutFramework only deletes the state.
func TestUninstallWithoutFramework(t *testing.T) {
	path, st := stored(t, "", nil)
	r := start(t, st, nil)
	r.wait(t)
	if r.err != nil || r.res.FrameworkID != "" || len(r.m.Calls()) != 0 {
		t.Errorf("result %+v %v, calls %v", r.res, r.err, r.m.Calls())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the state file is left: %v", err)
	}
	if v, _ := r.u.PlanView(plan.Deploy); v.Status != plan.Complete {
		t.Errorf("plan %s", v.Status)
	}
}

// TestUninstallFailures: a failed TEARDOWN and a master that never
// answers SUBSCRIBED end the attempt with an error the plan shows; the
// store is kept for the next attempt.
func TestUninstallFailures(t *testing.T) {
	path, st := stored(t, "fw-1", nil)
	r := start(t, st, func(c *scheduler.Call) error {
		if c.Type == scheduler.Call_TEARDOWN {
			return sdktest.ErrRefused
		}
		return nil
	})
	r.m.Subscription(t, 1)
	r.m.Send(t, sdktest.Subscribed("fw-1"))
	r.wait(t)
	if r.err == nil || !strings.Contains(r.err.Error(), "tearing down framework fw-1") {
		t.Errorf("Run %v", r.err)
	}
	v, _ := r.u.PlanView(plan.Deploy)
	if v.Status != plan.Error || len(v.Errors) != 1 || !strings.Contains(v.Errors[0], "tearing down") {
		t.Errorf("plan %s %v", v.Status, v.Errors)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the state was deleted after a failed teardown: %v", err)
	}

	_, st2 := stored(t, "fw-2", nil)
	q := start(t, st2, nil)
	q.m.Subscription(t, 1)
	deadline := time.Now().Add(sdktest.Wait)
	for q.clock.Waiters() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	q.clock.Advance(20 * time.Second)
	q.wait(t)
	if q.err == nil || !strings.Contains(q.err.Error(), "no SUBSCRIBED from http://master.test within 20s") {
		t.Errorf("Run %v", q.err)
	}
}

// TestNewChecks: required fields.
func TestNewChecks(t *testing.T) {
	_, st := stored(t, "", nil)
	for _, cfg := range []Config{{}, {Store: st}, {Store: st, Registration: framework.Registration{Name: "x"}}, {Store: st, Registration: framework.Registration{Name: "x", Role: "r"}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{Store: st, MasterURL: "http://m", Registration: framework.Registration{Name: "x", Role: "r"}}); err != nil {
		t.Error(err)
	}
	if !errors.Is(errDone, errDone) {
		t.Fail()
	}
}

// withReservation stores pod instance p-0's reservation: a volume on a1's
// reserved disk, its cpus, and an item whose RESERVE is not confirmed
// (never waited for); it returns the resources as a1 offers them.
func withReservation(t *testing.T, st store.Store) []mesos.Resource {
	t.Helper()
	cpus := mesos.Resource{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 1}}
	disk := mesos.Resource{Name: "disk", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 100}}
	c := reservation.Reserve([]mesos.Resource{cpus}, "svc-role", "", "r-cpus")[0]
	v := reservation.Volume(reservation.Reserve([]mesos.Resource{disk}, "svc-role", "", "r-disk")[0], "pid", "", "data")
	maybe := reservation.Reserve([]mesos.Resource{cpus}, "svc-role", "", "r-maybe")[0]
	r := &reservation.Reservation{Pod: "p", Index: 0, AgentID: "a1", Hostname: "h1", Role: "svc-role", Items: []reservation.Item{
		{Key: "t-resource-set/cpus", ID: "r-cpus", Resource: c},
		{Key: "t-resource-set/volume/data", ID: "r-disk", Resource: v},
		{Key: "t-resource-set/mem", ID: "r-maybe", Resource: maybe, Op: "op-1"},
	}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutReservations(map[string][]byte{"p-0": b}); err != nil {
		t.Fatal(err)
	}
	return []mesos.Resource{c, v}
}

// TestUninstallReleasesReservations: after the kills, every offered
// reservation of the framework's role is released (volumes destroyed
// first), recorded or not; the framework is torn down once every recorded
// one was.
func TestUninstallReleasesReservations(t *testing.T) {
	_, st := stored(t, "fw-1", map[string]mesos.TaskState{"p-0-t": mesos.TASK_FINISHED})
	held := withReservation(t, st)
	r := start(t, st, nil)
	r.m.Subscription(t, 1)
	r.m.Send(t, sdktest.Subscribed("fw-1"))
	r.m.Expect(t, scheduler.Call_RECONCILE, scheduler.Call_REVIVE)
	cpus := mesos.Resource{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 2}}
	stray := reservation.Reserve([]mesos.Resource{cpus}, "svc-role", "", "stray")[0]
	// a2 offers an unrecorded reservation and a1 its own: both released;
	// a3 holds none.
	r.m.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2", sdktest.Resources(stray), sdktest.Mem(64)), sdktest.Offer("o3", "a3", "h3")))
	c := r.m.Expect(t, scheduler.Call_ACCEPT, scheduler.Call_DECLINE)[0]
	if ops := c.GetAccept().Operations; len(ops) != 1 || ops[0].Type != mesos.Offer_Operation_UNRESERVE || len(ops[0].GetUnreserve().Resources) != 1 {
		t.Errorf("a2: %v", ops)
	}
	v, _ := r.u.PlanView(plan.Deploy)
	if m := messages(v)["unreserve-resources"]; m != "STARTED: 1 reserved resources released, waiting for offers of 2 more (p-0)" {
		t.Errorf("message %q", m)
	}
	r.m.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", sdktest.Resources(held...))))
	c = r.m.Expect(t, scheduler.Call_ACCEPT, scheduler.Call_TEARDOWN)[0]
	if ops := c.GetAccept().Operations; len(ops) != 2 || ops[0].Type != mesos.Offer_Operation_DESTROY || ops[1].Type != mesos.Offer_Operation_UNRESERVE || len(ops[1].GetUnreserve().Resources) != 2 {
		t.Errorf("a1: %v", ops)
	}
	r.wait(t)
	if r.err != nil || r.res.Released != 3 || r.res.Left != 0 {
		t.Errorf("result %+v %v", r.res, r.err)
	}
}

// TestUninstallReleaseTimeout: a recorded reservation never offered (its
// agent is gone) does not hold the uninstall past ReleaseTimeout; the
// step says what was left.
func TestUninstallReleaseTimeout(t *testing.T) {
	_, st := stored(t, "fw-1", nil)
	withReservation(t, st)
	r := start(t, st, nil)
	r.m.Subscription(t, 1)
	// Two minutes pass without an event: a 15 s heartbeat would make the
	// session give up on the master at 75 s, racing the release timeout.
	r.m.Send(t, sdktest.SubscribedEvery("fw-1", time.Hour))
	r.m.Expect(t, scheduler.Call_RECONCILE, scheduler.Call_REVIVE)
	r.clock.Advance(2*time.Minute + time.Second)
	r.m.Expect(t, scheduler.Call_TEARDOWN)
	r.wait(t)
	if r.res.Left != 2 {
		t.Errorf("result %+v", r.res)
	}
	v, _ := r.u.PlanView(plan.Deploy)
	if m := messages(v)["unreserve-resources"]; !strings.Contains(m, "2 left reserved, never offered within 2m0s (p-0): their agents are gone") {
		t.Errorf("message %q", m)
	}
}
