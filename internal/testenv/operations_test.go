package testenv

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// The protocol tests of RESERVE, UNRESERVE, CREATE and DESTROY. Each
// names the Mesos test it follows (src/tests/reservation_tests.cpp,
// persistent_volume_tests.cpp, master_validation_tests.cpp).

// roleFramework is a framework with a role and a principal.
func roleFramework(name, role, principal string, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := frameworkInfo(name, caps...)
	fi.Role = strPtr(role)
	if principal != "" {
		fi.Principal = strPtr(principal)
	}
	return fi
}

func labels(kv ...string) *mesos.Labels {
	l := &mesos.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		l.Labels = append(l.Labels, mesos.Label{Key: kv[i], Value: strPtr(kv[i+1])})
	}
	return l
}

// dynamic returns r dynamically reserved for role by principal, in the
// post-refinement format (refinement) or the pre-refinement one.
func dynamic(r mesos.Resource, role, principal string, l *mesos.Labels, refinement bool) mesos.Resource {
	r = *proto.Clone(&r).(*mesos.Resource)
	var p *string
	if principal != "" {
		p = strPtr(principal)
	}
	if refinement {
		r.Reservations = append(r.Reservations, mesos.Resource_ReservationInfo{
			Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: strPtr(role), Principal: p, Labels: l})
		return r
	}
	r.Role = strPtr(role)
	r.Reservation = &mesos.Resource_ReservationInfo{Principal: p, Labels: l}
	return r
}

// asVolume makes a reserved disk resource a RW persistent volume.
func asVolume(r mesos.Resource, id, principal, containerPath string) mesos.Resource {
	r = *proto.Clone(&r).(*mesos.Resource)
	if r.Disk == nil {
		r.Disk = &mesos.Resource_DiskInfo{}
	}
	r.Disk.Persistence = &mesos.Resource_DiskInfo_Persistence{ID: id}
	if principal != "" {
		r.Disk.Persistence.Principal = strPtr(principal)
	}
	r.Disk.Volume = &mesos.Volume{ContainerPath: containerPath, Mode: mesos.RW.Enum()}
	return r
}

func cpus(v float64) mesos.Resource { return resources.NewCPUs(v).Resource }
func mem(v float64) mesos.Resource  { return resources.NewMemory(v).Resource }
func disk(v float64) mesos.Resource { return resources.NewDisk(v).Resource }

func withID(op mesos.Offer_Operation, id string) mesos.Offer_Operation {
	op.ID = &mesos.OperationID{Value: id}
	return op
}

// accept accepts offer o with ops, leaving nothing filtered.
func (s *sched) accept(o mesos.Offer, ops ...mesos.Offer_Operation) {
	s.T.Helper()
	s.MustCall(calls.Accept(calls.OfferOperations(ops).WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
}

// opStatus waits for an UPDATE_OPERATION_STATUS of operation id.
func (s *sched) opStatus(id string) mesos.OperationStatus {
	s.T.Helper()
	return s.WaitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_UPDATE_OPERATION_STATUS && e.UpdateOperationStatus.Status.GetOperationID().GetValue() == id
	}, "UPDATE_OPERATION_STATUS "+id).UpdateOperationStatus.Status
}

// offerWhere waits for an offer holding a resource pred accepts.
func (s *sched) offerWhere(what string, pred func(*mesos.Resource) bool) mesos.Offer {
	s.T.Helper()
	ev := s.WaitFor(func(e *scheduler.Event) bool {
		if e.Type != scheduler.Event_OFFERS {
			return false
		}
		for _, o := range e.Offers.Offers {
			for i := range o.Resources {
				if pred(&o.Resources[i]) {
					return true
				}
			}
		}
		return false
	}, "an offer with "+what)
	for _, o := range ev.Offers.Offers {
		for i := range o.Resources {
			if pred(&o.Resources[i]) {
				return o
			}
		}
	}
	panic("unreachable")
}

func reservedFor(role string) func(*mesos.Resource) bool {
	return func(r *mesos.Resource) bool { return r.IsReserved(role) }
}

func isVolume(id string) func(*mesos.Resource) bool {
	return func(r *mesos.Resource) bool { return r.GetDisk().GetPersistence().GetID() == id }
}

