package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/spec"
)

// candidates returns the steps that may be launched now, in coordinator
// order (deploy, recovery, custom plans), at most one per pod instance and
// none for an instance another plan is working on ("dirty"). Caller holds
// s.mu.
func (s *Scheduler) candidates(now time.Time) []*plan.Step {
	busy := map[string]bool{}
	for _, p := range s.allPlans() {
		for _, st := range p.Steps() {
			switch st.Status() {
			case plan.Prepared, plan.Starting, plan.Started:
				busy[st.Instance()] = true
			}
		}
	}
	for inst := range s.pendingKill {
		busy[inst] = true
	}
	var out []*plan.Step
	for _, p := range s.allPlans() {
		for _, st := range p.Candidates(now) {
			if busy[st.Instance()] {
				continue
			}
			busy[st.Instance()] = true
			out = append(out, st)
		}
	}
	return out
}

// offerInfo is what placement rules read from an offer.
func offerPlacement(o *mesos.Offer) placement {
	pl := placement{AgentID: o.AgentID.Value, Hostname: o.Hostname, Attrs: map[string]string{}}
	if fd := o.GetDomain().GetFaultDomain(); fd != nil {
		pl.Zone, pl.Region = fd.Zone.Name, fd.Region.Name
	}
	for _, a := range o.Attributes {
		switch {
		case a.Text != nil:
			pl.Attrs[a.Name] = a.Text.Value
		case a.Scalar != nil:
			pl.Attrs[a.Name] = strconv.FormatFloat(a.Scalar.Value, 'f', -1, 64)
		}
	}
	return pl
}

func (pl placement) field(f string) string {
	switch f {
	case "hostname":
		return pl.Hostname
	case "@zone":
		return pl.Zone
	case "@region":
		return pl.Region
	}
	return pl.Attrs[f]
}

// placementOK checks pod's rules for instance index on an agent described
// by here, against where the pod's other instances run. Caller holds s.mu.
func (s *Scheduler) placementOK(pod *spec.PodSpec, index int, here placement, launching map[string]placement) bool {
	if pod.Placement == "" {
		return true
	}
	rules, err := spec.ParsePlacement(pod.Placement)
	if err != nil {
		return false
	}
	// Where every other live instance of this pod type runs.
	others := map[string]placement{}
	for _, t := range s.tasks {
		if t.pod != pod.Name || t.index == index || t.status == nil && t.info == nil {
			continue
		}
		if t.status != nil && isTerminal(t.status.GetState()) {
			continue
		}
		others[fmt.Sprintf("%s-%d", t.pod, t.index)] = t.place
	}
	for inst, pl := range launching {
		if inst != fmt.Sprintf("%s-%d", pod.Name, index) {
			others[inst] = pl
		}
	}
	for _, c := range rules {
		v := here.field(c.Field)
		count := 0
		counts := map[string]int{}
		for _, o := range others {
			ov := o.field(c.Field)
			counts[ov]++
			if ov == v {
				count++
			}
		}
		switch c.Op {
		case "UNIQUE":
			if count > 0 {
				return false
			}
		case "MAX_PER":
			if count >= c.N {
				return false
			}
		case "CLUSTER", "IS":
			if v != c.Value {
				return false
			}
		case "IS_NOT":
			if v == c.Value {
				return false
			}
		case "LIKE":
			if !c.Regexp.MatchString(v) {
				return false
			}
		case "UNLIKE":
			if c.Regexp.MatchString(v) {
				return false
			}
		case "GROUP_BY":
			// Spread evenly: this value may not get ahead of the least used
			// known value.
			known := s.values[c.Field]
			least := -1
			for kv := range known {
				if least < 0 || counts[kv] < least {
					least = counts[kv]
				}
			}
			if c.N > len(known) {
				least = 0
			}
			if least >= 0 && count > least {
				return false
			}
		}
	}
	return true
}

