package service

import (
	"fmt"
	"slices"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestRemovedTaskWithItsReserveUnconfirmed: withSidecar's pod is launched
// (RESERVE, CREATE, LAUNCH_GROUP) and the scheduler stops before Mesos
// confirms the operation; it restarts without the sidecar, whose
// unreserve step gives up what it held before the answer to the
// restart's RECONCILE_OPERATIONS comes. scheduler-lite tracks every
// RESERVE until Mesos answers (operationStatus: one that failed, or that
// the master does not know, never existed, and its items are dropped;
// keepAborted keeps a released instance's unconfirmed items pending),
// which the SDK does not: it waits for offers of a TaskInfo's resource
// IDs whatever became of them. leftLocked cleared the pending RESERVE of
// the items the sidecar gave up and recorded them intact (nothing sent),
// so that:
//   - StaysRemoved: the RESERVE failed (OPERATION_ERROR). The sidecar's
//     items, no longer pending, were never dropped: nothing offers them,
//     the released record stayed forever and the unreserve step never
//     COMPLETEd.
//   - AddedBackReserveFailed: the sidecar added back; keepAddedBack took
//     those items back as confirmed, the RESERVE failed, and the pod
//     waited forever for an offer of resources that were never reserved
//     (before keepAddedBack it relaunched on a new reservation).
//   - StaysRemovedReserveFinished: the RESERVE was made; the items are
//     released at the next offer of a1 and the unreserve step COMPLETEs.
//   - AddedBackReserveFinished: the RESERVE was made; the sidecar
//     relaunches on its own volume either way.
func TestRemovedTaskWithItsReserveUnconfirmed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		addedBack bool
		answer    mesos.OperationState
	}{
		{"StaysRemoved", false, mesos.OPERATION_ERROR},
		{"StaysRemovedReserveFinished", false, mesos.OPERATION_FINISHED},
		{"AddedBackReserveFailed", true, mesos.OPERATION_ERROR},
		{"AddedBackReserveFinished", true, mesos.OPERATION_FINISHED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			made := tc.answer == mesos.OPERATION_FINISHED // the tasks ran

			// Launched, the RESERVE not confirmed; a crash.
			h := newHarness(t, withSidecar, st, nil)
			h.master.ManualOperations()
			h.ready()
			h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
			first := h.master.Expect(t, tACCEPT)[0]
			reserveOp := operation(first, mesos.Offer_Operation_RESERVE).GetID().GetValue()
			tis := launched(first)
			node, side := taskInfo(t, tis, "p-0-node"), taskInfo(t, tis, "p-0-sidecar")
			sideVolume := volumesOf(first)["p-0-sidecar"]
			if reserveOp == "" || sideVolume == "" {
				t.Fatalf("no RESERVE (%q) or sidecar volume (%q): %v", reserveOp, sideVolume, opTypes(first))
			}
			if made {
				for _, ti := range tis {
					h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING, sdktest.Ready()))
				}
			}
			h.skip()
			h.stop()
			state := func(ti mesos.TaskInfo) mesos.TaskState {
				if made {
					return mesos.TASK_RUNNING
				}
				return mesos.TASK_LOST // never launched: the master does not know it
			}

			// The sidecar removed; its unreserve step starts before the
			// RESERVE's answer comes.
			h = newHarness(t, nodeOnly, st, nil)
			h.master.ManualOperations()
			h.start()
			h.mark()
			h.subscribe("fw-1")
			h.awaitCall(tRECONCILE, nil)
			ops := h.awaitCall(scheduler.Call_RECONCILE_OPERATIONS, nil)
			if !slices.ContainsFunc(ops.GetReconcileOperations().Operations, func(o scheduler.Call_ReconcileOperations_Operation) bool { return o.OperationID.Value == reserveOp }) {
				t.Fatalf("RECONCILE_OPERATIONS %v does not ask about the RESERVE %s", ops.GetReconcileOperations().Operations, reserveOp)
			}
			for _, ti := range []mesos.TaskInfo{node, side} {
				h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", state(ti), sdktest.Reconciliation()))
			}
			h.tick(time.Second)
			if made {
				h.awaitCall(tKILL, killOf(side.TaskID.Value))
				h.update(side.TaskID.Value, "a1", mesos.TASK_KILLED)
			}
			h.eventually("unreserve-p-0 STARTED", func() bool { return h.stepStatus(plan.Decommission, "unreserve-p-0") == plan.Started })
			if !tc.addedBack {
				h.master.Send(t, sdktest.OperationStatus(reserveOp, "a1", tc.answer))
				if made { // then released as offered
					h.eventually("the RESERVE's answer handled", func() bool {
						return !slices.ContainsFunc(h.s.Reservations(), func(v PodReservationView) bool {
							return slices.ContainsFunc(v.Resources, func(r ReservationView) bool { return r.Operation == reserveOp })
						})
					})
					h.skip()
					h.mark()
					h.master.Send(t, sdktest.Offers(h.offer("r1", "a1", "h1")))
					rel := h.awaitCall(tACCEPT, nil)
					if got, want := resourceIDs(operation(rel, mesos.Offer_Operation_UNRESERVE).GetUnreserve().GetResources()), resourceIDs(side.Resources); !slices.Equal(got, want) {
						t.Fatalf("released %v (%v), want the sidecar's %v", got, opTypes(rel), want)
					}
					h.master.Send(t, sdktest.OperationStatus(operation(rel, mesos.Offer_Operation_UNRESERVE).GetID().GetValue(), "a1", mesos.OPERATION_FINISHED))
				}
				deadline := time.Now().Add(sdktest.Wait)
				for h.s.PlanStatus(plan.Decommission) != plan.Complete {
					if time.Now().After(deadline) {
						t.Fatalf("the decommission never completed after the RESERVE's %s: unreserve-p-0 %s (%s); reservations %+v",
							tc.answer, h.stepStatus(plan.Decommission, "unreserve-p-0"), h.stepMessage(plan.Decommission, "unreserve-p-0"), h.s.Reservations())
					}
					h.tick(time.Second)
				}
				for _, v := range h.s.Reservations() {
					if v.Releasing {
						t.Errorf("still tracked as released after the RESERVE's %s: %+v", tc.answer, v)
					}
				}
				return
			}
			h.skip()
			h.stop()

			// The sidecar added back; the RESERVE's answer comes now.
			h = newHarness(t, withSidecar, st, nil)
			h.master.ManualOperations()
			h.start()
			h.mark()
			h.subscribe("fw-1")
			h.awaitCall(tRECONCILE, nil)
			h.awaitCall(scheduler.Call_RECONCILE_OPERATIONS, nil)
			h.master.Send(t, sdktest.Status(node.TaskID.Value, "a1", state(node), sdktest.Reconciliation()))
			h.master.Send(t, sdktest.Status(side.TaskID.Value, "a1", mesos.TASK_LOST, sdktest.Reconciliation()))
			h.master.Send(t, sdktest.OperationStatus(reserveOp, "a1", tc.answer))
			h.eventually("the RESERVE's answer handled", func() bool {
				return !slices.ContainsFunc(h.s.Reservations(), func(v PodReservationView) bool {
					return slices.ContainsFunc(v.Resources, func(r ReservationView) bool { return r.Operation == reserveOp })
				})
			})
			// Offers of a1 with what exists there: the reservation when
			// the RESERVE was made, else nothing of it.
			offer := func(id string) mesos.Offer {
				if made {
					return h.offer(id, "a1", "h1")
				}
				return sdktest.Offer(id, "a1", "h1")
			}
			accepts := h.offerUntilSidecarRelaunches(node.TaskID.Value, launchGroup(first).Executor.ExecutorID.Value, made, offer, func() string {
				return fmt.Sprintf("recovery %s (%s), deploy %s (%s); reservations %+v", h.s.PlanStatus(plan.Recovery),
					h.stepMessage(plan.Recovery, "p-0:[node,sidecar]"), h.s.PlanStatus(plan.Deploy), h.stepMessage(plan.Deploy, "p-0:[node,sidecar]"), h.s.Reservations())
			})
			relaunch := accepts[len(accepts)-1]
			got := volumesOf(relaunch)["p-0-sidecar"]
			if made && got != sideVolume {
				t.Errorf("the sidecar relaunched on volume %q, want its own %q (its RESERVE was made)", got, sideVolume)
			}
			if !made && (got == "" || got == sideVolume || operation(relaunch, mesos.Offer_Operation_CREATE) == nil) {
				t.Errorf("the sidecar relaunched on volume %q (%v): want a new one, its RESERVE failed", got, opTypes(relaunch))
			}
		})
	}
}

