package service

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
)

// The decommission plan (the SDK's DecommissionPlanFactory,
// TriggerDecommissionStep, ResourceCleanupStep, EraseTaskStateStep): the
// stored tasks of pod instances the target no longer has (a lower count
// with allow-decommission, a pod type removed) and of tasks a pod no longer
// has are retired at start, and removed by a serial plan of one serial
// phase per pod instance, the last pod type's highest index first:
//
//	decommission (serial)
//	└─ web-2 (serial)
//	   ├─ kill-web-2-server     KILL (with its kill grace period); COMPLETE
//	   │                        once its end is seen (sent again every 30 s
//	   │                        past the grace period)
//	   ├─ unreserve-web-2       give back what the instance held: its
//	   │                        reservation is released (reservations.go:
//	   │                        DESTROY and UNRESERVE as offers show it);
//	   │                        COMPLETE once Mesos says every UNRESERVE of
//	   │                        its current incarnation finished, at once
//	   │                        when nothing is reserved
//	   └─ erase-web-2-server    delete its TaskInfo and status from the store
//
// A task a pod no longer has, in an instance the target keeps (a taskkit
// extension: the SDK decommissions whole pod instances only), gets the same
// phase, but its unreserve step gives back only what that task alone held
// (ownIDsLocked): the resources its TaskInfo names, less the executor's,
// the pod's volumes and anything a remaining task's TaskInfo names (what
// it held in a set the target uses left the instance's reservation at
// start already, releaseRemoved). Those items leave the instance's
// reservation for a released one of their own (leftLocked); the instance
// keeps the rest, never marked releasing, and the step is COMPLETE once
// none of them is reserved. Such a task added back by a later start
// before the release was sent takes them back (keepAddedBack).
//
// What an earlier incarnation of the instance left behind (a pod replaced
// off an agent that never came back) is not waited for, as the SDK's plan
// has a ResourceCleanupStep only per resource ID of the tasks' current
// TaskInfos: it stays tracked as a released reservation and is released
// whenever its agent offers it (the SDK's DefaultScheduler.
// getUnexpectedResources), shown in /v1/debug/reservations meanwhile.
//
// A retired instance is gone from /v1/endpoints at once; /v1/pod lists it
// (its tasks DECOMMISSIONING) until they are erased, as the SDK's. The
// plan is rebuilt from the store at every start (what is erased is gone);
// it exists only while something was retired at start.

// Releaser gives back what decommissioned tasks held: their reservations
// and volumes. Without one (Config.Release nil) the scheduler's own release
// step does it (releaseLocked). It is called on the event loop for the pod
// instance an unreserve step works on, with its tasks' stored TaskInfos,
// on every tick (o nil) and with every offer the scheduler receives.
type Releaser interface {
	// Release returns the operations (DESTROY before UNRESERVE) to accept
	// offer o with, and done once nothing the tasks held is left to give
	// back (it may keep its own record of what it has released). Once it
	// is done, the scheduler deletes its own record of what the instance
	// reserved.
	Release(tasks []*mesos.TaskInfo, o *mesos.Offer) (ops []mesos.Offer_Operation, done bool)
}

// Kinds of decommission steps.
const (
	decomKill      = "kill"
	decomUnreserve = "unreserve"
	decomErase     = "erase"
)

// decomStep is what a decommission step works on.
type decomStep struct {
	kind  string
	inst  string
	tasks []*taskState // kill and erase: one; unreserve: the instance's
	sent  time.Time    // kill: when the KILL was sent
	// partial says the target keeps the instance: only tasks it no
	// longer has are decommissioned, and their own resources released.
	partial bool
	// ids (unreserve of a whole instance) are the resource IDs of its
	// current incarnation (currentIDsLocked): the step waits for them
	// only, not for what an earlier one left behind.
	ids []string
}

