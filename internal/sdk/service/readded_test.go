package service

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// Stages a task's removal reaches before the operator adds it back.
const (
	removedKilling  = iota // its KILL sent, its end not seen yet
	removedKilled          // TASK_KILLED, the unreserve step STARTED, no offer of its agent yet
	removedSent            // its DESTROY and UNRESERVE sent, not confirmed yet
	removedFailed          // its UNRESERVE failed (OPERATION_ERROR)
	removedFinished        // its UNRESERVE finished, its TaskInfo erased
)

// TestRemovedTaskAddedBack: a task with a persistent volume removed from
// a pod the target keeps (the sidecar of withSidecar) and added back by
// the next configuration, the scheduler restarted at each (a crash at
// that moment reads the same store). The SDK keeps every resource ID a
// stored TaskInfo of a task it does not decommission names
// (scheduler/DefaultScheduler.java, getUnexpectedResources) and prunes a
// resource from the TaskInfos only when it records its release, before
// the DESTROY and UNRESERVE are sent (uninstall/UninstallRecorder.java,
// recordDecommission, recordCleanupOrUninstall): a task added back before
// its release was sent is relaunched on its own reservation and volume
// (the same persistence ID, its data); once the release was sent (whatever
// became of it: a failed UNRESERVE may follow an applied DESTROY) it is
// gone, and the task is relaunched on a new reservation and a new, empty
// volume, which the log says (also when its UNRESERVE finished and a crash
// came before its TaskInfo was erased; once erased, it is a new task).
// OldStore rows read a store written before
// released items recorded that their release was never sent: such an item
// is taken as given up.
func TestRemovedTaskAddedBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stage    int
		oldStore bool
		kept     bool // relaunched on its own reservation and volume
		// notErased puts its TaskInfo back after the stop: a crash
		// between the UNRESERVE's OPERATION_FINISHED and the erase step.
		notErased bool
	}{
		{"KillInFlight", removedKilling, false, true, false},
		{"Killed", removedKilled, false, true, false},
		{"ReleaseSent", removedSent, false, false, false},
		{"ReleaseFailed", removedFailed, false, false, false},
		{"ReleaseFinished", removedFinished, false, false, false},
		{"ReleaseFinishedNotErased", removedFinished, false, false, true},
		{"KilledOldStore", removedKilled, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			rm := removeSidecar(t, st, tc.stage)
			first, node, side, sideIDs, sideVolume := rm.first, rm.node, rm.side, rm.sideIDs, rm.sideVolume
			if tc.oldStore {
				withoutIntact(t, st)
			}
			if tc.notErased {
				b, err := side.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if err := st.PutTasks(map[string][]byte{side.Name: b}); err != nil {
					t.Fatal(err)
				}
			}

			// The sidecar added back.
			var logs syncBuffer
			h := newHarness(t, withSidecar, st, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			})
			h.master.ManualOperations()
			if names := h.s.PlanNames(); slices.Contains(names, plan.Decommission) {
				t.Errorf("plans %v: nothing is to be decommissioned", names)
			}
			h.start()
			h.mark()
			h.subscribe("fw-1")
			reconciles := func(n int) func() bool { // RECONCILE calls since the mark
				return func() bool {
					return len(slices.DeleteFunc(slices.Clone(h.master.Calls()[h.since:]), func(c *scheduler.Call) bool { return c.Type != tRECONCILE })) >= n
				}
			}
			h.eventually("the reconciliation", reconciles(1))
			h.master.Send(t, sdktest.Status(node.TaskID.Value, "a1", mesos.TASK_RUNNING, sdktest.Reconciliation(), sdktest.Ready()))
			sideState := mesos.TASK_KILLED
			if tc.stage == removedKilling {
				sideState = mesos.TASK_RUNNING // the KILL's end comes later
			}
			h.master.Send(t, sdktest.Status(side.TaskID.Value, "a1", sideState, sdktest.Reconciliation(), sdktest.Ready()))
			h.eventually("the implicit reconciliation", reconciles(2))
			if tc.stage == removedKilling {
				h.update(side.TaskID.Value, "a1", mesos.TASK_KILLED)
			}
			// Offers of a1 until the sidecar is relaunched (node is killed
			// for it when the pod relaunches whole, as an added task does):
			// every ACCEPT since is looked at.
			h.mark()
			accepts := h.offerUntilSidecarRelaunches(node.TaskID.Value, launchGroup(first).Executor.ExecutorID.Value, true,
				func(id string) mesos.Offer { return h.offer(id, "a1", "h1") },
				func() string {
					v, _ := h.s.PlanView(plan.Deploy)
					return fmt.Sprintf("recovery %s (%s), deploy %+v", h.s.PlanStatus(plan.Recovery), h.stepMessage(plan.Recovery, "p-0:[sidecar]"), v)
				})
			relaunch := accepts[len(accepts)-1]
			again := taskInfo(t, launched(relaunch), "p-0-sidecar")
			gotIDs, gotVolume := resourceIDs(again.Resources), volumesOf(relaunch)["p-0-sidecar"]
			var released []string
			for _, c := range accepts {
				released = append(released, resourceIDs(operation(c, mesos.Offer_Operation_UNRESERVE).GetUnreserve().GetResources())...)
				released = append(released, resourceIDs(operation(c, mesos.Offer_Operation_DESTROY).GetDestroy().GetVolumes())...)
			}
			if tc.kept {
				if gotVolume != sideVolume || !slices.Equal(gotIDs, sideIDs) {
					t.Errorf("the sidecar relaunched on volume %q, resources %v; want its own %q, %v", gotVolume, gotIDs, sideVolume, sideIDs)
				}
				if i := slices.IndexFunc(released, func(id string) bool { return slices.Contains(sideIDs, id) }); i >= 0 {
					t.Errorf("the sidecar's %s was released after it was added back", released[i])
				}
				for _, v := range h.s.Reservations() {
					if v.Instance == "p-0" && v.Releasing {
						t.Errorf("still releasing what the sidecar holds: %+v", v)
					}
				}
				return
			}
			if gotVolume == "" || gotVolume == sideVolume || slices.ContainsFunc(gotIDs, func(id string) bool { return slices.Contains(sideIDs, id) }) {
				t.Errorf("the sidecar relaunched on volume %q, resources %v: want a new volume and reservation (its old ones %q, %v are given up)", gotVolume, gotIDs, sideVolume, sideIDs)
			}
			if operation(relaunch, mesos.Offer_Operation_CREATE) == nil {
				t.Errorf("no new volume: %v", opTypes(relaunch))
			}
			if tc.stage == removedSent && len(released) > 0 {
				t.Errorf("released again while its UNRESERVE is in flight: %v", released)
			}
			// Erased, it is a new task: nothing of it was known.
			if logged := tc.stage != removedFinished || tc.notErased; logged && (!strings.Contains(logs.String(), "new, empty volume") || !strings.Contains(logs.String(), "task=p-0-sidecar")) {
				t.Errorf("the log does not say the added-back task gets a new, empty volume:\n%s", logs.String())
			}
		})
	}
}

