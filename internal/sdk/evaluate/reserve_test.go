package evaluate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/spec"
)

// The reservation tests follow the SDK's OfferEvaluatorTest and
// OfferEvaluatorVolumesTest: a first launch reserves everything the pod
// uses and creates its volumes; a relaunch finds them by resource ID.

// reserver is an evaluator that reserves for svc-role as svc-principal,
// with IDs id1, id2, ...
func reserver() *Evaluator {
	ev := New("svc", "svc-role")
	ev.Principal = "svc-principal"
	n := 0
	ev.NewID = func() string { n++; return fmt.Sprintf("id%d", n) }
	return ev
}

// fit evaluates r against one offer of opts; it fails the test when the
// offer does not fit.
func fit(t *testing.T, ev *Evaluator, r *Requirement, opts ...sdktest.OfferOption) *Recommendation {
	t.Helper()
	rec, outs := try(ev, r, opts...)
	if rec == nil {
		t.Fatalf("no fit: %v", outs)
	}
	return rec
}

func try(ev *Evaluator, r *Requirement, opts ...sdktest.OfferOption) (*Recommendation, []Outcome) {
	o := sdktest.Offer("o1", "a1", "h1", opts...)
	return ev.Evaluate(r, &o, NewPool([]string{"svc-role", "slave_public/svc-role"}, &o), NewCluster())
}

// reservedAgain is what an agent offers once a recommendation's
// operations applied and its tasks ended: every item of its reservation.
func reservedAgain(rec *Recommendation) sdktest.OfferOption {
	var rs []mesos.Resource
	for _, it := range rec.Reservation.Items {
		rs = append(rs, it.Resource)
	}
	return sdktest.Resources(rs...)
}

// unreserved is plenty of everything, unreserved.
func unreserved() []sdktest.OfferOption {
	return []sdktest.OfferOption{sdktest.CPUs(8), sdktest.Mem(8192), sdktest.Disk(16384), sdktest.Ports(31000, 31010)}
}

func keys(r *reservation.Reservation) []string {
	var out []string
	for _, it := range r.Items {
		out = append(out, it.Key)
	}
	return out
}

// checkReserved checks that r is dynamically reserved for role by
// svc-principal with its resource ID (and only that reservation on top of
// below).
func checkReserved(t *testing.T, r mesos.Resource, role string, below int) {
	t.Helper()
	rs := r.GetReservations()
	if len(rs) != below+1 {
		t.Fatalf("%s: reservations %v", r.Name, rs)
	}
	last := rs[below]
	if last.GetType() != mesos.Resource_ReservationInfo_DYNAMIC || last.GetRole() != role || last.GetPrincipal() != "svc-principal" || reservation.ResourceID(&r) == "" {
		t.Errorf("%s: reservation %v", r.Name, last)
	}
}

const twoTaskPod = "volume: {path: shared, type: ROOT, size: 64}\n"