// decommissionPlan builds the plan from the retired tasks (nil when there
// are none).
func (s *Scheduler) decommissionPlan() *plan.Plan {
	byInst := map[string][]*taskState{}
	for _, t := range s.retired {
		byInst[t.instanceName()] = append(byInst[t.instanceName()], t)
	}
	if len(byInst) == 0 {
		return nil
	}
	// The last pod type first (unknown types before all, by name), then
	// the highest index first, as the SDK's PodKey orders them.
	order := map[string]int{}
	for i, p := range s.spec.Pods.Values {
		order[p.Name] = len(s.spec.Pods.Values) - 1 - i
	}
	rank := func(pod string) int {
		if r, ok := order[pod]; ok {
			return r
		}
		return -1
	}
	insts := make([]string, 0, len(byInst))
	for i := range byInst {
		insts = append(insts, i)
	}
	sort.Slice(insts, func(i, j int) bool {
		a, b := byInst[insts[i]][0], byInst[insts[j]][0]
		if ra, rb := rank(a.pod), rank(b.pod); ra != rb {
			return ra < rb
		}
		if a.pod != b.pod {
			return a.pod < b.pod
		}
		return a.index > b.index
	})
	p := &plan.Plan{Name: plan.Decommission, Strategy: plan.Serial}
	s.decom = map[*plan.Step]*decomStep{}
	for _, inst := range insts {
		ts := byInst[inst]
		sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
		pod := s.spec.Pod(ts[0].pod)
		partial := pod != nil && ts[0].index < pod.Count
		ph := &plan.Phase{Name: inst, Strategy: plan.Serial}
		add := func(name string, d *decomStep) {
			st := plan.NewActionStep(name)
			s.decom[st] = d
			ph.Steps = append(ph.Steps, st)
		}
		for _, t := range ts {
			add(decomKill+"-"+t.name, &decomStep{kind: decomKill, inst: inst, tasks: []*taskState{t}})
		}
		un := &decomStep{kind: decomUnreserve, inst: inst, tasks: ts, partial: partial}
		if !partial {
			un.ids = s.currentIDsLocked(inst, ts)
		}
		add(decomUnreserve+"-"+inst, un)
		for _, t := range ts {
			add(decomErase+"-"+t.name, &decomStep{kind: decomErase, inst: inst, tasks: []*taskState{t}})
		}
		p.Phases = append(p.Phases, ph)
		s.log.Info("decommissioning", "pod", inst, "tasks", len(ts), "whole_instance", !partial)
	}
	return p
}

// current returns the step the decommission plan works on (nil when it is
// complete, interrupted or absent): the first unfinished step of the first
// unfinished phase (serial plan, serial phases).
func (s *Scheduler) currentDecomStep() *plan.Step {
	p := s.decommission
	if p == nil || p.Interrupted || len(p.Errors) > 0 {
		return nil
	}
	for _, ph := range p.Phases {
		if ph.Status(false) == plan.Complete {
			continue
		}
		if ph.Interrupted {
			return nil
		}
		for _, st := range ph.Steps {
			if st.Status() != plan.Complete {
				return st
			}
		}
	}
	return nil
}

