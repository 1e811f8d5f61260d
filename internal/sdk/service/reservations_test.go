package service

import (
	"context"
	"fmt"
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

// A pod with a volume: the reservation tests' service.
const withVolume = `name: svc
pods:
  p:
    count: %d
    tasks:
      t:
        goal: RUNNING
        cmd: "echo x >> data/out && sleep 600"
        cpus: 0.5
        memory: 64
        volume: {path: data, type: ROOT, size: 100}
`

func opTypes(c *scheduler.Call) []string {
	var out []string
	for _, op := range c.GetAccept().GetOperations() {
		out = append(out, op.Type.String())
	}
	return out
}

// operation returns the first operation of type typ of an ACCEPT.
func operation(c *scheduler.Call, typ mesos.Offer_Operation_Type) *mesos.Offer_Operation {
	for i, op := range c.GetAccept().GetOperations() {
		if op.Type == typ {
			return &c.GetAccept().Operations[i]
		}
	}
	return nil
}

// storedReservation reads pod instance inst's reservation from the store.
func storedReservation(t *testing.T, h *harness, inst string) *reservation.Reservation {
	t.Helper()
	all, err := h.store.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	if all[inst] == nil {
		return nil
	}
	r, err := reservation.Unmarshal(all[inst])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReserveCreateLaunch: a pod's first launch reserves all of its
// resources and creates its volume in the ACCEPT that launches it, its
// reservation stored before the ACCEPT (with the RESERVE's operation ID);
// Mesos' OPERATION_FINISHED confirms it: stored, then acknowledged.
func TestReserveCreateLaunch(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, func(c *Config) { c.Principal = "svc-principal" })
	h.master.ManualOperations()
	var atAccept *reservation.Reservation
	h.master.Refuse(func(c *scheduler.Call) error {
		if c.Type == tACCEPT {
			atAccept = storedReservation(t, h, "p-0")
		}
		return nil
	})
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"RESERVE", "CREATE", "LAUNCH_GROUP"}) {
		t.Fatalf("operations %v", got)
	}
	op := operation(c, mesos.Offer_Operation_RESERVE).GetID().GetValue()
	if atAccept == nil || len(atAccept.Items) != 6 || atAccept.Pending()[0] != op {
		t.Fatalf("stored before the ACCEPT: %+v (operation %s)", atAccept, op)
	}
	for _, r := range operation(c, mesos.Offer_Operation_RESERVE).GetReserve().Resources {
		ri := r.GetReservations()[0]
		if ri.GetRole() != "svc-role" || ri.GetPrincipal() != "svc-principal" || reservation.ResourceID(&r) == "" {
			t.Errorf("reserved %v", ri)
		}
	}
	v := operation(c, mesos.Offer_Operation_CREATE).GetCreate().Volumes[0]
	if v.GetDisk().GetPersistence().GetPrincipal() != "svc-principal" || v.GetDisk().GetVolume().ContainerPath != "data" {
		t.Errorf("volume %v", v.GetDisk())
	}
	ti := launched(c)[0]
	if !slices.ContainsFunc(ti.Resources, func(r mesos.Resource) bool { return r.Equivalent(v) }) {
		t.Errorf("the task does not name its volume as created: %v", ti.Resources)
	}
	h.master.Send(t, sdktest.OperationStatus(op, "a1", mesos.OPERATION_FINISHED))
	ack := h.master.Expect(t, tACK_OPERATION)[0].GetAcknowledgeOperationStatus()
	if ack.OperationID.Value != op || ack.AgentID.GetValue() != "a1" {
		t.Errorf("acknowledged %v", ack)
	}
	if r := storedReservation(t, h, "p-0"); r == nil || len(r.Pending()) != 0 {
		t.Errorf("confirmed reservation not stored before the acknowledgement: %+v", r)
	}
	if v := h.s.Reservations(); len(v) != 1 || v[0].Instance != "p-0" || v[0].Hostname != "h1" || len(v[0].Resources) != 6 {
		t.Errorf("view %+v", v)
	}
}

