package evaluate

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// resourceSet is one resource set of the pod as the reservation sees it
// (the SDK's ResourceSet): a task's own resources, or a named resource set
// the tasks naming it share (one at a time).
type resourceSet struct {
	// ID owns its reservation items ("<task>-resource-set", or the name).
	ID        string
	CPUs, Mem float64
	Ports     spec.Ordered[*spec.PortSpec]
	Volumes   []*spec.VolumeSpec
	// Tasks are the claims of the tasks to launch that use it (none when
	// it is only reserved for later).
	Tasks []*TaskClaim
}

// plan decides what the evaluation reserves or takes by resource ID: the
// resource sets of the tasks to launch and, for a new executor, the
// executor's resources and the pod's volumes; for a pod instance without a
// reservation and no running executor, every resource set of the pod (the
// SDK reserves a whole pod at its first launch).
func (e *Evaluation) plan() {
	pod, whole := e.Req.Pod, e.Req.Reservation == nil && e.Req.Executor == nil
	// Each resource set claims its cpus, mem and ports; a new executor its
	// cpus, mem, disk and the pod's volumes (room enough, most often).
	n := 0
	e.sets = make([]*resourceSet, 0, len(pod.Tasks.Values))
	if e.Req.Executor == nil {
		n = 3 + pod.Volumes.Len()
	}
	for _, t := range pod.Tasks.Values {
		c := e.claim(t.Name)
		if c == nil && !whole {
			continue
		}
		id := pod.ResourceSetID(t)
		var rs *resourceSet
		if i := slices.IndexFunc(e.sets, func(rs *resourceSet) bool { return rs.ID == id }); i >= 0 {
			rs = e.sets[i]
		} else {
			rs = &resourceSet{ID: id, Volumes: pod.TaskVolumes(t), Ports: t.Ports}
			rs.CPUs, rs.Mem = pod.Resources(t)
			if t.ResourceSet != "" && pod.ResourceSets[t.ResourceSet] != nil {
				rs.Ports = pod.ResourceSets[t.ResourceSet].Ports
			}
			e.sets = append(e.sets, rs)
			n += 2 + rs.Ports.Len() + len(rs.Volumes)
		}
		if c != nil {
			rs.Tasks = append(rs.Tasks, c)
		}
	}
	e.claims = n
	e.res = e.Req.Reservation
	e.renames()
}

// renames maps the reservation's items to the tasks whose previous
// TaskInfos name them, as the SDK's TaskResourceMapper does: it maps the
// resources of a task's previous TaskInfo to the specs of the resource set
// the task uses now, by resource name (a port by name, a volume by
// container path), whatever the sets are called
// (OfferEvaluator.getExistingResourceSetStages takes the TaskInfo of a
// task using the set). The reservation's items are keyed by resource set
// ID, so a renamed set, a task moved to another set, or two tasks swapping
// sets would otherwise relaunch on another set's items, another task's
// volume among them. reservation.Follow moves the items under the sets
// their tasks use in the pod spec evaluated (every task of the instance
// with a previous TaskInfo counts, launched or not), so each task keeps
// its resources and its volume with its persistence ID. It maps set by
// set: a set it cannot map keeps its items where they are (unmapped says
// which and why), the others follow their tasks; the volume stage then
// refuses to hand a task a volume other than the one its previous
// TaskInfo names.
func (e *Evaluation) renames() {
	if e.res == nil || len(e.Req.Previous) == 0 {
		return
	}
	uses := make([]reservation.Use, 0, len(e.Req.Previous))
	for _, t := range e.Req.Pod.Tasks.Values {
		name := taskenv.TaskName(e.Req.Pod.Name, e.Req.Index, t.Name)
		u := reservation.Use{Task: name, Set: e.Req.Pod.ResourceSetID(t)}
		for _, ti := range e.Req.Previous {
			if ti.GetName() != name {
				continue
			}
			for i := range ti.Resources {
				if id := reservation.ResourceID(&ti.Resources[i]); id != "" {
					u.IDs = append(u.IDs, id)
				}
			}
		}
		if len(u.IDs) > 0 {
			uses = append(uses, u)
		}
	}
	r, moves, err := e.res.Follow(uses)
	if err != nil {
		e.unmapped = err.Error()
	}
	e.res = r
	for _, m := range moves {
		e.renamed = append(e.renamed, fmt.Sprintf("resource set %s (was %s) keeps its reservation, as %s's previous TaskInfo names it", m.To, m.From, m.Task))
	}
}

