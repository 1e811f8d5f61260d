package testenv

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

const (
	defaultRefuse   = 5 * time.Second
	maxRefuse       = 365 * 24 * time.Hour
	maxCompleted    = 1000
	maxStatusRetry  = 10 * time.Minute
	maxStatusesKept = 50
)

// subscribeLocked registers or fails over a framework and gives it a new
// stream. It returns the framework, or the message of the ERROR event that
// refuses the subscription.
func (c *Cluster) subscribeLocked(sub *scheduler.Call_Subscribe, streamID string) (*framework, string) {
	fi := *sub.FrameworkInfo
	roles, msg := c.validateFrameworkLocked(&fi, sub.SuppressedRoles)
	if msg != "" {
		return nil, msg
	}
	var fw *framework
	if fi.ID != nil && fi.ID.Value != "" {
		fw = c.frameworks[fi.ID.Value]
		if fw != nil {
			// A re-SUBSCRIBE keeps the user and checkpoint it had
			// (validation::framework::preserveImmutableFields, called by
			// Master::subscribe in src/master/master.cpp); a changed
			// principal is an error.
			fi.User, fi.Checkpoint = fw.info.User, fw.info.Checkpoint
			if msg := validateFrameworkUpdate(&fw.info, &fi); msg != "" {
				return nil, msg
			}
		}
	}
	if fw != nil {
		// Failover (or re-subscription after a disconnection).
		if fw.stream != nil {
			fw.stream.q.push(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: "Framework failed over"}})
			fw.stream.q.close()
		}
		c.removeOffersLocked(fw, false)
		fw.info = fi
		fw.roles = roles
		fw.failoverAt = time.Time{}
		fw.reregistered = time.Now()
		c.log.Info("framework failed over", "framework", fw.id, "name", fi.Name)
	} else {
		id := ""
		if fi.ID != nil && fi.ID.Value != "" {
			id = fi.ID.Value // an ID the master does not know: accepted, as after a master failover
		} else {
			id = c.newFrameworkIDLocked()
		}
		fi.ID = &mesos.FrameworkID{Value: id}
		fw = &framework{
			id:         id,
			info:       fi,
			roles:      roles,
			suppressed: map[string]bool{},
			filters:    map[string]filter{},
			offers:     map[string]*offer{},
			tasks:      map[string]*task{},
			registered: time.Now(),
		}
		c.frameworks[id] = fw
		c.log.Info("framework registered", "framework", id, "name", fi.Name, "roles", roles)
	}
	fw.suppressed = map[string]bool{}
	for _, r := range sub.SuppressedRoles {
		fw.suppressed[r] = true
	}
	fw.stream = &fwStream{id: streamID, q: newQueue()}
	hb := c.cfg.HeartbeatInterval.Seconds()
	fw.send(&scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
		FrameworkID:              &mesos.FrameworkID{Value: fw.id},
		HeartbeatIntervalSeconds: &hb,
		MasterInfo:               c.masterInfoLocked(),
	}})
	fw.send(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	// Unacknowledged status updates are sent again to the new stream.
	for _, t := range fw.tasks {
		if len(t.pending) > 0 {
			c.forwardLocked(t, true)
		}
	}
	c.allocateLocked()
	return fw, ""
}

// disconnectLocked deactivates a framework whose stream ended: its offers
// are rescinded and its failover timer starts.
func (c *Cluster) disconnectLocked(fw *framework) {
	fw.stream = nil
	fw.unregistered = time.Now()
	c.removeOffersLocked(fw, false)
	fw.failoverAt = time.Now().Add(fw.failoverTimeout())
	c.log.Info("framework disconnected", "framework", fw.id, "failover_timeout", fw.failoverTimeout())
	if fw.failoverTimeout() <= 0 {
		c.removeFrameworkLocked(fw, "failover timeout")
	}
}