// TestRelaunchInPlace: a task that ends relaunches on its reservation,
// found by resource ID (also when its agent came back under a new ID):
// the LAUNCH_GROUP alone, naming the same resources and volume.
func TestRelaunchInPlace(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
	h.ready()
	first, ti := h.runOnA1()
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	h.confirmed()
	h.skip()
	// Another agent with room does not do; the agent, now a2 after a
	// restart, holding the reservation does.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a9", "h9"), sdktest.Offer("o3", "a2", "h1", sdktest.ReservedBy(first), sdktest.CPUs(4), sdktest.Mem(4096))))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"LAUNCH_GROUP"}) || c.GetAccept().OfferIDs[0].Value != "o3" {
		t.Fatalf("relaunch %v on %v", got, c.GetAccept().OfferIDs)
	}
	again := launched(c)[0]
	if !slices.EqualFunc(again.Resources, ti.Resources, func(a, b mesos.Resource) bool { return a.Equivalent(b) }) {
		t.Errorf("relaunched on %v,\nwas %v", again.Resources, ti.Resources)
	}
	if h.s.Reservations()[0].AgentID != "a2" {
		t.Errorf("the reservation's agent is not updated: %+v", h.s.Reservations()[0])
	}
}

// TestReplaceReleasesTheOldReservation: pod replace places the pod anew
// with new reservations; the old ones, offered later, are destroyed and
// unreserved; the step never waits for them.
func TestReplaceReleasesTheOldReservation(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
	h.ready()
	first, ti := h.runOnA1()
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	if _, err := h.s.PodRestart(context.Background(), "p-0", true); err != nil {
		t.Fatal(err)
	}
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("replace recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	h.confirmed()
	h.skip()
	old := storedReservation(t, h, "p-0")
	// The old agent offers its reservation and room: placed anew there,
	// and the old reservation released in the same ACCEPT, volume first.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(first), sdktest.CPUs(4), sdktest.Mem(4096), sdktest.Disk(4096))))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"RESERVE", "CREATE", "LAUNCH_GROUP"}) {
		t.Fatalf("placed anew with %v", got)
	}
	now := storedReservation(t, h, "p-0")
	if now == nil || now.Items[0].ID == old.Items[0].ID {
		t.Fatal("the replaced pod kept its reservation")
	}
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a1", "h1", sdktest.ReservedBy(first))))
	c = h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
		t.Fatalf("release %v", got)
	}
	destroyed := operation(c, mesos.Offer_Operation_DESTROY).GetDestroy().Volumes
	unreserved := operation(c, mesos.Offer_Operation_UNRESERVE).GetUnreserve().Resources
	if len(destroyed) != 1 || destroyed[0].GetDisk().GetPersistence().GetID() != old.Item("t-resource-set/volume/data").Resource.GetDisk().GetPersistence().GetID() || len(unreserved) != 6 {
		t.Errorf("destroyed %v, unreserved %d", destroyed, len(unreserved))
	}
	for _, r := range unreserved {
		if r.IsPersistentVolume() || old.ByID(reservation.ResourceID(&r)) == nil {
			t.Errorf("unreserved %v", r)
		}
	}
	if h.s.Metrics().Counter("reservations.released") != 6 {
		t.Errorf("reservations.released %d", h.s.Metrics().Counter("reservations.released"))
	}
}

// TestFailedReserve: a RESERVE Mesos refused (OPERATION_ERROR) leaves the
// pod instance without those resources: it is placed anew.
func TestFailedReserve(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
	h.master.ManualOperations()
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	c := h.master.Expect(t, tACCEPT)[0]
	op := operation(c, mesos.Offer_Operation_RESERVE).GetID().GetValue()
	ti := launched(c)[0]
	h.master.Send(t, sdktest.OperationStatus(op, "", mesos.OPERATION_ERROR))
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_ERROR, sdktest.Message("resources not reserved")))
	h.master.Expect(t, tACK)
	h.eventually("no reservation", func() bool { return len(h.s.Reservations()) == 0 && storedReservation(t, h, "p-0") == nil })
	h.eventually("step DELAYED", func() bool { return h.stepStatus(plan.Deploy, "p-0:[t]") == plan.Delayed })
	h.tick(2 * time.Second)
	h.skip()
	h.expectPlacedAnew(sdktest.Offer("o2", "a2", "h2"))
}

