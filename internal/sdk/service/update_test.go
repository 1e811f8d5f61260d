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
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/spec"
)

// rolling is a service whose web pods read GREETING and have a readiness
// check, next to a side pod that does not.
const rolling = `name: svc
pods:
  web:
    count: {{COUNT}}
    {{#DECOMMISSION}}allow-decommission: true{{/DECOMMISSION}}
    tasks:
      server:
        cmd: "exec sleep 600"
        cpus: 0.1
        memory: 32
        kill-grace-period: 7
        env: {GREETING: "{{GREETING}}"}
        readiness-check: {cmd: "true", interval: 1, delay: 0, timeout: 1}
  side:
    count: 1
    tasks:
      t: {cmd: "exec sleep 600", cpus: 0.1, memory: 32}
plans:
  deploy:
    phases:
      web: {pod: web, strategy: {{STRATEGY}}}
      side: {pod: side}
`

// render renders yaml from env (defaults COUNT=3, GREETING=hello,
// STRATEGY=serial), as a scheduler started with that environment would.
func render(t *testing.T, yaml string, env ...string) string {
	t.Helper()
	env = append([]string{"COUNT=3", "GREETING=hello", "STRATEGY=serial"}, env...)
	out, _, err := spec.Render(yaml, env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPodCommandsOnDecommissioningPod: restart, replace, pause and resume
// of a pod instance being decommissioned answer as for any pod with
// stored tasks: its tasks' names, its live tasks killed, as the SDK's
// PodQueries (restartPod, overrideGoalState) find them by their stored
// tasks and kill them; they answered ErrNotFound (404). The decommission
// plan goes on (the kill step completes once the task ended), nothing
// relaunches the pod, and its task stays DECOMMISSIONING. A task the
// instance lacks, and an instance with no stored task, are ErrNotFound.
func TestPodCommandsOnDecommissioningPod(t *testing.T) {
	for _, cmd := range []string{"restart", "replace", "pause", "resume"} {
		t.Run(cmd, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			ids := deployRolling(t, st, 3)
			h := newHarness(t, render(t, rolling, "COUNT=1", "DECOMMISSION=true"), st, nil)
			h.reconciled(ids)
			run := func(pod string, tasks []string) ([]string, error) {
				switch cmd {
				case "restart", "replace":
					return h.s.PodRestart(t.Context(), pod, cmd == "replace")
				}
				names, changed, err := h.s.PodOverride(t.Context(), pod, tasks, cmd == "pause")
				if err == nil && !changed {
					t.Errorf("%s %s: nothing changed", cmd, pod)
				}
				return names, err
			}
			if _, err := run("web-7", nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s web-7: %v, want ErrNotFound", cmd, err)
			}
			if cmd == "pause" || cmd == "resume" {
				if _, err := run("web-2", []string{"nope"}); !errors.Is(err, ErrNoSuchTask) {
					t.Errorf("%s web-2 [nope]: %v, want ErrNoSuchTask", cmd, err)
				}
			}
			h.mark()
			names, err := run("web-2", []string{"server"})
			if err != nil || !slices.Equal(names, []string{"web-2-server"}) {
				t.Fatalf("%s web-2: %v %v", cmd, names, err)
			}
			h.awaitCall(tKILL, killOf(ids["web-2-server"]))
			h.master.Send(t, sdktest.Status(ids["web-2-server"], "a2", mesos.TASK_KILLED))
			h.eventually("kill-web-2-server COMPLETE", func() bool {
				return h.stepStatus(plan.Decommission, "kill-web-2-server") == plan.Complete
			})
			if ps, err := h.s.PodStatus("web-2"); err != nil || len(ps.Tasks) != 1 || ps.Tasks[0].Status != "DECOMMISSIONING" {
				t.Errorf("web-2 after %s: %+v %v", cmd, ps, err)
			}
			if st := h.stepStatus(plan.Recovery, "web-2:[server]"); st != "" {
				t.Errorf("web-2 has a recovery step (%s)", st)
			}
		})
	}
}

// deployRolling deploys rolling (count pods of web, one side) from env,
// each web pod on its own agent a<i>, side on a9, and stops the scheduler.
// It returns the task IDs by name.
func deployRolling(t *testing.T, st *countingStore, count int, env ...string) map[string]string {
	t.Helper()
	h := newHarness(t, render(t, rolling, append([]string{fmt.Sprintf("COUNT=%d", count)}, env...)...), st, nil)
	h.ready()
	canary := slices.ContainsFunc(env, func(kv string) bool { return strings.HasSuffix(kv, "-canary") })
	ids := map[string]string{}
	for i := 0; i < count; i++ {
		if canary && i < 2 { // the canary, then the rest (continued by phase, as the SDK's)
			if changed, err := h.s.PlanCommand(context.Background(), plan.Deploy, CmdContinue, "web", "", nil); err != nil || !changed {
				t.Fatalf("continue before web-%d: %v %v", i, changed, err)
			}
		}
		h.skip()
		agent := fmt.Sprint("a", i)
		h.master.Send(t, sdktest.Offers(sdktest.Offer(fmt.Sprint("o", i), agent, "h"+agent, onePod()...)))
		name := fmt.Sprintf("web-%d-server", i)
		ids[name] = taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), name)
		h.master.Send(t, sdktest.Status(ids[name], agent, mesos.TASK_RUNNING, sdktest.Ready()))
		h.eventually(name+" COMPLETE", func() bool { return h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)) == plan.Complete })
		h.tick(time.Second)
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("o9", "a9", "ha9")))
	ids["side-0-t"] = taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "side-0-t")
	h.master.Send(t, sdktest.Status(ids["side-0-t"], "a9", mesos.TASK_RUNNING))
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.skip()
	h.stop()
	return ids
}