// TestFirstLaunchReservesThePod: a pod instance without a reservation
// reserves the executor's share, every resource set (the tasks not
// launched yet too) and the volumes, each under its own resource ID, and
// creates the volumes; its tasks use the reserved forms.
func TestFirstLaunchReservesThePod(t *testing.T) {
	pod := podSpec(t, twoTaskPod+"resource-sets:\n  side: {cpus: 0.5, memory: 32, ports: {admin: {port: 0}}, volume: {path: side-data, type: ROOT, size: 10}}\n",
		"ports:\n  http: {port: 31005, env-key: HTTP}\nvolume: {path: data, type: ROOT, size: 100}\n")
	pod.Tasks.Keys = append(pod.Tasks.Keys, "later")
	pod.Tasks.Values = append(pod.Tasks.Values, &spec.TaskSpec{Name: "later", Goal: spec.GoalRunning, Cmd: "x", ResourceSet: "side"})
	r := &Requirement{Step: "s", Pod: pod, Index: 0, Tasks: []string{"t"}}
	rec := fit(t, reserver(), r, unreserved()...)

	wantKeys := []string{"executor/cpus", "executor/mem", "executor/disk", "t-resource-set/port/http", "side/port/admin",
		"t-resource-set/cpus", "t-resource-set/mem", "side/cpus", "side/mem", "pod/volume/shared", "t-resource-set/volume/data", "side/volume/side-data"}
	if got := keys(rec.Reservation); !slices.Equal(got, wantKeys) {
		t.Errorf("items %v,\nwant %v", got, wantKeys)
	}
	if !slices.Equal(rec.Reserved, wantKeys) {
		t.Errorf("reserved %v", rec.Reserved)
	}
	if len(rec.Reserve) != len(wantKeys) || len(rec.Create) != 3 || len(rec.Unreserve) != 0 {
		t.Fatalf("operations: %d reserve, %d create, %d unreserve", len(rec.Reserve), len(rec.Create), len(rec.Unreserve))
	}
	ids := map[string]bool{}
	for _, it := range rec.Reservation.Items {
		if ids[it.ID] || it.ID == "" || reservation.ResourceID(&it.Resource) != it.ID {
			t.Errorf("%s: ID %q (label %q) not unique", it.Key, it.ID, reservation.ResourceID(&it.Resource))
		}
		ids[it.ID] = true
		checkReserved(t, it.Resource, "svc-role", 0)
	}
	for _, v := range rec.Create {
		d := v.GetDisk()
		if d.GetPersistence().GetID() == "" || d.GetPersistence().GetPrincipal() != "svc-principal" || d.GetVolume().GetMode() != mesos.RW {
			t.Errorf("volume %v", d)
		}
	}
	if rec.Create[0].GetDisk().GetVolume().ContainerPath != "shared" || rec.Create[1].GetDisk().GetVolume().ContainerPath != "data" {
		t.Errorf("volume paths %v %v", rec.Create[0].GetDisk(), rec.Create[1].GetDisk())
	}
	// The executor holds the pod's volume; the task its resources and volume.
	if n := len(rec.ExecutorResources); n != 4 || !rec.ExecutorResources[3].IsPersistentVolume() {
		t.Errorf("executor resources %v", rec.ExecutorResources)
	}
	c := rec.Tasks[0]
	if got := reservation.Describe(c.Resources); got != "1 cpus, 256 MB mem, ports 31005, 100 MB disk (volume data)" {
		t.Errorf("task resources %s", got)
	}
	if len(c.Ports) != 1 || c.Ports[0].Number != 31005 {
		t.Errorf("ports %v", c.Ports)
	}
	// Reserved plus left is what was offered.
	o := sdktest.Offer("o1", "a1", "h1", unreserved()...)
	all := mesos.Resources(rec.Left.Resources()).Plus(mesos.Resources(rec.Reserve).ToUnreserved()...)
	for _, name := range []string{"cpus", "mem", "disk"} {
		if a, b := sum(all, name), sum(o.Resources, name); a != b {
			t.Errorf("%s: reserved + left = %g, offered %g", name, a, b)
		}
	}
}

// TestRelaunchOnTheReservation: the next launch of the pod instance takes
// every resource by its resource ID: no new reservation, the volume (and
// so its data) kept, the dynamic port kept; the other tasks' items stay.
func TestRelaunchOnTheReservation(t *testing.T) {
	pod := podSpec(t, twoTaskPod, "ports:\n  http: {port: 0, env-key: HTTP}\nvolume: {path: data, type: ROOT, size: 100}\n")
	ev := reserver()
	first := fit(t, ev, req(pod, 0), unreserved()...)
	r := req(pod, 0)
	r.Reservation = first.Reservation
	r.Recovery = RecoveryTransient
	// Unreserved resources are offered too, and must not be taken.
	rec := fit(t, ev, r, append(unreserved(), reservedAgain(first))...)
	if len(rec.Reserve)+len(rec.Create)+len(rec.Unreserve) != 0 || len(rec.Reserved) != 0 {
		t.Errorf("operations on a relaunch: reserve %v create %v unreserve %v", rec.Reserve, rec.Create, rec.Unreserve)
	}
	for i, it := range rec.Reservation.Items {
		was := first.Reservation.Items[i]
		if it.Key != was.Key || it.ID != was.ID || !it.Resource.Equivalent(was.Resource) {
			t.Errorf("item %s: %v, was %v", it.Key, it, was)
		}
	}
	if got, want := rec.Tasks[0].Ports[0].Number, first.Tasks[0].Ports[0].Number; got != want {
		t.Errorf("dynamic port %d, was %d", got, want)
	}
	if !slices.EqualFunc(rec.Tasks[0].Resources, first.Tasks[0].Resources, func(a, b mesos.Resource) bool { return a.Equivalent(b) }) {
		t.Errorf("task resources differ:\n%v\n%v", rec.Tasks[0].Resources, first.Tasks[0].Resources)
	}
	if got := rec.Left.Scalar("cpus"); got != 8 {
		t.Errorf("unreserved cpus left %g, want all 8", got)
	}
	// Without its reservation in the offer, it does not fit, and says where
	// it is.
	_, outs := try(ev, r, unreserved()...)
	if got := failed(outs); got != "FAIL(reservation): p-0's reservation (8 resources) is on host h1 (agent a1), not in this offer" {
		t.Errorf("other offer: %s", got)
	}
}

