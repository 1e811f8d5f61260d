package service

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
)

// Reservations (the SDK's resource IDs, OfferAccepter and ResourceCleaner):
//
//	launch of a pod instance ─▶ its Reservation stored (new items carry
//	   the RESERVE's operation ID) ─▶ ACCEPT [UNRESERVE] RESERVE(id) CREATE LAUNCH_GROUP…
//	UPDATE_OPERATION_STATUS FINISHED ─▶ the items are confirmed (stored,
//	   then acknowledged); ERROR, DROPPED, UNKNOWN, ... ─▶ they never
//	   existed: dropped from the reservation
//	SUBSCRIBED, then every ReconcileBackoff.Initial while some are not
//	   confirmed ─▶ RECONCILE_OPERATIONS of those
//	every offer round ─▶ offered reservations of the framework's roles
//	   that no pod instance holds, or whose instance released them
//	   (decommission), are given up: DESTROY then UNRESERVE, in the
//	   agent's ACCEPT
//
// A transient recovery relaunches on the instance's reservation; a
// permanent one (pod replace, GONE, the agent lost past
// AgentLostTimeout) places it anew, and its new reservation replaces the
// old one, whose resources are then released as they are offered.

// loadReservations restores the pod instances' reservations from the
// store.
func (s *Scheduler) loadReservations() error {
	stored, err := s.cfg.Store.Reservations()
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	for inst, b := range stored {
		r, err := reservation.Unmarshal(b)
		if err != nil {
			return fmt.Errorf("stored reservation of %s: %w", inst, err)
		}
		s.reservations[inst] = r
	}
	return nil
}

// followRenames maps each pod instance's reservation to the target's
// resource sets the SDK's way (its TaskResourceMapper maps the resources
// of a task's previous TaskInfo to the specs of the set the task uses now,
// whatever the sets are called): the items a task's stored TaskInfo names
// go under the ID of the set the task uses in the target
// (reservation.Follow: a renamed set, a task moved to another set, tasks
// swapping sets), and the result is stored. Every other part of the
// scheduler then sees them as that set's: the instance's other steps keep
// them, the decommission of a removed task leaves them alone, GET
// /v1/debug/reservations shows the new ID. It runs in New after restore
// and keepAborted (an instance whose scale-down is aborted holds its
// reservation again, and its items follow too), again at every start (it
// changes nothing once done). A relaunch on a
// configuration with the other names (a recovery of a pod not yet
// updated) maps them back by the same rule (evaluate's renames). It maps
// set by set, as the SDK does: a set that cannot be mapped safely (the
// configuration validators refuse the cases with volumes the specs show)
// is left as it is, with a warning naming it, and the other sets follow
// their tasks; the relaunch then refuses to hand a task a volume its
// TaskInfo does not name.
func (s *Scheduler) followRenames() error {
	kv := map[string][]byte{}
	for _, inst := range s.reservationNames() {
		r := s.reservations[inst]
		pod := s.spec.Pod(r.Pod)
		if r.Releasing || inst != r.Instance() || pod == nil {
			continue
		}
		var uses []reservation.Use
		for _, t := range s.instanceTasks(pod, r.Index) {
			ts, _ := pod.Tasks.Get(t.spec.Name)
			u := reservation.Use{Task: t.info.GetName(), Set: pod.ResourceSetID(ts)}
			for i := range t.info.Resources {
				if id := reservation.ResourceID(&t.info.Resources[i]); id != "" {
					u.IDs = append(u.IDs, id)
				}
			}
			uses = append(uses, u)
		}
		next, moves, err := r.Follow(uses)
		if err != nil {
			s.log.Warn("some resource sets' reservations cannot follow their tasks: those are left as they are, the others follow", "pod", inst, "err", err)
		}
		if len(moves) == 0 {
			continue
		}
		for _, m := range moves {
			s.log.Info("resource set renamed: its reservation follows its task", "pod", inst, "from", m.From, "to", m.To, "task", m.Task)
		}
		b, err := next.Marshal()
		if err != nil {
			return err
		}
		s.reservations[inst] = next
		kv[inst] = b
	}
	if err := putReservations(s.cfg.Store.PutReservations, kv); err != nil {
		return fmt.Errorf("storing the reservations of renamed resource sets: %w", err)
	}
	return nil
}