// mark makes awaitCall look only at the calls made from now on.
func (h *harness) mark() { h.since = len(h.master.Calls()) }

// awaitCall waits for a call of type typ that pred accepts (nil: any),
// made since the last mark, whatever else comes between (SUPPRESS, REVIVE,
// ACKNOWLEDGE as the loop's own ticks and updates make them).
func (h *harness) awaitCall(typ scheduler.Call_Type, pred func(*scheduler.Call) bool) *scheduler.Call {
	h.t.Helper()
	var found *scheduler.Call
	h.eventually("a "+typ.String(), func() bool {
		for _, c := range h.master.Calls()[h.since:] {
			if c.Type == typ && (pred == nil || pred(c)) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// answer waits until the scheduler has answered offer offerID, whatever
// the calls between, and returns its ACCEPT, nil for a DECLINE.
func (h *harness) answer(offerID string) *scheduler.Call {
	h.t.Helper()
	var accept *scheduler.Call
	h.eventually("offer "+offerID+" answered", func() bool {
		for _, c := range h.master.Calls() {
			switch {
			case c.Type == tACCEPT && c.GetAccept().GetOfferIDs()[0].Value == offerID:
				accept = c
				return true
			case c.Type == scheduler.Call_DECLINE && c.GetDecline().GetOfferIDs()[0].Value == offerID:
				return true
			}
		}
		return false
	})
	return accept
}

// update sends a status update of task id (a uuid of its own) and waits
// for its acknowledgement: the update is stored.
func (h *harness) update(id, agent string, state mesos.TaskState, opts ...sdktest.StatusOption) {
	h.t.Helper()
	updates++
	uuid := fmt.Sprintf("%s-%s-%d", id, state, updates)
	h.master.Send(h.t, sdktest.Status(id, agent, state, append(opts, func(st *mesos.TaskStatus) { st.UUID = []byte(uuid) })...))
	h.awaitCall(tACK, func(c *scheduler.Call) bool { return string(c.GetAcknowledge().UUID) == uuid })
}

// updates numbers the updates update sends.
var updates int

// killOf accepts a KILL of task id.
func killOf(id string) func(*scheduler.Call) bool {
	return func(c *scheduler.Call) bool { return c.GetKill().GetTaskID().Value == id }
}

// onePod offers room for one pod of rolling, executor included.
func onePod() []sdktest.OfferOption {
	return []sdktest.OfferOption{sdktest.CPUs(0.25), sdktest.Mem(80), sdktest.Disk(300), sdktest.Ports(31000, 31010)}
}

// reconciled starts h, subscribes it and answers the reconciliation of
// every stored task with RUNNING (ready), as Mesos would.
func (h *harness) reconciled(ids map[string]string) {
	h.t.Helper()
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(h.t, tRECONCILE, tREVIVE)
	for name, id := range ids {
		agent := "a9"
		if strings.HasPrefix(name, "web-") {
			agent = "a" + strings.Split(name, "-")[1]
		}
		h.master.Send(h.t, sdktest.Status(id, agent, mesos.TASK_RUNNING, sdktest.Reconciliation(), sdktest.Ready()))
	}
	h.master.Expect(h.t, tRECONCILE) // the implicit round
}

func storedLabel(t *testing.T, h *harness, task, key string) string {
	t.Helper()
	return labelOf(storedTaskInfo(t, h.store, task), key)
}

// storedTaskInfo is task's TaskInfo as st holds it.
func storedTaskInfo(t testing.TB, st *countingStore, task string) *mesos.TaskInfo {
	t.Helper()
	tasks, err := st.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	ti := new(mesos.TaskInfo)
	if err := ti.Unmarshal(tasks[task].Info); err != nil {
		t.Fatalf("stored %s: %v", task, err)
	}
	return ti
}

// TestRollingUpdate: an environment change makes every web pod out of date
// and leaves side as it runs (relabelled on the new configuration, its
// task ID kept). The serial phase rolls one pod at a time: its task killed
// with its kill grace period, relaunched on the same agent only, from the
// new configuration, and the next pod's kill only once it is ready. Then
// the old configuration, no longer used, is deleted.
func TestRollingUpdate(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 3)
	v1, _, _ := st.Target()

	h := newHarness(t, render(t, rolling, "GREETING=bonjour"), st, nil)
	v2 := h.s.TargetID()
	if v2 == v1 {
		t.Fatal("the configuration did not change")
	}
	for i := 0; i < 3; i++ {
		step := fmt.Sprintf("web-%d:[server]", i)
		if s, msg := h.stepStatus(plan.Deploy, step), h.stepMessage(plan.Deploy, step); s != plan.Pending || !strings.Contains(msg, "out of date (environment)") {
			t.Errorf("%s %s %q", step, s, msg)
		}
	}
	if s := h.stepStatus(plan.Deploy, "side-0:[t]"); s != plan.Complete {
		t.Errorf("side %s", s)
	}
	if got := storedLabel(t, h, "side-0-t", podinfo.LabelTargetConfiguration); got != v2 {
		t.Errorf("side is on %s, want %s", got, v2)
	}
	if ps, _ := h.s.PodStatus("web-1"); len(ps.Tasks) != 1 || ps.Tasks[0].Configuration != v1 || !slices.Equal(ps.Tasks[0].OutOfDate, []string{"environment"}) {
		t.Errorf("pod status %+v", ps)
	}
	if ids, _ := h.s.ConfigurationIDs(); !slices.Equal(ids, sorted(v1, v2)) {
		t.Errorf("configurations %v", ids)
	}
	if b, err := h.s.Configuration(v1); err != nil || !strings.Contains(string(b), `"GREETING":"hello"`) {
		t.Errorf("configuration %s: %s %v", v1, b, err)
	}
	h.reconciled(ids)
	for i := 0; i < 3; i++ {
		name, agent := fmt.Sprintf("web-%d-server", i), fmt.Sprint("a", i)
		step := fmt.Sprintf("web-%d:[server]", i)
		h.tick(time.Second)
		h.awaitCall(tKILL, killOf(ids[name]))
		if i+1 < 3 && slices.ContainsFunc(h.master.Calls(), killOf(ids[fmt.Sprintf("web-%d-server", i+1)])) {
			t.Fatalf("web-%d killed with web-%d", i+1, i)
		}
		if s, msg := h.stepStatus(plan.Deploy, step), h.stepMessage(plan.Deploy, step); s != plan.Prepared || !strings.Contains(msg, "killing "+name+" (kill grace period 7s)") {
			t.Errorf("%s while killing: %s %q", step, s, msg)
		}
		h.update(ids[name], agent, mesos.TASK_KILLED)
		h.eventually(step+" PENDING", func() bool { return h.stepStatus(plan.Deploy, step) == plan.Pending })
		h.skip()
		// In place: another agent's offer does not do.
		h.mark()
		h.master.Send(t, sdktest.Offers(h.offer("x"+agent, "a8", "ha8")))
		h.awaitCall(tDECLINE, nil)
		if slices.ContainsFunc(h.master.Calls()[h.since:], func(c *scheduler.Call) bool { return c.Type == tACCEPT }) {
			t.Fatal("launched on another agent")
		}
		h.master.Send(t, sdktest.Offers(h.offer("o"+agent, agent, "h"+agent)))
		tis := launched(h.awaitCall(tACCEPT, nil))
		ti := tis[0]
		if ti.Name != name || ti.AgentID.Value != agent || ti.TaskID.Value == ids[name] || labelOf(&ti, podinfo.LabelTargetConfiguration) != v2 {
			t.Errorf("relaunched %s on %s (%s, %s)", ti.Name, ti.AgentID.Value, ti.TaskID.Value, labelOf(&ti, podinfo.LabelTargetConfiguration))
		}
		if g := envOf(&ti)["GREETING"]; g != "bonjour" {
			t.Errorf("GREETING=%q", g)
		}
		// Running but not ready: the next pod waits.
		h.update(ti.TaskID.Value, agent, mesos.TASK_RUNNING)
		h.tick(time.Second)
		h.tick(time.Second)
		if i+1 < 3 && slices.ContainsFunc(h.master.Calls(), killOf(ids[fmt.Sprintf("web-%d-server", i+1)])) {
			t.Fatalf("web-%d killed before web-%d was ready", i+1, i)
		}
		h.update(ti.TaskID.Value, agent, mesos.TASK_RUNNING, sdktest.Ready())
		h.eventually(step+" COMPLETE", func() bool { return h.stepStatus(plan.Deploy, step) == plan.Complete })
		ids[name] = ti.TaskID.Value
	}
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	if ps, _ := h.s.PodStatus("side-0"); ps.Tasks[0].ID != ids["side-0-t"] {
		t.Errorf("side relaunched: %+v", ps)
	}
	h.stop()

	// The next start finds everything on the target, and drops v1.
	h = newHarness(t, render(t, rolling, "GREETING=bonjour"), st, nil)
	if h.s.PlanStatus(plan.Deploy) != plan.Complete {
		t.Errorf("deploy %s after the roll", h.s.PlanStatus(plan.Deploy))
	}
	if got, _ := h.s.ConfigurationIDs(); !slices.Equal(got, []string{v2}) {
		t.Errorf("configurations %v, want only %s", got, v2)
	}
	if _, err := h.s.Configuration(v1); !errors.Is(err, ErrNotFound) {
		t.Errorf("the old configuration: %v", err)
	}
	if _, err := h.s.Configuration("../x"); !errors.Is(err, ErrBadCommand) {
		t.Errorf("a bad ID: %v", err)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func envOf(ti *mesos.TaskInfo) map[string]string {
	out := map[string]string{}
	for _, v := range ti.GetCommand().GetEnvironment().GetVariables() {
		out[v.Name] = v.GetValue()
	}
	return out
}

// TestRollingUpdateCrash: killed between a pod's kill and its relaunch,
// the scheduler relaunches that pod without killing anything again, and
// the pods already rolled are not rolled twice.
func TestRollingUpdateCrash(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 2, "STRATEGY=parallel")
	h := newHarness(t, render(t, rolling, "COUNT=2", "STRATEGY=parallel", "GREETING=ciao"), st, nil)
	h.reconciled(ids)
	h.tick(time.Second)
	kills := h.master.Expect(t, tKILL, tKILL)
	if len(kills) != 2 {
		t.Fatal(kills)
	}
	h.update(ids["web-0-server"], "a0", mesos.TASK_KILLED)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("o1", "a0", "ha0")))
	relaunched := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "web-0-server")
	h.update(relaunched, "a0", mesos.TASK_RUNNING, sdktest.Ready())
	h.eventually("web-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "web-0:[server]") == plan.Complete })
	h.update(ids["web-1-server"], "a1", mesos.TASK_KILLED)
	h.skip()
	h.stop() // crash: web-1 killed, not relaunched

	h = newHarness(t, render(t, rolling, "COUNT=2", "STRATEGY=parallel", "GREETING=ciao"), st, nil)
	if s := h.stepStatus(plan.Deploy, "web-0:[server]"); s != plan.Complete {
		t.Errorf("web-0 %s: rolled twice?", s)
	}
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(relaunched, "a0", mesos.TASK_RUNNING, sdktest.Reconciliation(), sdktest.Ready()))
	h.master.Send(t, sdktest.Status(ids["side-0-t"], "a9", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("o2", "a1", "ha1")))
	if got := names(launched(h.master.Expect(t, tACCEPT)[0])); !slices.Equal(got, []string{"web-1-server"}) {
		t.Errorf("launched %v", got)
	}
	for _, c := range h.master.Calls() {
		if c.Type == tKILL {
			t.Errorf("killed again: %v", c.GetKill())
		}
	}
}

// TestRollingUpdateCanary: a serial-canary phase, released by its two
// continues when it was deployed, holds again when a new target makes its
// pods out of date: nothing is killed until a continue naming the phase
// releases the canary (web-0; a continue of the plan alone leaves it
// held), and the rest only after a second continue, one at a time.
func TestRollingUpdateCanary(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 3, "STRATEGY=serial-canary")
	h := newHarness(t, render(t, rolling, "STRATEGY=serial-canary", "GREETING=hola"), st, nil)
	if s := h.s.PlanStatus(plan.Deploy); s != plan.Waiting {
		t.Errorf("deploy %s, want %s (the canary held)", s, plan.Waiting)
	}
	h.reconciled(ids)
	killed := func(i int) bool {
		return slices.ContainsFunc(h.master.Calls(), killOf(ids[fmt.Sprintf("web-%d-server", i)]))
	}
	h.tick(time.Second)
	h.tick(time.Second)
	if killed(0) || killed(1) || killed(2) {
		t.Fatal("a pod was killed before the canary was continued")
	}
	ctx := context.Background()
	// roll rolls web-i; between is checked while web-i is down.
	roll := func(i int, between func()) {
		t.Helper()
		name, agent := fmt.Sprintf("web-%d-server", i), fmt.Sprint("a", i)
		h.tick(time.Second)
		h.awaitCall(tKILL, killOf(ids[name]))
		if between != nil {
			between()
		}
		h.update(ids[name], agent, mesos.TASK_KILLED)
		h.tick(time.Second)
		h.skip()
		h.mark()
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("c", i), agent, "h"+agent)))
		ti := launched(h.awaitCall(tACCEPT, nil))[0]
		if ti.Name != name || envOf(&ti)["GREETING"] != "hola" {
			t.Fatalf("relaunched %s with %v", ti.Name, envOf(&ti))
		}
		h.update(ti.TaskID.Value, agent, mesos.TASK_RUNNING, sdktest.Ready())
		h.eventually(name+" COMPLETE", func() bool { return h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)) == plan.Complete })
	}
	// A continue of the plan alone leaves the canary phase held (the
	// SDK's continuePlan proceeds the plan's strategy only); a continue
	// naming the phase releases it.
	if changed, err := h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "", "", nil); err != nil || changed {
		t.Fatalf("continue without a phase: %v %v, want a no-op", changed, err)
	}
	h.tick(time.Second)
	if killed(0) {
		t.Fatal("web-0 killed by a continue without a phase")
	}
	if changed, err := h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "web", "", nil); err != nil || !changed {
		t.Fatalf("continue: %v %v", changed, err)
	}
	roll(0, nil)
	h.tick(time.Second)
	h.tick(time.Second)
	if killed(1) || killed(2) {
		t.Fatal("the rest rolled without a second continue")
	}
	if changed, err := h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "web", "", nil); err != nil || !changed {
		t.Fatalf("second continue: %v %v", changed, err)
	}
	roll(1, func() {
		if killed(2) {
			t.Fatal("web-2 killed with web-1: the phase is serial")
		}
	})
	roll(2, nil)
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
}

