package reservation

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

func mount(mb float64, root string) mesos.Resource {
	r := scalar("disk", mb)
	r.Disk = &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{Type: mesos.Resource_DiskInfo_Source_MOUNT, Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: &root}}}
	return r
}

// TestReserveAndVolume: Reserve pushes a DYNAMIC reservation labelled with
// the resource ID onto what is below it (a static one for a pre-reserved
// role); Volume makes reserved disk a RW volume at a path, a MOUNT disk
// keeping its source; WithoutVolume undoes it.
func TestReserveAndVolume(t *testing.T) {
	static := scalar("cpus", 2)
	role := "slave_public"
	static.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: &role}}
	r := Reserve([]mesos.Resource{static}, "slave_public/svc-role", "p", "id-1")[0]
	if rs := r.GetReservations(); len(rs) != 2 || rs[1].GetRole() != "slave_public/svc-role" || rs[1].GetPrincipal() != "p" || ResourceID(&r) != "id-1" {
		t.Errorf("reserved %v", rs)
	}
	if !Ours(&r, []string{"svc-role", "slave_public/svc-role"}) || Ours(&r, []string{"svc-role"}) || Ours(&static, []string{"slave_public"}) {
		t.Error("Ours")
	}
	noPrincipal := Reserve([]mesos.Resource{scalar("mem", 64)}, "svc-role", "", "id-2")[0]
	if noPrincipal.GetReservations()[0].Principal != nil {
		t.Error("a principal without one")
	}
	d := Reserve([]mesos.Resource{mount(2048, "/mnt/a")}, "svc-role", "p", "id-3")[0]
	v := Volume(d, "pid", "p", "data")
	if !v.IsPersistentVolume() || v.GetDisk().GetSource().GetMount().GetRoot() != "/mnt/a" || v.GetDisk().GetVolume().ContainerPath != "data" || v.GetDisk().GetPersistence().GetPrincipal() != "p" {
		t.Errorf("volume %v", v.GetDisk())
	}
	if back := WithoutVolume(v); !back.Equivalent(d) {
		t.Errorf("without volume %v, want %v", back, d)
	}
	root := Reserve([]mesos.Resource{scalar("disk", 100)}, "svc-role", "", "id-4")[0]
	if back := WithoutVolume(Volume(root, "pid2", "", "logs")); back.Disk != nil || !back.Equivalent(root) {
		t.Errorf("root disk back %v", back)
	}
	destroy, unreserve := Release([]mesos.Resource{r, v, noPrincipal})
	if len(destroy) != 1 || !destroy[0].Equivalent(v) || len(unreserve) != 3 || unreserve[1].IsPersistentVolume() {
		t.Errorf("release: destroy %v, unreserve %v", destroy, unreserve)
	}
	if got := Describe([]mesos.Resource{r, noPrincipal, v, root, {Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 80, End: 80}, {Begin: 31000, End: 31002}}}}}); got != "2 cpus, 64 MB mem, 2048 MB MOUNT disk (volume data), 100 MB disk, ports 80,31000-31002" {
		t.Errorf("describe %q", got)
	}
}