// reservationFor is what pod instance inst holds for a launch: nil when it
// holds nothing or gives it up.
func (s *Scheduler) reservationFor(inst string) *reservation.Reservation {
	r := s.reservations[inst]
	if r == nil || r.Releasing || len(r.Items) == 0 {
		return nil
	}
	return r
}

// setReservationLocked records inst's reservation (nil: none) in memory
// and in job j, for the store. Caller holds s.mu for writing.
func (s *Scheduler) setReservationLocked(j *job, inst string, r *reservation.Reservation) {
	if r != nil && len(r.Items) == 0 {
		r = nil
	}
	if r == nil {
		delete(s.reservations, inst)
	} else {
		s.reservations[inst] = r
	}
	if j.reservations == nil {
		j.reservations = map[string]*reservation.Reservation{}
	}
	j.reservations[inst] = r
}

// operationStatus handles an UPDATE_OPERATION_STATUS, by the kind of
// operation the items record (a reservation released while its RESERVE
// is unconfirmed holds both): a RESERVE that finished confirms its items,
// one that failed (or that the master does not know) drops them, whether
// the reservation is releasing or not; an UNRESERVE that finished drops
// its items, one that failed leaves them to be released again. The change
// is stored, then the status acknowledged.
func (s *Scheduler) operationStatus(st *mesos.OperationStatus) {
	id := st.GetOperationID().GetValue()
	j := &job{}
	s.m.Inc("operation_status." + st.State.String())
	s.mu.Lock()
	for _, inst := range s.reservationNames() {
		r := s.reservations[inst]
		if !slices.ContainsFunc(r.Items, func(it reservation.Item) bool { return it.Op == id }) {
			continue
		}
		finished := st.State == mesos.OPERATION_FINISHED
		switch st.State {
		case mesos.OPERATION_PENDING, mesos.OPERATION_RECOVERING, mesos.OPERATION_UNREACHABLE:
			continue // not settled yet
		case mesos.OPERATION_FINISHED:
		default:
			s.log.Warn("operation failed", "reservation", inst, "operation", id, "state", st.State.String(), "message", st.GetMessage())
		}
		delete(s.opsSince, id)
		r = r.Clone()
		release := r.Items[slices.IndexFunc(r.Items, func(it reservation.Item) bool { return it.Op == id })].Releases()
		switch {
		case release && !finished && r.Releasing && inst == r.Instance():
			// An UNRESERVE of a decommissioned instance's own reservation
			// that failed: what it gave up leaves the instance for good
			// (the SDK pruned it from the TaskInfo when it was recorded),
			// kept as a released reservation of its own until it is
			// released at a later offer.
			gone := r.Clone()
			gone.Items = slices.DeleteFunc(gone.Items, func(it reservation.Item) bool { return it.Op != id })
			for i := range gone.Items {
				gone.Items[i].Settle()
			}
			s.setReservationLocked(j, s.releasedKeyLocked(gone), gone)
			r.Items = slices.DeleteFunc(r.Items, func(it reservation.Item) bool { return it.Op == id })
		case finished != release: // a RESERVE made, or an UNRESERVE that failed
			for i := range r.Items {
				if r.Items[i].Op == id {
					r.Items[i].Settle()
				}
			}
		default: // a RESERVE never made, or an UNRESERVE done
			r.Items = slices.DeleteFunc(r.Items, func(it reservation.Item) bool { return it.Op == id })
		}
		s.setReservationLocked(j, inst, r)
	}
	s.mu.Unlock()
	if st.UUID != nil && st.AgentID != nil {
		j.calls = append(j.calls, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS, AcknowledgeOperationStatus: &scheduler.Call_AcknowledgeOperationStatus{
			AgentID: st.AgentID, UUID: st.UUID.Value, OperationID: *st.OperationID,
		}})
	}
	s.out.push(j)
	s.wake()
}

