package testenv

import (
	"net/http"
	"sort"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

func execEventMessage(data []byte) *execpb.Event {
	return &execpb.Event{Type: execpb.Event_MESSAGE, Message: &execpb.Event_Message{Data: data}}
}

// execCallTypeField is the number of executor.Call's "type" field.
const execCallTypeField = 3

// executorAPI serves an agent's /api/v1/executor, answering in the order of
// the agent's Http::executor (src/slave/http.cpp): method (405),
// Content-Type and body (400, 415), call validation (400), Accept for
// SUBSCRIBE (406), HEARTBEAT (202 before any lookup), framework and
// executor (400), an executor that never subscribed (403), then the call
// (UNKNOWN: 501).
func (c *Cluster) executorAPI(a *agent) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeMethodNotAllowed(w, r)
			return
		}
		var call execpb.Call
		_, typeSet, err := mesosx.DecodeRequest(r, &call, "type", execCallTypeField)
		if err != nil {
			mesosx.WriteError(w, err)
			return
		}
		if err := validateExecutorCall(&call, typeSet); err != nil {
			mesosx.WriteError(w, err)
			return
		}
		switch call.Type {
		case execpb.Call_SUBSCRIBE:
			c.executorSubscribe(w, r, a, &call)
			return
		case execpb.Call_HEARTBEAT:
			// Mesos answers before looking the executor up: executors may
			// send placeholder IDs here.
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if err := c.executorCall(a, &call); err != nil {
			mesosx.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// lookupExecutorLocked finds the executor a call is from.
func (c *Cluster) lookupExecutorLocked(a *agent, call *execpb.Call) (*executor, error) {
	if !a.active {
		return nil, mesosx.Errorf(http.StatusServiceUnavailable, "Agent is not running")
	}
	fid, eid := call.FrameworkID.Value, call.ExecutorID.Value
	var fwKnown bool
	for _, e := range a.executors {
		if e.fw.id == fid {
			fwKnown = true
			break
		}
	}
	if !fwKnown {
		return nil, mesosx.Errorf(http.StatusBadRequest, "Framework cannot be found")
	}
	e := a.executors[fid+"/"+eid]
	if e == nil || e.command || e.state == execTerminated {
		return nil, mesosx.Errorf(http.StatusBadRequest, "Executor cannot be found")
	}
	return e, nil
}

// executorCall handles UPDATE, MESSAGE and UNKNOWN. As on Mesos, only an
// executor that never subscribed is refused (403): one whose stream
// dropped may still send updates.
func (c *Cluster) executorCall(a *agent, call *execpb.Call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.lookupExecutorLocked(a, call)
	if err != nil {
		return err
	}
	if e.state != execRunning {
		return mesosx.Errorf(http.StatusForbidden, "Executor is not subscribed")
	}
	switch call.Type {
	case execpb.Call_UPDATE:
		c.executorUpdateLocked(e, call.Update.Status)
		return nil
	case execpb.Call_MESSAGE:
		if !e.fw.removed {
			e.fw.send(&scheduler.Event{Type: scheduler.Event_MESSAGE, Message: &scheduler.Event_Message{
				AgentID: mesos.AgentID{Value: a.id}, ExecutorID: e.info.ExecutorID, Data: call.Message.Data}})
		}
		return nil
	}
	return mesosx.Errorf(http.StatusNotImplemented, "%s", notImplemented)
}

// validateExecutorCall is common::validation::validateExecutorCall
// (src/common/validation.cpp), its errors prefixed as the agent's
// Http::executor does. typeSet says whether the body had a type. The
// executor and framework IDs, a status's task ID and state are required
// fields: a body without them does not decode.
func validateExecutorCall(call *execpb.Call, typeSet bool) error {
	bad := func(format string, args ...any) error {
		return mesosx.Errorf(http.StatusBadRequest, "Failed to validate Executor::Call: "+format, args...)
	}
	if !typeSet {
		return bad("Expecting 'type' to be present")
	}
	fid, eid := call.FrameworkID.Value, call.ExecutorID.Value
	switch call.Type {
	case execpb.Call_SUBSCRIBE:
		if call.Subscribe == nil {
			return bad("Expecting 'subscribe' to be present")
		}
	case execpb.Call_MESSAGE:
		if call.Message == nil {
			return bad("Expecting 'message' to be present")
		}
	case execpb.Call_UPDATE:
		if call.Update == nil {
			return bad("Expecting 'update' to be present")
		}
		st := &call.Update.Status
		switch {
		case st.UUID == nil:
			return bad("Expecting 'uuid' to be present")
		case !validUUID(st.UUID):
			return bad(notAUUID)
		case st.ExecutorID != nil && st.ExecutorID.Value != eid:
			return bad("ExecutorID in Call: %s does not match ExecutorID in TaskStatus: %s", eid, st.ExecutorID.Value)
		case st.GetSource() != mesos.SOURCE_EXECUTOR:
			return bad("Received Call from executor %s of framework %s with invalid source, expecting 'SOURCE_EXECUTOR'", eid, fid)
		case st.GetState() == mesos.TASK_STAGING:
			return bad("Received TASK_STAGING from executor %s of framework %s which is not allowed", eid, fid)
		}
	}
	return nil
}

// executorUpdateLocked takes an executor's update into the task's status
// update stream and acknowledges it to the executor at once (the agent has
// it now; the framework's acknowledgement is a separate matter).
func (c *Cluster) executorUpdateLocked(e *executor, st mesos.TaskStatus) {
	eid := e.info.ExecutorID
	st.ExecutorID = &eid
	t := e.tasks[st.TaskID.Value]
	if t == nil {
		c.log.Warn("update for a task the executor does not run", "executor", eid.Value, "task", st.TaskID.Value)
	} else {
		c.statusUpdateLocked(t, st)
	}
	if e.stream != nil {
		e.stream.push(&execpb.Event{Type: execpb.Event_ACKNOWLEDGED, Acknowledged: &execpb.Event_Acknowledged{
			TaskID: st.TaskID, UUID: append([]byte(nil), st.UUID...)}})
	}
}

// executorSubscribe handles an executor's SUBSCRIBE (first or again):
// its unacknowledged updates are taken, a launch it never received is
// dropped (dropUnknownLaunchesLocked), then 200 and a stream of SUBSCRIBED,
// the acknowledgements, the queued LAUNCH and LAUNCH_GROUP events and KILLs.
func (c *Cluster) executorSubscribe(w http.ResponseWriter, r *http.Request, a *agent, call *execpb.Call) {
	codec, err := mesosx.ResponseCodec(r)
	if err != nil {
		mesosx.WriteError(w, err)
		return
	}
	c.mu.Lock()
	if r.Context().Err() != nil {
		// The executor gave up on this SUBSCRIBE while it waited for the
		// lock (its response header timeout) and has likely sent another:
		// this one must neither replace that stream nor take the queued
		// launches.
		c.mu.Unlock()
		return
	}
	e, err := c.lookupExecutorLocked(a, call)
	if err != nil {
		c.mu.Unlock()
		mesosx.WriteError(w, err)
		return
	}
	if e.stream != nil {
		e.stream.close()
	}
	q := newQueue()
	e.stream = q
	e.state = execRunning
	var acks []*execpb.Event
	if call.Subscribe != nil {
		for _, u := range call.Subscribe.UnacknowledgedUpdates {
			st := u.Status
			if len(st.UUID) != 16 || st.GetState() == mesos.TASK_STAGING {
				continue
			}
			eid := e.info.ExecutorID
			st.ExecutorID = &eid
			if t := e.tasks[st.TaskID.Value]; t != nil {
				c.statusUpdateLocked(t, st) // a duplicate (by uuid) is dropped there
			}
			// As for an UPDATE call, the agent acknowledges every update
			// it has taken, duplicates included.
			acks = append(acks, &execpb.Event{Type: execpb.Event_ACKNOWLEDGED, Acknowledged: &execpb.Event_Acknowledged{
				TaskID: st.TaskID, UUID: append([]byte(nil), st.UUID...)}})
		}
	}
	var known []mesos.TaskInfo
	if call.Subscribe != nil {
		known = call.Subscribe.UnacknowledgedTasks
	}
	c.dropUnknownLaunchesLocked(e, known)
	q.push(&execpb.Event{Type: execpb.Event_SUBSCRIBED, Subscribed: &execpb.Event_Subscribed{
		ExecutorInfo:  e.info,
		FrameworkInfo: e.fw.info,
		AgentInfo:     a.protoInfo(),
		ContainerID:   &mesos.ContainerID{Value: e.containerID},
	}})
	for _, ev := range acks {
		q.push(ev)
	}
	for _, item := range e.queued {
		c.deliverLocked(e, item)
	}
	e.queued = nil
	for _, ev := range e.kills {
		q.push(ev)
	}
	e.kills = nil
	if e.shutdown {
		q.push(&execpb.Event{Type: execpb.Event_SHUTDOWN})
	}
	c.mu.Unlock()

	ew := mesosx.StartStream(w, codec, nil)
	for {
		items, closed := q.drain()
		for _, ev := range items {
			if err := ew.Write(ev.(encoding.Marshaler)); err != nil {
				c.executorStreamEnded(e, q)
				return
			}
		}
		if closed {
			return
		}
		select {
		case <-q.wake:
		case <-r.Context().Done():
			c.executorStreamEnded(e, q)
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// dropUnknownLaunchesLocked applies Mesos' rule for an executor's
// SUBSCRIBE (src/slave/slave.cpp, Slave::subscribe): a task sent to the
// executor that is still TASK_STAGING once the SUBSCRIBE's unacknowledged
// updates are taken, and that the executor does not list in
// unacknowledged_tasks, never reached it (the launch went into a stream the
// executor did not read). Such a task ends TASK_DROPPED, or TASK_LOST for a
// framework that is not PARTITION_AWARE, from the agent with
// REASON_AGENT_RESTARTED, so that the framework relaunches it instead of
// waiting for it forever. Launches still queued are not affected: they go
// out on this SUBSCRIBE's stream.
func (c *Cluster) dropUnknownLaunchesLocked(e *executor, known []mesos.TaskInfo) {
	listed := make(map[string]bool, len(known))
	for _, ti := range known {
		listed[ti.TaskID.Value] = true
	}
	state := mesos.TASK_LOST
	if e.fw.partitionAware() {
		state = mesos.TASK_DROPPED
	}
	ids := make([]string, 0, len(e.tasks))
	for id, t := range e.tasks {
		if t.delivered && !t.removed && t.state == mesos.TASK_STAGING && !listed[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := e.tasks[id]
		c.log.Warn("task unknown to its executor at SUBSCRIBE; dropping it", "executor", e.info.ExecutorID.Value, "task", id, "state", state.String())
		c.statusUpdateLocked(t, c.newStatus(t, state, mesos.SOURCE_AGENT, mesos.REASON_AGENT_RESTARTED, "Task launched during agent restart"))
	}
}

func (c *Cluster) executorStreamEnded(e *executor, q *queue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.stream == q {
		e.stream = nil
		c.log.Debug("executor disconnected", "executor", e.info.ExecutorID.Value)
	}
}