// TestMarshal: a reservation survives the store, items, pending operations
// and their kinds (a RESERVE still pending on a released reservation) and
// the released flag included.
func TestMarshal(t *testing.T) {
	v := Volume(Reserve([]mesos.Resource{scalar("disk", 100)}, "svc-role", "p", "id-2")[0], "pid", "p", "data")
	r := &Reservation{Pod: "hello", Index: 3, AgentID: "a1", Hostname: "h1", Role: "svc-role", Releasing: true, Items: []Item{
		{Key: ScalarKey(KeyExecutor, "cpus"), ID: "id-1", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.1)}, "svc-role", "p", "id-1")[0], Op: "op-1", OpKind: OpReserve},
		{Key: VolumeKey("t-resource-set", "data"), ID: "id-2", Resource: v},
	}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Instance() != "hello-3" || got.AgentID != "a1" || got.Hostname != "h1" || got.Role != "svc-role" || !got.Releasing || len(got.Items) != 2 {
		t.Fatalf("unmarshaled %+v", got)
	}
	for i, it := range got.Items {
		w := r.Items[i]
		if it.Key != w.Key || it.ID != w.ID || it.Op != w.Op || it.OpKind != w.OpKind || !it.Resource.Equal(&w.Resource) {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
	if got.Items[0].Releases() {
		t.Error("a pending RESERVE taken for a release")
	}
	if got.Item("t-resource-set/volume/data").ID != "id-2" || got.ByID("id-1").Key != "executor/cpus" || got.Item("nope") != nil || got.ByID("nope") != nil {
		t.Error("lookups")
	}
	if p := got.Pending(); !slices.Equal(p, []string{"op-1"}) {
		t.Errorf("pending %v", p)
	}
	if Owner(PortKey("rs", "http")) != "rs" || Owner(VolumeKey(KeyPod, "x")) != KeyPod {
		t.Error("owners")
	}
	if _, err := Unmarshal([]byte("{")); err == nil {
		t.Error("a broken record parsed")
	}
	var none *Reservation
	if none.Item("x") != nil || none.ByID("x") != nil {
		t.Error("nil reservation")
	}
}

// TestReserveAsPushReservation: Reserve gives what mesos-go's
// PushReservation gives (empty resources left out, addable ones added
// together, the reservations below kept), without changing what it was
// given, whose Reservations may have room to grow in place.
func TestReserveAsPushReservation(t *testing.T) {
	role := "slave_public"
	static := []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: &role}}
	withRoom := make([]mesos.Resource_ReservationInfo, 1, 4)
	copy(withRoom, static)
	preReserved := scalar("mem", 512)
	preReserved.Reservations = withRoom
	ports := mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31000, End: 31000}}}}
	ports2 := ports
	ports2.Ranges = &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31005, End: 31005}}}
	for _, tc := range []struct {
		name       string
		resources  []mesos.Resource
		role, prin string
	}{
		{"unreserved", []mesos.Resource{scalar("cpus", 0.5)}, "svc-role", "p"},
		{"no principal", []mesos.Resource{scalar("cpus", 0.5)}, "svc-role", ""},
		{"pre-reserved", []mesos.Resource{preReserved}, "slave_public/svc-role", "p"},
		{"parts added", []mesos.Resource{scalar("cpus", 0.25), scalar("cpus", 0.5), scalar("mem", 32)}, "svc-role", "p"},
		{"empty left out", []mesos.Resource{scalar("cpus", 0), scalar("mem", 32)}, "svc-role", "p"},
		{"ports", []mesos.Resource{ports, ports2}, "svc-role", "p"},
		{"mount", []mesos.Resource{mount(2048, "/mnt/a")}, "svc-role", "p"},
		{"none", nil, "svc-role", "p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mesos.Resources(tc.resources).Clone()
			got := Reserve(tc.resources, tc.role, tc.prin, "id-1")
			ri := mesos.Resource_ReservationInfo{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: &tc.role,
				Labels: &mesos.Labels{Labels: []mesos.Label{{Key: LabelResourceID, Value: ptr("id-1")}}}}
			if tc.prin != "" {
				ri.Principal = &tc.prin
			}
			want := mesos.Resources(tc.resources).PushReservation(ri)
			if !slices.EqualFunc(got, want, func(a, b mesos.Resource) bool { return a.Equal(&b) }) {
				t.Errorf("Reserve %v\nPushReservation %v", got, want)
			}
			if !slices.EqualFunc(tc.resources, before, func(a, b mesos.Resource) bool { return a.Equal(&b) }) {
				t.Errorf("input changed: %v, was %v", tc.resources, before)
			}
		})
	}
	if len(withRoom[:2][1].GetRole()) != 0 {
		t.Error("Reserve wrote into the spare room of its input's Reservations")
	}
}

func ptr(s string) *string { return &s }

