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
			// AppendReserved appends the same after what dst holds,
			// adding nothing to it (an addable cpus, of the same
			// reservation, the same ID, is there).
			held := Reserve([]mesos.Resource{scalar("cpus", 1)}, tc.role, tc.prin, "id-1")
			dst := append(make([]mesos.Resource, 0, 8), held...)
			appended := AppendReserved(dst, tc.resources, tc.role, tc.prin, "id-1")
			if wantAll := append(slices.Clone(held), want...); !slices.EqualFunc(appended, wantAll, func(a, b mesos.Resource) bool { return a.Equal(&b) }) {
				t.Errorf("AppendReserved %v\nwant %v", appended, wantAll)
			}
		})
	}
	if len(withRoom[:2][1].GetRole()) != 0 {
		t.Error("Reserve wrote into the spare room of its input's Reservations")
	}
}

func ptr(s string) *string { return &s }

// TestFollow: each resource set's items go under the set that the task
// whose previous TaskInfo names them uses now (a renamed set, a task moved
// to another set, two tasks swapping sets), keys keeping their resource
// name, port name or volume path, items their IDs, resources and
// persistence IDs; a case that cannot be mapped safely moves nothing and
// says why, naming the tasks and sets.
func TestFollow(t *testing.T) {
	// set is the items of resource set owner, their IDs prefixed with
	// owner (x-c, x-p, x-v), its volume's persistence ID pid-<owner>.
	set := func(owner string) []Item {
		vol := Volume(Reserve([]mesos.Resource{scalar("disk", 100)}, "r", "", owner+"-v")[0], "pid-"+owner, "", "data")
		return []Item{
			{Key: ScalarKey(owner, "cpus"), ID: owner + "-c", Resource: scalar("cpus", 0.5)},
			{Key: PortKey(owner, "http"), ID: owner + "-p"},
			{Key: VolumeKey(owner, "data"), ID: owner + "-v", Resource: vol, Op: "op-" + owner},
		}
	}
	res := func(owners ...string) *Reservation {
		r := &Reservation{Pod: "p", Items: []Item{{Key: ScalarKey(KeyExecutor, "cpus"), ID: "e1", Resource: scalar("cpus", 0.1)}}}
		for _, o := range owners {
			r.Items = append(r.Items, set(o)...)
		}
		return r
	}
	use := func(task, now string, ids ...string) Use { return Use{Task: task, Set: now, IDs: ids} }
	all := func(owner string) []string { return []string{owner + "-c", owner + "-p", owner + "-v", "e1"} }
	for _, tt := range []struct {
		name string
		r    *Reservation
		uses []Use
		// want maps each old set to the set holding its items after;
		// nil: nothing moves.
		want    map[string]string
		wantErr string
	}{
		{name: "renamed", r: res("data"), uses: []Use{use("p-0-t", "storage", all("data")...)}, want: map[string]string{"data": "storage"}},
		{name: "the volume named only", r: res("data"), uses: []Use{use("p-0-t", "storage", "data-v")}, want: map[string]string{"data": "storage"}},
		{name: "swapped", r: res("x", "y"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-b", "x", all("y")...)}, want: map[string]string{"x": "y", "y": "x"}},
		{name: "rotated", r: res("x", "y", "z"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-b", "z", all("y")...), use("p-0-c", "x", all("z")...)}, want: map[string]string{"x": "y", "y": "z", "z": "x"}},
		{name: "moved on to a set another moved off", r: res("x", "y"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-b", "z", all("y")...)}, want: map[string]string{"x": "y", "y": "z"}},
		{name: "a shared set renamed", r: res("x"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-c", "y", "x-v")}, want: map[string]string{"x": "y"}},
		{name: "the old name now a new task's", r: res("data"), uses: []Use{use("p-0-t", "storage", all("data")...), use("p-0-u", "data")}, want: map[string]string{"data": "storage"}},
		{name: "nothing renamed", r: res("x", "y"), uses: []Use{use("p-0-a", "x", all("x")...), use("p-0-b", "y", all("y")...)}},
		{name: "no previous TaskInfo", r: res("data"), uses: []Use{use("p-0-t", "storage")}},
		{name: "no item named", r: res("data"), uses: []Use{use("p-0-t", "storage", "other")}},
		{name: "no reservation", uses: []Use{use("p-0-t", "storage", "data-c")}},
		{
			name: "the new set holds items no task takes", r: res("data", "storage"), uses: []Use{use("p-0-t", "storage", all("data")...)},
			wantErr: "task p-0-t ran on resource set data's reservation and uses storage now, which holds a reservation no task takes away: it would be handed another's",
		},
		{
			name: "moved on to a set whose task stays", r: res("x", "y"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-b", "y", all("y")...)},
			wantErr: "tasks p-0-a and p-0-b ran on resource sets x and y but both use y now: it can take only one of their reservations",
		},
		{
			name: "a shared set split", r: res("x"), uses: []Use{use("p-0-a", "x", all("x")...), use("p-0-c", "z", "x-v")},
			wantErr: "tasks p-0-a and p-0-c both ran on resource set x's reservation but use x and z now: it can follow only one of them",
		},
		{
			name: "items of two sets", r: res("a", "b"), uses: []Use{use("p-0-t", "storage", "a-c", "b-v")},
			wantErr: "task p-0-t's previous TaskInfo names the reservations of resource sets a and b: which one is its storage?",
		},
		// Set by set: what cannot be mapped stays, every other set follows
		// its task.
		{
			name: "a rename beside a split", r: res("x", "z"), uses: []Use{use("p-0-a", "x", all("x")...), use("p-0-b", "y", "x-c"), use("p-0-c", "w", all("z")...)},
			want:    map[string]string{"z": "w"},
			wantErr: "tasks p-0-a and p-0-b both ran on resource set x's reservation but use x and y now: it can follow only one of them",
		},
		{
			name: "a split seen first beside a rename", r: res("x", "z"), uses: []Use{use("p-0-b", "y", "x-c"), use("p-0-a", "x", all("x")...), use("p-0-c", "w", all("z")...)},
			want:    map[string]string{"z": "w"},
			wantErr: "tasks p-0-b and p-0-a both ran on resource set x's reservation but use y and x now: it can follow only one of them",
		},
		{
			name: "a rename beside a merge", r: res("x", "y", "z"), uses: []Use{use("p-0-a", "v", all("x")...), use("p-0-b", "v", all("y")...), use("p-0-c", "w", all("z")...)},
			want:    map[string]string{"z": "w"},
			wantErr: "tasks p-0-a and p-0-b ran on resource sets x and y but both use v now: it can take only one of their reservations",
		},
		{
			name: "nothing moves onto the set of a task naming two sets", r: res("a", "b", "z"), uses: []Use{use("p-0-t", "storage", "a-c", "b-v"), use("p-0-c", "storage", all("z")...)},
			wantErr: "task p-0-c ran on resource set z's reservation and uses storage now, onto which nothing can move: z's reservation stays where it is\n" +
				"task p-0-t's previous TaskInfo names the reservations of resource sets a and b: which one is its storage?",
		},
		{
			name: "a move blocked in turn", r: res("x", "y", "z"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-b", "z", all("y")...), use("p-0-c", "z", "z-v")},
			wantErr: "task p-0-a ran on resource set x's reservation and uses y now, which holds a reservation no task takes away: it would be handed another's\n" +
				"tasks p-0-b and p-0-c ran on resource sets y and z but both use z now: it can take only one of their reservations",
		},
		{
			name: "a chain blocked at its end", r: res("x", "y", "z"), uses: []Use{use("p-0-a", "y", all("x")...), use("p-0-b", "z", all("y")...)},
			wantErr: "task p-0-a ran on resource set x's reservation and uses y now, which holds a reservation no task takes away: it would be handed another's\n" +
				"task p-0-b ran on resource set y's reservation and uses z now, which holds a reservation no task takes away: it would be handed another's",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before []byte
			if tt.r != nil {
				before, _ = tt.r.Marshal()
			}
			got, moves, err := tt.r.Follow(tt.uses)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.r != nil {
				if after, _ := tt.r.Marshal(); string(after) != string(before) {
					t.Error("Follow changed its receiver")
				}
			}
			if tt.want == nil {
				if got != tt.r || len(moves) != 0 {
					t.Errorf("moved %v", moves)
				}
				return
			}
			if len(moves) != len(tt.want) {
				t.Errorf("moves %v, want %v", moves, tt.want)
			}
			for _, m := range moves {
				if tt.want[m.From] != m.To || m.Task == "" {
					t.Errorf("move %+v, want %s to %s", m, m.From, tt.want[m.From])
				}
			}
			if len(got.Items) != len(tt.r.Items) {
				t.Fatalf("items %v, was %v", got.Items, tt.r.Items)
			}
			for i, was := range tt.r.Items {
				key, it := was.Key, got.Items[i]
				if to, ok := tt.want[Owner(key)]; ok {
					key = to + key[len(Owner(key)):]
				}
				if it.Key != key || it.ID != was.ID || it.Op != was.Op || !it.Resource.Equal(was.Resource) {
					t.Errorf("item %d: %s %s %s, want %s %s %s", i, it.Key, it.ID, it.Op, key, was.ID, was.Op)
				}
			}
			for from, to := range tt.want {
				if pid := got.Item(VolumeKey(to, "data")).Resource.GetDisk().GetPersistence().GetID(); pid != "pid-"+from {
					t.Errorf("%s's volume: persistence ID %q, want %s's pid-%s", to, pid, from, from)
				}
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
	got := goldenRecord(t, golden, r)
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
	renamed, moves, err := got.Follow([]Use{{Task: "db-1-t", Set: "storage", IDs: []string{"id-2", "id-3"}}})
	if err != nil || len(moves) != 1 || moves[0].From != "data" || renamed.Item("storage/volume/data").Resource.GetDisk().GetPersistence().GetID() != "pid-1" || renamed.Item("storage/cpus").Op != "op-1" {
		t.Errorf("renamed %v (%v): %v", moves, err, renamed.Items)
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
	got := goldenRecord(t, golden, r)
	if !got.Releasing || len(got.Items) != 3 {
		t.Fatalf("read %+v", got)
	}
	for i, it := range got.Items {
		if w := r.Items[i]; it.Key != w.Key || it.ID != w.ID || it.Op != w.Op || it.OpKind != w.OpKind || !it.Resource.Equal(&w.Resource) {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
}

// TestStoredRecordWithIntactItems: testdata/stored_intact.json is a
// released record of what a kept pod instance gave up (a task it no
// longer has) as written since released items record whether their
// release was sent: one item intact, one whose UNRESERVE is in flight, one
// whose UNRESERVE failed (not intact, no operation). It must still read
// as it was written. Rewrite it with -update only for a change that still
// reads this form.
func TestStoredRecordWithIntactItems(t *testing.T) {
	golden := filepath.Join("testdata", "stored_intact.json")
	r := &Reservation{Pod: "db", Index: 1, AgentID: "a1", Hostname: "h1", Role: "svc-role", Releasing: true, Items: []Item{
		{Key: ScalarKey("side", "cpus"), ID: "id-1", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.1)}, "svc-role", "p", "id-1")[0], Intact: true},
		{Key: ScalarKey("side", "mem"), ID: "id-2", Resource: Reserve([]mesos.Resource{scalar("mem", 32)}, "svc-role", "p", "id-2")[0], Op: "op-2", OpKind: OpRelease},
		{Key: ScalarKey("side", "disk"), ID: "id-3", Resource: Reserve([]mesos.Resource{scalar("disk", 20)}, "svc-role", "p", "id-3")[0]},
	}}
	got := goldenRecord(t, golden, r)
	if !got.Releasing || len(got.Items) != 3 {
		t.Fatalf("read %+v", got)
	}
	for i, it := range got.Items {
		if w := r.Items[i]; it.Key != w.Key || it.ID != w.ID || it.Op != w.Op || it.OpKind != w.OpKind || it.Intact != w.Intact || !it.Resource.Equal(&w.Resource) {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
}

// TestStoredIntact: an item's Intact reads back as stored, and an item
// stored without it (by a scheduler before it was recorded, whose records
// cannot tell a failed UNRESERVE's items from items never released) reads
// as not intact, whatever its reservation and operation: taken as given
// up. Settling an operation leaves it as it was.
func TestStoredIntact(t *testing.T) {
	for _, tc := range []struct {
		name      string
		releasing bool
		op        string
		kind      OpKind
		intact    bool
		dropField bool // stored without "intact"
		want      bool
	}{
		{"Intact", true, "", "", true, false, true},
		{"NotIntact", true, "", "", false, false, false},
		{"InstanceOwn", false, "", "", false, false, false},
		{"OldStoreReleased", true, "", "", true, true, false},
		{"OldStoreReserveUnconfirmed", true, ReserveOpID("db-1", "u1"), OpReserve, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reservation{Pod: "db", Index: 1, AgentID: "a1", Role: "svc-role", Releasing: tc.releasing, Items: []Item{
				{Key: ScalarKey("side", "cpus"), ID: "id-1", Resource: Reserve([]mesos.Resource{scalar("cpus", 0.1)}, "svc-role", "p", "id-1")[0], Op: tc.op, OpKind: tc.kind, Intact: tc.intact},
			}}
			b, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if has := bytes.Contains(b, []byte(`"intact"`)); has != tc.intact {
				t.Fatalf("stored %s: intact written %v, want %v", b, has, tc.intact)
			}
			if tc.dropField {
				b = bytes.Replace(b, []byte(`"intact":true,`), nil, 1)
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			it := got.Items[0]
			if it.Intact != tc.want {
				t.Errorf("read intact %v from %s, want %v", it.Intact, b, tc.want)
			}
			it.Settle()
			if it.Intact != tc.want {
				t.Errorf("settled: intact %v, want %v", it.Intact, tc.want)
			}
		})
	}
}

// goldenRecord compares r's stored form with the golden file (rewritten
// with -update) and returns what Unmarshal reads back from the file.
func goldenRecord(t *testing.T, golden string, r *Reservation) *Reservation {
	t.Helper()
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
	return got
}