// stateOf fetches /state (or another JSON endpoint) as generic JSON.
func stateOf(t *testing.T, cl *Cluster, path string) map[string]any {
	t.Helper()
	res, err := http.Get(cl.MasterURL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func firstSlave(t *testing.T, cl *Cluster, path string) map[string]any {
	t.Helper()
	return stateOf(t, cl, path)["slaves"].([]any)[0].(map[string]any)
}

// TestReserveThenUnreserve follows ReservationTest.ReserveThenUnreserve,
// in both resource formats, with reservation labels (the SDK's
// resource_id): the reserved resources are offered back reserved, with
// their labels, and show in /state and /slaves; UNRESERVE gives them
// back.
func TestReserveThenUnreserve(t *testing.T) {
	for _, refinement := range []bool{false, true} {
		name := "pre-refinement"
		var caps []mesos.FrameworkInfo_Capability_Type
		if refinement {
			name = "post-refinement"
			caps = append(caps, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
		}
		t.Run(name, func(t *testing.T) {
			cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
			s := subscribe(t, cl, roleFramework("res", "role", "principal", caps...), jsonCodec)
			o := s.offers()[0]
			rs := []mesos.Resource{
				dynamic(cpus(1), "role", "principal", labels("resource_id", "cpu-1"), refinement),
				dynamic(mem(512), "role", "principal", labels("resource_id", "mem-1"), refinement),
			}
			s.accept(o, withID(calls.OpReserve(rs...), "reserve-1"))
			if st := s.opStatus("reserve-1"); st.State != mesos.OPERATION_FINISHED || st.UUID == nil || st.GetAgentID().GetValue() != o.AgentID.Value {
				t.Fatalf("operation status %v, want OPERATION_FINISHED with uuid and agent", st)
			}

			o = s.offerWhere("reserved resources", reservedFor("role"))
			var got []mesos.Resource
			for _, r := range o.Resources {
				if r.IsReserved("role") {
					got = append(got, r)
				}
			}
			if len(got) != 2 {
				t.Fatalf("reserved resources in the offer: %v", got)
			}
			for _, r := range got {
				if refinement {
					if r.Role != nil || r.Reservation != nil || len(r.Reservations) != 1 || r.Reservations[0].GetPrincipal() != "principal" {
						t.Errorf("not in the post-refinement format: %v", r)
					}
				} else if r.GetRole() != "role" || r.Reservation.GetPrincipal() != "principal" || len(r.Reservations) != 0 {
					t.Errorf("not in the pre-refinement format: %v", r)
				}
			}
			for _, r := range got {
				lbl := r.GetReservation().GetLabels()
				if refinement {
					lbl = r.Reservations[0].GetLabels()
				}
				if want := map[string]string{"cpus": "cpu-1", "mem": "mem-1"}[r.Name]; len(lbl.GetLabels()) != 1 || lbl.Labels[0].GetValue() != want {
					t.Errorf("%s: labels %v, want resource_id=%s", r.Name, lbl, want)
				}
			}
			if cpu, _ := resources.CPUs(o.Resources...); cpu != 4 {
				t.Errorf("offer holds %v cpus in all, want 4", cpu)
			}
			// An executor's SUBSCRIBED carries the agent's configured
			// resources, not the reservations made since (info.resources
			// in Mesos' Slave::initialize).
			cl.mu.Lock()
			info := cl.agentByID[o.AgentID.Value].protoInfo()
			cl.mu.Unlock()
			for _, r := range info.Resources {
				if r.GetRole() != "*" || r.Reservation != nil || len(r.Reservations) != 0 {
					t.Errorf("AgentInfo resource %v: reserved, want the configured (unreserved) resources", r)
				}
			}
			if cpu, _ := resources.CPUs(info.Resources...); cpu != 4 {
				t.Errorf("AgentInfo holds %v cpus, want the configured 4", cpu)
			}

			slave := firstSlave(t, cl, "/state")
			if r := slave["reserved_resources"].(map[string]any)["role"].(map[string]any); r["cpus"] != 1.0 || r["mem"] != 512.0 {
				t.Errorf("/state reserved_resources[role] = %v", r)
			}
			if u := slave["unreserved_resources"].(map[string]any); u["cpus"] != 3.0 {
				t.Errorf("/state unreserved_resources = %v", u)
			}
			full := firstSlave(t, cl, "/slaves")["reserved_resources_full"].(map[string]any)["role"].([]any)
			if len(full) != 2 || !strings.Contains(mustJSON(t, full), `"resource_id"`) || !strings.Contains(mustJSON(t, full), `"principal":"principal"`) {
				t.Errorf("/slaves reserved_resources_full[role] = %s", mustJSON(t, full))
			}

			s.accept(o, withID(calls.OpUnreserve(got...), "unreserve-1"))
			if st := s.opStatus("unreserve-1"); st.State != mesos.OPERATION_FINISHED {
				t.Fatalf("unreserve: %v", st)
			}
			o = s.offers()[0]
			for _, r := range o.Resources {
				if !r.IsUnreserved() {
					t.Errorf("still reserved after UNRESERVE: %v", r)
				}
			}
			if len(firstSlave(t, cl, "/state")["reserved_resources"].(map[string]any)) != 0 {
				t.Errorf("/state still shows reservations")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reservedSetup reserves 1 cpu (labelled), 256 MB and 1536 MB of disk for
// role "role" by "principal", and makes 1024 MB of the disk volume
// "vol-1" at container path "data", in one ACCEPT (the operations run in
// order on the offer, as Mesos pipelines them). It returns the next offer.
func reservedSetup(t *testing.T, s *sched) mesos.Offer {
	t.Helper()
	o := s.offers()[0]
	vol := asVolume(dynamic(disk(1024), "role", "principal", nil, true), "vol-1", "principal", "data")
	s.accept(o,
		withID(calls.OpReserve(
			dynamic(cpus(1), "role", "principal", labels("resource_id", "c"), true),
			dynamic(mem(256), "role", "principal", nil, true),
			dynamic(disk(1536), "role", "principal", nil, true),
		), "setup-reserve"),
		withID(calls.OpCreate(vol), "setup-create"),
	)
	for _, id := range []string{"setup-reserve", "setup-create"} {
		if st := s.opStatus(id); st.State != mesos.OPERATION_FINISHED {
			t.Fatalf("%s: %v", id, st)
		}
	}
	return s.offerWhere("volume vol-1", isVolume("vol-1"))
}

// TestOperationValidation refuses invalid operations the way Mesos does:
// dropped with OPERATION_ERROR (the operations carry IDs) and the
// message of Mesos' validation; the agent's resources do not change.
func TestOperationValidation(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
	s := subscribe(t, cl, roleFramework("validation", "role", "principal", mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT), protoCodec)
	o := reservedSetup(t, s)
	before := mustJSON(t, firstSlave(t, cl, "/slaves")["reserved_resources_full"])

	vol := asVolume(dynamic(disk(1024), "role", "principal", nil, true), "vol-1", "principal", "data")
	staticCPU := cpus(1)
	staticCPU.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: strPtr("role")}}
	star := cpus(1)
	star.Role, star.Reservation = strPtr("*"), &mesos.Resource_ReservationInfo{Principal: strPtr("principal")}
	withSource := calls.OpReserve(dynamic(cpus(1), "role", "principal", nil, true))
	withSource.Reserve.Source = []mesos.Resource{cpus(1)}
	noVolumeInfo := dynamic(disk(64), "role", "principal", nil, true)
	noVolumeInfo.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{ID: "v2", Principal: strPtr("principal")}}
	readOnly := asVolume(dynamic(disk(64), "role", "principal", nil, true), "v3", "principal", "ro")
	readOnly.Disk.Volume.Mode = mesos.RO.Enum()

	for _, tc := range []struct {
		name, mesosTest string
		op              mesos.Offer_Operation
		want            string
	}{
		{"reserve for another role", "ReservationTest.DropReserveWithDifferentRole",
			calls.OpReserve(dynamic(cpus(1), "other-role", "principal", nil, true)),
			"A reserve operation was attempted for a resource with role 'other-role', but the resource was allocated to role 'role'"},
		{"reserve with another principal", "ReserveOperationValidationTest.NonMatchingPrincipal",
			calls.OpReserve(dynamic(cpus(1), "role", "other", nil, true)),
			"which does not match a reserved resource in the request with principal 'other'"},
		{"reserve without a principal", "ReserveOperationValidationTest.ReservationInfoMissingPrincipal",
			calls.OpReserve(dynamic(cpus(1), "role", "", nil, true)),
			"there is a reserved resource in the request with no principal set"},
		{"reserve statically", "ReserveOperationValidationTest.StaticReservation",
			calls.OpReserve(staticCPU), "is not dynamically reserved"},
		{"reserve for *", "ReserveOperationValidationTest.DisallowReservingToStar",
			calls.OpReserve(star), "Operation attempted with invalid resources"},
		{"reserve more than offered", "ReservationTest.DropReserveTooLarge",
			calls.OpReserve(dynamic(cpus(100), "role", "principal", nil, true)), "does not contain"},
		{"reserve with a source", "Master::accept (reservation updates)",
			withSource, "Reservation updates are not yet implemented for the scheduler API."},
		{"unreserve unreserved resources", "UnreserveOperationValidationTest.StaticReservation",
			calls.OpUnreserve(cpus(1)), "is not dynamically reserved"},
		{"unreserve a volume", "UnreserveOperationValidationTest.NoPersistentVolumes",
			calls.OpUnreserve(vol), "cannot be unreserved directly. Please destroy the persistent volume first"},
		{"unreserve what is not reserved", "ReservationTest.PreventUnreservingAlienResources",
			calls.OpUnreserve(dynamic(cpus(2), "role", "principal", labels("resource_id", "c"), true)), "does not contain"},
		{"unreserve with other labels", "ReservationTest.PreventUnreservingAlienResources",
			calls.OpUnreserve(dynamic(cpus(1), "role", "principal", labels("resource_id", "x"), true)), "does not contain"},
		{"create a duplicate persistence ID", "CreateOperationValidationTest.DuplicatedPersistenceID",
			calls.OpCreate(asVolume(dynamic(disk(64), "role", "principal", nil, true), "vol-1", "principal", "d2")),
			"Persistence ID 'vol-1' is not unique"},
		{"create with another principal", "CreateOperationValidationTest.NonMatchingPrincipal",
			calls.OpCreate(asVolume(dynamic(disk(64), "role", "principal", nil, true), "v2", "other", "d2")),
			"which does not match a volume in the operation with principal 'other' set in 'disk.persistence'"},
		{"create without a principal", "CreateOperationValidationTest.NonMatchingPrincipal",
			calls.OpCreate(asVolume(dynamic(disk(64), "role", "principal", nil, true), "v2", "", "d2")),
			"there is a volume in the operation with no principal set in 'disk.persistence'"},
		{"create read-only", "CreateOperationValidationTest.ReadOnlyPersistentVolume",
			calls.OpCreate(readOnly), "Read-only persistent volume not supported"},
		{"create on unreserved disk", "ResourceValidationTest.UnreservedDiskInfo",
			calls.OpCreate(asVolume(disk(64), "v2", "principal", "d2")), "Persistent volumes cannot be created from unreserved resources"},
		{"create without volume info", "ResourceValidationTest.PersistentVolumeWithoutVolumeInfo",
			calls.OpCreate(noVolumeInfo), "Expecting 'volume' to be set for persistent volume"},
		{"create with an invalid persistence ID", "ResourceValidationTest.InvalidPersistenceID",
			calls.OpCreate(asVolume(dynamic(disk(64), "role", "principal", nil, true), "a/b", "principal", "d2")),
			"Invalid persistence ID for persistent volume"},
		{"create more than reserved", "CreateOperationValidationTest.InsufficientDiskResource",
			calls.OpCreate(asVolume(dynamic(disk(2048), "role", "principal", nil, true), "v2", "principal", "d2")), "does not contain"},
		{"destroy an unknown volume", "DestroyOperationValidationTest.UnknownPersistentVolume",
			calls.OpDestroy(asVolume(dynamic(disk(512), "role", "principal", nil, true), "nope", "principal", "d2")), "Persistent volumes not found"},
		{"destroy a volume of another size", "DestroyOperationValidationTest.UnknownPersistentVolume",
			calls.OpDestroy(asVolume(dynamic(disk(512), "role", "principal", nil, true), "vol-1", "principal", "data")), "Persistent volumes not found"},
		{"grow a volume", "not supported by testenv",
			calls.OpGrowVolume(vol, dynamic(disk(64), "role", "principal", nil, true)), "not supported by testenv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.accept(o, withID(tc.op, "op"))
			st := s.opStatus("op")
			if st.State != mesos.OPERATION_ERROR || !strings.Contains(st.GetMessage(), tc.want) || st.UUID != nil {
				t.Errorf("%s: got %s %q (uuid %v), want OPERATION_ERROR containing %q, no uuid", tc.mesosTest, st.State, st.GetMessage(), st.UUID, tc.want)
			}
			o = s.offerWhere("volume vol-1", isVolume("vol-1"))
		})
	}
	if after := mustJSON(t, firstSlave(t, cl, "/slaves")["reserved_resources_full"]); after != before {
		t.Errorf("refused operations changed the reservations:\n%s\n%s", before, after)
	}

	t.Run("invalid offers", func(t *testing.T) {
		// Master::accept: operations with invalid offers are dropped too.
		s.MustCall(calls.Accept(calls.OfferOperations{withID(calls.OpReserve(dynamic(cpus(1), "role", "principal", nil, true)), "stale")}.WithOffers(mesos.OfferID{Value: "no-such-offer"})))
		if st := s.opStatus("stale"); st.State != mesos.OPERATION_ERROR || !strings.HasPrefix(st.GetMessage(), "Operation attempted with invalid offers: ") {
			t.Errorf("got %s %q", st.State, st.GetMessage())
		}
	})
}

// TestLaunchOnReservedResourcesAndVolumes follows
// ReservationTest.ReserveAndLaunchThenUnreserve and
// PersistentVolumeTest.AccessPersistentVolume's launch checks: a task
// launched on reserved resources and a volume takes them out of offers;
// while it runs they cannot be unreserved or destroyed
// (DestroyOperationValidationTest: "Persistent volumes in use"); a task
// must name a volume (and a reservation) exactly as offered; once the
// task is gone, DESTROY and UNRESERVE succeed.
func TestLaunchOnReservedResourcesAndVolumes(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
	s := subscribe(t, cl, roleFramework("launch", "role", "principal", mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT), protoCodec)
	o := reservedSetup(t, s)
	vol := asVolume(dynamic(disk(1024), "role", "principal", nil, true), "vol-1", "principal", "data")
	rcpu := dynamic(cpus(1), "role", "principal", labels("resource_id", "c"), true)

	// Tasks that do not name the offered resources exactly.
	for _, tc := range []struct {
		name, mesosTest string
		rs              []mesos.Resource
		want            string
	}{
		{"volume of another size", "TaskValidationTest.TaskUsesMoreResourcesThanOffered",
			[]mesos.Resource{cpus(0.1), asVolume(dynamic(disk(512), "role", "principal", nil, true), "vol-1", "principal", "data")}, "more than available"},
		{"unknown volume", "TaskValidationTest.TaskUsesMoreResourcesThanOffered",
			[]mesos.Resource{cpus(0.1), asVolume(dynamic(disk(1024), "role", "principal", nil, true), "nope", "principal", "data")}, "more than available"},
		{"reservation with other labels", "TaskValidationTest.TaskUsesMoreResourcesThanOffered",
			[]mesos.Resource{dynamic(cpus(1), "role", "principal", labels("resource_id", "x"), true)}, "more than available"},
		{"a volume twice", "TaskValidationTest (validateUniquePersistenceID)",
			[]mesos.Resource{cpus(0.1), vol, vol}, "Task uses duplicate persistence ID"},
		{"a volume on unreserved disk", "ResourceValidationTest.UnreservedDiskInfo",
			[]mesos.Resource{cpus(0.1), asVolume(disk(64), "v", "principal", "d")}, "Persistent volumes cannot be created from unreserved resources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := commandTask("bad-"+strings.ReplaceAll(tc.name, " ", "-"), o, "true")
			ti.Resources = tc.rs
			s.launch(o, ti)
			st := s.Update(ti.TaskID.Value, mesos.TASK_ERROR)
			if st.GetReason() != mesos.REASON_TASK_INVALID || !strings.Contains(st.GetMessage(), tc.want) {
				t.Errorf("%s: %s %q, want REASON_TASK_INVALID with %q", tc.mesosTest, st.GetReason(), st.GetMessage(), tc.want)
			}
			o = s.offerWhere("volume vol-1", isVolume("vol-1"))
		})
	}
	t.Run("LAUNCH with an id", func(t *testing.T) {
		ti := commandTask("with-id", o, "true")
		s.accept(o, withID(calls.OpLaunch(ti), "launch-op"))
		if st := s.Update("with-id", mesos.TASK_ERROR); st.GetMessage() != "The `id` field cannot be set on LAUNCH operations" {
			t.Errorf("message %q", st.GetMessage())
		}
		o = s.offerWhere("volume vol-1", isVolume("vol-1"))
	})

	// A task on the reservation and the volume (a different container
	// path is fine: Mesos ignores DiskInfo.volume when comparing).
	ti := commandTask("stateful", o, "echo hello > mine/file && sleep 600")
	ti.Resources = []mesos.Resource{rcpu, dynamic(mem(256), "role", "principal", nil, true), asVolume(dynamic(disk(1024), "role", "principal", nil, true), "vol-1", "principal", "mine")}
	s.launch(o, ti)
	s.updateAck("stateful", mesos.TASK_STARTING)
	s.updateAck("stateful", mesos.TASK_RUNNING)

	o = s.offers()[0]
	for _, r := range o.Resources {
		if r.IsPersistentVolume() || (r.IsReserved("role") && r.Name != "disk") {
			t.Errorf("offered while in use: %v", r)
		}
	}
	used := mustJSON(t, firstSlave(t, cl, "/slaves")["used_resources_full"])
	if !strings.Contains(used, `"vol-1"`) || !strings.Contains(used, `"resource_id"`) {
		t.Errorf("/slaves used_resources_full misses the volume or the reservation: %s", used)
	}
	s.accept(o, withID(calls.OpDestroy(vol), "destroy-in-use"))
	if st := s.opStatus("destroy-in-use"); st.State != mesos.OPERATION_ERROR || !strings.Contains(st.GetMessage(), "Persistent volumes in use") {
		t.Errorf("destroying a volume in use: %s %q", st.State, st.GetMessage())
	}
	o = s.offers()[0]
	s.accept(o, withID(calls.OpUnreserve(rcpu), "unreserve-in-use"))
	if st := s.opStatus("unreserve-in-use"); st.State != mesos.OPERATION_ERROR || !strings.Contains(st.GetMessage(), "does not contain") {
		t.Errorf("unreserving resources in use: %s %q", st.State, st.GetMessage())
	}

	s.MustCall(calls.Kill("stateful", o.AgentID.Value))
	s.updateAck("stateful", mesos.TASK_KILLED)
	o = s.offerWhere("volume vol-1", isVolume("vol-1"))
	s.accept(o, withID(calls.OpDestroy(vol), "destroy"), withID(calls.OpUnreserve(rcpu, dynamic(disk(1024), "role", "principal", nil, true)), "unreserve"))
	for _, id := range []string{"destroy", "unreserve"} {
		if st := s.opStatus(id); st.State != mesos.OPERATION_FINISHED {
			t.Errorf("%s: %s %q", id, st.State, st.GetMessage())
		}
	}
}

// TestReservedResourcesOfferedOnlyToTheirRole follows
// ReservationTest.ReserveShareWithinRole: reserved resources go to any
// framework of their role, never to another role's.
func TestReservedResourcesOfferedOnlyToTheirRole(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
	a := subscribe(t, cl, roleFramework("a", "role", "principal"), protoCodec)
	o := a.offers()[0]
	a.accept(o, calls.OpReserve(dynamic(cpus(4), "role", "principal", nil, false), dynamic(mem(8192), "role", "principal", nil, false)))
	o = a.offerWhere("reserved cpus", reservedFor("role"))
	a.MustCall(calls.Decline(o.ID).With(calls.RefuseSeconds(time.Hour)))

	other := subscribe(t, cl, roleFramework("other", "other-role", ""), protoCodec)
	if ev, ok := other.WaitWithin(func(e *scheduler.Event) bool {
		if e.Type != scheduler.Event_OFFERS {
			return false
		}
		for _, o := range e.Offers.Offers {
			if cpu, _ := resources.CPUs(o.Resources...); cpu > 0 {
				return true
			}
		}
		return false
	}, 500*time.Millisecond); ok {
		t.Fatalf("another role was offered the reserved cpus: %v", ev.Offers.Offers)
	}

	b := subscribe(t, cl, roleFramework("b", "role", ""), protoCodec)
	if o := b.offerWhere("reserved cpus", reservedFor("role")); o.Resources[0].Reservation.GetPrincipal() != "principal" {
		t.Errorf("offer to another framework of the role: %v", o.Resources)
	}
}

// TestReservationRefinement follows ReservationTest.ReserveThenUnreserve
// with hierarchical roles (docs/reservation.md): a reservation for "eng"
// is offered to the "eng/backend" role too, can be refined to
// "eng/backend" (a second reservation pushed on the stack), and
// UNRESERVE pops it back to "eng". A framework without
// RESERVATION_REFINEMENT is not offered refined reservations.
func TestReservationRefinement(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
	fi := frameworkInfo("refine", mesos.FrameworkInfo_Capability_MULTI_ROLE, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	fi.Roles = []string{"eng", "eng/backend"}
	fi.Principal = strPtr("p")
	s := subscribe(t, cl, fi, protoCodec)
	allocatedTo := func(role string) func(*scheduler.Event) bool {
		return func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_OFFERS && e.Offers.Offers[0].GetAllocationInfo().GetRole() == role
		}
	}
	o := s.WaitFor(allocatedTo("eng"), "an offer to eng").Offers.Offers[0]
	eng := dynamic(cpus(2), "eng", "p", nil, true)
	s.accept(o, withID(calls.OpReserve(eng), "reserve-eng"))
	if st := s.opStatus("reserve-eng"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("reserve for eng: %v", st)
	}
	// Offers to eng/backend include eng's reservation.
	var backend mesos.Offer
	for backend.ID.Value == "" {
		ev := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "offers")
		for _, x := range ev.Offers.Offers {
			if x.GetAllocationInfo().GetRole() == "eng/backend" && hasReserved(x, "eng") {
				backend = x
			} else {
				s.MustCall(calls.Decline(x.ID).With(calls.RefuseSeconds(50 * time.Millisecond)))
			}
		}
	}
	refined := dynamic(cpus(2), "eng", "p", nil, true)
	refined = dynamic(refined, "eng/backend", "p", labels("resource_id", "r"), true)
	s.accept(backend, withID(calls.OpReserve(refined), "refine"))
	if st := s.opStatus("refine"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("refine: %v", st)
	}
	full := mustJSON(t, firstSlave(t, cl, "/slaves")["reserved_resources_full"])
	if !strings.Contains(full, `"eng/backend":[`) || !strings.Contains(full, `"role":"eng"`) {
		t.Errorf("/slaves after refinement: %s", full)
	}

	plain := subscribe(t, cl, roleFramework("plain", "eng", ""), protoCodec)
	if ev, ok := plain.WaitWithin(func(e *scheduler.Event) bool {
		if e.Type != scheduler.Event_OFFERS {
			return false
		}
		for _, x := range e.Offers.Offers {
			if hasReserved(x, "eng/backend") {
				return true
			}
		}
		return false
	}, 500*time.Millisecond); ok {
		t.Errorf("refined reservation offered without RESERVATION_REFINEMENT: %v", ev.Offers.Offers)
	}

	// Pop the refinement.
	var o2 mesos.Offer
	for o2.ID.Value == "" {
		ev := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "offers")
		for _, x := range ev.Offers.Offers {
			if hasReserved(x, "eng/backend") {
				o2 = x
			}
		}
	}
	s.accept(o2, withID(calls.OpUnreserve(refined), "pop"))
	if st := s.opStatus("pop"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("unreserve the refinement: %v", st)
	}
	slave := firstSlave(t, cl, "/state")
	if r := slave["reserved_resources"].(map[string]any); r["eng"] == nil || r["eng/backend"] != nil {
		t.Errorf("after popping the refinement, reserved_resources = %v", r)
	}
}

func hasReserved(o mesos.Offer, role string) bool {
	for i := range o.Resources {
		if r := &o.Resources[i]; r.IsReserved(role) {
			return true
		}
	}
	return false
}

// TestOperationFeedback follows the operation feedback of Mesos 1.11 on
// agent default resources (Master::accept, Slave::applyOperation,
// Master::reconcileOperations): OPERATION_FINISHED with a uuid is re-sent
// until ACKNOWLEDGE_OPERATION_STATUS; RECONCILE_OPERATIONS answers with
// the latest status without a uuid, and OPERATION_UNKNOWN for unknown
// operations.
func TestOperationFeedback(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond, StatusUpdateRetry: 200 * time.Millisecond})
	s := subscribe(t, cl, roleFramework("feedback", "role", "principal"), jsonCodec)
	o := s.offers()[0]
	s.accept(o, withID(calls.OpReserve(dynamic(cpus(1), "role", "principal", nil, false)), "r1"))
	first := s.opStatus("r1")
	again := s.opStatus("r1")
	if again.State != mesos.OPERATION_FINISHED || string(again.UUID.Value) != string(first.UUID.Value) {
		t.Fatalf("re-sent status %v, want the same OPERATION_FINISHED", again)
	}

	s.MustCall(calls.ReconcileOperations(nil))
	if st := s.opStatus("r1"); st.UUID != nil || st.State != mesos.OPERATION_FINISHED {
		t.Errorf("implicit reconciliation: %v", st)
	}
	s.MustCall(calls.ReconcileOperations([]calls.ReconcileOperationRequest{{OperationID: "r1"}, {OperationID: "nope", AgentID: o.AgentID.Value}}))
	if st := s.opStatus("r1"); st.UUID != nil || st.State != mesos.OPERATION_FINISHED {
		t.Errorf("explicit reconciliation: %v", st)
	}
	if st := s.opStatus("nope"); st.State != mesos.OPERATION_UNKNOWN {
		t.Errorf("unknown operation: %v", st)
	}

	s.MustCall(calls.AcknowledgeOperationStatus(o.AgentID.Value, "", first.UUID.Value, "r1"))
	s.Forget(func(e *scheduler.Event) bool { return e.Type != scheduler.Event_UPDATE_OPERATION_STATUS })
	if ev, ok := s.WaitWithin(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_UPDATE_OPERATION_STATUS }, time.Second); ok {
		t.Errorf("status re-sent after its acknowledgement: %v", ev.UpdateOperationStatus.Status)
	}

	// Operations without an ID get no feedback.
	o = s.offerWhere("reserved cpus", reservedFor("role"))
	s.accept(o, calls.OpUnreserve(dynamic(cpus(1), "role", "principal", nil, false)))
	o = s.offers()[0]
	if hasReserved(o, "role") {
		t.Errorf("still reserved: %v", o.Resources)
	}
	if ev, ok := s.WaitWithin(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_UPDATE_OPERATION_STATUS }, 300*time.Millisecond); ok {
		t.Errorf("feedback for an operation without an ID: %v", ev.UpdateOperationStatus.Status)
	}
}