// TestReservationFollowsTheSpec: a relaunch grows and shrinks reservations
// to what the spec asks now (RESERVE and UNRESERVE of the difference under
// the same resource ID), reserves a port the spec added, leaves out one it
// dropped, moves a fixed port it changed, and creates again a volume whose
// CREATE was lost.
func TestReservationFollowsTheSpec(t *testing.T) {
	ev := reserver()
	pod := podSpec(t, "", "ports:\n  a: {port: 31001}\n  b: {port: 0}\nvolume: {path: data, type: ROOT, size: 100}\n")
	first := fit(t, ev, req(pod, 0), unreserved()...)
	item := func(rec *Recommendation, key string) *reservation.Item { return rec.Reservation.Item(key) }

	next := podSpec(t, "", "ports:\n  a: {port: 31002}\n  c: {port: 0}\nvolume: {path: data, type: ROOT, size: 100}\n")
	next.Tasks.Values[0].CPUs, next.Tasks.Values[0].Memory = 2, 128
	r := req(next, 0)
	r.Reservation = first.Reservation
	// The volume's disk is offered without its volume: its CREATE was lost.
	var offered []mesos.Resource
	for _, it := range first.Reservation.Items {
		if it.Resource.IsPersistentVolume() {
			offered = append(offered, reservation.WithoutVolume(it.Resource))
			continue
		}
		offered = append(offered, it.Resource)
	}
	rec := fit(t, ev, r, append(unreserved(), sdktest.Resources(offered...))...)

	if got := reservation.Describe(rec.Reserve); got != "ports 31002, ports 31000, 1 cpus" {
		t.Errorf("reserve %s", got)
	}
	if got := reservation.Describe(rec.Unreserve); got != "128 MB mem" {
		t.Errorf("unreserve %s", got)
	}
	if reservation.ResourceID(&rec.Reserve[2]) != item(first, "t-resource-set/cpus").ID || reservation.ResourceID(&rec.Unreserve[0]) != item(first, "t-resource-set/mem").ID {
		t.Errorf("grow and shrink must keep the resource IDs")
	}
	if c := item(rec, "t-resource-set/cpus"); c.Resource.GetScalar().GetValue() != 2 || c.ID != item(first, "t-resource-set/cpus").ID {
		t.Errorf("cpus item %v", c)
	}
	if item(rec, "t-resource-set/port/b") != nil || item(rec, "t-resource-set/port/c") == nil || item(rec, "t-resource-set/port/a").ID == item(first, "t-resource-set/port/a").ID {
		t.Errorf("ports: %v", keys(rec.Reservation))
	}
	if len(rec.Create) != 1 || rec.Create[0].GetDisk().GetPersistence().GetID() != item(first, "t-resource-set/volume/data").Resource.GetDisk().GetPersistence().GetID() {
		t.Errorf("the volume is created again with its persistence ID: %v", rec.Create)
	}
	if !slices.Equal(rec.Reserved, []string{"t-resource-set/port/a", "t-resource-set/port/c"}) {
		t.Errorf("reserved anew %v", rec.Reserved)
	}
}