// TestRemovedAgainKeepsTrackingWhatWasSent: the sidecar is removed (what
// it held leaves for a released record, keyed by its first item's
// resource ID, leftLocked), an offer holding only its volume has the
// volume DESTROYed and UNRESERVEd, the sidecar is added back (it takes
// back its cpus and mem, still intact, keepAddedBack; the volume's
// UNRESERVE is still in flight) and relaunched on a new volume, and then
// removed again. The scheduler tracks a released resource until its
// UNRESERVE finished (and releases it again if that failed): the SDK
// records each release in its state store before sending it
// (UninstallRecorder) and cleans up whatever it has not seen released
// (ResourceCleaner). The second removal's record took the first one's key
// (the sidecar's cpus, back in the instance's reservation) and overwrote
// it, and the old volume, its UNRESERVE pending, was no longer tracked
// (gone from GET /v1/debug/reservations, its UNRESERVE's outcome
// unseen; if it failed, released again only as a resource nobody holds,
// when offered). Released records now take a key no reservation uses
// (releasedKeyLocked).
func TestRemovedAgainKeepsTrackingWhatWasSent(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	rm := removeSidecar(t, st, removedKilled)
	oldVolume := ""
	for _, r := range rm.side.Resources {
		if r.IsPersistentVolume() {
			oldVolume = reservation.ResourceID(&r)
		}
	}

	// The sidecar still removed: an offer holding only its volume.
	h := newHarness(t, nodeOnly, st, nil)
	h.master.ManualOperations()
	h.reconciledAs(map[string]mesos.TaskState{rm.node.TaskID.Value: mesos.TASK_RUNNING, rm.side.TaskID.Value: mesos.TASK_KILLED})
	h.skip()
	h.mark()
	var volume []mesos.Resource
	h.s.mu.RLock()
	for _, r := range h.s.reservations {
		if it := r.ByID(oldVolume); it != nil && r.Releasing {
			volume = append(volume, it.Resource)
		}
	}
	h.s.mu.RUnlock()
	if len(volume) != 1 {
		t.Fatalf("the sidecar's volume %s is not being released: %+v", oldVolume, h.s.Reservations())
	}
	h.master.Send(t, sdktest.Offers(sdktest.Offer("v1", "a1", "h1", sdktest.Resources(volume...))))
	rel := h.awaitCall(tACCEPT, nil)
	if got := resourceIDs(operation(rel, mesos.Offer_Operation_UNRESERVE).GetUnreserve().GetResources()); !slices.Equal(got, []string{oldVolume}) {
		t.Fatalf("released %v (%v), want the volume %s", got, opTypes(rel), oldVolume)
	}
	h.skip()
	h.stop()

	// Added back: its cpus and mem come back, it relaunches on a new
	// volume.
	h = newHarness(t, withSidecar, st, nil)
	h.master.ManualOperations()
	h.reconciledAs(map[string]mesos.TaskState{rm.node.TaskID.Value: mesos.TASK_RUNNING, rm.side.TaskID.Value: mesos.TASK_KILLED})
	h.mark()
	nodeRuns := true
	var relaunch *scheduler.Call
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; relaunch == nil; i++ {
		if time.Now().After(deadline) || i > 40 {
			t.Fatalf("the sidecar never relaunched: deploy %s (%s)", h.s.PlanStatus(plan.Deploy), h.stepMessage(plan.Deploy, "p-0:[node,sidecar]"))
		}
		h.tick(time.Minute)
		h.skip()
		if nodeRuns && slices.ContainsFunc(h.master.Calls()[h.since:], killOf(rm.node.TaskID.Value)) {
			h.update(rm.node.TaskID.Value, "a1", mesos.TASK_KILLED)
			nodeRuns = false
			h.skip()
		}
		offer := fmt.Sprint("b", i)
		o := h.offer(offer, "a1", "h1")
		if nodeRuns {
			sdktest.Executors(launchGroup(rm.first).Executor.ExecutorID.Value)(&o)
		}
		h.master.Send(t, sdktest.Offers(o))
		if c := h.answer(offer); c != nil && slices.Contains(names(launched(c)), "p-0-sidecar") {
			relaunch = c
		}
	}
	side := taskInfo(t, launched(relaunch), "p-0-sidecar")
	h.master.Send(t, sdktest.OperationStatus(operation(relaunch, mesos.Offer_Operation_RESERVE).GetID().GetValue(), "a1", mesos.OPERATION_FINISHED))
	h.confirmedBut(oldVolume)
	for _, ti := range launched(relaunch) {
		h.update(ti.TaskID.Value, "a1", mesos.TASK_RUNNING, sdktest.Ready())
	}
	h.skip()
	h.stop()
	node := taskInfo(t, launched(relaunch), "p-0-node").TaskID.Value

	// Removed again: the old volume stays tracked until its UNRESERVE
	// finishes.
	h = newHarness(t, nodeOnly, st, nil)
	h.master.ManualOperations()
	h.reconciledAs(map[string]mesos.TaskState{node: mesos.TASK_RUNNING, side.TaskID.Value: mesos.TASK_RUNNING})
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(side.TaskID.Value))
	h.update(side.TaskID.Value, "a1", mesos.TASK_KILLED)
	h.eventually("unreserve-p-0 STARTED", func() bool { return h.stepStatus(plan.Decommission, "unreserve-p-0") == plan.Started })
	tracked := false
	for _, v := range h.s.Reservations() {
		for _, r := range v.Resources {
			tracked = tracked || r.ResourceID == oldVolume && r.OperationKind == "UNRESERVE"
		}
	}
	if !tracked {
		t.Errorf("the old volume %s, its UNRESERVE in flight, is no longer tracked: %+v", oldVolume, h.s.Reservations())
	}
}

// confirmedBut waits until no reservation waits for its RESERVE's
// confirmation, and no operation is pending but on resource ID id.
func (h *harness) confirmedBut(id string) {
	h.t.Helper()
	h.eventually("reservations confirmed", func() bool {
		for _, r := range h.s.Reservations() {
			for _, res := range r.Resources {
				if res.Operation != "" && res.ResourceID != id {
					return false
				}
			}
		}
		return true
	})
}

// reconciledAs starts h, subscribes it and answers its reconciliation:
// each task ID in the state given (ready when running), on a1; it returns
// once the implicit round is asked for.
func (h *harness) reconciledAs(states map[string]mesos.TaskState) {
	h.t.Helper()
	h.start()
	h.mark()
	h.subscribe("fw-1")
	h.awaitCall(tRECONCILE, nil)
	for id, state := range states {
		h.master.Send(h.t, sdktest.Status(id, "a1", state, sdktest.Reconciliation(), sdktest.Ready()))
	}
	h.eventually("the implicit reconciliation", func() bool {
		n := 0
		for _, c := range h.master.Calls()[h.since:] {
			if c.Type == tRECONCILE {
				n++
			}
		}
		return n >= 2
	})
}