// reservationNames returns the pod instances holding a reservation,
// sorted.
func (s *Scheduler) reservationNames() []string {
	names := make([]string, 0, len(s.reservations))
	for inst := range s.reservations {
		names = append(names, inst)
	}
	sort.Strings(names)
	return names
}

// reconcileOperations asks the master about the RESERVEs not confirmed
// yet: all of them after a subscription (force), then, at most every
// ReconcileBackoff.Initial, those unconfirmed for that long. An operation
// the master does not know was never made.
func (s *Scheduler) reconcileOperations(now time.Time, force bool) {
	wait := s.cfg.ReconcileBackoff.Initial
	if !force && now.Sub(s.opsReconciledAt) < wait {
		return
	}
	var ops []scheduler.Call_ReconcileOperations_Operation
	for _, inst := range s.reservationNames() {
		r := s.reservations[inst]
		for _, op := range r.Pending() {
			since, ok := s.opsSince[op]
			if !ok {
				s.opsSince[op] = now
				since = now
			}
			if !force && now.Sub(since) < wait {
				continue
			}
			o := scheduler.Call_ReconcileOperations_Operation{OperationID: mesos.OperationID{Value: op}}
			if r.AgentID != "" {
				o.AgentID = &mesos.AgentID{Value: r.AgentID}
			}
			ops = append(ops, o)
		}
	}
	if len(ops) == 0 {
		return
	}
	s.opsReconciledAt = now
	s.m.Inc("reconcile.operations")
	s.calls = append(s.calls, &scheduler.Call{Type: scheduler.Call_RECONCILE_OPERATIONS, ReconcileOperations: &scheduler.Call_ReconcileOperations{Operations: ops}})
}

// releasesLocked returns, for the offered resources of one agent, the
// operations that give up the framework's reservations no pod instance
// holds, and those of released reservations (a replaced pod's, a
// decommissioned instance's): DESTROY, then UNRESERVE. A released
// reservation's items wait (in j, for the store) for the UNRESERVE's
// OPERATION_FINISHED before they leave it. Caller holds s.mu for writing.
func (s *Scheduler) releasesLocked(j *job, agent string, offered []mesos.Resource, held map[string]string) []mesos.Offer_Operation {
	var rel []mesos.Resource
	tracked := map[string][]string{} // releasing reservation → resource IDs given up
	for _, r := range offered {
		if !reservation.Ours(&r, s.roles) {
			continue
		}
		id := reservation.ResourceID(&r)
		key, ok := held[id]
		if ok {
			res := s.reservations[key]
			if !res.Releasing || res.ByID(id).Op != "" {
				continue // held, or its release not settled yet
			}
			tracked[key] = append(tracked[key], id)
		}
		rel = append(rel, r)
	}
	if len(rel) == 0 {
		return nil
	}
	op := ""
	if len(tracked) > 0 {
		op = reservation.ReleaseOpID(agent, s.build.NewID())
		for key, ids := range tracked {
			r := s.reservations[key].Clone()
			for i := range r.Items {
				if slices.Contains(ids, r.Items[i].ID) {
					r.Items[i].Op, r.Items[i].OpKind, r.Items[i].Intact = op, reservation.OpRelease, false
				}
			}
			s.setReservationLocked(j, key, r)
		}
	}
	s.m.Add("reservations.released", int64(len(rel)))
	s.log.Info("releasing reservations", "agent", agent, "operation", op, "resources", reservation.Describe(rel))
	return podinfo.Released(rel, op)
}

// heldIDs maps every resource ID a pod instance holds to the instance.
func (s *Scheduler) heldIDs() map[string]string {
	held := map[string]string{}
	for inst, r := range s.reservations {
		for _, it := range r.Items {
			held[it.ID] = inst
		}
	}
	return held
}

