package service

import (
	"encoding/json"
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

// TestDecommissionAbortedWithItsReserveUnconfirmed: web-2 is launched
// (RESERVE, CREATE, LAUNCH_GROUP) and runs, but Mesos has not confirmed
// the operation yet when a scale-down to 1 begins: web-2 is killed and its
// unreserve step marks its reservation releasing, no offer of its agent
// comes. The scheduler restarts with count 3 again. The SDK keeps every
// resource ID web-2's TaskInfo names (DefaultScheduler.
// getUnexpectedResources: a task neither permanently failed nor
// DECOMMISSIONING keeps its resources; DecommissionPlanFactory.
// buildPlanInfo clears the DECOMMISSIONED override of a task no longer to
// decommission), so web-2 relaunches on its volume. keepAborted moves every
// item with an operation to a released reservation, taking the RESERVE's
// (and CREATE's) operation for an UNRESERVE in flight: web-2 keeps nothing,
// and its volume, data included, is DESTROYed once offered. When the
// RESERVE's OPERATION_FINISHED comes while the reservation is releasing
// (the answer to the restart's RECONCILE_OPERATIONS), operationStatus
// took it for the UNRESERVE's and dropped the items: at the abort web-2
// held nothing either, and the items, reserved in Mesos and tracked by
// no instance, were released (DESTROY) at the next offer of a2. Items now
// record the kind of their pending operation; a store written before they
// did (OldStore) is read with the kind the operation's ID says.
func TestDecommissionAbortedWithItsReserveUnconfirmed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		confirmed bool // the RESERVE's OPERATION_FINISHED comes during the scale-down
		oldStore  bool // the reservations stored without their operations' kinds
	}{
		{"Unconfirmed", false, false},
		{"ConfirmedWhileReleasing", true, false},
		{"UnconfirmedOldStore", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) { abortedWithReserve(t, tc.confirmed, tc.oldStore) })
	}
}

func abortedWithReserve(t *testing.T, confirmed, oldStore bool) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployStateful(t, st, 2)

	// web-2 launched, its operation not confirmed.
	h := newHarness(t, render(t, stateful, "COUNT=3"), st, nil)
	h.master.ManualOperations()
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	for name, id := range ids {
		h.master.Send(t, sdktest.Status(id, "a"+name[4:5], mesos.TASK_RUNNING, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("o2", "a2", "ha2")))
	c := h.master.Expect(t, tACCEPT)[0]
	ids["web-2-server"] = taskID(t, launched(c), "web-2-server")
	reserveOp := operation(c, mesos.Offer_Operation_RESERVE).GetID().GetValue()
	h.update(ids["web-2-server"], "a2", mesos.TASK_RUNNING)
	h.eventually("web-2 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "web-2:[server]") == plan.Complete })
	h.skip()
	h.stop()
	before := storedReservation(t, h, "web-2")
	if before == nil {
		t.Fatal("web-2 holds no reservation")
	}
	pid := ""
	for _, it := range before.Items {
		if v := it.Resource.GetDisk().GetPersistence().GetID(); v != "" {
			pid = v
		}
	}
	if pid == "" || before.Pending() == nil {
		t.Fatalf("web-2's reservation: volume %q, operations pending %v", pid, before.Pending())
	}

	// The scale-down begins: web-2 killed, its unreserve step started.
	h = newHarness(t, render(t, stateful, "COUNT=1", "DECOMMISSION=true"), st, nil)
	h.master.ManualOperations()
	h.start()
	h.subscribe("fw-1")
	for name, id := range ids {
		h.master.Send(t, sdktest.Status(id, "a"+name[4:5], mesos.TASK_RUNNING, sdktest.Reconciliation()))
	}
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-2-server"]))
	h.update(ids["web-2-server"], "a2", mesos.TASK_KILLED)
	h.eventually("unreserve-web-2 STARTED", func() bool {
		return h.stepStatus(plan.Decommission, "unreserve-web-2") == plan.Started
	})
	if confirmed {
		h.master.Send(t, sdktest.OperationStatus(reserveOp, "a2", mesos.OPERATION_FINISHED))
		h.eventually("the RESERVE's status handled", func() bool {
			r := storedReservation(t, h, "web-2")
			return r == nil || !slices.Contains(r.Pending(), reserveOp)
		})
	}
	h.skip()
	h.stop()
	if oldStore {
		withoutOpKinds(t, st)
	}

	// Aborted: count 3 again. web-2 must keep its volume.
	h = newHarness(t, render(t, stateful, "COUNT=3", "DECOMMISSION=true"), st, nil)
	all, err := st.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for key, b := range all {
		if !strings.HasPrefix(key, "web-2") {
			continue
		}
		r := mustUnmarshal(t, b)
		for _, it := range r.Items {
			if it.Resource.GetDisk().GetPersistence().GetID() != pid {
				continue
			}
			if key == "web-2" && !r.Releasing {
				kept = true
			} else {
				t.Errorf("web-2's volume %s is under %s (releasing %v): it will be DESTROYed (%s)", pid, key, r.Releasing, reservation.Describe(itemResources(r)))
			}
		}
	}
	if !kept {
		t.Errorf("web-2 does not keep its volume %s", pid)
	}
	if confirmed {
		return
	}
	// Still unconfirmed: asked about after the subscription, and its
	// OPERATION_FINISHED confirms web-2's items.
	if r := storedReservation(t, h, "web-2"); r == nil || !slices.Contains(r.Pending(), reserveOp) {
		t.Fatalf("web-2's RESERVE %s not pending after the abort", reserveOp)
	}
	h.master.ManualOperations()
	h.start()
	h.subscribe("fw-1")
	h.awaitCall(scheduler.Call_RECONCILE_OPERATIONS, func(c *scheduler.Call) bool {
		return slices.ContainsFunc(c.GetReconcileOperations().Operations, func(o scheduler.Call_ReconcileOperations_Operation) bool {
			return o.OperationID.Value == reserveOp
		})
	})
	h.master.Send(t, sdktest.OperationStatus(reserveOp, "a2", mesos.OPERATION_FINISHED))
	h.eventually("web-2's RESERVE confirmed, its items kept", func() bool {
		r := storedReservation(t, h, "web-2")
		return r != nil && !r.Releasing && len(r.Pending()) == 0 && len(r.Items) == len(before.Items)
	})
}

// withoutOpKinds rewrites every stored reservation as a scheduler wrote it
// before items recorded the kind of their pending operation: without
// "op_kind".
func withoutOpKinds(t *testing.T, st *countingStore) {
	t.Helper()
	dropStoredItemField(t, st, "op_kind")
}

// dropStoredItemField rewrites every stored reservation without field in
// its items, as a scheduler that did not know the field wrote it.
func dropStoredItemField(t *testing.T, st *countingStore, field string) {
	t.Helper()
	all, err := st.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string][]byte{}
	for key, b := range all {
		var rec map[string]any
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		items, _ := rec["items"].([]any)
		for _, it := range items {
			delete(it.(map[string]any), field)
		}
		if kv[key], err = json.Marshal(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutReservations(kv); err != nil {
		t.Fatal(err)
	}
}
