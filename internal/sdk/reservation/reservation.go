// Package reservation is what a pod instance holds on its agent, after the
// DC/OS SDK's resource IDs (offer/ResourceBuilder, offer/ResourceUtils,
// offer/taskdata/AuxLabelAccess): every resource the instance uses is
// dynamically reserved for the pod's role with the framework's principal
// and a "resource_id" label, and each persistent volume is a reserved disk
// with a persistence ID. A Reservation lists those resources (its Items) as
// they were reserved, each under a Key naming what the pod spec asks it
// for, so that later offers are matched to the pod instance by resource ID.
//
// The service scheduler stores an instance's Reservation before the ACCEPT
// that reserves (write-before-act) and keeps it until the resources are
// released:
//
//	evaluate (new)  ─▶ Reservation{Items: IDs, Op: the RESERVE's operation ID,
//	   OpKind: OpReserve} ─▶ stored ─▶ ACCEPT RESERVE(id) CREATE LAUNCH_GROUP…
//	UPDATE_OPERATION_STATUS FINISHED (or the IDs seen in an offer) ─▶ Op ""
//	OPERATION_ERROR/UNKNOWN ─▶ the items never existed: dropped
//	release (pod replace, decommission, uninstall) ─▶ Releasing; the
//	   resources are DESTROYed and UNRESERVEd as they are offered (Op: the
//	   UNRESERVE's operation ID, OpKind: OpRelease), and leave once it
//	   finished
//	what a kept instance gives up (a task it no longer has) ─▶ a released
//	   reservation of its own, its items Intact until their release is
//	   sent: a task added back takes them back until then
//
// An item's OpKind says which of the two its pending operation is: a
// reservation released while its RESERVE is not confirmed yet holds both
// kinds.
//
// Nothing here does I/O.
package reservation

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// LabelResourceID is the reservation label the SDK names a reserved
// resource by (AuxLabelAccess's "resource_id").
const LabelResourceID = "resource_id"

// Item keys: what the pod spec asks a reserved resource for.
const (
	// KeyExecutor prefixes the new executor's resources: "executor/cpus".
	KeyExecutor = "executor"
	// KeyPod prefixes the pod's own volumes: "pod/volume/<path>".
	KeyPod = "pod"
)

// ScalarKey is the key of scalar resource name (cpus, mem, disk) of owner
// (KeyExecutor, or a resource set's ID): "<owner>/<name>".
func ScalarKey(owner, name string) string { return owner + "/" + name }

// PortKey is the key of port name of resource set owner.
func PortKey(owner, name string) string { return owner + "/port/" + name }

// VolumeKey is the key of the volume at path of owner (KeyPod or a
// resource set's ID).
func VolumeKey(owner, path string) string { return owner + "/volume/" + path }

// Owner is the part of key before its first "/": KeyExecutor, KeyPod or a
// resource set's ID.
func Owner(key string) string {
	o, _, _ := strings.Cut(key, "/")
	return o
}

// Item is one reserved resource of a pod instance.
type Item struct {
	// Key names what it is for (ScalarKey, PortKey, VolumeKey).
	Key string
	// ID is its resource ID (the reservation's resource_id label).
	ID string
	// Resource is the resource as reserved (its reservations, the labels
	// among them, and for a volume its persistence and volume): what a
	// task names to use it.
	Resource mesos.Resource
	// Op is the ID of the operation pending on it: the RESERVE that makes
	// it, until Mesos confirms the operation (or an offer shows the
	// resource), or the UNRESERVE that gives it up, until Mesos says it
	// finished; "" when none is.
	Op string
	// OpKind is what Op does: OpReserve or OpRelease ("" when Op is "").
	OpKind OpKind
	// Intact says, of an item a released reservation tracks, that no
	// DESTROY or UNRESERVE of it was ever sent: it is reserved as it was,
	// a volume with its data, so a task whose stored TaskInfo names it
	// may take it back (a removed task added back before its release).
	// False once its release was sent, whatever became of it (a failed
	// UNRESERVE may follow an applied DESTROY), and for an item stored
	// before this was recorded: not known, so taken as given up.
	Intact bool
}

// OpKind is what an item's pending operation does to it.
type OpKind string

const (
	// OpReserve is the RESERVE (and CREATE) that makes the item: until it
	// is confirmed, the item may never have existed.
	OpReserve OpKind = "reserve"
	// OpRelease is the DESTROY and UNRESERVE that give the item up: until
	// Mesos says it finished, the item is still reserved.
	OpRelease OpKind = "release"
)