// TestRenamed: the items of a resource set the pod spec no longer has go
// under the set the task uses now, when the task's previous TaskInfo names
// them and that set holds nothing yet; keys keep their resource name,
// port name or volume path, items their IDs and resources.
func TestRenamed(t *testing.T) {
	vol := Volume(Reserve([]mesos.Resource{scalar("disk", 100)}, "r", "", "v1")[0], "pid-1", "", "data")
	items := func(owner string) []Item {
		return []Item{
			{Key: ScalarKey(KeyExecutor, "cpus"), ID: "e1", Resource: scalar("cpus", 0.1)},
			{Key: ScalarKey(owner, "cpus"), ID: "c1", Resource: scalar("cpus", 0.5)},
			{Key: PortKey(owner, "http"), ID: "p1"},
			{Key: VolumeKey(owner, "data"), ID: "v1", Resource: vol, Op: "op-1"},
		}
	}
	r := &Reservation{Pod: "p", Items: items("data")}
	live := func(owners ...string) func(string) bool {
		return func(o string) bool { return o == KeyExecutor || o == KeyPod || slices.Contains(owners, o) }
	}
	for _, tt := range []struct {
		name     string
		r        *Reservation
		to       string
		ids      []string
		live     func(string) bool
		wantFrom string
	}{
		{name: "renamed", r: r, to: "storage", ids: []string{"e1", "c1", "p1", "v1"}, live: live("storage"), wantFrom: "data"},
		{name: "the volume named only", r: r, to: "storage", ids: []string{"v1"}, live: live("storage"), wantFrom: "data"},
		{name: "the old set still in the spec", r: r, to: "storage", ids: []string{"c1"}, live: live("storage", "data")},
		{name: "the new set holds something", r: &Reservation{Items: append(items("data"), Item{Key: ScalarKey("storage", "mem"), ID: "m2"})}, to: "storage", ids: []string{"c1"}, live: live("storage")},
		{name: "no previous TaskInfo", r: r, to: "storage", live: live("storage")},
		{name: "no item named", r: r, to: "storage", ids: []string{"x"}, live: live("storage")},
		{name: "items of two old sets", r: &Reservation{Items: append(items("a"), Item{Key: ScalarKey("b", "mem"), ID: "m2"})}, to: "storage", ids: []string{"c1", "m2"}, live: live("storage")},
		{name: "no reservation", to: "storage", ids: []string{"c1"}, live: live("storage")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before []byte
			if tt.r != nil {
				before, _ = tt.r.Marshal()
			}
			got, from := tt.r.Renamed(tt.to, tt.ids, tt.live)
			if from != tt.wantFrom {
				t.Fatalf("renamed from %q, want %q", from, tt.wantFrom)
			}
			if tt.r != nil {
				if after, _ := tt.r.Marshal(); string(after) != string(before) {
					t.Error("Renamed changed its receiver")
				}
			}
			if from == "" {
				if got != tt.r {
					t.Error("not renamed, yet a new reservation")
				}
				return
			}
			want := items(tt.to)
			want[0].Key = ScalarKey(KeyExecutor, "cpus")
			if len(got.Items) != len(want) {
				t.Fatalf("items %v, want %v", got.Items, want)
			}
			for i, it := range got.Items {
				if it.Key != want[i].Key || it.ID != want[i].ID || it.Op != want[i].Op || !it.Resource.Equal(want[i].Resource) {
					t.Errorf("item %d: %s %s %s, want %s %s %s", i, it.Key, it.ID, it.Op, want[i].Key, want[i].ID, want[i].Op)
				}
			}
			if pid := got.Item(VolumeKey(tt.to, "data")).Resource.GetDisk().GetPersistence().GetID(); pid != "pid-1" {
				t.Errorf("volume's persistence ID %q, want pid-1", pid)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite testdata/stored.json")

// TestStoredRecord: the state store's form of a reservation is a
// compatibility promise: a scheduler restarted after an upgrade (or a
// crash) reads what the one before it stored. testdata/stored.json is a
// record as written before resource-set renames were followed (keys
// "<resource set>/<what>"); it must still read as it was written, and a
// rename of its set is taken on it. Rewrite it with -update only for a
// change that still reads the old form.
func TestStoredRecord(t *testing.T) {
	golden := filepath.Join("testdata", "stored.json")
	v := Volume(Reserve([]mesos.Resource{scalar("disk", 100)}, "svc-role", "p", "id-3")[0], "pid-1", "p", "data")
	r := &Reservation{Pod: "db", Index: 1, AgentID: "a1", Hostname: "h1", Role: "svc-role", Items: []Item{
		{Key: ScalarKey(KeyExecutor, "cpus"), ID: "id-1", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.1)}, "svc-role", "p", "id-1")[0]},
		{Key: ScalarKey("data", "cpus"), ID: "id-2", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.5)}, "svc-role", "p", "id-2")[0], Op: "op-1"},
		{Key: VolumeKey("data", "data"), ID: "id-3", Resource: v},
	}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(b, '\n'), want) {
		t.Errorf("stored form changed:\n%s\nwas\n%s", b, want)
	}
	got, err := Unmarshal(want)
	if err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	if got.Instance() != "db-1" || len(got.Items) != 3 {
		t.Fatalf("read %+v", got)
	}
	for i, it := range got.Items {
		if w := r.Items[i]; it.Key != w.Key || it.ID != w.ID || it.Op != w.Op || !it.Resource.Equal(&w.Resource) {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
	if k := got.Items[1].OpKind; k != OpReserve { // stored before kinds were: inferred
		t.Errorf("the pending operation of a reservation not releasing read as %q, want %q", k, OpReserve)
	}
	renamed, from := got.Renamed("storage", []string{"id-2", "id-3"}, func(o string) bool { return o == KeyExecutor || o == "storage" })
	if from != "data" || renamed.Item("storage/volume/data").Resource.GetDisk().GetPersistence().GetID() != "pid-1" || renamed.Item("storage/cpus").Op != "op-1" {
		t.Errorf("renamed from %q: %v", from, renamed.Items)
	}
}

// TestStoredOpKind: a stored item's pending operation reads back with its
// kind; one stored without it (by a scheduler before kinds were recorded)
// is given the kind it can only have had: a RESERVE on a reservation not
// releasing, else what its ID's form says (ReserveOpID, ReleaseOpID), and
// a release for an ID of neither form (what those schedulers took it
// for).
func TestStoredOpKind(t *testing.T) {
	for _, tc := range []struct {
		name      string
		releasing bool
		op        string
		stored    OpKind // as stored; "": not recorded
		want      OpKind
	}{
		{"Reserve", false, ReserveOpID("db-1", "u1"), "", OpReserve},
		{"ReserveOfAnotherForm", false, "op-1", "", OpReserve},
		{"ReserveWhileReleasing", true, ReserveOpID("db-1", "u1"), "", OpReserve},
		{"Release", true, ReleaseOpID("a1", "u1"), "", OpRelease},
		{"ReservePodNamedRelease", true, ReserveOpID("x-release-y-1", "u1"), "", OpReserve},
		{"ReleaseAgentNamedReserve", true, ReleaseOpID("a-reserve-b", "u1"), "", OpRelease},
		{"ReleasingOtherForm", true, "op-1", "", OpRelease},
		{"None", true, "", "", ""},
		{"RecordedReserve", true, "op-1", OpReserve, OpReserve},
		{"RecordedRelease", false, ReserveOpID("db-1", "u1"), OpRelease, OpRelease},
		{"RecordedWithoutOperation", false, "", OpReserve, ""},
		{"RecordedUnknown", true, ReserveOpID("db-1", "u1"), "destroy", OpReserve},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reservation{Pod: "db", Index: 1, AgentID: "a1", Role: "svc-role", Releasing: tc.releasing, Items: []Item{
				{Key: ScalarKey(KeyExecutor, "cpus"), ID: "id-1", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.1)}, "svc-role", "p", "id-1")[0], Op: tc.op, OpKind: tc.stored},
			}}
			b, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if tc.stored == "" && bytes.Contains(b, []byte("op_kind")) {
				t.Fatalf("stored a kind not given: %s", b)
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			it := got.Items[0]
			if it.Op != tc.op || it.OpKind != tc.want || it.Releases() != (tc.want == OpRelease) {
				t.Errorf("read op %q kind %q (releases %v), want %q kind %q", it.Op, it.OpKind, it.Releases(), tc.op, tc.want)
			}
			it.Settle()
			if it.Op != "" || it.OpKind != "" || it.Releases() {
				t.Errorf("settled: %+v", it)
			}
		})
	}
}