// evaluates reports whether owner's reservation items are this
// evaluation's to claim: the executor's and the pod's for a new executor,
// and those of the resource sets it plans.
func (e *Evaluation) evaluates(owner string) bool {
	if owner == reservation.KeyExecutor || owner == reservation.KeyPod {
		return e.Req.Executor == nil
	}
	return slices.ContainsFunc(e.sets, func(rs *resourceSet) bool { return rs.ID == owner })
}

// named reports whether the previous TaskInfo of a task of the pod
// instance names resource ID id.
func (e *Evaluation) named(id string) bool {
	for _, ti := range e.Req.Previous {
		if _, ok := e.Req.Pod.Tasks.Get(strings.TrimPrefix(ti.GetName(), e.Req.Instance()+"-")); !ok || !strings.HasPrefix(ti.GetName(), e.Req.Instance()+"-") {
			continue
		}
		for i := range ti.Resources {
			if reservation.ResourceID(&ti.Resources[i]) == id {
				return true
			}
		}
	}
	return false
}

// previousVolume returns the volume at container path of task name's
// previous TaskInfo (nil when it names none).
func (e *Evaluation) previousVolume(name, path string) *mesos.Resource {
	for _, ti := range e.Req.Previous {
		if ti.GetName() != name {
			continue
		}
		for i := range ti.Resources {
			if r := &ti.Resources[i]; r.IsPersistentVolume() && r.GetDisk().GetVolume().GetContainerPath() == path {
				return r
			}
		}
	}
	return nil
}

// sameVolume checks that volume got, at path of rs, is the one each of
// rs's tasks to launch ran on when its previous TaskInfo names one the
// instance still holds: a task is never handed another's volume, nor a
// new one while its own is kept.
func (e *Evaluation) sameVolume(rs *resourceSet, path string, got mesos.Resource) error {
	pid := got.GetDisk().GetPersistence().GetID()
	for _, c := range rs.Tasks {
		prev := e.previousVolume(c.Name, path)
		if prev == nil {
			continue
		}
		was := prev.GetDisk().GetPersistence().GetID()
		held := e.Req.Reservation.ByID(reservation.ResourceID(prev))
		if was == pid || held == nil {
			continue
		}
		msg := fmt.Sprintf("task %s ran on volume %s (persistence ID %s, reserved as %s); its resource set %s would give it persistence ID %s: refusing to hand it another task's volume or a new one while its own is kept", c.Name, path, was, held.Key, rs.ID, pid)
		if e.unmapped != "" {
			msg += " (" + e.unmapped + ")"
		}
		return &claimError{Reason: msg}
	}
	return nil
}

// describe names what a claim is for ("task p-0-t"), in a failure's
// reason: called only when the claim fails, as most claims do not (a
// launch round makes a thousand).
type describe func() string

// claimError is why a claim failed: Reason for the outcome, Want what the
// offer lacked.
type claimError struct{ Reason, Want string }

func (c *claimError) Error() string { return c.Reason }

// fail is the failing outcome of stage for a claim's error.
func fail(stage string, err error) Outcome {
	o := Outcome{Stage: stage, Reason: err.Error()}
	if ce, ok := errors.AsType[*claimError](err); ok {
		o.Want = ce.Want
	}
	return o
}