// offers fits pending steps into offers, accepts what fits and declines the
// rest.
func (s *Scheduler) offers(ctx context.Context, offers []mesos.Offer) {
	start := time.Now()
	s.m.Add("offers.received", int64(len(offers)))
	var out []*scheduler.Call
	s.mu.Lock()
	for i := range offers {
		pl := offerPlacement(&offers[i])
		for _, f := range []string{"hostname", "@zone", "@region"} {
			if s.values[f] == nil {
				s.values[f] = map[string]bool{}
			}
			s.values[f][pl.field(f)] = true
		}
	}
	now := time.Now()
	if s.reconciling {
		// No offer is used before every stored task is reconciled.
		var ids []mesos.OfferID
		for i := range offers {
			ids = append(ids, offers[i].ID)
		}
		s.m.Add("offers.declined", int64(len(ids)))
		s.m.Add("offers.declined.reconciling", int64(len(ids)))
		s.declinedShort = true // revived as soon as reconciliation leaves work
		s.mu.Unlock()
		s.send(ctx, calls.Decline(ids...).With(calls.RefuseSeconds(s.cfg.RefuseShort)))
		return
	}
	pending := s.candidates(now)
	// Steps whose tasks all run already (restored, or relaunched before
	// a crash) are adopted rather than launched again.
	pending = slices.DeleteFunc(pending, func(st *plan.Step) bool {
		if len(s.toLaunch(st)) > 0 {
			return false
		}
		s.adoptLocked(st, nil, now)
		return true
	})
	launching := map[string]placement{}
	accepted := false
	for i := range offers {
		o := &offers[i]
		pool := newPool(o, s.cfg.Role)
		here := offerPlacement(o)
		var ops []mesos.Offer_Operation
		var infos []*mesos.TaskInfo
		var launched []*plan.Step
		for _, st := range pending {
			if slices.Contains(launched, st) || st.Status() == plan.Prepared {
				continue
			}
			pod := s.spec.Pod(st.Pod)
			if pod == nil {
				continue
			}
			if need := s.pinnedAgent(st); need != "" && need != o.AgentID.Value {
				continue
			}
			reuse := s.runningExecutor(st)
			if reuse != nil && !slices.ContainsFunc(o.ExecutorIDs, func(id mesos.ExecutorID) bool { return id.Value == reuse.ExecutorID.Value }) {
				continue // its executor is not (or no longer) on this agent
			}
			if reuse == nil && !s.placementOK(pod, st.Index, here, launching) {
				continue
			}
			trial := pool.clone()
			op, tis, err := s.buildLaunch(st, pod, o, trial, s.toLaunch(st), reuse)
			if err != nil {
				if err != errNoFit {
					s.log.Warn("cannot build launch", "step", st.Name, "err", err)
					st.Message = err.Error()
				}
				continue
			}
			pool = trial
			ops = append(ops, op)
			infos = append(infos, tis...)
			launched = append(launched, st)
			launching[st.Instance()] = here
		}
		if len(ops) == 0 {
			continue
		}
		// Write before act: TaskInfos are stored before the ACCEPT.
		if err := s.storeLaunch(infos, here); err != nil {
			s.log.Error("storing task infos; not launching", "err", err)
			continue
		}
		var names []string
		for _, ti := range infos {
			names = append(names, ti.Name)
		}
		for _, st := range launched {
			s.adoptLocked(st, names, now)
			if inst := st.Instance(); s.pendingKill[inst] != "" {
				delete(s.pendingKill, inst)
			}
		}
		accepted = true
		refuse := s.cfg.RefuseShort
		accept := calls.Accept(calls.OfferOperations(ops).WithOffers(o.ID)).With(calls.RefuseSeconds(refuse))
		out = append(out, accept)
		s.m.Add("operations.launch_group", int64(len(ops)))
		s.m.Inc("offers.accepted")
		offers[i].ID.Value = "" // used
	}
	if accepted {
		s.savePlans() // once for the whole batch, before any ACCEPT is sent
	}
	remaining := len(s.candidates(now)) > 0 || s.anyInFlight()
	var decline []mesos.OfferID
	for i := range offers {
		if offers[i].ID.Value != "" {
			decline = append(decline, offers[i].ID)
		}
	}
	if len(decline) > 0 {
		refuse := s.cfg.RefuseLong
		if remaining {
			refuse = s.cfg.RefuseShort
			// Filtered offers come back only after the filter; when a
			// step becomes eligible sooner (a serial phase moves on),
			// housekeeping revives.
			s.declinedShort = true
			s.m.Add("offers.declined.short", int64(len(decline)))
		} else {
			s.m.Add("offers.declined.long", int64(len(decline)))
		}
		s.m.Add("offers.declined", int64(len(decline)))
		out = append(out, calls.Decline(decline...).With(calls.RefuseSeconds(refuse)))
	}
	s.m.Add("offers.processed", int64(len(offers)))
	s.mu.Unlock()
	s.m.Observe("offers.process", time.Since(start))
	for _, c := range out {
		s.send(ctx, c)
	}
}

// toLaunch returns the names (as in svc.yml) of st's tasks that are not
// live: a step relaunches only those. Caller holds s.mu.
func (s *Scheduler) toLaunch(st *plan.Step) []string {
	var out []string
	for i, name := range st.TaskNames() {
		if t := s.tasks[name]; t == nil || !t.live() {
			out = append(out, st.Tasks[i])
		}
	}
	return out
}

// runningExecutor returns the ExecutorInfo of st's pod instance when some
// of its tasks still run: the step's tasks must join that executor.
// Caller holds s.mu.
func (s *Scheduler) runningExecutor(st *plan.Step) *mesos.ExecutorInfo {
	pod := s.spec.Pod(st.Pod)
	if pod == nil {
		return nil
	}
	for _, t := range s.instanceTasks(pod, st.Index) {
		if t.live() && t.info.Executor != nil {
			return t.info.Executor
		}
	}
	return nil
}

// pinnedAgent is the agent a step must use: the one its pod instance's live
// tasks run on, or, for a transient recovery, the failed tasks' agent until
// their pin expires. Caller holds s.mu.
func (s *Scheduler) pinnedAgent(st *plan.Step) string {
	if pod := s.spec.Pod(st.Pod); pod != nil {
		for _, t := range s.instanceTasks(pod, st.Index) {
			if t.live() {
				return t.info.AgentID.Value
			}
		}
	}
	if !s.isRecoveryStep(st) {
		return ""
	}
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.place.AgentID != "" && !t.replace && time.Now().Before(t.pinUntil) {
			return t.place.AgentID
		}
	}
	return ""
}

func (s *Scheduler) isRecoveryStep(st *plan.Step) bool {
	return slices.Contains(s.recovery.Steps(), st)
}