// TestConfigRejected: a lower count without allow-decommission is refused:
// the old target stays (the store, the API), the deploy plan is in ERROR
// with the validator's message (the API's 417), health 500, and nothing is
// killed or launched.
func TestConfigRejected(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 3)
	v1, _, _ := st.Target()
	h := newHarness(t, render(t, rolling, "COUNT=2", "GREETING=changed too"), st, nil)
	if h.s.TargetID() != v1 {
		t.Errorf("target %s, want %s", h.s.TargetID(), v1)
	}
	if id, _, _ := st.Target(); id != v1 {
		t.Errorf("stored target %s", id)
	}
	v, _ := h.s.PlanView(plan.Deploy)
	if v.Status != plan.Error || len(v.Errors) != 1 || !strings.Contains(v.Errors[0], "pods.web.count: 2: pod web cannot shrink from 3 instances without allow-decommission: true") || !strings.Contains(v.Errors[0], "[PodSpecsCannotShrink]") {
		t.Errorf("deploy plan %+v", v)
	}
	if got := h.s.Pods(); len(got) != 4 {
		t.Errorf("pods %v", got)
	}
	if slices.Contains(h.s.PlanNames(), plan.Decommission) {
		t.Error("a decommission plan")
	}
	h.reconciled(ids)
	h.tick(time.Second)
	if code, _ := h.s.Health(); code != HealthError {
		t.Errorf("health %d", code)
	}
	h.master.Send(t, sdktest.Offers(h.offer("o1", "a1", "ha1")))
	h.awaitCall(tDECLINE, nil)
	for _, c := range h.master.Calls() {
		if c.Type == tKILL || c.Type == tACCEPT {
			t.Errorf("%s while the configuration is refused", c.Type)
		}
	}
}