// TestStoredRecordWithKinds: testdata/stored_kinds.json is a released
// record holding both kinds of pending operation (its RESERVE unconfirmed
// on one item, an UNRESERVE in flight on another), as written since kinds
// are recorded; it must still read as it was written. Rewrite it with
// -update only for a change that still reads this form.
func TestStoredRecordWithKinds(t *testing.T) {
	golden := filepath.Join("testdata", "stored_kinds.json")
	r := &Reservation{Pod: "db", Index: 1, AgentID: "a1", Hostname: "h1", Role: "svc-role", Releasing: true, Items: []Item{
		{Key: ScalarKey(KeyExecutor, "cpus"), ID: "id-1", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.1)}, "svc-role", "p", "id-1")[0]},
		{Key: ScalarKey("data", "cpus"), ID: "id-2", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.5)}, "svc-role", "p", "id-2")[0], Op: "op-1", OpKind: OpReserve},
		{Key: ScalarKey("data", "mem"), ID: "id-3", Resource: Reserve([]mesos.Resource{scalar("mem", 32)}, "svc-role", "p", "id-3")[0], Op: "op-2", OpKind: OpRelease},
	}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(b, '\n'), want) {
		t.Errorf("stored form changed:\n%s\nwas\n%s", b, want)
	}
	got, err := Unmarshal(want)
	if err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	if !got.Releasing || len(got.Items) != 3 {
		t.Fatalf("read %+v", got)
	}
	for i, it := range got.Items {
		if w := r.Items[i]; it.Key != w.Key || it.ID != w.ID || it.Op != w.Op || it.OpKind != w.OpKind || !it.Resource.Equal(&w.Resource) {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
}
