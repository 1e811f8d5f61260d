package service

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// The offer cycle (the SDK's OfferProcessor and PlanScheduler):
//
//	OFFERS ─▶ reconciling? ──yes──▶ DECLINE all (1 s)
//	             │ no
//	             ▼
//	candidate steps (deploy, recovery, custom plans; one per pod instance)
//	   ─▶ already running? adopt them
//	   ─▶ requirement per step ─▶ for each offer: evaluate ─▶ build ─▶ launch
//	   ─▶ in memory: tasks launched, steps PREPARED, why the others wait
//	   ─▶ outbox: store TaskInfos and progress, then ACCEPT; DECLINE the rest

// candidates returns the steps that may be launched now, in coordinator
// order (deploy, recovery, custom plans), at most one per pod instance and
// none for an instance another plan is working on ("dirty").
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
	for inst, k := range s.pendingKill {
		busy[inst] = busy[inst] || k.killing()
	}
	for inst := range s.updating {
		busy[inst] = true
	}
	var out []*plan.Step
	for _, p := range s.allPlans() {
		for _, st := range p.Candidates(now) {
			if busy[st.Instance()] {
				continue
			}
			if until := s.replaceHeldUntil(st, now); !until.IsZero() {
				st.Message = s.replaceHeldMessage(st, until, now)
				continue
			}
			busy[st.Instance()] = true
			out = append(out, st)
		}
	}
	return out
}

// toLaunch returns the names (as in svc.yml) of st's tasks that are not
// live: a step relaunches only those.
func (s *Scheduler) toLaunch(st *plan.Step) []string {
	var out []string
	for i, name := range st.TaskNames() {
		if t := s.tasks[name]; t == nil || !t.live() {
			out = append(out, st.Tasks[i])
		}
	}
	return out
}

// launchesAny reports whether st has a task to launch (toLaunch is not
// empty), without listing them.
func (s *Scheduler) launchesAny(st *plan.Step) bool {
	return slices.ContainsFunc(st.TaskNames(), func(name string) bool {
		t := s.tasks[name]
		return t == nil || !t.live()
	})
}

// requirement is what step st asks of the offers: its tasks not running,
// on the pod instance's reservation unless the recovery is permanent (pod
// replace, a task GONE, or its agent lost past AgentLostTimeout), which
// places the instance anew. A recovery relaunches the pod on the
// configuration its tasks ran (the SDK's TaskUtils.getPodSpec): a pod
// waiting its turn in a roll gets the target only when its deploy step
// comes to it, after the pods before it proved ready.
func (s *Scheduler) requirement(st *plan.Step, now time.Time) *evaluate.Requirement {
	pod := s.spec.Pod(st.Pod)
	req := &evaluate.Requirement{Step: st.Name, Pod: pod, Index: st.Index, Tasks: s.toLaunch(st), Region: s.target.Region}
	recovery := s.isRecoveryStep(st)
	if recovery {
		req.Recovery = evaluate.RecoveryTransient
		if id, old := s.ranOn(pod.Name, st.Index); old != nil {
			req.Pod, req.ConfigID = old, id
			pod = old
		}
	}
	if s.permanentRecovery(st, now) {
		req.Recovery = evaluate.RecoveryPermanent
	}
	agent, until := s.pinnedAgent(st, now)
	if req.Recovery != evaluate.RecoveryPermanent {
		req.Reservation = s.reservationFor(st.Instance())
	}
	for _, name := range req.Tasks {
		t := s.tasks[taskenv.TaskName(pod.Name, st.Index, name)]
		if t == nil {
			continue
		}
		if t.pauseTarget {
			if req.Paused == nil {
				req.Paused = map[string]bool{}
			}
			req.Paused[name] = true
		}
	}
	// Every task's previous TaskInfo, launched or not: each resource
	// set's items follow the task that names them (evaluate's renames).
	if req.Recovery != evaluate.RecoveryPermanent {
		for _, t := range s.instanceTasks(pod, st.Index) {
			req.Previous = append(req.Previous, t.info)
		}
	}
	// The instance's live tasks pin it: the new ones join their executor.
	for _, t := range s.instanceTasks(pod, st.Index) {
		if t.live() {
			req.Agent, req.Why = t.info.AgentID.Value, "its other tasks run there"
			if t.info.Executor != nil {
				req.Executor = t.info.Executor
			}
			return req
		}
	}
	// A reservation pins it by resource ID (a restarted agent offers it
	// under a new agent ID); without one, the agent pins it.
	if agent != "" && req.Reservation == nil {
		req.Agent = agent
		req.Why = fmt.Sprintf("transient recovery in place, for %s more", until.Sub(now).Round(time.Second))
	}
	return req
}