// TestDecommission: a lower count with allow-decommission retires the
// highest instance (gone from the endpoints at once; listed as a pod,
// DECOMMISSIONING, until its tasks are erased, as the SDK's PodQueries): the
// decommission plan kills it, releases what it held, erases it from the
// store. A pod type removed goes the same way, after the higher indexes.
func TestDecommission(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 3)
	rel := &fakeReleaser{}
	// web 3 → 1, side removed (side allows it in the running spec? no:
	// the new spec drops it, which needs allow-decommission there first).
	h := newHarness(t, render(t, rolling, "COUNT=1", "DECOMMISSION=true"), st, func(c *Config) { c.Release = rel })
	// Listed until erased, as the SDK's PodQueries list the stored tasks.
	if got := h.s.Pods(); !slices.Equal(got, []string{"side-0", "web-0", "web-1", "web-2"}) {
		t.Errorf("pods %v", got)
	}
	if ps, err := h.s.PodStatus("web-2"); err != nil || len(ps.Tasks) != 1 || ps.Tasks[0].Status != "DECOMMISSIONING" {
		t.Errorf("web-2: %+v %v", ps, err)
	}
	if all := h.s.PodStatuses(); len(all) != 2 || all[0].Name != "side" || all[1].Name != "web" || len(all[1].Instances) != 3 ||
		all[1].Instances[2].Name != "web-2" || all[1].Instances[0].Tasks[0].Status != "RUNNING" {
		t.Errorf("pod statuses %+v", all)
	}
	if names := h.s.PlanNames(); !slices.Equal(names, []string{"deploy", "recovery", "decommission"}) {
		t.Errorf("plans %v", names)
	}
	v, _ := h.s.PlanView(plan.Decommission)
	var phases []string
	for _, ph := range v.Phases {
		var steps []string
		for _, s := range ph.Steps {
			steps = append(steps, s.Name)
		}
		phases = append(phases, ph.Name+":"+strings.Join(steps, ","))
	}
	if want := []string{"web-2:kill-web-2-server,unreserve-web-2,erase-web-2-server", "web-1:kill-web-1-server,unreserve-web-1,erase-web-1-server"}; !slices.Equal(phases, want) {
		t.Errorf("decommission plan %v, want %v", phases, want)
	}
	h.reconciled(ids)
	for _, i := range []int{2, 1} {
		name := fmt.Sprintf("web-%d-server", i)
		h.tick(time.Second)
		h.awaitCall(tKILL, killOf(ids[name]))
		h.master.Send(t, sdktest.Status(ids[name], fmt.Sprint("a", i), mesos.TASK_KILLED))
		// The releaser gives back what the instance held through an offer
		// (offers are revived for it).
		h.eventually("unreserve-web-"+fmt.Sprint(i), func() bool { return h.stepStatus(plan.Decommission, fmt.Sprint("unreserve-web-", i)) == plan.Started })
		h.tick(time.Second)
		h.awaitCall(tREVIVE, nil)
		h.skip()
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("r", i), fmt.Sprint("a", i), "h")))
		if ops := h.awaitCall(tACCEPT, nil).GetAccept().Operations; len(ops) != 1 || ops[0].Type != mesos.Offer_Operation_UNRESERVE {
			t.Errorf("release operations %v", ops)
		}
		h.eventually(name+" erased", func() bool {
			tasks, _ := h.store.Tasks()
			_, ok := tasks[name]
			return !ok
		})
	}
	h.eventually("decommission COMPLETE", func() bool { return h.s.PlanStatus(plan.Decommission) == plan.Complete })
	if got := h.s.Pods(); !slices.Equal(got, []string{"side-0", "web-0"}) {
		t.Errorf("pods once erased %v", got)
	}
	if _, err := h.s.PodStatus("web-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("web-2 once erased: %v", err)
	}
	if h.s.PlanStatus(plan.Deploy) != plan.Complete {
		t.Errorf("deploy %s", h.s.PlanStatus(plan.Deploy))
	}
	if got := rel.instances(); !slices.Equal(got, []string{"web-2-server", "web-1-server"}) {
		t.Errorf("released %v", got)
	}
	h.stop()

	// Without a releaser the scheduler's own release step gives back what
	// the instance reserved, as its agent offers it; a removed pod type
	// goes too.
	yaml := strings.Replace(rolling, "  side:\n    count: 1\n", "  side:\n    count: 1\n    allow-decommission: true\n", 1)
	h = newHarness(t, render(t, yaml, "COUNT=1", "DECOMMISSION=true"), st, nil)
	h.stop()
	gone := strings.Replace(yaml, "      side: {pod: side}\n", "", 1)
	gone = gone[:strings.Index(gone, "  side:\n")] + gone[strings.Index(gone, "plans:"):]
	h = newHarness(t, render(t, gone, "COUNT=1", "DECOMMISSION=true"), st, nil)
	v, _ = h.s.PlanView(plan.Decommission)
	if len(v.Phases) != 1 || v.Phases[0].Name != "side-0" {
		t.Fatalf("decommission %+v", v)
	}
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(ids["web-0-server"], "a0", mesos.TASK_RUNNING, sdktest.Reconciliation(), sdktest.Ready()))
	h.master.Send(t, sdktest.Status(ids["side-0-t"], "a9", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE)
	h.tick(time.Second)
	h.master.Expect(t, tKILL)
	h.master.Send(t, sdktest.Status(ids["side-0-t"], "a9", mesos.TASK_KILLED))
	h.eventually("unreserve step STARTED", func() bool {
		v, _ := h.s.PlanView(plan.Decommission)
		return v.Phases[0].Steps[1].Status == plan.Started
	})
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("r9", "a9", "h9")))
	if got := opTypes(h.master.Expect(t, tACCEPT)[0]); !slices.Equal(got, []string{"UNRESERVE"}) {
		t.Errorf("release %v", got)
	}
	h.eventually("side erased", func() bool { return h.s.PlanStatus(plan.Decommission) == plan.Complete })
	if rs, _ := h.store.Reservations(); rs["side-0"] != nil {
		t.Error("side-0's reservation is still stored")
	}
	if v, _ = h.s.PlanView(plan.Decommission); v.Phases[0].Steps[1].Message != "released" {
		t.Errorf("unreserve step %+v", v.Phases[0].Steps[1])
	}
	if tasks, _ := h.store.Tasks(); len(tasks) != 1 {
		t.Errorf("stored tasks %d, want web-0's only", len(tasks))
	}
}