// short words a pool's ShortError for what of wants it: "task p-0-t needs
// 1 cpus (0.5 cpus left)", with what was lacking as Want.
func short(what string, err error) error {
	if se, ok := errors.AsType[*ShortError](err); ok {
		return &claimError{Reason: what + " needs " + se.Want + " (" + se.Have + " left)", Want: se.Want}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// existing returns the reservation item of key, and whether the pool (the
// offers) holds it; a missing item is an error saying so.
func (e *Evaluation) existing(key string) (*reservation.Item, mesos.Resource, error) {
	it := e.res.Item(key)
	if it == nil {
		return nil, mesos.Resource{}, nil
	}
	got, ok := e.Pool.TakeReserved(it.ID)
	if ok {
		return it, got, nil
	}
	inst := e.Req.Instance()
	if it.Op != "" {
		return it, got, &claimError{Reason: fmt.Sprintf("%s's reservation of %s (resource ID %s) is not in this offer: waiting for its RESERVE (operation %s) to be confirmed", inst, key, it.ID, it.Op)}
	}
	return it, got, &claimError{Reason: fmt.Sprintf("%s's reservation of %s (resource ID %s, on host %s) is not in this offer", inst, key, it.ID, e.res.Hostname),
		Want: fmt.Sprintf("%s's reservation of %s", inst, key)}
}

// keep records the item claimed under key: resource r (as the task or
// executor uses it) under resource ID id; isNew marks a new reservation.
func (e *Evaluation) keep(key, id string, r mesos.Resource, isNew bool) {
	if i := e.claimedAt(key); i >= 0 {
		e.claimed[i] = reservation.Item{Key: key, ID: id, Resource: r}
	} else {
		if e.claimed == nil {
			// Made by the first claim: most evaluations of a big round
			// fail before any.
			e.claimed = make([]reservation.Item, 0, e.claims)
		}
		e.claimed = append(e.claimed, reservation.Item{Key: key, ID: id, Resource: r})
	}
	if isNew {
		if e.Rec.Reserved == nil {
			e.Rec.Reserved = make([]string, 0, e.claims)
		}
		e.Rec.Reserved = append(e.Rec.Reserved, key)
	}
}

// claimedAt is the index of the item claimed under key in e.claimed, -1
// when none is.
func (e *Evaluation) claimedAt(key string) int {
	return slices.IndexFunc(e.claimed, func(it reservation.Item) bool { return it.Key == key })
}

// reserve reserves resources taken from the pool for the pod's role under
// a new resource ID, and returns them as reserved (one resource).
func (e *Evaluation) reserve(key string, took []mesos.Resource) (mesos.Resource, string, error) {
	id := e.NewID()
	if e.Rec.Reserve == nil {
		e.Rec.Reserve = make([]mesos.Resource, 0, e.claims)
	}
	n := len(e.Rec.Reserve)
	e.Rec.Reserve = reservation.AppendReserved(e.Rec.Reserve, took, e.Role, e.Principal, id)
	if len(e.Rec.Reserve) != n+1 {
		e.Rec.Reserve = e.Rec.Reserve[:n]
		return mesos.Resource{}, "", fmt.Errorf("%s: the offered resources (%s) cannot be reserved as one", key, reservation.Describe(took))
	}
	return e.Rec.Reserve[n], id, nil
}

// claimScalar claims amount of scalar resource name under key, for what
// (messages): the existing reservation, grown or shrunk to amount, or a
// new one.
func (e *Evaluation) claimScalar(key, name string, amount float64, what describe) (mesos.Resource, error) {
	it, got, err := e.existing(key)
	if err != nil {
		return got, err
	}
	want := mesos.Value_Scalar{Value: amount}
	if it != nil {
		have := got.GetScalar()
		switch c := want.Compare(have); {
		case c == 0:
		case c > 0:
			diff := want.Subtract(have)
			extra, err := e.Pool.TakeScalar(name, diff.Value)
			if err != nil {
				return got, short(fmt.Sprintf("%s (growing its reservation from %g)", what(), have.Value), err)
			}
			grown := reservation.Reserve(extra, e.Role, e.Principal, it.ID)
			e.Rec.Reserve = append(e.Rec.Reserve, grown...)
			sum := mesos.Resources{got}.Plus(grown...)
			if len(sum) != 1 {
				return got, fmt.Errorf("%s: its reservation cannot grow (%s)", what(), reservation.Describe(sum))
			}
			got = sum[0]
		default:
			shrink := got
			shrink.Scalar = have.Subtract(&want)
			e.Rec.Unreserve = append(e.Rec.Unreserve, shrink)
			got.Scalar = &mesos.Value_Scalar{Value: amount}
		}
		e.keep(key, it.ID, got, false)
		return got, nil
	}
	var room [1]mesos.Resource
	took, err := e.Pool.appendScalar(room[:0], name, amount)
	if err != nil {
		return mesos.Resource{}, short(what(), err)
	}
	r, id, err := e.reserve(key, took)
	if err != nil {
		return r, err
	}
	e.keep(key, id, r, true)
	return r, nil
}

// claimPort claims port pt (a fixed port, or a dynamic one in its ranges)
// under key: the reserved port, unless the spec now fixes another one, or
// a new reservation.
func (e *Evaluation) claimPort(key string, pt *spec.PortSpec, what describe) (uint64, mesos.Resource, error) {
	it, got, err := e.existing(key)
	if err != nil {
		return 0, got, err
	}
	if it != nil {
		if rs := got.GetRanges().GetRange(); len(rs) == 1 && rs[0].Begin == rs[0].End && (pt.Port == 0 || uint64(pt.Port) == rs[0].Begin) {
			e.keep(key, it.ID, got, false)
			return rs[0].Begin, got, nil
		}
		// The spec fixes another port now: the old one is left out (and
		// released), a new one reserved.
	}
	var within mesos.Ranges
	if pt.Port == 0 {
		within = portRanges(pt)
	}
	num, took, err := e.Pool.TakePort(uint64(pt.Port), within)
	if err != nil {
		return 0, took, short(what(), err)
	}
	r, id, err := e.reserve(key, []mesos.Resource{took})
	if err != nil {
		return 0, r, err
	}
	e.keep(key, id, r, true)
	return num, r, nil
}

// claimVolume claims volume v under key: the reserved volume (created again
// when only its disk is left), or a new reservation of v.Size MB of the
// root disk, or of a whole MOUNT disk of at least that size, made a
// volume.
func (e *Evaluation) claimVolume(key string, v *spec.VolumeSpec, what describe) (mesos.Resource, error) {
	it, got, err := e.existing(key)
	if err != nil {
		return got, err
	}
	var id, pid string
	if it != nil {
		id, pid = it.ID, it.Resource.GetDisk().GetPersistence().GetID()
		if got.IsPersistentVolume() {
			// Used at the spec's path, as offered otherwise.
			d := *got.Disk
			d.Volume = &mesos.Volume{Mode: mesos.RW.Enum(), ContainerPath: v.Path}
			got.Disk = &d
			e.keep(key, id, got, false)
			return got, nil
		}
	} else {
		var took []mesos.Resource
		switch v.Type {
		case spec.VolumeMount:
			m, err := e.Pool.TakeMount(float64(v.Size))
			if err != nil {
				if se, ok := errors.AsType[*ShortError](err); ok {
					return got, &claimError{Reason: fmt.Sprintf("%s needs a MOUNT disk of at least %d MB (%s offered)", what(), v.Size, se.Have), Want: strconv.Itoa(v.Size) + " MB of MOUNT disk"}
				}
				return got, err
			}
			took = []mesos.Resource{m}
		default:
			took, err = e.Pool.TakeScalar("disk", float64(v.Size))
			if err != nil {
				return got, short(what(), err)
			}
		}
		got, id, err = e.reserve(key, took)
		if err != nil {
			return got, err
		}
	}
	if pid == "" {
		pid = e.NewID()
	}
	vol := reservation.Volume(got, pid, e.Principal, v.Path)
	e.Rec.Create = append(e.Rec.Create, vol)
	e.keep(key, id, vol, it == nil)
	return vol, nil
}

// finish composes the pod instance's reservation after this launch: the
// items claimed, and the items of owners this evaluation did not look at
// (another task's resource set, a running executor's); items of evaluated
// owners that were not claimed, and of owners the spec no longer has
// (unless they hold a volume a previous TaskInfo names), are left out, for
// the scheduler to release.
func (e *Evaluation) finish() {
	res := &reservation.Reservation{Pod: e.Req.Pod.Name, Index: e.Req.Index, AgentID: e.Where.AgentID, Hostname: e.Where.Hostname, Role: e.Role}
	old := e.res
	if old != nil {
		res.Items = make([]reservation.Item, 0, len(old.Items)+len(e.claimed))
		known := map[string]bool{reservation.KeyExecutor: true, reservation.KeyPod: true}
		for _, t := range e.Req.Pod.Tasks.Values {
			known[e.Req.Pod.ResourceSetID(t)] = true
		}
		// A volume a task's previous TaskInfo names is its data: its set
		// is kept even when the spec no longer has it (a case renames
		// could not map), never released by another task's launch.
		for _, it := range old.Items {
			if it.Resource.IsPersistentVolume() && e.named(it.ID) {
				known[reservation.Owner(it.Key)] = true
			}
		}
		for _, it := range old.Items {
			if owner := reservation.Owner(it.Key); e.claimedAt(it.Key) >= 0 || e.evaluates(owner) || !known[owner] {
				continue
			}
			res.Items = append(res.Items, it)
		}
	}
	// Claimed items in the order they were claimed: the stages' order
	// (without old items, the claimed ones themselves: the evaluation
	// ends here).
	if res.Items == nil {
		res.Items = e.claimed
	} else {
		res.Items = append(res.Items, e.claimed...)
	}
	e.Rec.Reservation = res
}

// ReservationStage checks that the offers hold the pod instance's
// reservation when it has one (the SDK's existing-pod pipeline): some of
// its resources, found by resource ID; the other stages then take each of
// them. A pod instance without one is placed anew.
type ReservationStage struct{}

// Name implements Stage.
func (ReservationStage) Name() string { return "reservation" }

// Evaluate implements Stage.
func (s ReservationStage) Evaluate(e *Evaluation) Outcome {
	r := e.Req.Reservation
	if r == nil {
		if e.Req.Recovery == RecoveryPermanent {
			return Pass(s.Name(), "placed anew (permanent recovery): new reservations")
		}
		return Pass(s.Name(), "new reservations")
	}
	n := 0
	for _, it := range r.Items {
		if _, ok := e.Pool.Reserved()[it.ID]; ok {
			n++
		}
	}
	if n == 0 && len(r.Items) > 0 {
		o := Fail(s.Name(), "%s's reservation (%d resources) is on host %s (agent %s), not in this offer", r.Instance(), len(r.Items), r.Hostname, r.AgentID)
		o.Want = r.Instance() + "'s reservation"
		return o
	}
	msg := fmt.Sprintf("%d of %d reserved resources offered", n, len(r.Items))
	for _, rn := range e.renamed {
		msg += "; " + rn
	}
	if e.unmapped != "" {
		msg += "; these resource sets' reservations stay as they are: " + e.unmapped
	}
	return Pass(s.Name(), msg)
}

// VolumeStage takes the persistent volumes (the SDK's
// VolumeEvaluationStage): the pod's, on a new executor (every task sees
// them through it), and each evaluated resource set's, on its tasks.
type VolumeStage struct{}

// Name implements Stage.
func (VolumeStage) Name() string { return "volumes" }

// Evaluate implements Stage.
func (s VolumeStage) Evaluate(e *Evaluation) Outcome {
	n := 0
	if e.Req.Executor == nil {
		for _, v := range e.Req.Pod.PodVolumes() {
			r, err := e.claimVolume(reservation.VolumeKey(reservation.KeyPod, v.Path), v, func() string { return fmt.Sprintf("the pod's volume %s of %s", v.Path, e.Req.Instance()) })
			if err != nil {
				return fail(s.Name(), err)
			}
			e.Rec.ExecutorResources = append(e.Rec.ExecutorResources, r)
			n++
		}
	}
	for _, rs := range e.sets {
		for _, v := range rs.Volumes {
			r, err := e.claimVolume(reservation.VolumeKey(rs.ID, v.Path), v, func() string { return fmt.Sprintf("volume %s of %s", v.Path, rs.what(e)) })
			if err == nil {
				err = e.sameVolume(rs, v.Path, r)
			}
			if err != nil {
				return fail(s.Name(), err)
			}
			for _, c := range rs.Tasks {
				c.Resources = append(c.Resources, r)
			}
			n++
		}
	}
	return Pass(s.Name(), volumesTaken.of(n))
}

// what names the resource set in messages: its first task to launch
// ("task p-0-t"), else the set.
func (rs *resourceSet) what(e *Evaluation) string {
	if len(rs.Tasks) > 0 {
		return "task " + rs.Tasks[0].Name
	}
	return "resource set " + rs.ID + " of " + e.Req.Instance()
}