// TestStaticReservations follows UnreserveOperationValidationTest.StaticReservation
// and the SDK's pre-reserved-role flow (docs/reservation.md, reservation
// refinement): resources an agent reserves statically (Config.Reserved,
// Mesos' --resources with a role) are offered to the role's sub-roles,
// can be refined with a dynamic reservation on top, are never
// unreserved, and the refinement survives an agent restart.
func TestStaticReservations(t *testing.T) {
	if _, err := parseReserved("cpus:2"); err == nil {
		t.Errorf("a resource without a role was taken as a reservation")
	}
	cl := startCluster(t, Config{Reserved: "cpus(pub):2;mem(pub):512;ports(pub):[30000-30001]", Ports: "30000-30010", AllocationInterval: 50 * time.Millisecond})
	fi := frameworkInfo("pre-reserved", mesos.FrameworkInfo_Capability_MULTI_ROLE, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	fi.Roles = []string{"pub/svc"}
	fi.Principal = strPtr("p")
	s := subscribe(t, cl, fi, jsonCodec)
	o := s.offerWhere("statically reserved cpus", reservedFor("pub"))
	for _, r := range o.Resources {
		if r.Name == "ports" && r.IsUnreserved() && r.Ranges.Range[0].Begin < 30002 {
			t.Errorf("reserved ports also offered unreserved: %v", r)
		}
	}
	static := func(r mesos.Resource) mesos.Resource {
		r.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: strPtr("pub")}}
		return r
	}
	s.accept(o, withID(calls.OpUnreserve(static(cpus(2))), "unreserve-static"))
	if st := s.opStatus("unreserve-static"); st.State != mesos.OPERATION_ERROR || !strings.Contains(st.GetMessage(), "is not dynamically reserved") {
		t.Errorf("unreserving a static reservation: %s %q", st.State, st.GetMessage())
	}
	o = s.offerWhere("statically reserved cpus", reservedFor("pub"))
	refined := dynamic(static(cpus(2)), "pub/svc", "p", labels("resource_id", "r1"), true)
	s.accept(o, withID(calls.OpReserve(refined), "refine"))
	if st := s.opStatus("refine"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("refining a static reservation: %s %q", st.State, st.GetMessage())
	}

	if err := cl.KillAgent("0"); err != nil {
		t.Fatal(err)
	}
	info, err := cl.RestartAgent("0")
	if err != nil {
		t.Fatal(err)
	}
	o = s.offerWhere("the refined reservation", func(r *mesos.Resource) bool { return r.IsReserved("pub/svc") })
	for o.AgentID.Value != info.ID { // an offer of the agent before its restart
		o = s.offerWhere("the refined reservation", func(r *mesos.Resource) bool { return r.IsReserved("pub/svc") })
	}
	for _, r := range o.Resources {
		if r.IsReserved("pub/svc") && (len(r.Reservations) != 2 || r.Reservations[0].GetType() != mesos.Resource_ReservationInfo_STATIC) {
			t.Errorf("refined reservation after the restart: %v", r)
		}
	}
	s.accept(o, withID(calls.OpUnreserve(refined), "pop"))
	if st := s.opStatus("pop"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("unreserving the refinement: %s %q", st.State, st.GetMessage())
	}
	s.offerWhere("static cpus again", func(r *mesos.Resource) bool {
		return r.Name == "cpus" && r.IsReserved("pub") && len(r.Reservations) == 1 && r.GetScalar().GetValue() == 2
	})
}