// TestWholePodAndSharedResourceSet: a resource set shared by tasks run in
// turn is reserved once, at the pod's first launch; the next task takes
// it by resource ID, and the first task's items stay in the reservation.
func TestWholePodAndSharedResourceSet(t *testing.T) {
	pod := podSpec(t, "resource-sets:\n  rs: {cpus: 0.5, memory: 64, volume: {path: data, type: ROOT, size: 10}}\n", "resource-set: rs\ngoal: FINISH\n")
	pod.Tasks.Keys = append(pod.Tasks.Keys, "u")
	pod.Tasks.Values = append(pod.Tasks.Values, &spec.TaskSpec{Name: "u", Goal: spec.GoalRunning, Cmd: "x", ResourceSet: "rs"})
	ev := reserver()
	first := fit(t, ev, &Requirement{Pod: pod, Tasks: []string{"t"}}, unreserved()...)
	if got := keys(first.Reservation); !slices.Equal(got, []string{"executor/cpus", "executor/mem", "executor/disk", "rs/cpus", "rs/mem", "rs/volume/data"}) {
		t.Errorf("items %v", got)
	}
	r := &Requirement{Pod: pod, Tasks: []string{"u"}, Reservation: first.Reservation}
	rec := fit(t, ev, r, reservedAgain(first))
	if len(rec.Reserve)+len(rec.Create) != 0 || rec.Tasks[0].Name != "p-0-u" {
		t.Errorf("second task: reserve %v create %v", rec.Reserve, rec.Create)
	}
	if !slices.EqualFunc(rec.Tasks[0].Resources, first.Tasks[0].Resources, func(a, b mesos.Resource) bool { return a.Equivalent(b) }) {
		t.Errorf("the tasks of a shared set use the same resources:\n%v\n%v", rec.Tasks[0].Resources, first.Tasks[0].Resources)
	}
	// Joining a running executor: its items stay, none is taken for it.
	r = &Requirement{Pod: pod, Tasks: []string{"u"}, Reservation: first.Reservation, Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e1"}}}
	var rs []mesos.Resource
	for _, it := range first.Reservation.Items {
		if reservation.Owner(it.Key) == "rs" {
			rs = append(rs, it.Resource)
		}
	}
	rec = fit(t, ev, r, sdktest.Resources(rs...), sdktest.Executors("e1"))
	if got := keys(rec.Reservation); !slices.Equal(got, keys(first.Reservation)) || len(rec.ExecutorResources) != 0 {
		t.Errorf("joining: items %v, executor %v", got, rec.ExecutorResources)
	}
}

// TestMountVolumes: a MOUNT volume takes the smallest offered MOUNT disk
// that holds it, whole, keeping its source; when none does, no offer fits
// and Explain says what is missing.
func TestMountVolumes(t *testing.T) {
	pod := podSpec(t, "", "volume: {path: data, type: MOUNT, size: 1500}\n")
	ev := reserver()
	rec := fit(t, ev, req(pod, 0), append(unreserved(), sdktest.MountDisk(4096, "/mnt/a"), sdktest.MountDisk(2048, "/mnt/b"), sdktest.MountDisk(1024, "/mnt/c"))...)
	v := rec.Create[0]
	if v.GetScalar().GetValue() != 2048 || v.GetDisk().GetSource().GetMount().GetRoot() != "/mnt/b" || v.GetDisk().GetVolume().ContainerPath != "data" {
		t.Errorf("volume %v", v)
	}
	if r := rec.Reserve[len(rec.Reserve)-1]; !r.IsDisk(mesos.Resource_DiskInfo_Source_MOUNT) || r.IsPersistentVolume() {
		t.Errorf("the RESERVE names the MOUNT disk as offered: %v", r)
	}
	if len(rec.Left.Mounts()) != 2 {
		t.Errorf("mounts left %v", rec.Left.Mounts())
	}
	big := podSpec(t, "", "volume: {path: data, type: MOUNT, size: 2048}\n")
	var failures []OfferFailure
	for _, opts := range [][]sdktest.OfferOption{append(unreserved(), sdktest.MountDisk(1024, "/mnt/a")), unreserved()} {
		_, outs := try(ev, req(big, 0), opts...)
		failures = append(failures, OfferFailure{Host: "h1", Outcome: outs[len(outs)-1]})
	}
	got := Explain(failures)
	want := "no offer has 2048 MB of MOUNT disk: h1: FAIL(volumes): volume data of task p-0-t needs a MOUNT disk of at least 2048 MB (MOUNT disks of 1024 MB offered); h1: FAIL(volumes): volume data of task p-0-t needs a MOUNT disk of at least 2048 MB (no MOUNT disk offered)"
	if got != want {
		t.Errorf("explain:\n%s\nwant\n%s", got, want)
	}
	// A ROOT volume never takes a MOUNT disk.
	root := podSpec(t, "", "volume: {path: data, type: ROOT, size: 500}\n")
	_, outs := try(ev, req(root, 0), sdktest.CPUs(8), sdktest.Mem(8192), sdktest.Disk(300), sdktest.MountDisk(4096, "/mnt/a"))
	if got := failed(outs); got != "FAIL(volumes): volume data of task p-0-t needs 500 MB disk (44 MB disk left)" {
		t.Errorf("root volume: %s", got)
	}
}

// TestPreReservedRole: a pod with a pre-reserved role reserves, for
// "<pre-reserved role>/<role>", only resources reserved for that role: the
// reservation refines the static one.
func TestPreReservedRole(t *testing.T) {
	pod := podSpec(t, "pre-reserved-role: slave_public\n", "ports:\n  http: {port: 80}\n")
	ev := reserver()
	_, outs := try(ev, req(pod, 0), unreserved()...)
	if got := failed(outs); !strings.Contains(got, "FAIL(executor-resources): the executor of p-0 needs 0.1 cpus (0 cpus left)") {
		t.Errorf("unreserved only: %s", got)
	}
	rec := fit(t, ev, req(pod, 0), append(unreserved(), sdktest.StaticReserved("slave_public", sdktest.CPUs(2), sdktest.Mem(1024), sdktest.Disk(1024), sdktest.Ports(80, 80)))...)
	for _, it := range rec.Reservation.Items {
		checkReserved(t, it.Resource, "slave_public/svc-role", 1)
		if st := it.Resource.GetReservations()[0]; st.GetType() != mesos.Resource_ReservationInfo_STATIC || st.GetRole() != "slave_public" {
			t.Errorf("%s: below %v", it.Key, st)
		}
	}
	if rec.Reservation.Role != "slave_public/svc-role" || rec.Left.Scalar("cpus") != 0.9 {
		t.Errorf("role %s, pre-reserved cpus left %g", rec.Reservation.Role, rec.Left.Scalar("cpus"))
	}
	// Released, the resources go back to slave_public.
	_, unres := reservation.Release(rec.Reserve)
	for _, r := range unres {
		got := mesos.Resources([]mesos.Resource{r}).PopReservation()
		if got[0].ReservationRole() != "slave_public" {
			t.Errorf("popped %v", got)
		}
	}
}

// TestReservationsOfOthers: reservations of another role, or of the role
// without a resource ID (not the framework's), or labelled with IDs the
// pod instance does not hold, are never taken.
func TestReservationsOfOthers(t *testing.T) {
	pod := podSpec(t, "", "")
	ev := reserver()
	cpus := mesos.Resource{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 8}}
	other := reservation.Reserve([]mesos.Resource{cpus}, "svc-role", "svc-principal", "someone-elses")
	_, outs := try(ev, req(pod, 0), sdktest.Reserved("other-role", sdktest.CPUs(8)), sdktest.Reserved("svc-role", sdktest.CPUs(8)), sdktest.Resources(other...), sdktest.Mem(8192), sdktest.Disk(8192))
	if got := failed(outs); got != "FAIL(executor-resources): the executor of p-0 needs 0.1 cpus (0 cpus left)" {
		t.Errorf("%s", got)
	}
	// An item whose RESERVE is not confirmed, not offered, is waited for.
	first := fit(t, ev, req(pod, 0), unreserved()...)
	res := first.Reservation.Clone()
	for i := range res.Items {
		res.Items[i].Op = "op-1"
	}
	r := req(pod, 0)
	r.Reservation = res
	var some []mesos.Resource
	for _, it := range res.Items[1:] {
		some = append(some, it.Resource)
	}
	_, outs = try(ev, r, sdktest.Resources(some...))
	want := fmt.Sprintf("FAIL(executor-resources): p-0's reservation of executor/cpus (resource ID %s) is not in this offer: waiting for its RESERVE (operation op-1) to be confirmed", res.Items[0].ID)
	if got := failed(outs); got != want {
		t.Errorf("unconfirmed:\n%s\nwant\n%s", got, want)
	}
	// Offered, an unconfirmed item is known to exist: the new reservation
	// holds it confirmed.
	rec := fit(t, ev, r, reservedAgain(first))
	if ops := rec.Reservation.Pending(); len(ops) != 0 {
		t.Errorf("pending %v", ops)
	}
}