// ReserveOpID is the ID of a RESERVE of pod instance inst, id a new ID.
func ReserveOpID(inst, id string) string { return inst + reserveOp + id }

// ReleaseOpID is the ID of an UNRESERVE on agent, id a new ID.
func ReleaseOpID(agent, id string) string { return agent + releaseOp + id }

const (
	reserveOp = "-reserve-"
	releaseOp = "-release-"
)

// inferKind is the kind of pending operation op of a stored item that does
// not record it (stored before kinds were): an item of a reservation not
// releasing only ever had a RESERVE pending; one of a releasing
// reservation had either, told apart by the operation's ID
// (ReserveOpID, ReleaseOpID: the later of the two markers, as a pod or
// agent name may hold the other). An ID of neither form is taken for a
// release, what the schedulers that stored such records took it for.
func inferKind(op string, releasing bool) OpKind {
	switch {
	case op == "":
		return ""
	case !releasing:
		return OpReserve
	case strings.LastIndex(op, reserveOp) > strings.LastIndex(op, releaseOp):
		return OpReserve
	default:
		return OpRelease
	}
}

// Releases reports whether the operation pending on it gives it up.
func (it *Item) Releases() bool { return it.Op != "" && it.OpKind == OpRelease }

// Settle clears its pending operation.
func (it *Item) Settle() { it.Op, it.OpKind = "", "" }

// Reservation is what one pod instance holds.
type Reservation struct {
	// Pod and Index name the pod instance.
	Pod   string
	Index int
	// AgentID and Hostname are where it was last seen (a restarted agent
	// offers its host's reservations under a new ID).
	AgentID, Hostname string
	// Role is the role the resources are reserved for.
	Role string
	// Items are the reserved resources.
	Items []Item
	// Releasing says the instance gave its resources up (pod replace,
	// decommission): they are destroyed and unreserved as they are
	// offered, and the items leave as they are.
	Releasing bool
}

// Instance is "<pod>-<index>".
func (r *Reservation) Instance() string { return fmt.Sprintf("%s-%d", r.Pod, r.Index) }

// Item returns the item under key, or nil.
func (r *Reservation) Item(key string) *Item {
	if r == nil {
		return nil
	}
	for i := range r.Items {
		if r.Items[i].Key == key {
			return &r.Items[i]
		}
	}
	return nil
}

// ByID returns the item of resource ID id, or nil.
func (r *Reservation) ByID(id string) *Item {
	if r == nil {
		return nil
	}
	for i := range r.Items {
		if r.Items[i].ID == id {
			return &r.Items[i]
		}
	}
	return nil
}

// Use is one task of a pod instance as Follow sees it: the resource set
// it uses now and the resource IDs its previous TaskInfo names.
type Use struct {
	// Task is the task's name ("<pod>-<index>-<task>"), for messages.
	Task string
	// Set is the ID of the resource set the task uses now.
	Set string
	// IDs are the resource IDs its previous TaskInfo names.
	IDs []string
}

// Move is one resource set's items going under another set's ID.
type Move struct {
	// From and To are the resource set IDs: the items keyed "<From>/…"
	// go under "<To>/…".
	From, To string
	// Task is the task whose previous TaskInfo names them.
	Task string
}