// sidecarRemoval is withSidecar's pod deployed, then its sidecar removed
// (removeSidecar): the pod's first ACCEPT, its tasks, the sidecar's
// resource IDs and volume.
type sidecarRemoval struct {
	first      *scheduler.Call
	node, side mesos.TaskInfo
	sideIDs    []string
	sideVolume string
}

// removeSidecar deploys withSidecar's pod on st, then runs a scheduler on
// nodeOnly (the sidecar removed) until the sidecar's removal reached
// stage, checks that GET /v1/debug/reservations says its released items
// are intact only before their release was sent, and stops (a crash
// there reads the same store).
func removeSidecar(t *testing.T, st *countingStore, stage int) *sidecarRemoval {
	t.Helper()
	first := deployPod(t, st, withSidecar)
	tis := launched(first)
	node, side := taskInfo(t, tis, "p-0-node"), taskInfo(t, tis, "p-0-sidecar")
	sideIDs := resourceIDs(side.Resources)
	sideVolume := volumesOf(first)["p-0-sidecar"]
	if len(sideIDs) != 3 || sideVolume == "" {
		t.Fatalf("the sidecar's resource IDs %v, volume %q", sideIDs, sideVolume)
	}
	ids := map[string]string{"p-0-node": node.TaskID.Value, "p-0-sidecar": side.TaskID.Value}

	// The sidecar removed: run until stage, then stop.
	h := newHarness(t, nodeOnly, st, nil)
	h.master.ManualOperations()
	h.mark()
	h.reconciled(ids)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(side.TaskID.Value))
	var unreserve string // the release's UNRESERVE operation
	if stage >= removedKilled {
		h.update(side.TaskID.Value, "a1", mesos.TASK_KILLED)
		h.eventually("unreserve-p-0 STARTED", func() bool { return h.stepStatus(plan.Decommission, "unreserve-p-0") == plan.Started })
	}
	if stage >= removedSent {
		h.skip()
		h.mark()
		h.master.Send(t, sdktest.Offers(h.offer("r1", "a1", "h1")))
		rel := h.awaitCall(tACCEPT, nil)
		if got := resourceIDs(operation(rel, mesos.Offer_Operation_UNRESERVE).GetUnreserve().GetResources()); !slices.Equal(got, sideIDs) {
			t.Fatalf("released %v (%v), want the sidecar's %v", got, opTypes(rel), sideIDs)
		}
		unreserve = operation(rel, mesos.Offer_Operation_UNRESERVE).GetID().GetValue()
	}
	if stage >= removedFailed {
		state := mesos.OPERATION_ERROR
		if stage == removedFinished {
			state = mesos.OPERATION_FINISHED
		}
		h.master.Send(t, sdktest.OperationStatus(unreserve, "a1", state))
		h.eventually("the UNRESERVE settled", func() bool {
			for _, v := range h.s.Reservations() {
				if slices.ContainsFunc(v.Resources, func(r ReservationView) bool { return r.Operation == unreserve }) {
					return false
				}
			}
			return true
		})
	}
	if stage == removedFinished { // then its TaskInfo is erased
		h.eventually("decommission COMPLETE", func() bool { return h.s.PlanStatus(plan.Decommission) == plan.Complete })
	}
	// GET /v1/debug/reservations says whether a released item is
	// intact: nothing sent for it yet.
	for _, v := range h.s.Reservations() {
		for _, r := range v.Resources {
			if want := stage == removedKilled; v.Releasing && slices.Contains(sideIDs, r.ResourceID) && r.Intact != want {
				t.Errorf("released %s (%s): intact %v, want %v", r.Key, r.Operation, r.Intact, want)
			}
		}
	}
	h.skip()
	h.stop()
	return &sidecarRemoval{first: first, node: node, side: side, sideIDs: sideIDs, sideVolume: sideVolume}
}

