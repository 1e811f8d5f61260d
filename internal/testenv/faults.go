package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Errors returned by the fault-injection calls.
var (
	ErrUnknownAgent     = errors.New("testenv: unknown agent")
	ErrUnknownFramework = errors.New("testenv: unknown framework")
	ErrUnknownExecutor  = errors.New("testenv: unknown executor")
	ErrAgentActive      = errors.New("testenv: agent is running")
	ErrStopped          = errors.New("testenv: cluster is stopping")
)

// agentLocked finds an agent by ID, or by index ("0", "1", ...) or IP.
func (c *Cluster) agentLocked(ref string) *agent {
	if a := c.agentByID[ref]; a != nil {
		return a
	}
	var found *agent
	for _, a := range c.agents {
		if a.ip == ref || fmt.Sprint(a.index) == ref {
			found = a // the latest agent at that index wins
		}
	}
	return found
}

// KillAgent kills an agent (by ID, index or IP) as if its host died: its
// executors and tasks are SIGKILLed and its server closes. The master
// sees its connection break and disconnects it as Mesos' does
// (Master::exited, Master::disconnect): it stays listed by /slaves and
// /state with "active": false, its resources and reservations; its offers
// are rescinded and it gets no more; the tasks of frameworks that do not
// checkpoint become TASK_LOST (REASON_AGENT_DISCONNECTED) at once, the
// others keep their state until the agent is marked unreachable, after
// Config.MaxAgentPingTimeouts unanswered pings or
// Config.AgentReregisterTimeout (agentloss.go). Killing a killed agent
// does nothing.
func (c *Cluster) KillAgent(ref string) error {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return ErrStopped
	}
	a := c.agentLocked(ref)
	if a == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownAgent, ref)
	}
	if !a.active {
		c.mu.Unlock()
		return nil
	}
	a.active = false
	a.disconnectedAt = time.Now()
	procs := a.procsLocked()
	for _, e := range a.executors {
		e.lostWith, e.lostState = !e.command && e.state != execTerminated && e.fw.info.GetCheckpoint(), e.state
		e.state = execTerminated
		e.cancelLaunch() // a fetch under way ends with its host
		if e.stream != nil {
			e.stream.close()
			e.stream = nil
		}
	}
	for _, p := range procs {
		p.signal(sigKill)
	}
	// Rescind its offers.
	for _, o := range c.offers {
		if o.agent == a {
			c.dropOfferLocked(o)
			o.fw.send(&scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: o.id}}})
		}
	}
	c.disconnectTasksLocked(a)
	c.dnsDirty = true
	srv := a.srv
	c.log.Info("agent killed", "agent", a.id, "ip", a.ip)
	c.mu.Unlock()

	killAll(procs, 0)
	_ = srv.Close()
	return nil
}

// RestartAgent starts a killed agent again (by ID, index or IP) on the same
// address, as a host that rebooted: it gets a new agent ID and new
// sandboxes, keeps its host's reservations, volumes and MOUNT disks
// (volumes.go), and its resources are offered again. The killed agent, if
// not yet marked unreachable, is removed as Mesos removes an old
// disconnected agent when a new one registers at its address
// (Master::registerSlave): its tasks become TASK_LOST (REASON_AGENT_REMOVED)
// and it leaves /slaves and /state. It returns the new agent's
// description; a running agent is an error matching ErrAgentActive.
func (c *Cluster) RestartAgent(ref string) (AgentInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return AgentInfo{}, ErrStopped
	}
	a := c.agentLocked(ref)
	if a == nil {
		return AgentInfo{}, fmt.Errorf("%w: %s", ErrUnknownAgent, ref)
	}
	if a.active {
		return AgentInfo{}, fmt.Errorf("%w: %s", ErrAgentActive, ref)
	}
	for _, b := range c.agents {
		if b.index == a.index && b.active {
			return AgentInfo{}, fmt.Errorf("%w: %s", ErrAgentActive, ref)
		}
	}
	na, err := c.startAgentLocked(a.index)
	if err != nil {
		return AgentInfo{}, err
	}
	for _, b := range c.agents {
		if b.index == a.index && b != na && !b.removed {
			c.removeAgentLocked(b, "a new agent registered at the same address", time.Time{})
		}
	}
	return na.infoLocked(), nil
}