// Follow maps the resource sets' items to the tasks whose previous
// TaskInfos name them, as the SDK's TaskResourceMapper does (it maps the
// resources of a task's previous TaskInfo to the specs of the resource set
// the task uses now, by resource name and a volume by container path,
// whatever the sets are called): the items of set F that the TaskInfo of
// a task now using set T names go under T (the rest of each key, a
// resource name, "port/<name>" or "volume/<path>", kept). That covers a
// renamed set, a task moved to another set, and tasks swapping sets (each
// new set held the other's items): the keys are rewritten at once.
//
// The items keep their resource IDs, resources and persistence IDs, so a
// relaunch takes each task's own volume. Follow maps set by set, as the
// SDK builds each set's resources on its own
// (OfferEvaluator.getExistingResourceSetStages): it returns a copy of r
// with every safe move made, and the moves (sorted); r itself when
// nothing moves. The sets it cannot map safely keep their items where
// they are, and nothing moves onto the sets their tasks use now; the
// error names those tasks and sets (moves made or not): a TaskInfo naming
// the items of two sets, tasks that held one set now using two (a split)
// or that held two now sharing one (a merge), or a set taking another's
// items while it holds items that do not leave. The executor's and the
// pod's own items are never moved.
func (r *Reservation) Follow(uses []Use) (*Reservation, []Move, error) {
	if r == nil {
		return r, nil, nil
	}
	type edge struct{ set, task string }
	dest := map[string]edge{}    // old set → the set it goes to, and the task saying so
	src := map[string]edge{}     // new set → the set it takes, and the task saying so
	stays := map[string]bool{}   // old sets whose items stay where they are
	blocked := map[string]bool{} // new sets nothing may move onto
	var errs []error
	for _, u := range uses {
		var from []string
		for _, it := range r.Items {
			o := Owner(it.Key)
			if o != KeyExecutor && o != KeyPod && slices.Contains(u.IDs, it.ID) && !slices.Contains(from, o) {
				from = append(from, o)
			}
		}
		switch {
		case len(from) == 0:
			continue
		case len(from) > 1:
			slices.Sort(from)
			errs = append(errs, fmt.Errorf("task %s's previous TaskInfo names the reservations of resource sets %s: which one is its %s?", u.Task, strings.Join(from, " and "), u.Set))
			for _, f := range from {
				stays[f] = true
			}
			blocked[u.Set] = true
			continue
		}
		f := from[0]
		if d, ok := dest[f]; ok && d.set != u.Set {
			errs = append(errs, fmt.Errorf("tasks %s and %s both ran on resource set %s's reservation but use %s and %s now: it can follow only one of them", d.task, u.Task, f, d.set, u.Set))
			stays[f], blocked[u.Set] = true, true
			continue
		}
		if s, ok := src[u.Set]; ok && s.set != f {
			errs = append(errs, fmt.Errorf("tasks %s and %s ran on resource sets %s and %s but both use %s now: it can take only one of their reservations", s.task, u.Task, s.set, f, u.Set))
			stays[f], stays[s.set], blocked[u.Set] = true, true, true
			continue
		}
		dest[f], src[u.Set] = edge{u.Set, u.Task}, edge{f, u.Task}
	}
	holds := func(set string) bool {
		return slices.ContainsFunc(r.Items, func(it Item) bool { return Owner(it.Key) == set })
	}
	// The safe moves: from a set whose items may leave, onto a set nothing
	// blocks, whose own items (if any) leave too. A move dropped keeps its
	// set's items in place, which may block a move onto that set in turn:
	// repeat until nothing changes (a swap or a rotation stays, each set's
	// items leaving for the next).
	moving := map[string]string{} // old set → new set
	for f, d := range dest {
		if f != d.set && !stays[f] && !blocked[d.set] {
			moving[f] = d.set
		} else if f != d.set && !stays[f] {
			errs = append(errs, fmt.Errorf("task %s ran on resource set %s's reservation and uses %s now, onto which nothing can move: %s's reservation stays where it is", d.task, f, d.set, f))
		}
	}
	for changed := true; changed; {
		changed = false
		for _, f := range slices.Sorted(maps.Keys(moving)) {
			to := moving[f]
			if _, leaves := moving[to]; holds(to) && !leaves {
				delete(moving, f)
				changed = true
				errs = append(errs, fmt.Errorf("task %s ran on resource set %s's reservation and uses %s now, which holds a reservation no task takes away: it would be handed another's", dest[f].task, f, to))
			}
		}
	}
	var moves []Move
	for _, f := range slices.Sorted(maps.Keys(moving)) {
		moves = append(moves, Move{From: f, To: moving[f], Task: dest[f].task})
	}
	var err error
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		err = errors.Join(errs...)
	}
	if len(moves) == 0 {
		return r, nil, err
	}
	c := r.Clone()
	for i := range c.Items {
		o := Owner(c.Items[i].Key)
		if to, ok := moving[o]; ok {
			c.Items[i].Key = to + c.Items[i].Key[len(o):]
		}
	}
	return c, moves, err
}

// Pending returns the operation IDs not yet confirmed, sorted, once each.
func (r *Reservation) Pending() []string {
	var ops []string
	for _, it := range r.Items {
		if it.Op != "" && !slices.Contains(ops, it.Op) {
			ops = append(ops, it.Op)
		}
	}
	slices.Sort(ops)
	return ops
}

// Clone returns a deep enough copy: its items can be changed without
// changing r's.
func (r *Reservation) Clone() *Reservation {
	c := *r
	c.Items = slices.Clone(r.Items)
	return &c
}

// stored is a Reservation as the state store keeps it: JSON, each resource
// as protobuf (base64).
type stored struct {
	Pod       string       `json:"pod"`
	Index     int          `json:"index"`
	AgentID   string       `json:"agent_id"`
	Hostname  string       `json:"hostname,omitempty"`
	Role      string       `json:"role"`
	Releasing bool         `json:"releasing,omitempty"`
	Items     []storedItem `json:"items"`
}