// TestUnclaimedReservations: reservations of the framework's role no pod
// instance holds (a crash between a release and its ACCEPT, another
// incarnation's) are given up when offered: DESTROY, then UNRESERVE.
// Reservations of other roles, and the role's without a resource ID, are
// left alone.
func TestUnclaimedReservations(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 0), nil, nil)
	h.ready()
	disk := mesos.Resource{Name: "disk", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 100}}
	cpus := mesos.Resource{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 1}}
	stray := reservation.Reserve([]mesos.Resource{cpus}, "svc-role", "", "stray-1")
	vol := reservation.Volume(reservation.Reserve([]mesos.Resource{disk}, "svc-role", "", "stray-2")[0], "pid", "", "data")
	other := reservation.Reserve([]mesos.Resource{cpus}, "other-role", "", "x")
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", sdktest.Resources(stray[0], vol, other[0]), sdktest.Reserved("svc-role", sdktest.Mem(64)))))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
		t.Fatalf("operations %v", got)
	}
	if u := operation(c, mesos.Offer_Operation_UNRESERVE).GetUnreserve().Resources; len(u) != 2 || u[1].IsPersistentVolume() {
		t.Errorf("unreserved %v", u)
	}
}

// TestOneAgentsOffersTogether: reserved and unreserved resources of one
// agent offered separately are accepted together, in one ACCEPT naming
// both offers: a relaunch whose reservation must grow (a spec asking for
// more cpus) takes the growth from the other offer.
func TestOneAgentsOffersTogether(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	h := newHarness(t, fmt.Sprintf(withVolume, 1), st, nil)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	first := h.master.Expect(t, tACCEPT)[0]
	h.confirmed()
	h.skip() // the confirmation stored, or the restart asks about the RESERVE
	h.stop()
	// Restarted with more cpus for the task (a configuration update).
	h = newHarness(t, strings.Replace(fmt.Sprintf(withVolume, 1), "cpus: 0.5", "cpus: 1.5", 1), st, nil)
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Status(launched(first)[0].TaskID.Value, "a1", mesos.TASK_KILLED, sdktest.Reconciliation()))
	h.master.Expect(t, tRECONCILE) // the implicit round
	h.eventually("step PENDING", func() bool { return h.stepStatus(plan.Deploy, "p-0:[t]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(first)), sdktest.Offer("o3", "a1", "h1", sdktest.CPUs(2))))
	c := h.master.Expect(t, tACCEPT)[0]
	var ids []string
	for _, id := range c.GetAccept().OfferIDs {
		ids = append(ids, id.Value)
	}
	if slices.Sort(ids); !slices.Equal(ids, []string{"o2", "o3"}) {
		t.Errorf("offers %v", ids)
	}
	if got := opTypes(c); !slices.Equal(got, []string{"RESERVE", "LAUNCH_GROUP"}) {
		t.Fatalf("operations %v", got)
	}
	grown := operation(c, mesos.Offer_Operation_RESERVE).GetReserve().Resources
	if len(grown) != 1 || grown[0].GetScalar().GetValue() != 1 || storedReservation(t, h, "p-0").Item("t-resource-set/cpus").ID != reservation.ResourceID(&grown[0]) {
		t.Errorf("grown by %v", grown)
	}
}

// TestAgentLostPastTimeout: a transient recovery waits for its
// reservation until AgentLostTimeout, then places the pod anew (a
// permanent recovery).
func TestAgentLostPastTimeout(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, func(c *Config) { c.AgentLostTimeout = time.Minute })
	h.ready()
	_, ti := h.runOnA1()
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_UNREACHABLE))
	h.eventually("recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	h.confirmed()
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	h.master.Expect(t, tDECLINE)
	if msg := h.stepMessage(plan.Recovery, "p-0:[t]"); !strings.Contains(msg, "waiting for agent a1 (h1)") {
		t.Errorf("message %q", msg)
	}
	h.tick(61 * time.Second)
	h.skip()
	h.expectPlacedAnew(sdktest.Offer("o3", "a2", "h2"))
}

