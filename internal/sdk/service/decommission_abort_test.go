package service

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestDecommissionAbortedAfterItsRelease: a scale-down aborted (the count
// raised again) after its unreserve step sent web-2's DESTROY and
// UNRESERVE. What was given up is not web-2's any more, as the SDK's
// UninstallRecorder prunes a resource from the TaskInfo once its UNRESERVE
// is recorded, and its cleaner (DefaultScheduler.getUnexpectedResources)
// releases what no kept task names: web-2 is relaunched on new
// reservations and a new volume, the old ones tracked under a key of
// their own until released. An UNRESERVE still in flight at the restart
// keeps its operation, and its OPERATION_FINISHED drops them; one that
// failed gave them up already, and the next offer of the agent releases
// them again, in the ACCEPT that relaunches web-2. A store written before
// items recorded the kind of their pending operation (OldStore) reads the
// UNRESERVE's by its ID.
func TestDecommissionAbortedAfterItsRelease(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   mesos.OperationState // of the UNRESERVE before the restart; 0: none
		oldStore bool                 // the reservations stored without their operations' kinds
	}{
		{"InFlight", 0, false},
		{"Failed", mesos.OPERATION_ERROR, false},
		{"InFlightOldStore", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			ids, web2 := deployedWeb2(t, st)
			old := mustUnmarshal(t, web2)

			h := newHarness(t, render(t, stateful, "COUNT=1", "DECOMMISSION=true"), st, nil)
			h.master.ManualOperations()
			scaleDownWeb2(t, h, ids)
			h.skip()
			h.mark()
			h.master.Send(t, sdktest.Offers(h.offer("r2", "a2", "ha2")))
			rel := h.awaitCall(tACCEPT, nil)
			if got := opTypes(rel); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
				t.Fatalf("release %v", got)
			}
			op := operation(rel, mesos.Offer_Operation_UNRESERVE).GetID().GetValue()
			if tc.status != 0 {
				h.master.Send(t, sdktest.OperationStatus(op, "a2", tc.status))
				h.eventually("the failed UNRESERVE's resources given up", func() bool { return storedReservation(t, h, "web-2") == nil })
			}
			h.skip()
			h.stop()
			if tc.oldStore {
				withoutOpKinds(t, st)
			}

			var logs syncBuffer
			h = newHarness(t, render(t, stateful, "COUNT=3", "DECOMMISSION=true"), st, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			h.master.ManualOperations()
			if names := h.s.PlanNames(); slices.Contains(names, plan.Decommission) {
				t.Errorf("plans %v: nothing is to be decommissioned at count 3", names)
			}
			if !strings.Contains(logs.String(), "new, empty volume") || !strings.Contains(logs.String(), "task=web-2-server") {
				t.Errorf("the log does not say web-2 gets a new, empty volume:\n%s", logs.String())
			}
			// Stored at start: web-2 holds nothing of what it gave up; a
			// released reservation of its own tracks it.
			all, err := st.Reservations()
			if err != nil {
				t.Fatal(err)
			}
			if all["web-2"] != nil {
				t.Errorf("web-2 still holds %s", reservation.Describe(itemResources(mustUnmarshal(t, all["web-2"]))))
			}
			var leftKey string
			for key, b := range all {
				if !strings.HasPrefix(key, "web-2@") {
					continue
				}
				leftKey = key
				left := mustUnmarshal(t, b)
				wantOp := op
				if tc.status != 0 {
					wantOp = ""
				}
				if !left.Releasing || len(left.Items) != len(old.Items) || slices.ContainsFunc(left.Items, func(it reservation.Item) bool { return it.Op != wantOp }) {
					t.Errorf("left behind %+v, want every item of web-2 releasing with operation %q", left, wantOp)
				}
			}
			if leftKey == "" {
				t.Fatalf("nothing of web-2 tracked: %v", slices.Sorted(maps.Keys(all)))
			}
			h.start()
			h.subscribe("fw-1")
			for name, id := range ids {
				state := mesos.TASK_RUNNING
				if name == "web-2-server" {
					state = mesos.TASK_KILLED
				}
				h.master.Send(t, sdktest.Status(id, "a"+name[4:5], state, sdktest.Reconciliation()))
			}
			if tc.status == 0 { // asked about after the subscription
				h.awaitCall(scheduler.Call_RECONCILE_OPERATIONS, func(c *scheduler.Call) bool {
					return slices.ContainsFunc(c.GetReconcileOperations().Operations, func(o scheduler.Call_ReconcileOperations_Operation) bool {
						return o.OperationID.Value == op
					})
				})
			}
			// Offers of a2 until web-2 is relaunched: every ACCEPT since is
			// looked at.
			h.mark()
			var accepts []*scheduler.Call
			deadline := time.Now().Add(sdktest.Wait)
			for i := 0; !slices.ContainsFunc(accepts, func(c *scheduler.Call) bool { return len(launched(c)) > 0 }); i++ {
				if time.Now().After(deadline) {
					t.Fatalf("web-2 never relaunched; recovery %s", h.s.PlanStatus(plan.Recovery))
				}
				h.tick(time.Minute)
				h.skip()
				offer := fmt.Sprint("b", i)
				h.master.Send(t, sdktest.Offers(h.offer(offer, "a2", "ha2")))
				if c := h.answer(offer); c != nil {
					accepts = append(accepts, c)
				}
			}
			accept := accepts[len(accepts)-1]
			oldIDs := map[string]bool{}
			for _, it := range old.Items {
				oldIDs[it.ID] = true
			}
			for _, ti := range launched(accept) {
				for _, r := range ti.Resources {
					if oldIDs[reservation.ResourceID(&r)] {
						t.Errorf("web-2 relaunched on %s, which it gave up", reservation.Describe([]mesos.Resource{r}))
					}
				}
			}
			if operation(accept, mesos.Offer_Operation_CREATE) == nil {
				t.Errorf("no new volume: %v", opTypes(accept))
			}
			var unreserved *mesos.Offer_Operation
			for _, c := range accepts {
				if u := operation(c, mesos.Offer_Operation_UNRESERVE); u != nil {
					unreserved = u
				}
			}
			if tc.status == 0 {
				if unreserved != nil {
					t.Errorf("released again while its UNRESERVE is in flight: %s", reservation.Describe(unreserved.GetUnreserve().Resources))
				}
				h.master.Send(t, sdktest.OperationStatus(op, "a2", mesos.OPERATION_FINISHED))
			} else {
				if unreserved == nil {
					t.Fatalf("what the failed UNRESERVE gave back is not released again: %v", opTypes(accept))
				}
				h.master.Send(t, sdktest.OperationStatus(unreserved.GetID().GetValue(), "a2", mesos.OPERATION_FINISHED))
			}
			h.eventually("what web-2 gave up dropped once unreserved", func() bool {
				all, err := st.Reservations()
				return err == nil && all[leftKey] == nil
			})
		})
	}
}