// removeFrameworkLocked removes a framework (TEARDOWN or failover timeout):
// its tasks end TASK_KILLED/REASON_FRAMEWORK_REMOVED, its executors are shut
// down and its stream is closed.
func (c *Cluster) removeFrameworkLocked(fw *framework, why string) {
	if fw.removed {
		return
	}
	c.log.Info("removing framework", "framework", fw.id, "why", why)
	fw.removed = true
	c.removeOffersLocked(fw, false)
	for _, a := range c.agents {
		for _, e := range a.executors {
			if e.fw == fw {
				c.shutdownExecLocked(e)
			}
		}
	}
	for _, t := range fw.tasks {
		if !mesosx.IsTerminal(t.state) {
			st := c.newStatus(t, mesos.TASK_KILLED, mesos.SOURCE_MASTER, mesos.REASON_FRAMEWORK_REMOVED, "Framework "+fw.id+" removed")
			st.UUID = nil
			c.recordStatusLocked(t, st)
		}
		t.pending = nil
		c.removeTaskLocked(t)
	}
	// The TASK_LOST tasks listed as unreachable move to the completed ones,
	// keeping their state with a TASK_KILLED status (Master::removeFramework;
	// updateTask leaves a terminal task's state).
	for _, t := range fw.lostUnreachable {
		st := c.newStatus(t, mesos.TASK_KILLED, mesos.SOURCE_MASTER, mesos.REASON_FRAMEWORK_REMOVED, "Framework "+fw.id+" removed")
		st.UUID = nil
		t.statuses = append(t.statuses, st)
		fw.addCompleted(t)
	}
	fw.lostUnreachable = nil
	if fw.stream != nil {
		fw.stream.q.close()
		fw.stream = nil
	}
	delete(c.frameworks, fw.id)
	c.removedFW[fw.id] = true
	fw.unregistered = time.Now()
	c.completed = append(c.completed, fw)
	if len(c.completed) > 100 {
		c.completed = c.completed[1:]
	}
	c.dnsDirty = true
	c.allocateLocked()
}

func (c *Cluster) updateFrameworkLocked(fw *framework, u *scheduler.Call_UpdateFramework) error {
	fi := u.FrameworkInfo // its ID is the call's (validateCall)
	roles, msg := c.validateFrameworkLocked(&fi, u.SuppressedRoles)
	if msg != "" {
		return mesosx.Errorf(http.StatusBadRequest, "Supplied FrameworkInfo is not valid: %s", msg)
	}
	if msg := validateFrameworkUpdate(&fw.info, &fi); msg != "" {
		return mesosx.Errorf(http.StatusBadRequest, "FrameworkInfo update is not valid: %s", msg)
	}
	fw.info = fi
	fw.roles = roles
	fw.suppressed = map[string]bool{}
	for _, r := range u.SuppressedRoles {
		fw.suppressed[r] = true
	}
	c.removeOffersLocked(fw, true)
	c.allocateLocked()
	return nil
}

// removeOffersLocked drops a framework's outstanding offers, sending RESCIND
// events when rescind is set.
func (c *Cluster) removeOffersLocked(fw *framework, rescind bool) {
	for id, o := range fw.offers {
		c.dropOfferLocked(o)
		if rescind {
			fw.send(&scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: id}}})
		}
	}
}

func (c *Cluster) dropOfferLocked(o *offer) {
	delete(c.offers, o.id)
	delete(o.fw.offers, o.id)
}

// offeredLocked sums the resources an agent has on offer.
func (c *Cluster) offeredLocked(a *agent) res {
	sum := newRes()
	for _, o := range c.offers {
		if o.agent == a {
			sum = sum.add(o.res)
		}
	}
	return sum
}

