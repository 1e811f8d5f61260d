package testenv

import (
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// An agent that goes away passes through the states of Mesos 1.11's master
// (src/master/master.cpp):
//
//  1. disconnected (KillAgent; Master::exited, Master::disconnect): still
//     a registered agent, listed by /slaves and /state with "active":
//     false, its resources, reservations and the tasks of checkpointing
//     frameworks; no offers. The tasks of frameworks that do not
//     checkpoint are TASK_LOST at once (Master::removeFramework(Slave*,
//     Framework*)).
//  2. unreachable, when the master's SlaveObserver has sent
//     MaxAgentPingTimeouts pings in a row without a pong ("health check
//     timed out"), or AgentReregisterTimeout after the disconnection if
//     that comes first (Master::agentReregisterTimeout): Master::
//     markUnreachable then __removeSlave. Its tasks become TASK_UNREACHABLE
//     (PARTITION_AWARE frameworks) or TASK_LOST, REASON_AGENT_REMOVED,
//     with the unreachable time, both listed under the framework's
//     unreachable_tasks (removeTask with unreachable set, Framework::
//     addUnreachableTask); every framework gets FAILURE {agent_id};
//     the agent leaves /slaves and /state's "slaves" (with it the
//     reservations it holds: they stay on the agent, which is gone) and
//     counts in /state's "unreachable_slaves".
//  3. or removed, when a new agent registers at its address while it is
//     still disconnected (RestartAgent; Master::registerSlave, then
//     removeSlave and _removeSlave): its tasks become TASK_LOST,
//     REASON_AGENT_REMOVED, "Agent <host> removed: a new agent registered
//     at the same address"; FAILURE; it leaves the listings, and is not
//     counted unreachable.
//
// /slaves' "recovered_slaves" (agents of the registry a failed-over master
// waits for) stays empty: testenv's master never fails over.

// disconnectTasksLocked is step 1 for the tasks on a, just disconnected:
// those of frameworks that do not checkpoint become TASK_LOST.
func (c *Cluster) disconnectTasksLocked(a *agent) {
	for _, fw := range c.sortedFrameworksLocked() {
		for _, t := range fw.tasks {
			if t.agent != a {
				continue
			}
			t.pending = nil // the agent's status update streams are gone
			if mesosx.IsTerminal(t.state) {
				c.removeTaskLocked(t)
				continue
			}
			if fw.info.GetCheckpoint() {
				continue
			}
			st := masterStatus(t.info.TaskID, &mesos.AgentID{Value: a.id}, mesos.TASK_LOST, mesos.REASON_AGENT_DISCONNECTED, "Agent "+a.ip+" disconnected")
			st.ExecutorID = t.masterExecutorID()
			c.recordStatusLocked(t, st)
			c.sendUpdateLocked(fw, st)
			c.removeTaskLocked(t)
		}
	}
}

// unreachableDue returns when the disconnected agent a is marked
// unreachable, and the message its tasks' updates carry. The master pings
// an agent every AgentPingTimeout from its registration and a live agent
// answers at once, so the first ping unanswered is the first sent at or
// after the disconnection; its MaxAgentPingTimeouts-th timeout in a row
// comes MaxAgentPingTimeouts pings later (SlaveObserver::timeout). The
// re-registration timer runs from the disconnection.
func (c *Cluster) unreachableDue(a *agent) (time.Time, string) {
	every := c.cfg.AgentPingTimeout
	since := a.disconnectedAt.Sub(a.registered)
	firstMissed := a.registered.Add((since + every - 1) / every * every)
	health := firstMissed.Add(time.Duration(c.cfg.MaxAgentPingTimeouts) * every)
	if rereg := a.disconnectedAt.Add(c.cfg.AgentReregisterTimeout); rereg.Before(health) {
		return rereg, "agent did not reregister within " + mesosx.FormatDuration(c.cfg.AgentReregisterTimeout) + " after disconnecting"
	}
	return health, "health check timed out"
}

// agentTimeoutsLocked marks unreachable every disconnected agent whose time
// has come (housekeepLocked runs it).
func (c *Cluster) agentTimeoutsLocked(now time.Time) {
	for _, a := range c.agents {
		if a.active || a.removed {
			continue
		}
		if due, msg := c.unreachableDue(a); !now.Before(due) {
			c.removeAgentLocked(a, msg, now)
		}
	}
}

// removeAgentLocked takes a, disconnected, out of the registered agents:
// marked unreachable at unreachableAt with message msg (step 2), or, with
// unreachableAt zero, removed with the cause msg (step 3).
func (c *Cluster) removeAgentLocked(a *agent, msg string, unreachableAt time.Time) {
	a.removed, a.unreachableAt = true, unreachableAt
	unreachable := !unreachableAt.IsZero()
	if !unreachable {
		msg = "Agent " + a.ip + " removed: " + msg
	}
	aid := mesos.AgentID{Value: a.id}
	for _, fw := range c.sortedFrameworksLocked() {
		for _, t := range fw.tasks {
			if t.agent != a {
				continue
			}
			state := mesos.TASK_LOST
			if unreachable && fw.partitionAware() {
				state = mesos.TASK_UNREACHABLE
			}
			st := masterStatus(t.info.TaskID, &aid, state, mesos.REASON_AGENT_REMOVED, msg)
			if unreachable {
				st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: unreachableAt.UnixNano()}
			}
			st.ExecutorID = t.masterExecutorID()
			c.recordStatusLocked(t, st)
			c.sendUpdateLocked(fw, st)
			switch {
			case state == mesos.TASK_LOST && unreachable:
				c.removeUnreachableLocked(t)
			case state == mesos.TASK_LOST:
				c.removeTaskLocked(t)
			}
		}
		fw.send(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &aid}})
	}
	a.used = newRes()
	c.dnsDirty = true
	if unreachable {
		c.log.Info("agent marked unreachable", "agent", a.id, "ip", a.ip, "why", msg)
	} else {
		c.log.Info("agent removed", "agent", a.id, "ip", a.ip, "why", msg)
	}
}
