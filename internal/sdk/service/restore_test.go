package service

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/store"
)

// deployed runs a scheduler of spec on st until pods p-0..p-(running-1)
// run and p-(running) is launched (ACCEPTed) without a status, then
// stops it as a crash would. It returns the launched task IDs by name.
func deployed(t *testing.T, yaml string, st *countingStore, running int) map[string]string {
	t.Helper()
	h := newHarness(t, yaml, st, nil)
	h.ready()
	ids := map[string]string{}
	for i := 0; i <= running; i++ {
		h.skip()
		h.master.Send(t, sdktest.Offers(sdktest.Offer(fmt.Sprint("o", i), fmt.Sprint("a", i), fmt.Sprint("h", i), small()...)))
		tis := launched(h.master.Expect(t, tACCEPT)[0])
		name := fmt.Sprintf("p-%d-t", i)
		ids[name] = taskID(t, tis, name)
		if i == running {
			break
		}
		h.master.Send(t, sdktest.Status(ids[name], fmt.Sprint("a", i), mesos.TASK_RUNNING))
		h.master.Expect(t, tACK)
		h.eventually("step complete", func() bool { return h.stepStatus(plan.Deploy, fmt.Sprintf("p-%d:[t]", i)) == plan.Complete })
	}
	h.stop()
	return ids
}