// allocateLocked offers every agent's free resources, like Mesos'
// hierarchical DRF allocator without weights: frameworks in the order of
// their share of allocated cpus (then mem), each of a framework's roles
// (in turn) getting what of the rest is allocatable to it — the unreserved
// resources and those reserved for the role or an ancestor — so reserved
// resources go only to their role.
func (c *Cluster) allocateLocked() {
	if c.stopping {
		return
	}
	now := time.Now()
	var fws []*framework
	for _, fw := range c.frameworks {
		if fw.connected() && !fw.removed {
			fws = append(fws, fw)
		}
	}
	if len(fws) == 0 {
		return
	}
	share := map[*framework]float64{}
	totalCPU, totalMem := 0.0, 0.0
	for _, a := range c.agents {
		if a.active {
			totalCPU += a.total.scalar("cpus")
			totalMem += a.total.scalar("mem")
		}
	}
	for _, fw := range fws {
		cpu, mem := 0.0, 0.0
		for _, t := range fw.tasks {
			if !t.released {
				cpu += t.res.scalar("cpus")
				mem += t.res.scalar("mem")
			}
		}
		for _, o := range fw.offers {
			cpu += o.res.scalar("cpus")
			mem += o.res.scalar("mem")
		}
		s := 0.0
		if totalCPU > 0 {
			s = cpu / totalCPU
		}
		if totalMem > 0 && mem/totalMem > s {
			s = mem / totalMem
		}
		share[fw] = s
	}
	batches := map[*framework][]mesos.Offer{}
	for _, a := range c.agents {
		if !a.active {
			continue
		}
		free := a.total.sub(a.used).sub(c.offeredLocked(a))
		if !free.allocatable() {
			continue
		}
		free = free.withoutRanges("ports", c.heldPortsLocked(a, now))
		sort.SliceStable(fws, func(i, j int) bool {
			if share[fws[i]] != share[fws[j]] {
				return share[fws[i]] < share[fws[j]]
			}
			return fws[i].registered.Before(fws[j].registered)
		})
		for _, fw := range fws {
			n := len(fw.roles)
			next := -1
			for i := 0; i < n; i++ {
				role := fw.roles[(fw.roleCursor+i)%n]
				avail := free.allocatableTo(role)
				if !fw.hasCap(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT) {
					// Refined reservations have no pre-refinement form
					// (stripIncapableResources).
					avail = avail.filter(func(x *mesos.Resource) bool { return !refined(x) })
				}
				if fw.suppressed[role] || !avail.allocatable() || c.filteredLocked(fw, a, role, avail, now) {
					continue
				}
				o := &offer{id: c.newOfferIDLocked(), fw: fw, agent: a, res: avail, role: role}
				c.offers[o.id] = o
				fw.offers[o.id] = o
				batches[fw] = append(batches[fw], c.offerProtoLocked(o))
				if totalCPU > 0 {
					share[fw] += avail.scalar("cpus") / totalCPU
				}
				free = free.sub(avail)
				if next < 0 {
					next = (fw.roleCursor + i + 1) % n
				}
			}
			if next >= 0 {
				fw.roleCursor = next
			}
		}
	}
	for fw, offers := range batches {
		fw.send(&scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: offers}})
	}
}

// filteredLocked reports whether a decline filter of fw for role on agent
// a holds for an offer of avail: it has not expired and avail is within
// the refused resources. An expired filter is removed.
func (c *Cluster) filteredLocked(fw *framework, a *agent, role string, avail res, now time.Time) bool {
	f, ok := fw.filters[a.id+"/"+role]
	if !ok {
		return false
	}
	if !now.Before(f.until) {
		delete(fw.filters, a.id+"/"+role)
		return false
	}
	return f.res.contains(avail)
}

// heldPortsLocked are the ports an offer on a must leave out because a
// task could not bind them: the agent's own port, and those other
// processes hold on a's address or on the wildcard address.
func (c *Cluster) heldPortsLocked(a *agent, now time.Time) mesos.Ranges {
	own := mesos.Value_Range{Begin: uint64(a.port), End: uint64(a.port)}
	if hs := c.heldSocketsLocked(now); hs != nil {
		return append(hs.held(net.ParseIP(a.ip)), own).Sort().Squash()
	}
	return mesos.Ranges{own}
}

func (c *Cluster) offerProtoLocked(o *offer) mesos.Offer {
	fw, a := o.fw, o.agent
	refinement := fw.hasCap(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	allocRole := ""
	if fw.multiRole() {
		allocRole = o.role
	}
	var eids []mesos.ExecutorID
	for _, e := range a.executors {
		if e.fw == fw && !e.command && e.state != execTerminated {
			eids = append(eids, e.info.ExecutorID)
		}
	}
	sort.Slice(eids, func(i, j int) bool { return eids[i].Value < eids[j].Value })
	path := "/slave(1)"
	pb := mesos.Offer{
		ID:          mesos.OfferID{Value: o.id},
		FrameworkID: mesos.FrameworkID{Value: fw.id},
		AgentID:     mesos.AgentID{Value: a.id},
		Hostname:    a.ip,
		URL: &mesos.URL{Scheme: "http", Path: &path, Address: mesos.Address{
			Hostname: strPtr(a.ip), IP: strPtr(a.ip), Port: int32(a.port)}},
		Domain:      a.domain(),
		Resources:   o.res.proto(refinement, allocRole),
		Attributes:  append([]mesos.Attribute(nil), a.attrs...),
		ExecutorIDs: eids,
	}
	if allocRole != "" {
		pb.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(allocRole)}
	}
	return pb
}

// refuseFor returns the decline filter duration of filters.
func refuseFor(f *mesos.Filters) time.Duration {
	if f == nil || f.RefuseSeconds == nil {
		return defaultRefuse
	}
	s := *f.RefuseSeconds
	if s < 0 || s != s {
		return defaultRefuse
	}
	d := time.Duration(s * float64(time.Second))
	if s > maxRefuse.Seconds() || d > maxRefuse {
		return maxRefuse
	}
	return d
}