// offerUntilSidecarRelaunches sends offers of a1 (offer makes each from
// its ID), ticking a minute before each, until one is answered with an
// ACCEPT that launches p-0-sidecar, and returns every ACCEPT since the
// first offer, that one last. While nodeRuns, each offer holds the pod's
// executor, and the KILL of node (a task ID) (node is killed for the sidecar when the pod
// relaunches whole, as an added task does) is answered TASK_KILLED.
// state says where things stand when no relaunch comes in 40 offers.
func (h *harness) offerUntilSidecarRelaunches(node, executor string, nodeRuns bool, offer func(id string) mesos.Offer, state func() string) []*scheduler.Call {
	h.t.Helper()
	var accepts []*scheduler.Call
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; ; i++ {
		if time.Now().After(deadline) || i > 40 {
			h.t.Fatalf("the sidecar never relaunched: %s", state())
		}
		h.tick(time.Minute)
		h.skip()
		if nodeRuns && slices.ContainsFunc(h.master.Calls()[h.since:], killOf(node)) {
			h.update(node, "a1", mesos.TASK_KILLED)
			nodeRuns = false
			h.skip()
		}
		id := fmt.Sprint("b", i)
		o := offer(id)
		if nodeRuns {
			sdktest.Executors(executor)(&o)
		}
		h.master.Send(h.t, sdktest.Offers(o))
		if c := h.answer(id); c != nil {
			accepts = append(accepts, c)
			if slices.Contains(names(launched(c)), "p-0-sidecar") {
				return accepts
			}
		}
	}
}