// fakeReleaser releases an instance's tasks with one UNRESERVE on the
// first offer from their agent.
type fakeReleaser struct {
	released []string
}

func (f *fakeReleaser) Release(tasks []*mesos.TaskInfo, o *mesos.Offer) ([]mesos.Offer_Operation, bool) {
	if slices.Contains(f.released, tasks[0].Name) {
		return nil, true
	}
	if o == nil || o.AgentID != tasks[0].AgentID {
		return nil, false
	}
	f.released = append(f.released, tasks[0].Name)
	return []mesos.Offer_Operation{{Type: mesos.Offer_Operation_UNRESERVE, Unreserve: &mesos.Offer_Operation_Unreserve{Resources: tasks[0].Resources}}}, true
}

func (f *fakeReleaser) instances() []string { return f.released }

// TestScaleUp: a higher count adds steps for the new instances; the
// running ones are COMPLETE.
func TestScaleUp(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	deployRolling(t, st, 2)
	h := newHarness(t, render(t, rolling, "COUNT=4"), st, nil)
	for step, want := range map[string]plan.Status{"web-0:[server]": plan.Complete, "web-1:[server]": plan.Complete, "web-2:[server]": plan.Pending, "web-3:[server]": plan.Pending} {
		if got := h.stepStatus(plan.Deploy, step); got != want {
			t.Errorf("%s %s, want %s", step, got, want)
		}
	}
}