// decommissionLocked moves the decommission plan on (on every tick and
// after every update): it works on the current step until one waits.
// Caller holds s.mu.
func (s *Scheduler) decommissionLocked(now time.Time) {
	for i := 0; i < 1000; i++ { // bounded: each pass completes a step or returns
		st := s.currentDecomStep()
		if st == nil {
			return
		}
		d := s.decom[st]
		switch d.kind {
		case decomKill:
			t := d.tasks[0]
			if !t.live() {
				st.SetStatus(plan.Complete)
				st.Message = "ended: " + stateOf(t)
				continue
			}
			grace := time.Duration(t.info.GetKillPolicy().GetGracePeriod().GetNanoseconds())
			if st.Status() == plan.Started && now.Sub(d.sent) < grace+killResend {
				return
			}
			d.sent = now
			s.calls = append(s.calls, killCall(t))
			st.SetStatus(plan.Started)
			st.Message = fmt.Sprintf("killing %s (kill grace period %s)", t.info.TaskID.Value, grace)
			s.m.Inc("decommission.kills")
			return
		case decomUnreserve:
			if s.cfg.Release == nil {
				j := &job{}
				var done bool
				var what string
				if d.partial {
					ids := s.ownIDsLocked(d)
					done = s.releaseItemsLocked(j, d.inst, ids)
					what = fmt.Sprintf("what %s alone reserved (%d resource(s); the instance keeps the rest)", strings.Join(taskNames(d.tasks), ", "), len(ids))
				} else {
					what = fmt.Sprintf("what %s reserved (%d resource(s))", d.inst, len(d.ids))
					done = s.releaseLocked(j, d.inst, d.ids)
				}
				if j.writes() {
					s.out.push(j)
				}
				if done {
					st.SetStatus(plan.Complete)
					if st.Message == "" {
						st.Message = "nothing reserved"
					} else {
						st.Message = "released"
					}
					if left := s.leftBehindLocked(d.inst); len(left) > 0 && !d.partial {
						st.Message += fmt.Sprintf("; %d reservation(s) an earlier incarnation left (%s) are released when their agents offer them",
							len(left), strings.Join(left, ", "))
					}
					continue
				}
				st.SetStatus(plan.Started)
				st.Message = "releasing " + what + ": DESTROY and UNRESERVE as its agent offers it"
				return
			}
			if _, done := s.cfg.Release.Release(infosOf(d.tasks), nil); done {
				s.releasedLocked(d)
				st.SetStatus(plan.Complete)
				st.Message = "released"
				continue
			}
			st.SetStatus(plan.Started)
			st.Message = "waiting for offers of what " + d.inst + " held, to release it"
			return
		case decomErase:
			if st.Status() == plan.Started {
				return // the outbox is deleting it
			}
			t := d.tasks[0]
			st.SetStatus(plan.Started)
			st.Message = "erasing " + t.name + " from the state store"
			s.out.push(&job{
				deletes: []string{t.name},
				stored: func() {
					s.mu.Lock()
					delete(s.retired, t.name)
					if t.info != nil && s.byID[t.info.TaskID.Value] == t.name {
						delete(s.byID, t.info.TaskID.Value)
					}
					st.SetStatus(plan.Complete)
					st.Message = "erased"
					unused := s.unusedConfigLocked(labelOf(t.info, podinfo.LabelTargetConfiguration))
					s.mu.Unlock()
					s.log.Info("decommissioned task erased", "task", t.name)
					if unused != "" {
						s.out.push(&job{configs: []string{unused}})
						s.log.Info("configuration no task uses deleted", "configuration", unused)
					}
					s.wake()
				},
				failed: func(err error) {
					s.mu.Lock()
					st.SetStatus(plan.Pending)
					st.Message = "erasing failed: " + err.Error()
					s.mu.Unlock()
				},
			})
			return
		}
	}
}

// unusedConfigLocked returns id when it is not the target and no task
// refers to it any more ("" otherwise). Caller holds s.mu.
func (s *Scheduler) unusedConfigLocked(id string) string {
	if id == "" || id == s.target.ID {
		return ""
	}
	for _, ts := range []map[string]*taskState{s.tasks, s.retired} {
		for _, t := range ts {
			if t.info != nil && labelOf(t.info, podinfo.LabelTargetConfiguration) == id {
				return ""
			}
		}
	}
	return id
}

// decomReleasing reports whether the decommission plan's current step is
// an unreserve step: work that needs offers (from any agent, as a
// Releaser's agents are not known here). Caller holds s.mu.
func (s *Scheduler) decomReleasing() bool {
	st := s.currentDecomStep()
	return st != nil && s.decom[st].kind == decomUnreserve
}

// releaseOffersLocked lets the current unreserve step use offers: each
// offer it has operations for is accepted with them and not used for
// anything else. It returns the other offers. Caller holds s.mu.
func (s *Scheduler) releaseOffersLocked(offers []mesos.Offer) []mesos.Offer {
	st := s.currentDecomStep()
	if st == nil || s.cfg.Release == nil || s.decom[st].kind != decomUnreserve {
		return offers
	}
	d := s.decom[st]
	var rest []mesos.Offer
	for i := range offers {
		ops, done := s.cfg.Release.Release(infosOf(d.tasks), &offers[i])
		if len(ops) == 0 {
			rest = append(rest, offers[i])
		} else {
			s.calls = append(s.calls, calls.Accept(calls.OfferOperations(ops).WithOffers(offers[i].ID)).With(calls.RefuseSeconds(s.cfg.RefuseShort)))
			s.m.Add("decommission.release_operations", int64(len(ops)))
		}
		if done && st.Status() != plan.Complete {
			s.releasedLocked(d)
			st.SetStatus(plan.Complete)
			st.Message = "released"
			s.wake()
		}
	}
	return rest
}

