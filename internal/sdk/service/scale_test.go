package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// decommissionTo restarts the scheduler of rolling (deployed with the
// tasks ids) with count web pods and allow-decommission, runs the
// decommission plan to its end and stops. It returns the ids of the tasks
// left. With rel, rel releases what the instances held, else the
// scheduler's own release step.
func decommissionTo(t *testing.T, st *countingStore, ids map[string]string, count int, rel Releaser) map[string]string {
	t.Helper()
	h := newHarness(t, render(t, rolling, fmt.Sprint("COUNT=", count), "DECOMMISSION=true"), st, func(c *Config) { c.Release = rel })
	h.reconciled(ids)
	left := map[string]string{}
	for name, id := range ids {
		left[name] = id
	}
	for i := 2; i >= count; i-- {
		name := fmt.Sprintf("web-%d-server", i)
		h.tick(time.Second)
		h.awaitCall(tKILL, killOf(ids[name]))
		h.master.Send(t, sdktest.Status(ids[name], fmt.Sprint("a", i), mesos.TASK_KILLED))
		h.eventually("unreserve-web-"+fmt.Sprint(i), func() bool {
			return h.stepStatus(plan.Decommission, fmt.Sprint("unreserve-web-", i)) == plan.Started
		})
		h.skip()
		h.master.Send(t, sdktest.Offers(h.offer(fmt.Sprint("r", i), fmt.Sprint("a", i), "h")))
		h.eventually(name+" erased", func() bool {
			tasks, _ := h.store.Tasks()
			_, ok := tasks[name]
			return !ok
		})
		delete(left, name)
	}
	h.eventually("decommission COMPLETE", func() bool { return h.s.PlanStatus(plan.Decommission) == plan.Complete })
	h.skip()
	rs, err := h.store.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	for key := range rs {
		for i := count; i < 3; i++ {
			if inst := fmt.Sprint("web-", i); key == inst || strings.HasPrefix(key, inst+"@") {
				t.Errorf("reservation %s is still stored after the decommission", key)
			}
		}
	}
	h.stop()
	return left
}

// TestScaleDownThenUp: pod instances decommissioned, then added back by a
// higher count, are launched again. Their deploy steps were COMPLETE when
// the count went down; their tasks are erased from the store, so the
// steps are PENDING (the SDK's DefaultStepFactory.getStep: no stored
// TaskInfo, PENDING), the service is not healthy until they run, and a pod
// restart or replace of an instance with no task is refused as the SDK's
// PodQueries refuses it (404). The instances kept stay COMPLETE. No
// reservation the decommission released is left in the store, whoever
// released it (the scheduler's own release step, a Releaser): the
// instances added back reserve anew.
func TestScaleDownThenUp(t *testing.T) {
	for _, tc := range []struct {
		down, up int
		rel      Releaser
	}{{2, 3, nil}, {1, 3, nil}, {0, 2, nil}, {1, 3, &fakeReleaser{}}} {
		name := fmt.Sprintf("3to%dto%d", tc.down, tc.up)
		if tc.rel != nil {
			name += "Releaser"
		}
		t.Run(name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			ids := decommissionTo(t, st, deployRolling(t, st, 3), tc.down, tc.rel)

			h := newHarness(t, render(t, rolling, fmt.Sprint("COUNT=", tc.up), "DECOMMISSION=true"), st, nil)
			if names := h.s.PlanNames(); strings.Join(names, ",") != "deploy,recovery" {
				t.Errorf("plans %v: nothing is left to decommission", names)
			}
			for i := 0; i < tc.up; i++ {
				want := plan.Complete
				if i >= tc.down {
					want = plan.Pending
				}
				if got := h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)); got != want {
					t.Errorf("web-%d:[server] %s, want %s", i, got, want)
				}
			}
			h.reconciled(ids)
			if code, _ := h.s.Health(); code == http.StatusOK {
				t.Errorf("health %d while web-%d..%d have no task", code, tc.down, tc.up-1)
			}
			for _, replace := range []bool{false, true} {
				if _, err := h.s.PodRestart(context.Background(), fmt.Sprint("web-", tc.down), replace); !errors.Is(err, ErrNotFound) {
					t.Errorf("pod restart (replace %v) of web-%d with no task: %v, want not found", replace, tc.down, err)
				}
			}
			for i := tc.down; i < tc.up; i++ {
				name := fmt.Sprintf("web-%d-server", i)
				h.tick(time.Second)
				h.skip()
				agent := fmt.Sprint("a", i)
				h.master.Send(t, sdktest.Offers(sdktest.Offer(fmt.Sprint("n", i), agent, "h"+agent, onePod()...)))
				id := taskID(t, launched(h.awaitCall(tACCEPT, nil)), name)
				h.mark()
				h.master.Send(t, sdktest.Status(id, agent, mesos.TASK_RUNNING, sdktest.Ready()))
				h.eventually(name+" COMPLETE", func() bool {
					return h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)) == plan.Complete
				})
			}
			h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
			if code, _ := h.s.Health(); code != http.StatusOK {
				t.Errorf("health %d once every pod runs", code)
			}
		})
	}
}