// releaseLocked gives up what pod instance inst reserved (decommission):
// its reservation is released as its resources are offered. It reports
// whether the instance's current incarnation is released: its own
// reservation gone (every UNRESERVE of it finished) and none of ids (what
// its tasks' TaskInfos name, and what its reservation held when the plan
// was built) held by a released reservation of its own (an UNRESERVE
// that failed, operationStatus). What an earlier incarnation left behind
// (a replaced pod's reservation on an agent that may never offer again)
// is not waited for: it stays tracked, released whenever its agent offers
// it, as the SDK's decommission plan cleans up only the resource IDs of
// the tasks' current TaskInfos (DecommissionPlanFactory.buildPlanInfo)
// and its general cleaner the rest (DefaultScheduler.
// getUnexpectedResources). Caller holds s.mu for writing; the change goes
// into j.
func (s *Scheduler) releaseLocked(j *job, inst string, ids []string) bool {
	if r := s.reservations[inst]; r != nil && !r.Releasing {
		r = r.Clone()
		r.Releasing = true
		s.setReservationLocked(j, inst, r)
		s.log.Info("releasing a pod instance's reservation", "pod", inst, "resources", len(r.Items))
	}
	if s.reservations[inst] != nil {
		return false
	}
	held := s.heldIDs()
	return !slices.ContainsFunc(ids, func(id string) bool { _, ok := held[id]; return ok })
}