// releasedLocked forgets what unreserve step d gave back once the
// Releaser released it: for a whole instance, the store keeps no
// reservation of it, so that a higher count bringing it back reserves anew
// rather than wait for resources that are gone (what an earlier
// incarnation left behind stays tracked, released when offered); for
// tasks a kept instance no longer has, only their own items
// (ownIDsLocked) leave its reservation. Caller holds s.mu.
func (s *Scheduler) releasedLocked(d *decomStep) {
	j := &job{}
	var ids []string
	if d.partial {
		ids = s.ownIDsLocked(d)
	}
	for _, key := range s.instanceReservationsLocked(d.inst) {
		if !d.partial {
			if key == d.inst {
				s.setReservationLocked(j, key, nil)
			}
			continue
		}
		r := s.reservations[key]
		if !slices.ContainsFunc(r.Items, func(it reservation.Item) bool { return slices.Contains(ids, it.ID) }) {
			continue
		}
		r = r.Clone()
		r.Items = slices.DeleteFunc(r.Items, func(it reservation.Item) bool { return slices.Contains(ids, it.ID) })
		s.setReservationLocked(j, key, r)
	}
	if j.writes() {
		s.out.push(j)
	}
}

// ownIDsLocked returns the resource IDs that only the tasks of unreserve
// step d hold, d being partial (tasks a kept pod instance no longer has),
// sorted: those their TaskInfos name and the instance's reservations
// hold (its own, or a released one: releaseRemoved), less the
// executor's, the pod's own volumes and those a remaining task's TaskInfo
// names. A resource set a task of the target uses keeps only what a
// remaining task's TaskInfo names, as the SDK builds a set's existing
// resources from the TaskInfo of a task using it now
// (OfferEvaluator.getExistingResourceSetStages): a removed task's volume
// is released with it, never handed to a new task on its set. Caller
// holds s.mu.
func (s *Scheduler) ownIDsLocked(d *decomStep) []string {
	keep := map[string]bool{reservation.KeyExecutor: true, reservation.KeyPod: true}
	used := map[string]bool{}
	for _, t := range s.tasks {
		if t.info != nil && t.instanceName() == d.inst {
			for i := range t.info.Resources {
				used[reservation.ResourceID(&t.info.Resources[i])] = true
			}
		}
	}
	owner := map[string]string{} // resource ID → its item's key
	for _, key := range s.instanceReservationsLocked(d.inst) {
		for _, it := range s.reservations[key].Items {
			owner[it.ID] = it.Key
		}
	}
	var ids []string
	for _, t := range d.tasks {
		if t.info == nil {
			continue
		}
		for i := range t.info.Resources {
			id := reservation.ResourceID(&t.info.Resources[i])
			key, ok := owner[id]
			if id == "" || !ok || used[id] || keep[reservation.Owner(key)] || slices.Contains(ids, id) {
				continue
			}
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// currentIDsLocked returns the resource IDs of pod instance inst's
// current incarnation, sorted: those its tasks' TaskInfos name (their
// executor's included), as the SDK's decommission plan has one
// ResourceCleanupStep per ResourceUtils.getResourceIds of them, and those
// its own reservation holds. Caller holds s.mu.
func (s *Scheduler) currentIDsLocked(inst string, ts []*taskState) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, t := range ts {
		for id := range t.resourceIDs() {
			add(id)
		}
	}
	if r := s.reservations[inst]; r != nil {
		for _, it := range r.Items {
			add(it.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func taskNames(ts []*taskState) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.name
	}
	return out
}

func infosOf(ts []*taskState) []*mesos.TaskInfo {
	out := make([]*mesos.TaskInfo, 0, len(ts))
	for _, t := range ts {
		if t.info != nil {
			out = append(out, t.info)
		}
	}
	return out
}

// stateOf names t's last state ("no status" before the first).
func stateOf(t *taskState) string {
	if t.status == nil {
		return "no status"
	}
	return strings.TrimPrefix(t.status.GetState().String(), "TASK_")
}