// TestExecutorShareLackingReservesNothing: an offer that lacks part of a new
// executor's share fails at executor-resources, for the reason the claim of
// that part gives, before a resource ID is spent on the parts it has.
func TestExecutorShareLackingReservesNothing(t *testing.T) {
	pod := podSpec(t, "", "")
	for _, tc := range []struct {
		name   string
		offer  []sdktest.OfferOption
		reason string
	}{
		{"disk", []sdktest.OfferOption{sdktest.CPUs(8), sdktest.Mem(8192), sdktest.Disk(100)}, "the executor of p-0 needs 256 MB disk (100 MB disk left)"},
		{"mem", []sdktest.OfferOption{sdktest.CPUs(8), sdktest.Mem(16), sdktest.Disk(16384)}, "the executor of p-0 needs 32 MB mem (16 MB mem left)"},
		{"cpus", []sdktest.OfferOption{sdktest.CPUs(0.05), sdktest.Mem(8192), sdktest.Disk(16384)}, "the executor of p-0 needs 0.1 cpus (0.05 cpus left)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := reserver()
			ids := 0
			ev.NewID = func() string { ids++; return fmt.Sprint("id", ids) }
			rec, outs := try(ev, &Requirement{Step: "s", Pod: pod, Index: 0, Tasks: []string{"t"}}, tc.offer...)
			last := outs[len(outs)-1]
			if rec != nil || last.Stage != "executor-resources" || last.Reason != tc.reason {
				t.Fatalf("outcome %v, want FAIL(executor-resources): %s", last, tc.reason)
			}
			if ids != 0 {
				t.Errorf("%d resource IDs spent on a failing evaluation", ids)
			}
		})
	}
}