// permanentRecovery reports whether st places its pod instance anew: a
// task of it is to be replaced (pod replace, GONE), or st is a recovery
// whose agent stayed away past the replacement policy's timeout.
func (s *Scheduler) permanentRecovery(st *plan.Step, now time.Time) bool {
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.replace {
			return true
		}
	}
	if !s.isRecoveryStep(st) {
		return false
	}
	agent, _ := s.pinnedAgent(st, now)
	return agent == "" && s.pinExpired(st, now)
}

// pinExpired reports whether a transient recovery of st waited for its
// tasks' agent longer than AgentLostTimeout.
func (s *Scheduler) pinExpired(st *plan.Step, now time.Time) bool {
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.place.AgentID != "" && !t.replace && !t.pinUntil.IsZero() && !now.Before(t.pinUntil) {
			return true
		}
	}
	return false
}

// pinnedAgent is the agent a relaunch in place (a transient recovery, a
// configuration update, a pause) puts st's tasks on, and until when (""
// when none).
func (s *Scheduler) pinnedAgent(st *plan.Step, now time.Time) (string, time.Time) {
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.place.AgentID != "" && !t.replace && now.Before(t.pinUntil) {
			return t.place.AgentID, t.pinUntil
		}
	}
	return "", time.Time{}
}

// ranOn is the configuration the tasks of pod instance (pod, index) ran,
// with the pod's spec in it, when that is not the target and the
// scheduler keeps it; "" and nil otherwise.
func (s *Scheduler) ranOn(pod string, index int) (string, *spec.PodSpec) {
	for _, t := range s.instanceTasks(s.spec.Pod(pod), index) {
		if t.info == nil {
			continue
		}
		id := labelOf(t.info, podinfo.LabelTargetConfiguration)
		if c := s.configs[id]; id != s.target.ID && c != nil && c.Spec != nil {
			if p := c.Spec.Pod(pod); p != nil {
				return id, p
			}
		}
		return "", nil
	}
	return "", nil
}

func (s *Scheduler) isRecoveryStep(st *plan.Step) bool {
	return slices.Contains(s.recovery.Phases[0].Steps, st)
}

// planParams maps every step to the parameters of the plan owning it.
func (s *Scheduler) planParams() map[*plan.Step]map[string]string {
	out := map[*plan.Step]map[string]string{}
	for _, p := range s.allPlans() {
		for _, ph := range p.Phases {
			for _, st := range ph.Steps {
				out[st] = p.Parameters
			}
		}
	}
	return out
}

// fit is a step fitted into one agent's offers, then built.
type fit struct {
	group, k int // the offer group's and the step's positions
	rec      *evaluate.Recommendation
	l        *podinfo.Launch
	err      error
}

// parallelBuild is the round size from which launches are built on every
// CPU.
const parallelBuild = 16