// syncBuffer is a log sink the scheduler's goroutines write to and the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withoutIntact rewrites every stored reservation as a scheduler wrote it
// before released items recorded that their release was never sent:
// without "intact".
func withoutIntact(t *testing.T, st *countingStore) {
	t.Helper()
	dropStoredItemField(t, st, "intact")
}

// TestRemovedTaskAddedBackToItsReusedSet: task b (volume on resource set
// y) is removed while a new task c takes y (reusedSet), so what b held
// there leaves the instance's reservation at start, for a released record
// (releaseRemoved), and the scheduler stops (a crash) before anything
// else; the next configuration holds b on y again and not c. As in
// TestRemovedTaskAddedBack, nothing of b was sent to be released: b
// relaunches on its own volume and nothing of it is DESTROYed.
func TestRemovedTaskAddedBackToItsReusedSet(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids, before := deploySets(t, st)
	b := storedTaskInfo(t, st, "p-0-b")
	bIDs := resourceIDs(b.Resources)

	newHarness(t, reusedSet, st, nil) // New stores b's release of y, then the crash
	released := false
	all, err := st.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	for key, rec := range all {
		r := mustUnmarshal(t, rec)
		released = released || strings.HasPrefix(key, "p-0@") && r.Releasing && slices.ContainsFunc(r.Items, func(it reservation.Item) bool { return slices.Contains(bIDs, it.ID) })
	}
	if !released {
		t.Fatalf("b's items were not released at start: stored %v", slices.Sorted(maps.Keys(all)))
	}

	h := restartOn(t, fmt.Sprintf(swappedSets, "x", "y"), st, ids)
	h.failAll(ids)
	var got string
	deadline := time.Now().Add(sdktest.Wait)
	for i := 0; got == ""; i++ {
		if time.Now().After(deadline) || i > 40 {
			t.Fatalf("p-0-b never relaunched: deploy %s, recovery %s (%s)", h.s.PlanStatus(plan.Deploy), h.s.PlanStatus(plan.Recovery), h.stepMessage(plan.Recovery, "p-0:[a,b]"))
		}
		h.tick(time.Minute)
		h.skip()
		offer := fmt.Sprint("r", i)
		h.master.Send(t, sdktest.Offers(h.offer(offer, "a1", "h1")))
		if c := h.answer(offer); c != nil {
			got = volumesOf(c)["p-0-b"]
		}
	}
	if got != before["p-0-b"] {
		t.Errorf("p-0-b relaunched on volume %s, want its own %s", got, before["p-0-b"])
	}
	for _, c := range h.master.Calls() {
		for _, v := range operation(c, mesos.Offer_Operation_DESTROY).GetDestroy().GetVolumes() {
			t.Errorf("volume %s DESTROYed", v.GetDisk().GetPersistence().GetID())
		}
	}
}