// TestPauseResume: a paused task is relaunched in place with the pause
// command and no checks, shows PAUSED; resumed, its own command and checks
// come back. A pause stored just before a crash is carried out after it.
func TestPauseResume(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 1)
	h := newHarness(t, render(t, rolling, "COUNT=1"), st, nil)
	h.reconciled(ids)
	ctx := context.Background()
	if _, err := h.s.PodPause(ctx, "web-0", []string{"nope"}, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown task: %v", err)
	}
	got, err := h.s.PodPause(ctx, "web-0", []string{"server"}, true)
	if err != nil || !slices.Equal(got, []string{"web-0-server"}) {
		t.Fatalf("pause: %v %v", got, err)
	}
	h.awaitCall(tKILL, killOf(ids["web-0-server"]))
	if got := storedLabel(t, h, "web-0-server", podinfo.LabelGoalOverrideTarget); got != podinfo.GoalOverridePaused {
		t.Errorf("stored override %q (not stored before the kill)", got)
	}
	if ps, _ := h.s.PodStatus("web-0"); ps.Tasks[0].Status != "PAUSING" {
		t.Errorf("status %+v", ps)
	}
	h.update(ids["web-0-server"], "a0", mesos.TASK_KILLED)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("p1", "a0", "ha0")))
	ti := launched(h.master.Expect(t, tACCEPT)[0])[0]
	if ti.GetCommand().GetValue() != podinfo.DefaultPauseCommand || ti.HealthCheck != nil || ti.Check != nil || ti.AgentID.Value != "a0" {
		t.Errorf("paused launch: %q %v %v on %s", ti.GetCommand().GetValue(), ti.HealthCheck, ti.Check, ti.AgentID.Value)
	}
	h.update(ti.TaskID.Value, "a0", mesos.TASK_RUNNING)
	h.eventually("PAUSED", func() bool { ps, _ := h.s.PodStatus("web-0"); return ps.Tasks[0].Status == "PAUSED" })
	paused := ti.TaskID.Value
	h.stop()

	// A resume stored, then a crash: the restart kills the paused task.
	h = newHarness(t, render(t, rolling, "COUNT=1"), st, nil)
	if d := h.stepStatus(plan.Deploy, "web-0:[server]"); d != plan.Complete {
		t.Errorf("a paused pod is not out of date: %s", d)
	}
	ti2 := withLabel(h.s.tasks["web-0-server"].info, podinfo.LabelGoalOverrideTarget, podinfo.GoalOverrideNone)
	b, _ := ti2.Marshal()
	st.PutTasks(map[string][]byte{"web-0-server": b})
	h = newHarness(t, render(t, rolling, "COUNT=1"), st, nil)
	if ps, _ := h.s.PodStatus("web-0"); ps.Tasks[0].Status != "STARTING" {
		t.Errorf("status after the crash %+v", ps)
	}
	h.reconciled(map[string]string{"web-0-server": paused, "side-0-t": ids["side-0-t"]})
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(paused))
	h.update(paused, "a0", mesos.TASK_KILLED)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("p2", "a0", "ha0")))
	ti = launched(h.master.Expect(t, tACCEPT)[0])[0]
	if ti.GetCommand().GetValue() != "exec sleep 600" || ti.Check == nil || labelOf(&ti, podinfo.LabelGoalOverride) != "" {
		t.Errorf("resumed launch: %q %v", ti.GetCommand().GetValue(), ti.Check)
	}
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a0", mesos.TASK_RUNNING, sdktest.Ready()))
	h.eventually("RUNNING", func() bool { ps, _ := h.s.PodStatus("web-0"); return ps.Tasks[0].Status == "RUNNING" })
}