// TestDecommissionDropsStaleProgress: the deploy plan's stored progress
// holds no step of the instances a lower count decommissions once the
// scheduler has restarted on that count, even if it crashes before the
// decommission plan ran (the plan is built anew at every start: the steps
// it no longer has are stale, as the SDK keeps no progress of its own for
// them), nor after the decommission completed; the instances kept keep
// their COMPLETE, and a higher count afterwards still launches the erased
// ones anew.
func TestDecommissionDropsStaleProgress(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 3)
	steps := func(when string) map[string]plan.Status {
		t.Helper()
		b, err := st.Plans()
		if err != nil {
			t.Fatal(err)
		}
		var pr plan.Progress
		if err := json.Unmarshal(b[plan.Deploy], &pr); err != nil {
			t.Fatalf("%s: stored progress %s: %v", when, b[plan.Deploy], err)
		}
		out := map[string]plan.Status{}
		for _, ph := range pr.Phases {
			for name, s := range ph.Steps {
				out[name] = s
			}
		}
		return out
	}
	if got := steps("deployed"); got["web-2:[server]"] != plan.Complete || got["web-1:[server]"] != plan.Complete {
		t.Fatalf("deployed: stored steps %v", got)
	}
	check := func(when string) {
		t.Helper()
		got := steps(when)
		for _, gone := range []string{"web-1:[server]", "web-2:[server]"} {
			if s, ok := got[gone]; ok {
				t.Errorf("%s: the stored progress still holds %s (%s)", when, gone, s)
			}
		}
		if got["web-0:[server]"] != plan.Complete {
			t.Errorf("%s: web-0:[server] %q, want COMPLETE kept", when, got["web-0:[server]"])
		}
	}
	// Restarted on count 1, and crashed before the decommission did a
	// thing: its tasks are still stored, its steps not.
	h := newHarness(t, render(t, rolling, "COUNT=1", "DECOMMISSION=true"), st, nil)
	if h.s.decommission == nil {
		t.Fatal("no decommission plan")
	}
	h.stop()
	if tasks, _ := st.Tasks(); len(tasks) != len(ids) {
		t.Fatalf("stored tasks %d, want the %d deployed", len(tasks), len(ids))
	}
	check("restarted on count 1, crashed")
	// Restarted again: the decommission runs to its end.
	left := decommissionTo(t, st, ids, 1, nil)
	check("decommissioned")
	// Count 3 again: the erased instances launch anew, web-0 stays.
	h = newHarness(t, render(t, rolling, "COUNT=3", "DECOMMISSION=true"), st, nil)
	for i, want := range []plan.Status{plan.Complete, plan.Pending, plan.Pending} {
		if got := h.stepStatus(plan.Deploy, fmt.Sprintf("web-%d:[server]", i)); got != want {
			t.Errorf("count 3 again: web-%d:[server] %s, want %s", i, got, want)
		}
	}
	h.reconciled(left)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("n1", "a1", "ha1", onePod()...)))
	if got := names(launched(h.awaitCall(tACCEPT, nil))); len(got) != 1 || got[0] != "web-1-server" {
		t.Errorf("count 3 again launched %v, want web-1-server", got)
	}
}