// buildAll builds each fit's launch; a big round is shared among one
// goroutine per CPU, each owned by buildAll (joined before it returns).
func (s *Scheduler) buildAll(fits []fit, pending []*plan.Step, params map[*plan.Step]map[string]string) {
	build := func(f *fit) { f.l, f.err = s.build.Build(f.rec, s.frameworkID, params[pending[f.k]]) }
	workers := min(runtime.GOMAXPROCS(0), 4)
	if len(fits) < parallelBuild || workers < 2 {
		for i := range fits {
			build(&fits[i])
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() { // owned by buildAll: joined below
			defer wg.Done()
			for i := w; i < len(fits); i += workers {
				build(&fits[i])
			}
		}()
	}
	wg.Wait()
}

// launch is one step launched into one agent's offers.
type launch struct {
	step *plan.Step
	l    *podinfo.Launch
	// prev is the state of its tasks before, and prevRes its pod
	// instance's reservation, for a revert.
	prev    map[string]taskState
	prevRes *reservation.Reservation
	// leftKey is the released reservation of what the launch left behind
	// ("" when nothing), dropped on a revert.
	leftKey string
}

// agentOffers are the offers of one agent to one role, used together: an
// ACCEPT names them all, as Mesos allows (reserved and unreserved
// resources of one agent may come in separate offers).
type agentOffers struct {
	offers []*mesos.Offer
	ids    []mesos.OfferID
	// role is the offers' allocation role ("" for a framework of one
	// role).
	role     string
	pool     evaluate.Pool
	where    evaluate.Placement
	released []mesos.Offer_Operation
	launches []*launch
}

// groupOffers groups offers by agent and allocation role, in the order
// the agents first appear.
func (s *Scheduler) groupOffers(offers []mesos.Offer) []*agentOffers {
	var groups []*agentOffers
	byKey := map[string]*agentOffers{}
	for i := range offers {
		o := &offers[i]
		role := o.GetAllocationInfo().GetRole()
		if role == "" && len(o.Resources) > 0 {
			role = o.Resources[0].GetAllocationInfo().GetRole()
		}
		key := o.AgentID.Value + "\x00" + role
		g := byKey[key]
		if g == nil {
			g = &agentOffers{role: role, where: evaluate.PlacementOf(o)}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.offers = append(g.offers, o)
		g.ids = append(g.ids, o.ID)
		g.pool.Add(o, s.roles)
	}
	return groups
}

// offers fits pending steps into offers, accepts what fits, releases
// reservations no pod instance holds, and declines the rest. Nothing here
// waits for the store or the master: the outbox stores the reservations,
// TaskInfos and progress, then accepts.
func (s *Scheduler) offers(offers []mesos.Offer) {
	start := time.Now()
	s.m.Add("offers.received", int64(len(offers)))
	for i := range offers {
		s.cluster.SeeOffer(&offers[i])
	}
	now := s.clock.Now()
	if s.rec.reconciling {
		// No offer is used before every stored task is reconciled.
		s.declineAll(offers, "reconciling")
		return
	}
	// A configured decommission Releaser takes the offers it releases from.
	s.mu.Lock()
	offers = s.releaseOffersLocked(offers)
	s.mu.Unlock()
	groups := s.groupOffers(offers)
	jobs := make([]*job, len(groups))
	// Reservations nobody holds (and those of released instances) are
	// given up first. Which instance holds each resource ID (a map of
	// every reserved item) is made only for offers that hold reservations
	// of the framework's: most rounds' offers hold none.
	var held map[string]string
	s.mu.Lock()
	for i, g := range groups {
		jobs[i] = &job{}
		var offered []mesos.Resource
		for _, o := range g.offers {
			offered = append(offered, o.Resources...)
		}
		if held == nil && slices.ContainsFunc(offered, func(r mesos.Resource) bool { return reservation.Ours(&r, s.roles) }) {
			held = s.heldIDs()
		}
		g.released = s.releasesLocked(jobs[i], g.offers[0].AgentID.Value, offered, held)
	}
	// A step of a pod type the spec no longer has waits (a configuration
	// update decides); steps that relaunch running tasks kill them first;
	// steps whose tasks all run already (restored, or relaunched before a
	// crash) are adopted rather than launched again.
	pending := slices.DeleteFunc(s.candidates(now), func(st *plan.Step) bool { return s.spec.Pod(st.Pod) == nil })
	pending, _ = s.adoptRunningLocked(s.killForRelaunchLocked(pending, now), now)
	s.mu.Unlock()
	reqs := make([]*evaluate.Requirement, len(pending))
	for i, st := range pending {
		reqs[i] = s.requirement(st, now)
	}
	// What evaluations and builds read, made only when there is something
	// to launch: a running service's rounds (every few seconds) decline,
	// and the view holds every pod instance.
	var view *evaluate.Cluster
	var params map[*plan.Step]map[string]string
	if len(pending) > 0 {
		view, params = s.clusterView(), s.planParams()
	}
	done := make([]bool, len(pending))
	failures := make([][]evaluate.OfferFailure, len(pending))
	keyWait := make([]string, len(pending))
	// replacement-failure-policy's min-replace-delay: one pod
	// instance placed anew per round, the others held.
	heldBack := make([]string, len(pending))
	limitReplace := s.spec.ReplacementFailurePolicy != nil && s.spec.ReplacementFailurePolicy.MinReplaceDelay() > 0
	replacing := func(k int) bool {
		return limitReplace && reqs[k].Recovery == evaluate.RecoveryPermanent && s.isRecoveryStep(pending[k])
	}
	// Evaluate: each step against each agent's offers in turn, each fit
	// taking from what is left of them.
	var fits []fit
	keys := s.keys.Ready()
	for gi, g := range groups {
		o := g.offers[0]
		for k, req := range reqs {
			if done[k] || heldBack[k] != "" {
				continue
			}
			if want := req.Pod.PodRole(s.cfg.Role); g.role != "" && g.role != want {
				failures[k] = append(failures[k], evaluate.OfferFailure{Host: o.Hostname, Outcome: evaluate.Fail("role", "offered to role %s, the pod reserves for %s", g.role, want)})
				continue
			}
			rec, outs := s.eval.EvaluateAt(req, o, g.where, g.pool, view)
			s.offerLog.add(now, pending[k].Name, req.Instance(), o, outs)
			if rec == nil {
				failures[k] = append(failures[k], evaluate.OfferFailure{Host: o.Hostname, Outcome: outs[len(outs)-1]})
				continue
			}
			done[k] = true
			if replacing(k) {
				for k2 := range reqs {
					if !done[k2] && replacing(k2) {
						heldBack[k2] = s.replaceHeldMessage(pending[k2], now.Add(s.spec.ReplacementFailurePolicy.MinReplaceDelay()), now)
					}
				}
			}
			// Keys are generated ahead of need, off the loop: a launch whose
			// keys are not ready waits for a later round rather than have
			// the loop generate them (RSA keys take ~100 ms each).
			if need := tlsClaims(rec); need > 0 && s.keysRunning.Load() {
				if keys < need {
					keyWait[k] = fmt.Sprintf("waiting for %d TLS key(s) being generated (%d ready, --tls-key-type %s)", need, keys, s.keys.Type())
					continue
				}
				keys -= need
			}
			g.pool = rec.Left
			view.Place(req.Pod.Name, req.Index, rec.Where)
			fits = append(fits, fit{group: gi, k: k, rec: rec})
		}
	}
	// Build the fits' TaskInfos (in parallel for a big round: the builder
	// is safe for concurrent use).
	s.buildAll(fits, pending, params)
	buildErr := make([]error, len(pending))
	for _, f := range fits {
		if f.err != nil {
			buildErr[f.k] = f.err
			continue
		}
		g := groups[f.group]
		g.launches = append(g.launches, &launch{step: pending[f.k], l: f.l})
	}

	// In memory: the launches, and why the other steps wait.
	var used []mesos.OfferID
	s.mu.Lock()
	for i, g := range groups {
		if len(g.launches) == 0 && len(g.released) == 0 {
			continue
		}
		j := jobs[i]
		// One ACCEPT of every operation: sized once (a launch has a few,
		// and an agent's offers take dozens of launches).
		n := len(g.released)
		for _, la := range g.launches {
			n += len(la.l.Operations)
		}
		ops := append(make([]mesos.Offer_Operation, 0, n), g.released...)
		for _, la := range g.launches {
			s.applyLaunchLocked(j, la, now)
			ops = append(ops, la.l.Operations...)
			j.tasks = append(j.tasks, la.l.TaskInfos...)
			// A LAUNCH_GROUP per task: counted per operation, as the
			// SDK's Metrics.incrementRecommendations counts them.
			s.m.Add("operations.launch_group", int64(len(la.l.TaskInfos)))
		}
		j.calls = append(j.calls, calls.Accept(calls.OfferOperations(ops).WithOffers(g.ids...)).With(calls.RefuseSeconds(s.cfg.RefuseShort)))
		used = append(used, g.ids...)
		s.m.Inc("offers.accepted")
	}
	var warn []string
	for k, st := range pending {
		switch {
		case buildErr[k] != nil:
			st.Message = buildErr[k].Error()
			warn = append(warn, st.Name+": "+buildErr[k].Error())
		case keyWait[k] != "":
			st.Message = keyWait[k]
		case heldBack[k] != "":
			st.Message = heldBack[k]
		case !done[k]:
			st.Message = s.waitingMessage(st, reqs[k], failures[k], now)
		}
	}
	// Work that needs offers from any agent; an agent holding something
	// released gets its offers back soon too (releasingOn, below).
	remaining := len(s.candidates(now)) > 0 || s.anyInFlight() || s.decomReleasing()
	releaseOn := map[string]bool{}
	for i := range offers {
		o := &offers[i]
		releaseOn[o.AgentID.Value] = releaseOn[o.AgentID.Value] || s.releasingOn(o.AgentID.Value, o.Hostname)
	}
	if slices.ContainsFunc(keyWait, func(w string) bool { return w != "" }) {
		s.declinedShort = true // revived once the keys are ready
	}
	s.mu.Unlock()
	for _, w := range warn {
		s.log.Warn("cannot build a launch", "step", w)
	}

	// The outbox stores the reservations, TaskInfos and progress (one
	// transaction each for the round), then accepts: one job per agent, so
	// that a refused ACCEPT undoes only its own launches.
	var round []*job
	for i, g := range groups {
		j := jobs[i]
		if !j.writes() && len(j.calls) == 0 {
			continue
		}
		if len(g.launches) > 0 {
			s.mu.Lock()
			pj := s.progressJob()
			s.mu.Unlock()
			j.plans, j.props = pj.plans, pj.props
			launched := g.launches
			j.failed = func(err error) { s.revert(launched, err) }
		}
		round = append(round, j)
	}
	s.out.push(round...)
	// Unused offers: declined short while work remains or their agent
	// holds something released, else long (a dead agent's leftovers are no
	// reason to have every other agent offered again every second).
	var short, long []mesos.OfferID
	for i := range offers {
		switch {
		case slices.Contains(used, offers[i].ID):
		case remaining || releaseOn[offers[i].AgentID.Value]:
			short = append(short, offers[i].ID)
		default:
			long = append(long, offers[i].ID)
		}
	}
	s.decline(short, true, "")
	s.decline(long, false, "")
	s.m.Add("offers.processed", int64(len(offers)))
	s.m.Observe("offers.process", time.Since(start))
}

// adoptRunningLocked adopts the steps whose tasks all run already
// (restored, relaunched before a crash, or by a recovery) rather than
// launch them again; it returns the others, and whether it adopted any.
// Caller holds s.mu.
func (s *Scheduler) adoptRunningLocked(steps []*plan.Step, now time.Time) ([]*plan.Step, bool) {
	adopted := false
	steps = slices.DeleteFunc(steps, func(st *plan.Step) bool {
		if s.launchesAny(st) {
			return false
		}
		s.adoptLocked(st, nil, now)
		adopted = true
		return true
	})
	return steps, adopted
}

// waitingMessage says why a step found no offer: the agent it waits for,
// or what that agent's offer lacks, or each offer's failing stage.
func (s *Scheduler) waitingMessage(st *plan.Step, req *evaluate.Requirement, failures []evaluate.OfferFailure, now time.Time) string {
	if agent, until := s.pinnedAgent(st, now); agent != "" && req.Executor == nil {
		if host := s.stepHost(st); host != "" {
			for i := len(failures) - 1; i >= 0; i-- {
				if failures[i].Host == host {
					s.agentSaid[st.Instance()] = agentSaid{step: st, at: now, outcome: failures[i].Outcome.String()}
					break
				}
			}
		}
		return s.lostAgentMessage(st, agent, until, now)
	}
	return "waiting for an offer that fits: " + evaluate.Explain(failures)
}

// agentSaid is the latest evaluation of a pinned step against its own
// agent's offer, which failed.
type agentSaid struct {
	step    *plan.Step
	at      time.Time
	outcome string
}

// agentOfferFresh is how long an agent's failed evaluation stands for its
// offers: while it lives it offers again every few seconds (declined for
// RefuseShort), so an older one means it went away.
const agentOfferFresh = 15 * time.Second

// stepHost is the hostname st's tasks last ran on ("" when unknown).
func (s *Scheduler) stepHost(st *plan.Step) string {
	for _, name := range st.TaskNames() {
		if t := s.tasks[name]; t != nil && t.place.Hostname != "" {
			return t.place.Hostname
		}
	}
	return ""
}

// lostAgentMessage says that a relaunch in place waits for its agent (or
// what the agent's recent offer lacks), how long it still will, and how
// not to.
func (s *Scheduler) lostAgentMessage(st *plan.Step, agent string, until, now time.Time) string {
	where := agent
	if host := s.stepHost(st); host != "" {
		where += " (" + host + ")"
	}
	inst := st.Instance()
	replace := fmt.Sprintf("POST /v1/pod/%s/replace (scheduler-lite pod replace %s) places it anew elsewhere now", inst, inst)
	if s.holdsVolumes(inst) {
		replace += ", with new empty volumes (what its volumes hold is lost)"
	}
	if said, ok := s.agentSaid[inst]; ok && said.step == st && now.Sub(said.at) < agentOfferFresh {
		if !s.isRecoveryStep(st) && s.reservationFor(inst) != nil {
			// A configuration update that does not fit where the pod is
			// reserved: the configuration is what must change, as the
			// SDK rolls back by deploying the previous configuration as
			// the target (developer-guide, Rollback); a replace gives
			// the pod's data up.
			return fmt.Sprintf("agent %s offers, but its offer does not fit the target configuration: %s; %s is relaunched there only, on its reservation: "+
				"free what it lacks on that agent, or restart scheduler-lite with a configuration that fits there (the previous one rolls the update back); %s, on the target configuration",
				where, said.outcome, inst, replace)
		}
		return fmt.Sprintf("agent %s offers, but its offer does not fit: %s; %s; %s", where, said.outcome, s.pinnedFor(st, until, now), replace)
	}
	return fmt.Sprintf("waiting for agent %s to offer resources: %s; %s", where, s.pinnedFor(st, until, now), replace)
}

// holdsVolumes reports whether pod instance inst's reservation holds a
// persistent volume (what a replace destroys).
func (s *Scheduler) holdsVolumes(inst string) bool {
	r := s.reservationFor(inst)
	return r != nil && slices.ContainsFunc(r.Items, func(it reservation.Item) bool { return it.Resource.GetDisk().GetPersistence() != nil })
}

// pinnedFor says how long st's pod instance keeps waiting for its agent
// (until), and what then: a step other than a recovery never places a pod
// that holds a reservation anew.
func (s *Scheduler) pinnedFor(st *plan.Step, until, now time.Time) string {
	switch {
	case !s.isRecoveryStep(st) && s.reservationFor(st.Instance()) != nil:
		return st.Instance() + " is relaunched there only, on its reservation"
	case until.Equal(forever):
		return st.Instance() + " is relaunched there only, never placed anew (no replacement-failure-policy)"
	}
	_, source, _ := s.replacePolicy()
	return fmt.Sprintf("%s is relaunched there for %s more (%s), then placed anew", st.Instance(), until.Sub(now).Round(time.Second), source)
}

// applyLaunchLocked records a launch: its TaskInfos are the tasks' now,
// its reservation the pod instance's (in j, for the store), and its step
// is PREPARED. Caller holds s.mu for writing.
func (s *Scheduler) applyLaunchLocked(j *job, la *launch, now time.Time) {
	la.prev = make(map[string]taskState, len(la.l.TaskInfos))
	names := make([]string, 0, len(la.l.TaskInfos))
	for _, ti := range la.l.TaskInfos {
		names = append(names, ti.Name)
		t := s.tasks[ti.Name]
		if t == nil {
			pod, index, task, ok := s.splitName(ti.Name)
			if !ok {
				continue
			}
			t = &taskState{name: ti.Name, pod: pod.Name, index: index, spec: task}
			s.tasks[ti.Name] = t
		}
		la.prev[ti.Name] = *t
		if t.info != nil {
			delete(s.byID, t.info.TaskID.Value)
		}
		// A recovery on the configuration the task ran leaves it as out of
		// date as it was: its deploy step relaunches it when its turn comes.
		var outdated []string
		if labelOf(ti, podinfo.LabelTargetConfiguration) != s.target.ID {
			outdated = t.outdated
		}
		t.info, t.status, t.ready, t.replace, t.outdated = ti, nil, false, false, outdated
		t.place = la.l.Rec.Where
		s.byID[ti.TaskID.Value] = ti.Name
	}
	inst := la.step.Instance()
	if la.l.Reservation != nil {
		la.prevRes = s.reservations[inst]
		la.leftKey = s.leftLocked(j, la.prevRes, la.l.Reservation)
		s.setReservationLocked(j, inst, la.l.Reservation)
	}
	s.adoptLocked(la.step, names, now)
	delete(s.pendingKill, inst)
	delete(s.agentSaid, inst)
	if la.l.Rec.Req.Recovery == evaluate.RecoveryPermanent && s.isRecoveryStep(la.step) {
		s.lastReplace = now
	}
}

// revert undoes launches whose TaskInfos could not be stored, or whose
// ACCEPT failed: their tasks are what they were, their steps PENDING again,
// their pod instances' reservations what they were (stored again: what the
// ACCEPT may have reserved after all is then held by nobody, and
// released).
func (s *Scheduler) revert(launched []*launch, err error) {
	j := &job{}
	s.mu.Lock()
	for _, la := range launched {
		if la.l.Reservation != nil {
			s.setReservationLocked(j, la.step.Instance(), la.prevRes)
		}
		if la.leftKey != "" {
			s.setReservationLocked(j, la.leftKey, nil)
		}
		for _, ti := range la.l.TaskInfos {
			t := s.tasks[ti.Name]
			if t == nil {
				continue
			}
			delete(s.byID, ti.TaskID.Value)
			*t = la.prev[ti.Name]
			if t.info != nil {
				s.byID[t.info.TaskID.Value] = t.name
			} else {
				delete(s.tasks, ti.Name)
			}
		}
		la.step.Restart()
		la.step.Message = "not launched: " + err.Error()
	}
	s.mu.Unlock()
	if j.writes() {
		s.out.push(j)
	}
	s.wake()
}

// declineAll declines every offer for RefuseShort (why counts them).
func (s *Scheduler) declineAll(offers []mesos.Offer, why string) {
	ids := make([]mesos.OfferID, len(offers))
	for i := range offers {
		ids[i] = offers[i].ID
	}
	s.decline(ids, true, why)
	s.m.Add("offers.processed", int64(len(offers)))
}

// decline declines offers: for RefuseShort while work remains (a serial
// phase moving on, or a failure, may need them soon), else for RefuseLong;
// either way, work that appears later revives them (Tick).
func (s *Scheduler) decline(ids []mesos.OfferID, short bool, why string) {
	if len(ids) == 0 {
		return
	}
	refuse := s.cfg.RefuseLong
	if short {
		refuse = s.cfg.RefuseShort
		// Filtered offers come back only after the filter; when a step
		// becomes eligible sooner, housekeeping revives.
		s.declinedShort = true
		s.m.Add("offers.declined.short", int64(len(ids)))
	} else {
		// Filtered for an hour unless work that appears revives them.
		s.declinedLong = true
		s.m.Add("offers.declined.long", int64(len(ids)))
	}
	if why != "" {
		s.m.Add("offers.declined."+why, int64(len(ids)))
	}
	s.m.Add("offers.declined", int64(len(ids)))
	s.calls = append(s.calls, calls.Decline(ids...).With(calls.RefuseSeconds(refuse)))
}

// anyInFlight reports whether a launched step has not settled; while it
// has not, a failure may need offers soon, so the scheduler keeps them.
func (s *Scheduler) anyInFlight() bool {
	for _, p := range s.allPlans() {
		for _, st := range p.Steps() {
			switch st.Status() {
			case plan.Prepared, plan.Starting, plan.Started, plan.Delayed:
				return true
			}
		}
	}
	return false
}

// progress returns the persisted plans' progress, for the store.
func (s *Scheduler) progress() map[string]plan.Progress {
	out := map[string]plan.Progress{}
	for _, p := range s.persistedPlans() {
		out[p.Name] = p.Progress()
	}
	return out
}

// instanceName is the pod instance a task state belongs to.
func (t *taskState) instanceName() string { return taskenv.InstanceName(t.pod, t.index) }

// tlsClaims counts the certificates a recommendation needs.
func tlsClaims(rec *evaluate.Recommendation) int {
	n := 0
	for _, c := range rec.Tasks {
		n += len(c.TLS)
	}
	return n
}

// progressJob is a job storing the plans' progress, and the first time the
// deploy plan is COMPLETE, that a deployment has completed. Caller holds
// s.mu for writing.
func (s *Scheduler) progressJob() *job {
	j := &job{plans: s.progress()}
	if !s.deployed && s.deploy.Status() == plan.Complete {
		s.deployed = true
		j.props = map[string][]byte{propDeployed: []byte("true")}
	}
	return j
}