// leftBehindLocked returns the released reservations pod instance inst
// still tracks besides its own (what earlier incarnations left, what a
// failed UNRESERVE gave back), sorted. Caller holds s.mu.
func (s *Scheduler) leftBehindLocked(inst string) []string {
	var keys []string
	for _, key := range s.instanceReservationsLocked(inst) {
		if key != inst {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

// keepAborted takes back, at start, the reservations of pod instances
// whose decommission an earlier run began and the target no longer asks
// for (a count raised again before their unreserve step finished): the
// SDK rebuilds its decommission plan at every start and clears the
// DECOMMISSIONED override of a task no longer to decommission
// (DecommissionPlanFactory.buildPlanInfo), and its cleaner keeps every
// resource ID a kept task's TaskInfo names (DefaultScheduler.
// getUnexpectedResources), so the task is recovered in place. The
// instance's reservation is no longer releasing; what was already given
// up is not the instance's any more, as the SDK prunes a resource from
// the TaskInfo once its UNRESERVE is recorded (UninstallRecorder): the
// items whose UNRESERVE is in flight leave for a released reservation of
// their own, their operation kept so that its status settles them (what
// a failed UNRESERVE gave back left already, operationStatus). Items
// whose RESERVE (and CREATE) is still unconfirmed stay the instance's,
// their operation pending as before: the release never touched them
// (releasesLocked waits for it to settle), and the kept task's TaskInfo
// names them. The relaunch reserves anew what the instance then lacks (a
// volume whose DESTROY was sent is created anew, empty). The change is
// stored before anything runs.
func (s *Scheduler) keepAborted() error {
	j := &job{}
	for _, key := range s.reservationNames() {
		r := s.reservations[key]
		if pod := s.spec.Pod(r.Pod); !r.Releasing || key != r.Instance() || pod == nil || r.Index >= pod.Count {
			continue
		}
		next := r.Clone()
		next.Releasing = false
		next.Items = slices.DeleteFunc(next.Items, func(it reservation.Item) bool { return it.Releases() })
		if len(next.Items) < len(r.Items) {
			gone := r.Clone()
			gone.Items = slices.DeleteFunc(gone.Items, func(it reservation.Item) bool { return !it.Releases() })
			s.setReservationLocked(j, s.releasedKeyLocked(gone), gone)
		}
		s.setReservationLocked(j, key, next)
		s.log.Info("decommission aborted: the pod instance keeps its reservation", "pod", key,
			"kept", len(next.Items), "unreserving", len(r.Items)-len(next.Items))
	}
	return s.storeReservations(j, "aborted decommissions")
}

// storeReservations writes the reservations job j changed at start (New:
// nothing runs yet), before anything acts on them, in transactions under
// ZooKeeper's request limit, each pod instance's whole
// (putReservations); what names them for the error.
func (s *Scheduler) storeReservations(j *job, what string) error {
	if len(j.reservations) == 0 {
		return nil
	}
	kv := map[string][]byte{}
	if err := j.marshalReservations(kv); err != nil {
		return err
	}
	if err := putReservations(s.cfg.Store.PutReservations, kv); err != nil {
		return fmt.Errorf("storing the reservations of %s: %w", what, err)
	}
	return nil
}

// releaseRemoved takes out of each kept pod instance's reservation, at
// start, what only tasks the pod no longer has (retired, to be
// decommissioned) held in a resource set a task of the target uses: the
// items their stored TaskInfos name and no remaining task's TaskInfo
// does. They leave for a released reservation of their own (leftLocked),
// released as their agent offers them once the removed task has ended
// (its unreserve step waits for that, ownIDsLocked), so that the set is
// empty for the tasks that use it now: a kept task moved onto the set's
// name takes its own items there (followRenames), and a new task on it
// reserves anew instead of being handed the removed task's resources and
// volume. The SDK builds a set's existing resources only from the
// previous TaskInfo of a task using the set now, and a new task gets new
// ones (offer/evaluate/OfferEvaluator.java, getExistingResourceSetStages;
// its cleaner releases what no kept task's TaskInfo names,
// DefaultScheduler.getUnexpectedResources). Items of a set no task of the
// target uses stay until the removed task's unreserve step gives them up,
// as before. It runs in New after keepAborted and before followRenames;
// the change is stored before anything runs.
func (s *Scheduler) releaseRemoved() error {
	j := &job{}
	for _, inst := range s.reservationNames() {
		r := s.reservations[inst]
		pod := s.spec.Pod(r.Pod)
		if r.Releasing || inst != r.Instance() || pod == nil || r.Index >= pod.Count {
			continue
		}
		gone := map[string]bool{} // resource IDs only removed tasks name
		for _, t := range s.retired {
			if t.instanceName() == inst && t.info != nil {
				for i := range t.info.Resources {
					gone[reservation.ResourceID(&t.info.Resources[i])] = true
				}
			}
		}
		if len(gone) == 0 {
			continue
		}
		for _, t := range s.tasks {
			if t.instanceName() == inst && t.info != nil {
				for i := range t.info.Resources {
					delete(gone, reservation.ResourceID(&t.info.Resources[i]))
				}
			}
		}
		used := map[string]bool{}
		for _, t := range pod.Tasks.Values {
			used[pod.ResourceSetID(t)] = true
		}
		next := r.Clone()
		next.Items = slices.DeleteFunc(next.Items, func(it reservation.Item) bool {
			o := reservation.Owner(it.Key)
			return gone[it.ID] && used[o] && o != reservation.KeyExecutor && o != reservation.KeyPod
		})
		if len(next.Items) == len(r.Items) {
			continue
		}
		key := s.leftLocked(j, r, next)
		s.setReservationLocked(j, inst, next)
		s.log.Info("a removed task's resources leave the resource sets the target uses: released once it has ended", "pod", inst, "released", key)
	}
	return s.storeReservations(j, "removed tasks")
}

// keepAddedBack gives a task the target has again (a removed task added
// back: its stored TaskInfo kept, no longer retired) back, at start, what
// it held that a released reservation still tracks intact (no DESTROY or
// UNRESERVE of it ever sent: the removed task's decommission, or
// releaseRemoved, gave it up but no offer released it yet): those items
// go back into its pod instance's reservation under their keys, so that
// it relaunches on its own reservation and volume, its data kept (an
// item whose RESERVE Mesos has not confirmed yet goes back pending, for
// operationStatus to settle: dropped if it was never made). The SDK
// keeps every resource ID a stored TaskInfo of a task it does not
// decommission names (DefaultScheduler.getUnexpectedResources) and prunes
// a resource from the TaskInfos only as it records its release, before
// the DESTROY and UNRESERVE are sent (UninstallRecorder): what was sent
// is gone, even when its UNRESERVE failed (the DESTROY may have been
// applied), and an item stored without Intact (an earlier version) is
// taken as sent. The task then relaunches on a new reservation for what
// it lacks, a volume new and empty, which the log says. An item is left
// released when the instance's reservation is elsewhere (another agent
// and host), released, or holds its key already. It runs in New after
// keepAborted and releaseRemoved (which empties the sets a removed task
// held that the target uses) and before followRenames (which maps the
// items taken back to the set their task uses now); the change is stored
// before anything runs.
func (s *Scheduler) keepAddedBack() error {
	j := &job{}
	type claim struct{ task, inst string }
	claims := map[string]claim{} // resource ID → the kept task whose TaskInfo names it
	for _, t := range s.tasks {
		if t.info == nil || t.replace {
			continue
		}
		c := claim{task: t.name, inst: t.instanceName()}
		for id := range t.resourceIDs() {
			claims[id] = c
		}
	}
	// What kept tasks' TaskInfos name that stays released, by task: its
	// release sent (or not known not to be), or the instance unable to
	// hold it again.
	sent, elsewhere := map[string][]mesos.Resource{}, map[string][]mesos.Resource{}
	for _, key := range s.reservationNames() {
		r := s.reservations[key]
		inst := r.Instance()
		if !r.Releasing || key == inst || !slices.ContainsFunc(r.Items, func(it reservation.Item) bool { return claims[it.ID].inst == inst }) {
			continue
		}
		own := s.reservations[inst]
		here := own == nil || !own.Releasing && (own.AgentID == r.AgentID || own.Hostname != "" && own.Hostname == r.Hostname)
		next, left := own, r.Clone()
		if next == nil {
			next = &reservation.Reservation{Pod: r.Pod, Index: r.Index, AgentID: r.AgentID, Hostname: r.Hostname, Role: r.Role}
		} else {
			next = next.Clone()
		}
		var taken []mesos.Resource
		left.Items = slices.DeleteFunc(left.Items, func(it reservation.Item) bool {
			c := claims[it.ID]
			switch {
			case c.inst != inst:
				return false
			case !it.Intact || it.Releases():
				sent[c.task] = append(sent[c.task], it.Resource)
				return false
			case !here || next.Item(it.Key) != nil:
				elsewhere[c.task] = append(elsewhere[c.task], it.Resource)
				return false
			default: // a RESERVE still pending goes back pending
				it.Intact = false
				next.Items = append(next.Items, it)
				taken = append(taken, it.Resource)
				return true
			}
		})
		if len(taken) == 0 {
			continue
		}
		s.setReservationLocked(j, key, left)
		s.setReservationLocked(j, inst, next)
		s.log.Info("a task added back takes back what its removal gave up, its release not sent yet: it relaunches on its own reservation and volume",
			"pod", inst, "resources", reservation.Describe(taken))
	}
	for _, task := range slices.Sorted(maps.Keys(sent)) {
		s.log.Warn("a task added back after the release of what it held was sent (or, stored by an earlier version, may have been): that is gone, and it relaunches on a new reservation"+andNewVolume(sent[task]),
			"task", task, "resources", reservation.Describe(sent[task]))
	}
	for _, task := range slices.Sorted(maps.Keys(elsewhere)) {
		s.log.Warn("a task added back names resources its pod instance cannot hold again (its reservation is on another agent, released, or holds their keys): they stay released, and it relaunches on a new reservation"+andNewVolume(elsewhere[task]),
			"task", task, "resources", reservation.Describe(elsewhere[task]))
	}
	// A volume no record holds at all: its UNRESERVE finished (a task
	// added back after its release was done), or it was never made.
	held := s.heldIDs()
	for _, name := range slices.Sorted(maps.Keys(s.tasks)) {
		t := s.tasks[name]
		if t.info == nil || t.replace {
			continue
		}
		var gone []mesos.Resource
		for i := range t.info.Resources {
			r := &t.info.Resources[i]
			if _, ok := held[reservation.ResourceID(r)]; !ok && r.IsPersistentVolume() && reservation.ResourceID(r) != "" {
				gone = append(gone, *r)
			}
		}
		if len(gone) > 0 {
			s.log.Warn("a task's stored TaskInfo names volumes no reservation holds any more (a task added back after their release finished, or never made): it relaunches on a new reservation and a new, empty volume",
				"task", name, "resources", reservation.Describe(gone))
		}
	}
	return s.storeReservations(j, "tasks added back")
}

// andNewVolume is what a relaunch without rs adds to "a new reservation":
// a new, empty volume for each volume among them.
func andNewVolume(rs []mesos.Resource) string {
	for i := range rs {
		if rs[i].IsPersistentVolume() {
			return " and a new, empty volume"
		}
	}
	return ""
}

// releaseItemsLocked gives up the items of pod instance inst's reservation
// whose resource IDs are ids (what a task the pod no longer has held
// alone): they leave it for a released reservation of their own
// (leftLocked), the instance keeps the rest, and it is not marked
// releasing. It reports whether none of ids is reserved any more (their
// UNRESERVEs finished). Caller holds s.mu for writing; the change goes
// into j.
func (s *Scheduler) releaseItemsLocked(j *job, inst string, ids []string) bool {
	if r := s.reservations[inst]; r != nil && !r.Releasing {
		next := r.Clone()
		next.Items = slices.DeleteFunc(next.Items, func(it reservation.Item) bool { return slices.Contains(ids, it.ID) })
		if len(next.Items) < len(r.Items) {
			s.leftLocked(j, r, next)
			s.setReservationLocked(j, inst, next)
		}
	}
	held := s.heldIDs()
	return !slices.ContainsFunc(ids, func(id string) bool { _, ok := held[id]; return ok })
}

// leftLocked keeps what a pod instance's reservation loses to a launch (a
// permanent recovery placing it anew, resources a spec change dropped) as
// a released reservation under its own key, so that it is released, and
// tracked until it is. An item whose RESERVE is not confirmed yet keeps
// it pending (released once Mesos says it was made, dropped if it was
// not). Caller holds s.mu for writing.
// It returns the released reservation's key ("" when nothing is left).
func (s *Scheduler) leftLocked(j *job, old, next *reservation.Reservation) string {
	if old == nil {
		return ""
	}
	left := old.Clone()
	left.Items = slices.DeleteFunc(left.Items, func(it reservation.Item) bool { return next.ByID(it.ID) != nil })
	if len(left.Items) == 0 {
		return ""
	}
	for i := range left.Items {
		// A RESERVE not confirmed yet stays pending: Mesos's answer
		// settles the item (operationStatus: dropped if it was never
		// made, released when offered once it is), as keepAborted keeps
		// a released instance's, and a task added back takes it back
		// pending. Any other operation is settled.
		if left.Items[i].OpKind != reservation.OpReserve {
			left.Items[i].Settle()
		}
		// Nothing gave up an item of a reservation not releasing: a task
		// added back takes it back until its release is sent
		// (keepAddedBack).
		left.Items[i].Intact = !old.Releasing
	}
	left.Releasing = true
	key := s.releasedKeyLocked(left)
	s.log.Info("releasing what a pod instance left behind", "pod", old.Instance(), "resources", reservation.Describe(itemResources(left)))
	s.setReservationLocked(j, key, left)
	return key
}

// releasedKeyLocked returns the key under which released reservation r
// (what pod instance r.Instance() gave up) is stored:
// "<instance>@<resource ID>" of its first item whose key no reservation
// uses yet. An item given up, taken back (keepAddedBack) and given up
// again may find its first record still there, holding what was sent of
// it: that record is never overwritten. Caller holds s.mu.
func (s *Scheduler) releasedKeyLocked(r *reservation.Reservation) string {
	for _, it := range r.Items {
		if key := r.Instance() + "@" + it.ID; s.reservations[key] == nil {
			return key
		}
	}
	for i := 2; ; i++ { // every one taken (not seen happen): numbered
		if key := fmt.Sprintf("%s@%s.%d", r.Instance(), r.Items[0].ID, i); s.reservations[key] == nil {
			return key
		}
	}
}

func itemResources(r *reservation.Reservation) []mesos.Resource {
	out := make([]mesos.Resource, len(r.Items))
	for i, it := range r.Items {
		out[i] = it.Resource
	}
	return out
}

// instanceReservationsLocked returns the keys of the reservations pod
// instance inst holds or is releasing (what a replaced pod left behind
// included). Caller holds s.mu.
func (s *Scheduler) instanceReservationsLocked(inst string) []string {
	var keys []string
	for key, r := range s.reservations {
		if r.Instance() == inst {
			keys = append(keys, key)
		}
	}
	return keys
}

// releasing reports whether a released instance still holds something:
// the scheduler does not suppress offers while it does, so that its agent's
// offer, when it comes, is released from. It is no work that asks for
// offers, though: a pod replaced off an agent gone for good leaves such a
// record forever, and the SDK releases unexpected resources only from the
// offers it gets anyway (DefaultScheduler.getUnexpectedResources), declining
// long when it has nothing else to do (OfferProcessor.processOffers).
func (s *Scheduler) releasing() bool {
	return s.releasingOn("", "")
}

// releasingOn reports whether a released instance still holds something on
// the agent with ID agent or on host (a restarted agent offers its host's
// reservations under a new ID); with both "", on any agent. Its offers are
// declined short, so that an UNRESERVE not settled yet is retried soon.
func (s *Scheduler) releasingOn(agent, host string) bool {
	for _, r := range s.reservations {
		if !r.Releasing {
			continue
		}
		if agent == "" && host == "" || agent != "" && r.AgentID == agent || host != "" && r.Hostname == host {
			return true
		}
	}
	return false
}

// ReservationView is one reserved resource, as GET /v1/debug/reservations
// shows it (the SDK's TaskReservationsResource).
type ReservationView struct {
	Key        string `json:"key"`
	ResourceID string `json:"resource_id"`
	Resource   string `json:"resource"`
	// Operation is the ID of the operation pending on it: its RESERVE not
	// confirmed yet, or the UNRESERVE of its release not finished yet (""
	// when none is).
	Operation string `json:"pending_operation,omitempty"`
	// OperationKind says which of the two Operation is: "RESERVE" (with
	// its CREATE for a volume) or "UNRESERVE" (with its DESTROY); "" when
	// none is pending.
	OperationKind string `json:"pending_operation_kind,omitempty"`
	// Intact says, of a resource being released, that no DESTROY or
	// UNRESERVE of it was sent yet: a task added back whose TaskInfo
	// names it takes it back at start (keepAddedBack).
	Intact bool `json:"intact,omitempty"`
}

// operationKinds names an item's pending operation in the API as Mesos
// names the operation (Offer.Operation.Type).
var operationKinds = map[reservation.OpKind]string{reservation.OpReserve: "RESERVE", reservation.OpRelease: "UNRESERVE"}

// PodReservationView is what one pod instance holds.
type PodReservationView struct {
	Instance  string            `json:"pod_instance"`
	AgentID   string            `json:"agent_id"`
	Hostname  string            `json:"hostname"`
	Role      string            `json:"role"`
	Releasing bool              `json:"releasing,omitempty"`
	Resources []ReservationView `json:"resources"`
}

// Reservations describes every pod instance's reservation, by instance
// name.
func (s *Scheduler) Reservations() []PodReservationView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []PodReservationView{}
	for _, key := range s.reservationNames() {
		r := s.reservations[key]
		v := PodReservationView{Instance: r.Instance(), AgentID: r.AgentID, Hostname: r.Hostname, Role: r.Role, Releasing: r.Releasing, Resources: []ReservationView{}}
		for _, it := range r.Items {
			v.Resources = append(v.Resources, ReservationView{Key: it.Key, ResourceID: it.ID, Resource: reservation.Describe([]mesos.Resource{it.Resource}), Operation: it.Op, OperationKind: operationKinds[it.OpKind], Intact: it.Intact && r.Releasing})
		}
		out = append(out, v)
	}
	return out
}