// TestPlanCommandsSDK: forceComplete and restart of a phase or a step, and
// their no-ops (208), as the SDK's PlansQueries; restarting a step of a
// running pod relaunches it.
func TestPlanCommandsSDK(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 2)
	h := newHarness(t, render(t, rolling, "COUNT=3"), st, nil)
	h.reconciled(ids)
	ctx := context.Background()
	cmd := func(c, phase, step string) (bool, error) {
		return h.s.PlanCommand(ctx, plan.Deploy, c, phase, step, nil)
	}
	if changed, err := cmd(CmdForceComplete, "web", "web-0:[server]"); err != nil || changed {
		t.Errorf("force-completing a COMPLETE step: %v %v", changed, err)
	}
	if _, err := cmd(CmdRestart, "", "web-0:[server]"); !errors.Is(err, ErrBadCommand) || !strings.Contains(err.Error(), "Missing phase") {
		t.Errorf("a step without its phase: %v", err)
	}
	if _, err := cmd(CmdRestart, "web", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown step: %v", err)
	}
	if _, err := h.s.PlanCommand(ctx, plan.Deploy, CmdStart, "", "", map[string]string{"1BAD": "x"}); !errors.Is(err, ErrBadCommand) {
		t.Errorf("a bad parameter name: %v", err)
	}
	// web-2, new, waits for an offer: PENDING, restarting it is a no-op.
	if changed, err := cmd(CmdRestart, "web", "web-2:[server]"); err != nil || changed {
		t.Errorf("restarting a PENDING step: %v %v", changed, err)
	}
	// Restart a step by its ID: its running task is killed and relaunched
	// (before web-2: the phase is serial).
	if changed, err := cmd(CmdRestart, "deploy-0", "deploy-0-1"); err != nil || !changed {
		t.Fatalf("restart: %v %v", changed, err)
	}
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-1-server"]))
	if msg := h.stepMessage(plan.Deploy, "web-1:[server]"); !strings.HasPrefix(msg, "restarted: killing web-1-server") {
		t.Errorf("message %q", msg)
	}
	h.update(ids["web-1-server"], "a1", mesos.TASK_KILLED)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("o", "a1", "ha1")))
	if got := names(launched(h.master.Expect(t, tACCEPT)[0])); !slices.Equal(got, []string{"web-1-server"}) {
		t.Errorf("relaunched %v", got)
	}
	// Force-complete the phase: the step in flight is COMPLETE.
	if changed, err := cmd(CmdForceComplete, "web", ""); err != nil || !changed || h.s.PlanStatus(plan.Deploy) != plan.Complete {
		t.Errorf("force-complete the phase: %v %v %s", changed, err, h.s.PlanStatus(plan.Deploy))
	}
	if changed, _ := cmd(CmdForceComplete, "", ""); changed {
		t.Error("force-completing a COMPLETE plan changed something")
	}
}

// TestUpdatePlan: a spec's update plan is left out until a deployment has
// completed; then it is the deploy plan, and a new target rolls through
// it.
func TestUpdatePlan(t *testing.T) {
	yaml := fmt.Sprintf(oneTask, 1, "serial") + `  update:
    phases:
      roll: {pod: p, strategy: parallel}
`
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := newHarness(t, yaml, st, nil)
	if names := h.s.PlanNames(); !slices.Equal(names, []string{"deploy", "recovery"}) {
		t.Errorf("plans before a deployment %v", names)
	}
	if v, _ := h.s.PlanView(plan.Deploy); v.Phases[0].Name != "p" {
		t.Errorf("deploy %+v", v)
	}
	h.ready()
	h.master.Send(t, sdktest.Offers(h.offer("o1", "a1", "h1")))
	id := taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "p-0-t")
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING))
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.eventually("the deployment recorded", func() bool { v, _ := st.Property(propDeployed); return string(v) == "true" })
	h.stop()
	h = newHarness(t, yaml, st, nil)
	if v, _ := h.s.PlanView(plan.Deploy); len(v.Phases) != 1 || v.Phases[0].Name != "roll" || v.Phases[0].Strategy != "parallel" || v.Status != plan.Complete {
		t.Errorf("deploy after a deployment %+v", v)
	}
	h.stop()

	// A new target rolls through the update plan: its step of the
	// out-of-date pod goes back to PENDING and relaunches it.
	h = newHarness(t, yaml, st, func(c *Config) { c.Env = []string{"TASKCFG_ALL_LEVEL=debug"} })
	v, _ := h.s.PlanView(plan.Deploy)
	if len(v.Phases) != 1 || v.Phases[0].Name != "roll" || len(v.Phases[0].Steps) != 1 || v.Phases[0].Steps[0].Status != plan.Pending ||
		!strings.Contains(v.Phases[0].Steps[0].Message, "out of date (environment)") {
		t.Fatalf("the update plan after a target change %+v", v)
	}
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(id))
	h.update(id, "a1", mesos.TASK_KILLED)
	h.tick(time.Second)
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("o2", "a1", "h1")))
	ti := launched(h.awaitCall(tACCEPT, nil))[0]
	if envOf(&ti)["LEVEL"] != "debug" {
		t.Errorf("relaunched with %v", envOf(&ti))
	}
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	h.eventually("the update plan COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
}