type storedItem struct {
	Key      string `json:"key"`
	ID       string `json:"id"`
	Op       string `json:"op,omitempty"`
	OpKind   OpKind `json:"op_kind,omitempty"`
	Intact   bool   `json:"intact,omitempty"`
	Resource []byte `json:"resource"`
}

// Marshal encodes r for the state store.
func (r *Reservation) Marshal() ([]byte, error) {
	s := stored{Pod: r.Pod, Index: r.Index, AgentID: r.AgentID, Hostname: r.Hostname, Role: r.Role, Releasing: r.Releasing, Items: []storedItem{}}
	for _, it := range r.Items {
		b, err := it.Resource.Marshal()
		if err != nil {
			return nil, fmt.Errorf("reservation of %s, %s: %w", r.Instance(), it.Key, err)
		}
		si := storedItem{Key: it.Key, ID: it.ID, Op: it.Op, Intact: it.Intact, Resource: b}
		if it.Op != "" {
			si.OpKind = it.OpKind
		}
		s.Items = append(s.Items, si)
	}
	return json.Marshal(s)
}

// Unmarshal decodes a stored reservation. An item's pending operation
// stored without its kind (by an earlier version) is given one
// (inferKind); an item stored without Intact is not intact.
func Unmarshal(b []byte) (*Reservation, error) {
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	r := &Reservation{Pod: s.Pod, Index: s.Index, AgentID: s.AgentID, Hostname: s.Hostname, Role: s.Role, Releasing: s.Releasing}
	for _, si := range s.Items {
		it := Item{Key: si.Key, ID: si.ID, Op: si.Op, OpKind: si.OpKind, Intact: si.Intact}
		if it.Op == "" {
			it.OpKind = ""
		} else if it.OpKind != OpReserve && it.OpKind != OpRelease {
			it.OpKind = inferKind(it.Op, s.Releasing)
		}
		if err := it.Resource.Unmarshal(si.Resource); err != nil {
			return nil, fmt.Errorf("item %s: %w", si.Key, err)
		}
		r.Items = append(r.Items, it)
	}
	return r, nil
}

// reservationOf is the reservation a resource was made with: the last of
// its stack, or its pre-refinement one.
func reservationOf(r *mesos.Resource) *mesos.Resource_ReservationInfo {
	if rs := r.GetReservations(); len(rs) > 0 {
		return &rs[len(rs)-1]
	}
	return r.GetReservation()
}

// ResourceID is r's resource ID label ("" when it has none).
func ResourceID(r *mesos.Resource) string {
	for _, l := range reservationOf(r).GetLabels().GetLabels() {
		if l.Key == LabelResourceID {
			return l.GetValue()
		}
	}
	return ""
}

// Ours reports whether offered resource r is one of a framework's
// reservations: dynamically reserved for one of roles, with a resource ID
// (the SDK's ResourceUtils.isProcessable).
func Ours(r *mesos.Resource, roles []string) bool {
	return r.IsDynamicallyReserved() && ResourceID(r) != "" && slices.Contains(roles, r.ReservationRole())
}

// Reserve returns resources (taken from an offer: unreserved, or reserved
// for the pod's pre-reserved role) with one more, dynamic reservation for
// role by principal ("" for none), labelled with resource ID id: the form
// a RESERVE gives and a task then names.
//
// It is mesos-go's Resources.PushReservation without its deep copies
// (gogo proto.Clone, by reflection, was most of an offer round's CPU): the
// result is the same — empty resources left out, each resource validated
// (it panics on an invalid one, as PushReservation does), those that can
// be added together added with mesos-go's Add — but a result shares with
// resources the values mesos-go never changes in place (scalars, ranges,
// roles, disk and allocation info, the reservations below the new one),
// and the results share the new ReservationInfo (those of unreserved
// resources the one-element list of it). resources' slices are not
// changed: the new reservation is appended to a copy of each
// Reservations. Callers treat resources as values, as mesos-go does.
func Reserve(resources []mesos.Resource, role, principal, id string) []mesos.Resource {
	return AppendReserved(nil, resources, role, principal, id)
}