// recoverLocked gives unused offered resources back, with a decline filter
// for this framework on that agent.
func (c *Cluster) recoverLocked(fw *framework, a *agent, role string, r res, f *mesos.Filters) {
	d := refuseFor(f)
	if d <= 0 || r.empty() {
		return
	}
	key := a.id + "/" + role
	old, ok := fw.filters[key]
	if ok && time.Now().Before(old.until) {
		r = r.add(old.res)
	}
	fw.filters[key] = filter{until: time.Now().Add(d), res: r}
}

func (c *Cluster) declineLocked(fw *framework, ids []mesos.OfferID, f *mesos.Filters) {
	for _, id := range ids {
		o := fw.offers[id.Value]
		if o == nil {
			continue
		}
		c.dropOfferLocked(o)
		c.recoverLocked(fw, o.agent, o.role, o.res, f)
	}
	c.allocateLocked()
}

// callRolesLocked checks the roles of a REVIVE or SUPPRESS (kind) as
// Master::revive and Master::suppress do (src/master/master.cpp): one that
// is invalid or not the framework's drops the whole call (logged; the
// call still got its 202). No roles means all of the framework's.
func (c *Cluster) callRolesLocked(fw *framework, kind string, roles []string) ([]string, bool) {
	for _, r := range roles {
		if msg := validateRole(r); msg != "" {
			c.log.Warn("dropping call", "call", kind, "framework", fw.id, "reason", kind+" role '"+r+"' is invalid: "+msg)
			return nil, false
		}
		if !slices.Contains(fw.roles, r) {
			c.log.Warn("dropping call", "call", kind, "framework", fw.id, "reason", kind+" role '"+r+"' is not one of the frameworks's subscribed roles")
			return nil, false
		}
	}
	if len(roles) == 0 {
		return fw.roles, true
	}
	return roles, true
}

func (c *Cluster) reviveLocked(fw *framework, roles []string) {
	roles, ok := c.callRolesLocked(fw, "revive", roles)
	if !ok {
		return
	}
	for _, r := range roles {
		delete(fw.suppressed, r)
		for k := range fw.filters {
			if len(k) > len(r) && k[len(k)-len(r)-1:] == "/"+r {
				delete(fw.filters, k)
			}
		}
	}
	c.allocateLocked()
}

func (c *Cluster) suppressLocked(fw *framework, roles []string) {
	roles, ok := c.callRolesLocked(fw, "suppression", roles)
	if !ok {
		return
	}
	for _, r := range roles {
		fw.suppressed[r] = true
	}
}

// housekeepLocked runs the timers: failover timeouts, status update
// retries, executor registration timeouts and disconnected agents' ping
// and re-registration timeouts.
func (c *Cluster) housekeepLocked(now time.Time) {
	c.agentTimeoutsLocked(now)
	for _, fw := range c.frameworks {
		if !fw.connected() && !fw.failoverAt.IsZero() && !now.Before(fw.failoverAt) {
			c.removeFrameworkLocked(fw, "failover timeout")
			continue
		}
		if !fw.connected() {
			continue
		}
		for _, t := range fw.tasks {
			if len(t.pending) > 0 && !t.retryAt.IsZero() && !now.Before(t.retryAt) {
				c.forwardLocked(t, false)
			}
		}
	}
	c.retryOperationsLocked(now)
	for _, a := range c.agents {
		for _, e := range a.executors {
			if e.state == execRegistering && now.Sub(e.launchedAt) > c.cfg.ExecutorRegistrationTimeout && !e.timedOut {
				c.log.Warn("executor registration timed out", "executor", e.info.ExecutorID.Value, "agent", a.id)
				e.timedOut = true
				if e.p != nil {
					e.p.signal(sigKill)
				}
			}
		}
	}
}

// sendUpdateLocked sends a master-generated update (no uuid, nothing to
// acknowledge).
func (c *Cluster) sendUpdateLocked(fw *framework, st mesos.TaskStatus) {
	st.UUID = nil
	fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}})
}

func (c *Cluster) frameworkMessageLocked(fw *framework, m *scheduler.Call_Message) {
	a := c.agentByID[m.AgentID.Value]
	if a == nil || !a.active {
		return
	}
	e := a.executors[fw.id+"/"+m.ExecutorID.Value]
	if e == nil || e.stream == nil {
		return
	}
	e.stream.push(execEventMessage(m.Data))
}

// String names the cluster by its master address.
func (c *Cluster) String() string { return fmt.Sprintf("testenv(%s)", c.masterAddr) }