// KillExecutor SIGKILLs an executor's process group (for a command task,
// the task's executor ID is its task ID). Its live tasks end
// TASK_FAILED/REASON_EXECUTOR_TERMINATED and, for a custom executor, the
// framework gets a FAILURE event.
func (c *Cluster) KillExecutor(frameworkID, executorID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if !a.active {
			continue
		}
		if e := a.executors[frameworkID+"/"+executorID]; e != nil && e.p != nil && e.state != execTerminated {
			e.p.signal(sigKill)
			return nil
		}
	}
	return fmt.Errorf("%w: %s/%s", ErrUnknownExecutor, frameworkID, executorID)
}

// DropFramework closes a framework's subscription stream as a network
// failure would: the framework is disconnected and its failover timeout
// starts; it may re-subscribe.
func (c *Cluster) DropFramework(frameworkID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fw := c.frameworks[frameworkID]
	if fw == nil {
		return fmt.Errorf("%w: %s", ErrUnknownFramework, frameworkID)
	}
	if fw.stream != nil {
		fw.stream.q.close()
		c.disconnectLocked(fw)
	}
	return nil
}

// DropExecutor closes an executor's subscription stream as a broken agent
// connection would; the executor may re-subscribe.
func (c *Cluster) DropExecutor(frameworkID, executorID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if e := a.executors[frameworkID+"/"+executorID]; e != nil && a.active && !e.command {
			if e.stream != nil {
				e.stream.close()
				e.stream = nil
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s/%s", ErrUnknownExecutor, frameworkID, executorID)
}

// faultRoutes serves the fault-injection calls over HTTP:
//
//	POST /testenv/agents/{agent}/kill       agent = ID, index or IP
//	POST /testenv/agents/{agent}/restart
//	POST /testenv/frameworks/{framework}/drop
//	POST /testenv/frameworks/{framework}/executors/{executor}/kill
//	POST /testenv/frameworks/{framework}/executors/{executor}/drop
//	GET  /testenv/agents
func (c *Cluster) faultRoutes(mux *http.ServeMux) {
	reply := func(w http.ResponseWriter, v any, err error) {
		switch {
		case errors.Is(err, ErrUnknownAgent), errors.Is(err, ErrUnknownFramework), errors.Is(err, ErrUnknownExecutor):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case errors.Is(err, ErrAgentActive):
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, v)
		}
	}
	mux.HandleFunc("POST /testenv/agents/{agent}/kill", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"killed": r.PathValue("agent")}, c.KillAgent(r.PathValue("agent")))
	})
	mux.HandleFunc("POST /testenv/agents/{agent}/restart", func(w http.ResponseWriter, r *http.Request) {
		info, err := c.RestartAgent(r.PathValue("agent"))
		reply(w, info, err)
	})
	mux.HandleFunc("GET /testenv/agents", func(w http.ResponseWriter, r *http.Request) {
		reply(w, c.Agents(), nil)
	})
	mux.HandleFunc("POST /testenv/frameworks/{framework}/drop", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"dropped": r.PathValue("framework")}, c.DropFramework(r.PathValue("framework")))
	})
	mux.HandleFunc("POST /testenv/frameworks/{framework}/executors/{executor}/kill", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"killed": r.PathValue("executor")}, c.KillExecutor(r.PathValue("framework"), r.PathValue("executor")))
	})
	mux.HandleFunc("POST /testenv/frameworks/{framework}/executors/{executor}/drop", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"dropped": r.PathValue("executor")}, c.DropExecutor(r.PathValue("framework"), r.PathValue("executor")))
	})
}