// TestRelaunchFollowsARenamedResourceSet: a relaunch in place maps what
// the task's previous TaskInfo held to its resource set whatever the set
// is called now, as the SDK's TaskResourceMapper does (by resource name,
// a port by name, a volume by container path): a set renamed in svc.yml
// keeps its reservation and its volume, persistence ID included, under
// its new ID, and nothing is reserved or created. Without the previous
// TaskInfo the set is reserved anew and the old items are left out (for
// the scheduler to release); a name another task's set still has keeps
// its items for that set.
func TestRelaunchFollowsARenamedResourceSet(t *testing.T) {
	set := func(name, other string) *spec.PodSpec {
		sets := "resource-sets:\n  " + name + ": {cpus: 0.5, memory: 64, ports: {admin: {port: 0}}, volume: {path: data, type: ROOT, size: 100}}\n"
		pod := podSpec(t, sets+other, "resource-set: "+name+"\n")
		return pod
	}
	ev := reserver()
	first := fit(t, ev, req(set("data", ""), 0), unreserved()...)
	prev := &mesos.TaskInfo{Name: "p-0-t", Resources: first.Tasks[0].Resources}
	pid := first.Reservation.Item("data/volume/data").Resource.GetDisk().GetPersistence().GetID()
	for _, tt := range []struct {
		name     string
		pod      *spec.PodSpec
		previous []*mesos.TaskInfo
		follows  bool
		oldKept  bool // the old set's items stay (another task's set)
	}{
		{name: "renamed", pod: set("storage", ""), previous: []*mesos.TaskInfo{prev}, follows: true},
		{name: "no previous TaskInfo", pod: set("storage", "")},
		{name: "the previous TaskInfo of another task", pod: set("storage", ""), previous: []*mesos.TaskInfo{{Name: "p-1-t", Resources: prev.Resources}}},
		// The items follow t, whose TaskInfo names them; u, new, reserves
		// its set when it launches.
		{name: "the old name now a new task's set", pod: withTask(set("storage", "  data: {cpus: 0.1}\n"), "u", "data"), previous: []*mesos.TaskInfo{prev}, follows: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := req(tt.pod, 0)
			r.Tasks = []string{"t"}
			r.Reservation, r.Previous, r.Recovery = first.Reservation, tt.previous, RecoveryTransient
			rec, outs := try(ev, r, append(unreserved(), reservedAgain(first))...)
			if rec == nil {
				t.Fatalf("no fit: %v", outs)
			}
			vol := rec.Reservation.Item("storage/volume/data")
			if !tt.follows {
				if len(rec.Create) != 1 || vol == nil || vol.ID == first.Reservation.Item("data/volume/data").ID {
					t.Errorf("reserved anew: create %v, items %v", rec.Create, keys(rec.Reservation))
				}
				kept := slices.ContainsFunc(rec.Reservation.Items, func(it reservation.Item) bool {
					return reservation.Owner(it.Key) == "data" && it.ID == first.Reservation.Item(it.Key).ID
				})
				if kept != tt.oldKept {
					t.Errorf("the old set's items kept %v, want %v: %v", kept, tt.oldKept, keys(rec.Reservation))
				}
				return
			}
			if len(rec.Reserve)+len(rec.Create)+len(rec.Unreserve) != 0 || len(rec.Reserved) != 0 {
				t.Errorf("operations: reserve %v create %v unreserve %v", rec.Reserve, rec.Create, rec.Unreserve)
			}
			if len(rec.Reservation.Items) != len(first.Reservation.Items) {
				t.Fatalf("items %v, was %v", keys(rec.Reservation), keys(first.Reservation))
			}
			for _, was := range first.Reservation.Items {
				key := was.Key
				if o := reservation.Owner(key); o == "data" {
					key = "storage" + key[len(o):]
				}
				it := rec.Reservation.Item(key)
				if it == nil || it.ID != was.ID {
					t.Errorf("%s: %v, was %s %s", key, it, was.Key, was.ID)
				}
			}
			if got := vol.Resource.GetDisk().GetPersistence().GetID(); got != pid {
				t.Errorf("volume %q, want its own %q", got, pid)
			}
			if got, want := rec.Tasks[0].Ports[0].Number, first.Tasks[0].Ports[0].Number; got != want {
				t.Errorf("dynamic port %d, was %d", got, want)
			}
			if got := outs[slices.IndexFunc(outs, func(o Outcome) bool { return o.Stage == "reservation" })].String(); !strings.Contains(got, "resource set storage (was data) keeps its reservation") {
				t.Errorf("reservation stage: %s", got)
			}
			// Back on a configuration with the old name (a recovery on the
			// configuration the task ran): the same rule, the other way.
			back := req(set("data", ""), 0)
			back.Reservation, back.Previous = rec.Reservation, []*mesos.TaskInfo{{Name: "p-0-t", Resources: rec.Tasks[0].Resources}}
			again := fit(t, ev, back, reservedAgain(rec))
			if len(again.Reserve)+len(again.Create) != 0 || again.Reservation.Item("data/volume/data").ID != vol.ID {
				t.Errorf("back: reserve %v create %v items %v", again.Reserve, again.Create, keys(again.Reservation))
			}
		})
	}
}