// TestRestoreAfterCrash: a scheduler killed mid-deploy is restarted on its
// store: the framework ID is re-used, COMPLETE steps stay so, a launched
// step is adopted (not launched twice), offers wait for the explicit
// reconciliation, whose answers move the adopted step on; then the deploy
// goes on with the next pod.
func TestRestoreAfterCrash(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	spec := fmt.Sprintf(oneTask, 3, "serial")
	ids := deployed(t, spec, st, 1)

	h := newHarness(t, spec, st, nil)
	for step, want := range map[string]plan.Status{"p-0:[t]": plan.Complete, "p-1:[t]": plan.Prepared, "p-2:[t]": plan.Pending} {
		if got := h.stepStatus(plan.Deploy, step); got != want {
			t.Errorf("restored %s %s, want %s", step, got, want)
		}
	}
	if h.s.FrameworkID() != "fw-1" {
		t.Errorf("framework ID %q", h.s.FrameworkID())
	}
	if id, _ := h.s.PodStatus("p-1"); len(id.Tasks) != 1 || id.Tasks[0].Status != "STAGING" || id.Tasks[0].ID != ids["p-1-t"] {
		t.Errorf("restored p-1 %+v", id)
	}
	sub := h.start()
	if got := sub.GetSubscribe().FrameworkInfo.GetID().GetValue(); got != "fw-1" {
		t.Fatalf("re-subscribed as %q", got)
	}
	h.subscribe("fw-1")
	rec := h.master.Expect(t, tRECONCILE, tREVIVE)[0].GetReconcile()
	var asked []string
	for _, task := range rec.Tasks {
		asked = append(asked, task.TaskID.Value)
	}
	slices.Sort(asked)
	want := []string{ids["p-0-t"], ids["p-1-t"]}
	slices.Sort(want)
	if !slices.Equal(asked, want) {
		t.Errorf("reconciled %v, want %v", asked, want)
	}
	if code, _ := h.s.Health(); code != HealthInitializing {
		t.Errorf("health while reconciling %d", code)
	}
	// No offer is used before the tasks are reconciled.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o9", "a2", "h2", small()...)))
	h.master.Expect(t, tDECLINE)
	if h.s.Metrics().Counter("offers.declined.reconciling") != 1 {
		t.Error("offers.declined.reconciling not counted")
	}
	// Unanswered after 4 s: asked again (and offers revived).
	h.tick(4 * time.Second)
	if c := h.master.Expect(t, tRECONCILE, tREVIVE)[0]; len(c.GetReconcile().Tasks) != 2 {
		t.Errorf("second round %v", c.GetReconcile())
	}
	_, before := h.store.counts()
	h.master.Send(t, sdktest.Status(ids["p-0-t"], "a0", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.eventually("p-0 answered", func() bool { h.s.mu.RLock(); defer h.s.mu.RUnlock(); return len(h.s.rec.unanswered) == 1 })
	if _, after := h.store.counts(); after != before {
		t.Error("a reconciliation answer repeating the stored state was written")
	}
	h.master.Send(t, sdktest.Status(ids["p-1-t"], "a1", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE) // the implicit round
	h.eventually("p-1 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "p-1:[t]") == plan.Complete })
	if ok, at := h.s.Reconciled(); !ok || at.IsZero() {
		t.Errorf("Reconciled %v %v", ok, at)
	}
	// A task Mesos runs and the store does not know is killed.
	h.master.Send(t, sdktest.Status("svc__stray__1", "a1", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	if k := h.master.Expect(t, tKILL)[0].GetKill(); k.TaskID.Value != "svc__stray__1" {
		t.Errorf("killed %v", k.TaskID)
	}
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o10", "a2", "h2", small()...)))
	if got := names(launched(h.master.Expect(t, tACCEPT)[0])); !slices.Equal(got, []string{"p-2-t"}) {
		t.Errorf("launched %v after the restart, want p-2-t only", got)
	}
	// An hour later: implicit reconciliation again.
	h.tick(time.Hour)
	if !slices.ContainsFunc(h.master.Calls(), func(c *scheduler.Call) bool {
		return c.Type == tRECONCILE && len(c.GetReconcile().Tasks) == 0
	}) {
		t.Error("no implicit reconciliation")
	}
}

// TestRestoreEndedTasks: what changed while the scheduler was away. A
// RUNNING-goal task whose stored status says it failed goes to recovery; a
// stored status of a TaskInfo that was replaced is not the new task's; a
// launched step whose tasks Mesos does not know goes back to PENDING and is
// launched again.
func TestRestoreEndedTasks(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	spec := fmt.Sprintf(oneTask, 3, "serial")
	ids := deployed(t, spec, st, 2)
	// p-0 failed meanwhile (its status stored); p-1's stored status is of
	// an older TaskInfo.
	failed, _ := sdktest.Status(ids["p-0-t"], "a0", mesos.TASK_FAILED).Update.Status.Marshal()
	older, _ := sdktest.Status("svc__p-1-t__older", "a1", mesos.TASK_FINISHED).Update.Status.Marshal()
	if err := st.PutStatuses(map[string][]byte{"p-0-t": failed, "p-1-t": older}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, spec, st, nil)
	if got := h.stepStatus(plan.Recovery, "p-0:[t]"); got != plan.Pending {
		t.Errorf("recovery of p-0 %q", got)
	}
	if got := h.stepStatus(plan.Deploy, "p-2:[t]"); got != plan.Prepared {
		t.Errorf("p-2 %q", got)
	}
	ps, _ := h.s.PodStatus("p-1")
	if ps.Tasks[0].Status != "STAGING" {
		t.Errorf("p-1 shows %s: the older TaskInfo's status was taken", ps.Tasks[0].Status)
	}
	h.ready()
	// Mesos never got p-2's launch.
	for _, name := range []string{"p-1-t", "p-2-t"} {
		state := mesos.TASK_RUNNING
		if name == "p-2-t" {
			state = mesos.TASK_DROPPED
		}
		h.master.Send(t, sdktest.Status(ids[name], "a", state, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)
	h.eventually("p-2 back to PENDING", func() bool { return h.stepStatus(plan.Deploy, "p-2:[t]") == plan.Pending })
	// p-2 is launched again; p-0's recovery relaunches it in place: only on
	// its agent.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a9", "h9"), sdktest.Offer("o2", "a0", "h0")))
	calls := h.master.Expect(t, tACCEPT, tACCEPT)
	if calls[0].GetAccept().OfferIDs[0].Value != "o1" || !slices.Equal(names(launched(calls[0])), []string{"p-2-t"}) {
		t.Errorf("o1 launched %v", names(launched(calls[0])))
	}
	if calls[1].GetAccept().OfferIDs[0].Value != "o2" || !slices.Equal(names(launched(calls[1])), []string{"p-0-t"}) {
		t.Errorf("o2 launched %v: the recovery was not placed in place", names(launched(calls[1])))
	}
}

// TestRestoreRejectsCorruptState: a stored TaskInfo or plan progress that
// does not parse fails New, naming it.
func TestRestoreRejectsCorruptState(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(st *countingStore) error
		want  string
	}{
		{"task", func(st *countingStore) error { return st.PutTasks(map[string][]byte{"p-0-t": []byte("\xff\xff")}) }, "stored task p-0-t"},
		{"plan", func(st *countingStore) error { return st.PutPlan(plan.Deploy, []byte("{")) }, "stored progress of plan deploy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			if err := tt.write(st); err != nil {
				t.Fatal(err)
			}
			cfg := Config{Loaded: parseSpec(t, fmt.Sprintf(oneTask, 1, "serial")), Store: st, Caller: sdktest.NewMaster()}
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// failingReads fails one of the store's reads (or SetTarget).
type failingReads struct {
	*countingStore
	fail string
}

func (f failingReads) FrameworkID() (string, error) {
	if f.fail == "FrameworkID" {
		return "", errStore
	}
	return f.countingStore.FrameworkID()
}

func (f failingReads) Plans() (map[string][]byte, error) {
	if f.fail == "Plans" {
		return nil, errStore
	}
	return f.countingStore.Plans()
}

func (f failingReads) Tasks() (map[string]store.Task, error) {
	if f.fail == "Tasks" {
		return nil, errStore
	}
	return f.countingStore.Tasks()
}

func (f failingReads) SetTarget(id string, cfg []byte) error {
	if f.fail == "SetTarget" {
		return errStore
	}
	return f.countingStore.SetTarget(id, cfg)
}

// TestRestoreStoreErrors: a store that cannot be read fails New with the
// reason; tasks of pods the spec no longer has are left alone.
func TestRestoreStoreErrors(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ti := mesos.TaskInfo{Name: "gone-0-t", TaskID: mesos.TaskID{Value: "x"}, AgentID: mesos.AgentID{Value: "a"}}
	b, _ := ti.Marshal()
	st.PutTasks(map[string][]byte{"gone-0-t": b})
	for _, fail := range []string{"FrameworkID", "Plans", "Tasks", "SetTarget"} {
		cfg := Config{Loaded: parseSpec(t, fmt.Sprintf(oneTask, 1, "serial")), Store: failingReads{st, fail}, Caller: sdktest.NewMaster()}
		if _, err := New(cfg); !errors.Is(err, errStore) {
			t.Errorf("%s failing: %v", fail, err)
		}
	}
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), st, nil)
	if len(h.s.tasks) != 0 {
		t.Errorf("restored %v", h.s.tasks)
	}
	if id, cfg, _ := st.Target(); id != h.s.cfg.Loaded.ConfigID || len(cfg) == 0 {
		t.Errorf("target %q", id)
	}
}