// TestReleaseInstance: a released pod instance's reservation (the
// decommission plan's release) is given up as it is offered, and is gone
// once nothing is left; offers are revived for it.
func TestReleaseInstance(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
	h.ready()
	first, ti := h.runOnA1()
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	done := false
	h.onLoop(func() {
		j := &job{}
		h.s.mu.Lock()
		done = h.s.releaseLocked(j, "p-0", nil)
		h.s.mu.Unlock()
		h.s.out.push(j)
	})
	if done || !h.s.Reservations()[0].Releasing {
		t.Fatalf("released at once: %v %+v", done, h.s.Reservations())
	}
	h.eventually("stored releasing", func() bool { return storedReservation(t, h, "p-0").Releasing })
	h.tick(2 * time.Second) // work: offers revived, not suppressed
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("task KILLED", func() bool { ps, _ := h.s.PodStatus("p-0"); return ps.Tasks[0].Status == "KILLED" })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(first))))
	c := h.master.Expect(t, tACCEPT)[0]
	if got := opTypes(c); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
		t.Fatalf("release %v", got)
	}
	h.eventually("reservation gone", func() bool { return len(h.s.Reservations()) == 0 && storedReservation(t, h, "p-0") == nil })
	h.onLoop(func() {
		h.s.mu.Lock()
		done = h.s.releaseLocked(&job{}, "p-0", nil)
		h.s.mu.Unlock()
	})
	if !done {
		t.Error("nothing left, not done")
	}
}

// TestPreReservedRole: a pod with a pre-reserved role makes the framework
// MULTI_ROLE, of its role and "<pre-reserved role>/<role>"; the pod
// refines resources reserved for the pre-reserved role, from offers
// allocated to the refined role.
func TestPreReservedRole(t *testing.T) {
	h := newHarness(t, `name: svc
pods:
  p:
    count: 1
    pre-reserved-role: slave_public
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64, ports: {http: {port: 80}}}
`, nil, nil)
	sub := h.start()
	fi := sub.GetSubscribe().FrameworkInfo
	if !slices.Equal(fi.Roles, []string{"svc-role", "slave_public/svc-role"}) || fi.Role != nil ||
		!slices.ContainsFunc(fi.Capabilities, func(c mesos.FrameworkInfo_Capability) bool {
			return c.Type == mesos.FrameworkInfo_Capability_MULTI_ROLE
		}) {
		t.Fatalf("framework info %v", fi)
	}
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	static := []sdktest.OfferOption{sdktest.StaticReserved("slave_public", sdktest.CPUs(2), sdktest.Mem(1024), sdktest.Disk(1024), sdktest.Ports(80, 80))}
	// Offered to the service's own role: not used.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", append(static, sdktest.Allocated("svc-role"))...)))
	h.master.Expect(t, tDECLINE)
	if msg := h.stepMessage(plan.Deploy, "p-0:[t]"); !strings.Contains(msg, "FAIL(role): offered to role svc-role, the pod reserves for slave_public/svc-role") {
		t.Errorf("message %q", msg)
	}
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", append(static, sdktest.Allocated("slave_public/svc-role"))...)))
	c := h.master.Expect(t, tACCEPT)[0]
	for _, r := range operation(c, mesos.Offer_Operation_RESERVE).GetReserve().Resources {
		rs := r.GetReservations()
		if len(rs) != 2 || rs[0].GetRole() != "slave_public" || rs[1].GetRole() != "slave_public/svc-role" || r.GetAllocationInfo().GetRole() != "slave_public/svc-role" {
			t.Errorf("reserved %v", r)
		}
	}
}