// withTask adds task name, using resource set rs, to pod.
func withTask(pod *spec.PodSpec, name, rs string) *spec.PodSpec {
	pod.Tasks.Keys = append(pod.Tasks.Keys, name)
	pod.Tasks.Values = append(pod.Tasks.Values, &spec.TaskSpec{Name: name, Goal: spec.GoalRunning, Cmd: "x", ResourceSet: rs})
	return pod
}

// TestRelaunchFollowsSwappedResourceSets: two tasks swapping resource sets
// of the same shape each relaunch on the resources and volume their own
// previous TaskInfo names, as the SDK's TaskResourceMapper maps them (by
// resource name and container path, whatever the set is called), only
// when the previous TaskInfos of the pod's tasks not launched count too
// (a task launched alone would otherwise take the other's set). When the
// TaskInfos cannot be mapped (a merge: both tasks now share one set), the
// relaunch is refused rather than hand a task the other's volume.
func TestRelaunchFollowsSwappedResourceSets(t *testing.T) {
	const sets = "resource-sets:\n  x: {cpus: 0.5, memory: 64, volume: {path: data, type: ROOT, size: 100}}\n  y: {cpus: 0.5, memory: 64, volume: {path: data, type: ROOT, size: 100}}\n"
	pod := func(t1, t2 string) *spec.PodSpec {
		return withTask(podSpec(t, sets, "resource-set: "+t1+"\n"), "u", t2)
	}
	ev := reserver()
	first := fit(t, ev, req(pod("x", "y"), 0), unreserved()...)
	prev := map[string]*mesos.TaskInfo{}
	pids := map[string]string{}
	for _, c := range first.Tasks {
		prev[c.Name] = &mesos.TaskInfo{Name: c.Name, Resources: c.Resources}
		for _, r := range c.Resources {
			if r.IsPersistentVolume() {
				pids[c.Name] = r.GetDisk().GetPersistence().GetID()
			}
		}
	}
	if len(pids) != 2 || pids["p-0-t"] == pids["p-0-u"] {
		t.Fatalf("deployed volumes %v", pids)
	}
	all := []*mesos.TaskInfo{prev["p-0-t"], prev["p-0-u"]}
	for _, tt := range []struct {
		name     string
		pod      *spec.PodSpec
		tasks    []string
		previous []*mesos.TaskInfo
		wantErr  string // the volume stage's failure; "" when it fits
		// asIs: it fits with every item where it was (nothing mapped,
		// nothing released).
		asIs bool
	}{
		{name: "the pod", pod: pod("y", "x"), tasks: []string{"t", "u"}, previous: all},
		{name: "one task", pod: pod("y", "x"), tasks: []string{"t"}, previous: all},
		{name: "one task, the other's TaskInfo unknown", pod: pod("y", "x"), tasks: []string{"t"}, previous: all[:1],
			wantErr: "task p-0-t ran on volume data (persistence ID " + pids["p-0-t"] + ", reserved as x/volume/data); its resource set y would give it persistence ID " + pids["p-0-u"]},
		{name: "merged", pod: pod("y", "y"), tasks: []string{"t"}, previous: all,
			wantErr: "tasks p-0-t and p-0-u ran on resource sets x and y but both use y now"},
		// u keeps its own; t's volume, on a set the spec no longer has, is
		// kept for t rather than released by u's launch.
		{name: "merged, the other task launched", pod: pod("y", "y"), tasks: []string{"u"}, previous: all, asIs: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := req(tt.pod, 0)
			r.Tasks, r.Reservation, r.Previous, r.Recovery = tt.tasks, first.Reservation, tt.previous, RecoveryTransient
			rec, outs := try(ev, r, reservedAgain(first))
			if tt.wantErr != "" {
				if rec != nil || !strings.Contains(failed(outs), tt.wantErr) || !strings.Contains(failed(outs), "refusing to hand it another task's volume") {
					t.Fatalf("fit %v, outcomes %v; want %q", rec != nil, outs, tt.wantErr)
				}
				return
			}
			if rec == nil {
				t.Fatalf("no fit: %v", outs)
			}
			if len(rec.Reserve)+len(rec.Create)+len(rec.Unreserve) != 0 {
				t.Errorf("operations: reserve %v create %v unreserve %v", rec.Reserve, rec.Create, rec.Unreserve)
			}
			if tt.asIs {
				got, was := keys(rec.Reservation), keys(first.Reservation)
				slices.Sort(got)
				slices.Sort(was)
				if !slices.Equal(got, was) {
					t.Errorf("items %v, was %v", got, was)
				}
				if it := rec.Reservation.Item("x/volume/data"); it == nil || it.Resource.GetDisk().GetPersistence().GetID() != pids["p-0-t"] {
					t.Errorf("t's volume %v, want %q kept", it, pids["p-0-t"])
				}
			}
			for _, c := range rec.Tasks {
				got := ""
				for _, r := range c.Resources {
					if r.IsPersistentVolume() {
						got = r.GetDisk().GetPersistence().GetID()
					}
				}
				if got != pids[c.Name] {
					t.Errorf("%s relaunched on volume %q, want its own %q", c.Name, got, pids[c.Name])
				}
			}
			if tt.asIs {
				return
			}
			// Each item is kept under the set its task uses now, none
			// dropped.
			if len(rec.Reservation.Items) != len(first.Reservation.Items) {
				t.Errorf("items %v, was %v", keys(rec.Reservation), keys(first.Reservation))
			}
			for _, was := range first.Reservation.Items {
				key := was.Key
				switch reservation.Owner(key) {
				case "x":
					key = "y" + key[1:]
				case "y":
					key = "x" + key[1:]
				}
				if it := rec.Reservation.Item(key); it == nil || it.ID != was.ID {
					t.Errorf("%s: %v, was %s %s", key, it, was.Key, was.ID)
				}
			}
		})
	}
}

