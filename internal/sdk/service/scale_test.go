package service

import (
	"context"
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
