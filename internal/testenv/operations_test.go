package testenv

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

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