// TestRelaunchFollowsBesideAnUnmappableSet: the SDK maps each resource
// set's resources on its own (OfferEvaluator.getExistingResourceSetStages),
// so a set that cannot be mapped (here x, whose items the TaskInfos of t
// and u both name while u moves to a set y of its own) does not stop
// another set from following its task: v's set z, renamed w, keeps v's
// reservation and volume, and the reservation stage says both.
func TestRelaunchFollowsBesideAnUnmappableSet(t *testing.T) {
	const v1 = "resource-sets:\n  x: {cpus: 0.5, memory: 64}\n  z: {cpus: 0.5, memory: 64, volume: {path: data, type: ROOT, size: 100}}\n"
	const v2 = "resource-sets:\n  x: {cpus: 0.5, memory: 64}\n  y: {cpus: 0.5, memory: 64}\n  w: {cpus: 0.5, memory: 64, volume: {path: data, type: ROOT, size: 100}}\n"
	ev := reserver()
	r := req(withTask(withTask(podSpec(t, v1, "resource-set: x\n"), "u", "x"), "v", "z"), 0)
	r.Tasks = []string{"t", "v"}
	first := fit(t, ev, r, unreserved()...)
	var prev []*mesos.TaskInfo
	pid := ""
	for _, c := range first.Tasks {
		prev = append(prev, &mesos.TaskInfo{Name: c.Name, Resources: c.Resources})
		if c.Name == "p-0-t" { // u ran on x's items too
			prev = append(prev, &mesos.TaskInfo{Name: "p-0-u", Resources: c.Resources})
		}
		for _, res := range c.Resources {
			if res.IsPersistentVolume() {
				pid = res.GetDisk().GetPersistence().GetID()
			}
		}
	}
	if pid == "" || len(prev) != 3 {
		t.Fatalf("deployed %v, volume %q", prev, pid)
	}
	r = req(withTask(withTask(podSpec(t, v2, "resource-set: x\n"), "u", "y"), "v", "w"), 0)
	r.Tasks, r.Reservation, r.Previous, r.Recovery = []string{"u", "v"}, first.Reservation, prev, RecoveryTransient
	rec, outs := try(ev, r, append(unreserved(), reservedAgain(first))...)
	if rec == nil {
		t.Fatalf("no fit: %v", outs)
	}
	for _, c := range rec.Tasks {
		for _, res := range c.Resources {
			if got := res.GetDisk().GetPersistence().GetID(); res.IsPersistentVolume() && (c.Name != "p-0-v" || got != pid) {
				t.Errorf("%s relaunched on volume %q, want v's own %q", c.Name, got, pid)
			}
		}
	}
	if len(rec.Create) != 0 {
		t.Errorf("volumes created: %v", rec.Create)
	}
	for _, key := range []string{"x/cpus", "w/volume/data"} {
		if it, was := rec.Reservation.Item(key), first.Reservation.Item(strings.Replace(key, "w/", "z/", 1)); it == nil || it.ID != was.ID {
			t.Errorf("%s: %v, want %s", key, it, was.ID)
		}
	}
	got := outs[slices.IndexFunc(outs, func(o Outcome) bool { return o.Stage == "reservation" })].String()
	for _, want := range []string{
		"resource set w (was z) keeps its reservation, as p-0-v's previous TaskInfo names it",
		"these resource sets' reservations stay as they are: tasks p-0-t and p-0-u both ran on resource set x's reservation but use x and y now",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("reservation stage %q, want %q", got, want)
		}
	}
}