// AppendReserved appends what Reserve returns to dst (whose resources it
// does not add to) and returns the extended slice: an offer evaluation
// collects a pod's reservations in one slice without a result slice per
// RESERVE.
func AppendReserved(dst, resources []mesos.Resource, role, principal, id string) []mesos.Resource {
	// The ReservationInfo's values in one allocation, with the
	// reservations of an unreserved resource: the new one alone.
	v := &struct {
		typ                 mesos.Resource_ReservationInfo_Type
		role, principal, id string
		label               [1]mesos.Label
		labels              mesos.Labels
		alone               [1]mesos.Resource_ReservationInfo
	}{typ: mesos.Resource_ReservationInfo_DYNAMIC, role: role, principal: principal, id: id}
	v.label[0] = mesos.Label{Key: LabelResourceID, Value: &v.id}
	v.labels.Labels = v.label[:]
	ri := mesos.Resource_ReservationInfo{Type: &v.typ, Role: &v.role, Labels: &v.labels}
	if principal != "" {
		ri.Principal = &v.principal
	}
	v.alone[0] = ri
	start := len(dst)
next:
	for i := range resources {
		r := resources[i]
		if r.IsEmpty() {
			continue
		}
		if len(r.Reservations) == 0 {
			// Shared by the results: its capacity is its length, so an
			// append never writes into it.
			r.Reservations = v.alone[:]
		} else {
			r.Reservations = append(slices.Clip(r.Reservations), ri)
		}
		if err := r.Validate(); err != nil {
			panic(err)
		}
		for j := start; j < len(dst); j++ {
			if dst[j].Addable(r) {
				dst[j].Add(r)
				continue next
			}
		}
		if dst == nil {
			dst = make([]mesos.Resource, 0, len(resources)-i)
		}
		dst = append(dst, r)
	}
	return dst
}

// Volume returns reserved disk r made a persistent volume: persistence ID
// id by principal ("" for none), mounted read-write at containerPath (a
// MOUNT disk keeps its source): the form of a CREATE.
func Volume(r mesos.Resource, id, principal, containerPath string) mesos.Resource {
	v := r
	d := &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{ID: id},
		Volume: &mesos.Volume{Mode: mesos.RW.Enum(), ContainerPath: containerPath}}
	if principal != "" {
		d.Persistence.Principal = &principal
	}
	if src := r.GetDisk().GetSource(); src != nil {
		d.Source = src
	}
	v.Disk = d
	return v
}

// WithoutVolume is volume v as reserved disk again (what a DESTROY leaves):
// persistence and volume dropped, a MOUNT disk's source kept.
func WithoutVolume(v mesos.Resource) mesos.Resource {
	r := v
	if src := v.GetDisk().GetSource(); src != nil {
		r.Disk = &mesos.Resource_DiskInfo{Source: src}
	} else {
		r.Disk = nil
	}
	return r
}

// Release returns what gives offered reservations up, in order: the
// volumes among them to DESTROY (as offered), then every one to UNRESERVE
// (volumes as the disk they were made of): the reservation the framework
// made is popped, which leaves a pre-reserved resource reserved for its
// pre-reserved role, as it was.
func Release(offered []mesos.Resource) (destroy, unreserve []mesos.Resource) {
	for _, r := range offered {
		if r.IsPersistentVolume() {
			destroy = append(destroy, r)
			r = WithoutVolume(r)
		}
		unreserve = append(unreserve, r)
	}
	return destroy, unreserve
}

// Describe writes resources briefly, for messages: "0.5 cpus, 256 MB mem,
// ports 31000, 1024 MB disk (volume data)".
func Describe(rs []mesos.Resource) string {
	var parts []string
	for _, r := range rs {
		switch {
		case r.GetType() == mesos.RANGES:
			var ps []string
			for _, rg := range r.GetRanges().GetRange() {
				if rg.Begin == rg.End {
					ps = append(ps, fmt.Sprint(rg.Begin))
				} else {
					ps = append(ps, fmt.Sprintf("%d-%d", rg.Begin, rg.End))
				}
			}
			parts = append(parts, r.Name+" "+strings.Join(ps, ","))
		case r.Name == "mem" || r.Name == "disk":
			s := fmt.Sprintf("%g MB %s", r.GetScalar().GetValue(), r.Name)
			if r.IsDisk(mesos.Resource_DiskInfo_Source_MOUNT) {
				s = fmt.Sprintf("%g MB MOUNT disk", r.GetScalar().GetValue())
			}
			if v := r.GetDisk().GetVolume(); v != nil && r.IsPersistentVolume() {
				s += " (volume " + v.ContainerPath + ")"
			}
			parts = append(parts, s)
		default:
			parts = append(parts, fmt.Sprintf("%g %s", r.GetScalar().GetValue(), r.Name))
		}
	}
	return strings.Join(parts, ", ")
}