// TestRollWaitingPodRecovers: a pod waiting its turn in a serial roll that
// fails is relaunched by the recovery plan on the configuration it ran, as
// the SDK's TaskUtils.getPodSpec does, not on the target: the target
// reaches it only when its turn comes, after the pods before it proved
// ready (a pod restart while a roll waits on a readiness check does not
// push the new configuration past it; helper-45's fault A).
func TestRollWaitingPodRecovers(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 3)
	h := newHarness(t, render(t, rolling, "GREETING=hola"), st, nil)
	h.reconciled(ids)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-0-server"]))
	// web-2 waits behind web-0; it fails.
	h.update(ids["web-2-server"], "a2", mesos.TASK_FAILED)
	h.eventually("a recovery step for web-2", func() bool { return h.stepStatus(plan.Recovery, "web-2:[server]") == plan.Pending })
	h.mark()
	h.tick(time.Second)
	h.master.Send(t, sdktest.Offers(h.offer("r", "a2", "ha2")))
	ti := launched(h.awaitCall(tACCEPT, nil))[0]
	if ti.Name != "web-2-server" || envOf(&ti)["GREETING"] != "hello" {
		t.Fatalf("recovered %s with GREETING=%q, want its own configuration's hello", ti.Name, envOf(&ti)["GREETING"])
	}
	if got := labelOf(&ti, podinfo.LabelTargetConfiguration); got == h.s.TargetID() || got == "" {
		t.Errorf("recovered web-2 labelled with configuration %q, the target's", got)
	}
	h.update(ti.TaskID.Value, "a2", mesos.TASK_RUNNING, sdktest.Ready())
	if ps, _ := h.s.PodStatus("web-2"); len(ps.Tasks[0].OutOfDate) == 0 {
		t.Errorf("web-2 not out of date after its recovery: %+v", ps)
	}
	ids["web-2-server"] = ti.TaskID.Value
	// The roll goes on in order: web-0, web-1, then web-2, each relaunched
	// on the target.
	for i, agent := range []string{"a0", "a1", "a2"} {
		name := fmt.Sprintf("web-%d-server", i)
		if i > 0 {
			h.tick(time.Second)
			h.awaitCall(tKILL, killOf(ids[name]))
		}
		h.update(ids[name], agent, mesos.TASK_KILLED)
		h.mark()
		h.tick(time.Second)
		h.master.Send(t, sdktest.Offers(h.offer("o"+agent, agent, "h"+agent)))
		nt := launched(h.awaitCall(tACCEPT, nil))[0]
		if nt.Name != name || envOf(&nt)["GREETING"] != "hola" {
			t.Errorf("the roll launched %s with GREETING=%q, want %s on hola", nt.Name, envOf(&nt)["GREETING"], name)
		}
		h.update(nt.TaskID.Value, agent, mesos.TASK_RUNNING, sdktest.Ready())
	}
	h.eventually("the roll COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
}

// TestUpdateDoesNotFitOnItsAgent: an update that does not fit on the pod's
// own agent, which offers, says what the evaluation there says (as GET
// /v1/debug/offers shows), not that it waits for the agent to offer, and
// not that it is placed anew: its reservation keeps it there, and the
// loop's ticks keep that message (helper-41's fault 6). It says what the
// operator can do: free resources there, or deploy a configuration that
// fits (the SDK's rollback), and that a replace places the pod anew on the
// target configuration, with no word of volumes it does not have.
func TestUpdateDoesNotFitOnItsAgent(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 1)
	big := strings.Replace(render(t, rolling, "COUNT=1"), "cpus: 0.1\n        memory: 32\n        kill-grace-period", "cpus: 8\n        memory: 32\n        kill-grace-period", 1)
	h := newHarness(t, big, st, nil)
	h.reconciled(ids)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-0-server"]))
	h.update(ids["web-0-server"], "a0", mesos.TASK_KILLED)
	h.eventually("PENDING", func() bool { return h.stepStatus(plan.Deploy, "web-0:[server]") == plan.Pending })
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("o1", "a0", "ha0")))
	h.awaitCall(tDECLINE, nil)
	check := func(when string) {
		t.Helper()
		msg := h.stepMessage(plan.Deploy, "web-0:[server]")
		for _, want := range []string{"agent a0 (ha0) offers, but its offer does not fit the target configuration: FAIL(", "cpus", "web-0 is relaunched there only, on its reservation",
			"free what it lacks on that agent, or restart scheduler-lite with a configuration that fits there (the previous one rolls the update back)",
			"POST /v1/pod/web-0/replace (scheduler-lite pod replace web-0) places it anew elsewhere now, on the target configuration"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message %q lacks %q", when, msg, want)
			}
		}
		if strings.Contains(msg, "to offer resources") || strings.Contains(msg, "volumes") {
			t.Errorf("%s: message %q", when, msg)
		}
	}
	check("after the offer")
	h.tick(time.Second)
	check("after a tick")
}

// TestUnknownPodListed: a stored task that neither its labels nor a
// configuration place in a pod is left alone, and the pod API lists it as
// the SDK's PodQueries do: GET /v1/pod as UNKNOWN_POD_<task>, after the
// known instances; GET /v1/pod/status as a task of instance UNKNOWN_POD-0
// of type UNKNOWN_POD, with its state when its status is stored (none
// otherwise); neither name has a status of its own.
func TestUnknownPodListed(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	deployRolling(t, st, 1)
	for _, name := range []string{"stray-b", "stray-a"} {
		ti := mesos.TaskInfo{Name: name, TaskID: mesos.TaskID{Value: name + "-id"}, AgentID: mesos.AgentID{Value: "a0"}}
		b, err := ti.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutTasks(map[string][]byte{name: b}); err != nil {
			t.Fatal(err)
		}
	}
	running := mesos.TaskStatus{TaskID: mesos.TaskID{Value: "stray-a-id"}, State: mesos.TASK_RUNNING.Enum()}
	b, err := running.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutStatus("stray-a", b); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, render(t, rolling, "COUNT=1"), st, nil)
	if got := h.s.Pods(); !slices.Equal(got, []string{"side-0", "web-0", "UNKNOWN_POD_stray-a", "UNKNOWN_POD_stray-b"}) {
		t.Errorf("pods %v", got)
	}
	all := h.s.PodStatuses()
	if n := len(all); n != 3 || all[2].Name != "UNKNOWN_POD" || len(all[2].Instances) != 1 {
		t.Fatalf("pod statuses %+v", all)
	}
	in := all[2].Instances[0]
	if in.Name != "UNKNOWN_POD-0" || len(in.Tasks) != 2 || in.Tasks[0].Name != "stray-a" || in.Tasks[0].Status != "RUNNING" ||
		in.Tasks[1].Name != "stray-b" || in.Tasks[1].Status != "" || in.Tasks[1].ID != "stray-b-id" {
		t.Errorf("unknown pod %+v", in)
	}
	for _, name := range []string{"UNKNOWN_POD-0", "UNKNOWN_POD_stray-a"} {
		if _, err := h.s.PodStatus(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("PodStatus(%s): %v", name, err)
		}
	}
}