// TestDecommissionAbortedDuringItsKill: a scale-down aborted while web-2's
// KILL is in flight (its unreserve step not begun, nothing released):
// web-2 ends, and is relaunched in place on its own reservation and
// volume, nothing DESTROYed or UNRESERVEd (awaitWeb2InPlace), as a task
// removed from a kept pod and added back during its kill
// (TestRemovedTaskAddedBack, KillInFlight).
func TestDecommissionAbortedDuringItsKill(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids, web2 := deployedWeb2(t, st)
	h := newHarness(t, render(t, stateful, "COUNT=1", "DECOMMISSION=true"), st, nil)
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	for name, id := range ids {
		h.master.Send(t, sdktest.Status(id, "a"+name[4:5], mesos.TASK_RUNNING, sdktest.Reconciliation()))
	}
	h.master.Expect(t, tRECONCILE)
	h.tick(time.Second)
	h.awaitCall(tKILL, killOf(ids["web-2-server"]))
	h.skip()
	h.stop()

	h = newHarness(t, render(t, stateful, "COUNT=3", "DECOMMISSION=true"), st, nil)
	if names := h.s.PlanNames(); slices.Contains(names, plan.Decommission) {
		t.Errorf("plans %v: nothing is to be decommissioned at count 3", names)
	}
	awaitWeb2InPlace(t, h, ids, web2)
}

// TestRemovedTaskAddedBackCannotTakeItBack: what a removed task gave up
// is left released when its pod instance cannot hold it again: the
// instance's reservation is on another agent and host now
// (InstanceMoved: all of it), or holds the key of a released item
// already (KeyHeld: that item; the others, its volume among them, come
// back). The log says so, naming the task.
func TestRemovedTaskAddedBackCannotTakeItBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		// mutate changes the instance's stored reservation and returns
		// the resource IDs that stay released (nil: all of them).
		mutate func(own, released *reservation.Reservation) []string
	}{
		{"InstanceMoved", func(own, _ *reservation.Reservation) []string {
			own.AgentID, own.Hostname = "a2", "h2"
			return nil
		}},
		{"KeyHeld", func(own, released *reservation.Reservation) []string {
			i := slices.IndexFunc(released.Items, func(it reservation.Item) bool { return !strings.Contains(it.Key, "/volume/") })
			it := released.Items[i]
			own.Items = append(own.Items, reservation.Item{Key: it.Key, ID: "another", Resource: it.Resource})
			return []string{it.ID}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			defer st.Close()
			rm := removeSidecar(t, st, removedKilled)
			all, err := st.Reservations()
			if err != nil {
				t.Fatal(err)
			}
			own := mustUnmarshal(t, all["p-0"])
			var releasedKey string
			for key := range all {
				if strings.HasPrefix(key, "p-0@") {
					releasedKey = key
				}
			}
			if releasedKey == "" {
				t.Fatalf("no released record: %v", slices.Sorted(maps.Keys(all)))
			}
			stay := tc.mutate(own, mustUnmarshal(t, all[releasedKey]))
			if stay == nil {
				stay = rm.sideIDs
			}
			b, err := own.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if err := st.PutReservations(map[string][]byte{"p-0": b}); err != nil {
				t.Fatal(err)
			}

			var logs syncBuffer
			h := newHarness(t, withSidecar, st, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
			if !strings.Contains(logs.String(), "cannot hold again") || !strings.Contains(logs.String(), "task=p-0-sidecar") {
				t.Errorf("the log does not say the sidecar's resources stay released:\n%s", logs.String())
			}
			held := map[string]bool{} // resource ID → released (or held)
			for _, v := range h.s.Reservations() {
				for _, r := range v.Resources {
					if slices.Contains(rm.sideIDs, r.ResourceID) {
						held[r.ResourceID] = v.Releasing && r.Intact
					}
				}
			}
			for _, id := range rm.sideIDs {
				if released, ok := held[id]; !ok || released != slices.Contains(stay, id) {
					t.Errorf("the sidecar's %s: tracked %v, released and intact %v; want released %v", id, ok, released, slices.Contains(stay, id))
				}
			}
		})
	}
}