// TestReleaseTrackedUntilFinished: what a replaced pod left behind stays
// in the store, under its own key, until Mesos says its UNRESERVE
// finished; an UNRESERVE that failed leaves it to be released again at the
// next offer, and a second offer before the first UNRESERVE settles
// releases nothing twice.
func TestReleaseTrackedUntilFinished(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(withVolume, 1), nil, nil)
	h.master.ManualOperations()
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	first := h.master.Expect(t, tACCEPT)[0]
	ti := launched(first)[0]
	h.master.Send(t, sdktest.OperationStatus(operation(first, mesos.Offer_Operation_RESERVE).GetID().GetValue(), "", mesos.OPERATION_FINISHED))
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	h.eventually("deployed", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	h.confirmed()
	if _, err := h.s.PodRestart(context.Background(), "p-0", true); err != nil {
		t.Fatal(err)
	}
	h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_KILLED))
	h.eventually("replace recovery", func() bool { return h.stepStatus(plan.Recovery, "p-0:[t]") == plan.Pending })
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a2", "h2")))
	placed := h.master.Expect(t, tACCEPT)[0]
	for _, r := range h.s.Reservations() {
		for _, res := range r.Resources {
			if !r.Releasing && (res.Operation == "" || res.OperationKind != "RESERVE") {
				t.Errorf("placed anew, before its RESERVE is confirmed: %s %s pending %q (%q), want RESERVE", r.Instance, res.Key, res.Operation, res.OperationKind)
			}
		}
	}
	h.master.Send(t, sdktest.OperationStatus(operation(placed, mesos.Offer_Operation_RESERVE).GetID().GetValue(), "", mesos.OPERATION_FINISHED))
	h.confirmed()
	left := func() *PodReservationView {
		for _, r := range h.s.Reservations() {
			if r.Releasing {
				return &r
			}
		}
		return nil
	}
	if l := left(); l == nil || l.Instance != "p-0" || l.AgentID != "a1" || len(l.Resources) != 6 {
		t.Fatalf("left behind: %+v", h.s.Reservations())
	}
	release := func(offer string) string {
		t.Helper()
		h.master.Send(t, sdktest.Offers(sdktest.Offer(offer, "a1", "h1", sdktest.ReservedBy(first))))
		c := h.master.Expect(t, tACCEPT)[0]
		if got := opTypes(c); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
			t.Fatalf("release %v", got)
		}
		return operation(c, mesos.Offer_Operation_UNRESERVE).GetID().GetValue()
	}
	op := release("o3")
	if op == "" {
		t.Fatal("UNRESERVE without an operation ID")
	}
	h.eventually("pending UNRESERVE", func() bool {
		l := left()
		return l != nil && l.Resources[0].Operation == op && l.Resources[0].OperationKind == "UNRESERVE"
	})
	// Offered again before the UNRESERVE settles: nothing released twice.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o4", "a1", "h1", sdktest.ReservedBy(first))))
	h.master.Expect(t, tDECLINE)
	h.master.Send(t, sdktest.OperationStatus(op, "", mesos.OPERATION_FAILED))
	h.eventually("UNRESERVE failed: held again", func() bool { l := left(); return l != nil && l.Resources[0].Operation == "" })
	op = release("o5")
	h.master.Send(t, sdktest.OperationStatus(op, "", mesos.OPERATION_FINISHED))
	h.eventually("released", func() bool { return left() == nil })
	h.eventually("only p-0's reservation stored", func() bool {
		all, err := h.store.Reservations()
		if err != nil {
			t.Fatal(err)
		}
		return len(all) == 1 && all["p-0"] != nil
	})
}

// runOnA1 offers agent a1 (host h1), takes the ACCEPT that places the
// service's one pod there and reports its task RUNNING: the deployed pod
// the reservation tests start from. It returns the ACCEPT and the task.
func (h *harness) runOnA1() (*scheduler.Call, mesos.TaskInfo) {
	h.t.Helper()
	h.master.Send(h.t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	accept := h.master.Expect(h.t, tACCEPT)[0]
	ti := launched(accept)[0]
	h.master.Send(h.t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING))
	return accept, ti
}

// expectPlacedAnew offers o and expects the pod placed anew on it: new
// reservations and volumes (RESERVE, CREATE), then the launch, in one ACCEPT.
func (h *harness) expectPlacedAnew(o mesos.Offer) {
	h.t.Helper()
	h.master.Send(h.t, sdktest.Offers(o))
	if got := opTypes(h.master.Expect(h.t, tACCEPT)[0]); !slices.Equal(got, []string{"RESERVE", "CREATE", "LAUNCH_GROUP"}) {
		h.t.Errorf("placed anew with %v", got)
	}
}
