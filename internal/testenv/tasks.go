package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// validateOffersLocked is the master's check of an ACCEPT's offers
// (Master::accept in src/master/master.cpp, validation::offer::validate in
// src/master/validation.cpp), with its messages: each check runs over all
// offers before the next (unique IDs, offers still valid, this framework's,
// one role, one agent). It returns "" for valid offers.
func (c *Cluster) validateOffersLocked(fw *framework, ids []mesos.OfferID) string {
	if len(ids) == 0 {
		return "No offers specified"
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id.Value] {
			return "Duplicate offer " + id.Value + " in offer list"
		}
		seen[id.Value] = true
	}
	for _, id := range ids {
		if c.offers[id.Value] == nil {
			return "Offer " + id.Value + " is no longer valid"
		}
	}
	for _, id := range ids {
		if o := c.offers[id.Value]; o.fw != fw {
			return "Offer " + id.Value + " has invalid framework " + o.fw.id + " while framework " + fw.id + " is expected"
		}
	}
	first := c.offers[ids[0].Value]
	for _, id := range ids[1:] {
		// Mesos' message has its quotes unbalanced; so has this one.
		if o := c.offers[id.Value]; o.role != first.role {
			return "Aggregated offers must be allocated to the same role. Offer " + id.Value + " uses role '" + o.role + " but another is using role '" + first.role
		}
	}
	for _, id := range ids[1:] {
		if o := c.offers[id.Value]; o.agent != first.agent {
			return "Aggregated offers must belong to one single agent. Offer " + id.Value + " uses agent " + o.agent.id + " and agent " + first.agent.id
		}
	}
	return ""
}

// acceptLocked handles ACCEPT: validates the offers, then applies the
// operations in order to the offers' resources (operations.go).
func (c *Cluster) acceptLocked(fw *framework, acc *scheduler.Call_Accept) {
	invalid := c.validateOffersLocked(fw, acc.OfferIDs)
	var offers []*offer
	for _, id := range acc.OfferIDs {
		if o := c.offers[id.Value]; o != nil && o.fw == fw && !slices.Contains(offers, o) {
			offers = append(offers, o)
		}
	}
	if invalid != "" {
		for _, o := range offers {
			c.dropOfferLocked(o)
		}
		state := mesos.TASK_LOST
		if fw.partitionAware() {
			state = mesos.TASK_DROPPED
		}
		for _, op := range acc.Operations {
			if op.Type != mesos.Offer_Operation_LAUNCH && op.Type != mesos.Offer_Operation_LAUNCH_GROUP {
				c.operationErrorLocked(fw, op, "Operation attempted with invalid offers: "+invalid)
				continue
			}
			for _, ti := range opTasks(op) {
				st := masterStatus(ti.TaskID, &ti.AgentID, state, mesos.REASON_INVALID_OFFERS, "Task launched with invalid offers: "+invalid)
				c.countTaskEndLocked(st)
				c.sendUpdateLocked(fw, st)
			}
		}
		c.allocateLocked()
		return
	}
	a := offers[0].agent
	role := offers[0].role
	avail := newRes()
	for _, o := range offers {
		avail = avail.add(o.res)
		c.dropOfferLocked(o)
	}
	avail = avail.allocated(role)
	for _, op := range c.prepareOperationsLocked(fw, role, acc.Operations) {
		switch op.Type {
		case mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE, mesos.Offer_Operation_CREATE, mesos.Offer_Operation_DESTROY:
			avail = c.speculativeLocked(fw, a, op, avail)
		case mesos.Offer_Operation_LAUNCH:
			for i := range op.Launch.TaskInfos {
				ti := op.Launch.TaskInfos[i]
				need, err := c.validateTaskLocked(fw, a, &ti, avail)
				if err != nil {
					st := masterStatus(ti.TaskID, &ti.AgentID, mesos.TASK_ERROR, mesos.REASON_TASK_INVALID, err.Error())
					c.countTaskEndLocked(st)
					c.sendUpdateLocked(fw, st)
					continue
				}
				avail = avail.sub(need)
				c.launchLocked(fw, a, role, ti.Executor, []mesos.TaskInfo{ti}, false)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			lg := op.LaunchGroup
			need, err := c.validateGroupLocked(fw, a, lg, avail)
			if err != nil {
				for _, ti := range lg.TaskGroup.Tasks {
					st := masterStatus(ti.TaskID, &ti.AgentID, mesos.TASK_ERROR, mesos.REASON_TASK_GROUP_INVALID, err.Error())
					c.countTaskEndLocked(st)
					c.sendUpdateLocked(fw, st)
				}
				continue
			}
			avail = avail.sub(need)
			ei := lg.Executor
			c.launchLocked(fw, a, role, &ei, lg.TaskGroup.Tasks, true)
		default:
			c.operationErrorLocked(fw, op, fmt.Sprintf("Operation %s is not supported by testenv", op.Type))
		}
	}
	if !avail.empty() {
		c.recoverLocked(fw, a, role, avail.unallocated(), acc.Filters)
	}
	c.allocateLocked()
}

func opTasks(op mesos.Offer_Operation) []mesos.TaskInfo {
	switch {
	case op.Launch != nil:
		return op.Launch.TaskInfos
	case op.LaunchGroup != nil:
		return op.LaunchGroup.TaskGroup.Tasks
	}
	return nil
}

// operationErrorLocked reports a failed operation that carries an ID.
func (c *Cluster) operationErrorLocked(fw *framework, op mesos.Offer_Operation, msg string) {
	if op.ID == nil {
		c.log.Warn("operation failed", "framework", fw.id, "type", op.Type.String(), "err", msg)
		return
	}
	fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
		Status: mesos.OperationStatus{OperationID: op.ID, State: mesos.OPERATION_ERROR, Message: strPtr(msg)},
	}})
}

func masterStatus(id mesos.TaskID, agentID *mesos.AgentID, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) mesos.TaskStatus {
	src := mesos.SOURCE_MASTER
	ts := float64(time.Now().UnixNano()) / 1e9
	st := mesos.TaskStatus{TaskID: id, State: &state, Source: &src, Reason: &reason, Timestamp: &ts}
	if msg != "" {
		st.Message = &msg
	}
	if agentID != nil && agentID.Value != "" {
		aid := *agentID
		st.AgentID = &aid
	}
	return st
}

// validID is common::validation::validateID (src/common/validation.cpp),
// the rule for task, executor and persistence IDs, with its messages.
func validID(id string) error {
	switch {
	case id == "":
		return errors.New("ID must not be empty")
	case len(id) > nameMax:
		return fmt.Errorf("ID must not be greater than %d characters", nameMax)
	case id == "." || id == "..":
		return fmt.Errorf("'%s' is disallowed", id)
	}
	for i := 0; i < len(id); i++ {
		if ch := id[i]; ch < ' ' || ch == 0x7f || ch == '/' || ch == '\\' {
			return fmt.Errorf("'%s' contains invalid characters", id)
		}
	}
	return nil
}

// nameMax is Linux' NAME_MAX, the longest ID Mesos takes.
const nameMax = 255

// errNoResources is Mesos' verdict on a task without resources
// (task::internal::validateResources in src/master/validation.cpp, checked
// after the task and agent IDs, for tasks of groups too).
var errNoResources = errors.New("Task uses no resources")

// validateTaskLocked validates a LAUNCH task as validation::task::validate
// does (src/master/validation.cpp), in its order and with its messages,
// and returns the resources it takes (its own plus those of a new
// executor). The master has filled a missing ExecutorInfo.framework_id.
func (c *Cluster) validateTaskLocked(fw *framework, a *agent, ti *mesos.TaskInfo, avail res) (res, error) {
	need, err := validateTaskCommon(fw, a, ti, taskResources)
	if err != nil {
		return res{}, err
	}
	// validateExecutor
	if (ti.Executor == nil) == (ti.Command == nil) {
		return res{}, errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if ti.Executor != nil {
		ei := ti.Executor
		if ei.FrameworkID == nil {
			ei.FrameworkID = &mesos.FrameworkID{Value: fw.id}
		}
		eres, running, err := validateExecutorInfo(fw, a, ei)
		if err != nil {
			return res{}, err
		}
		if ei.Type != mesos.ExecutorInfo_UNKNOWN && ei.Type != mesos.ExecutorInfo_CUSTOM {
			return res{}, errors.New("'ExecutorInfo.type' must be 'CUSTOM'")
		}
		if ei.Command == nil {
			return res{}, errors.New("'ExecutorInfo.command' must be set")
		}
		if !running {
			need = need.add(eres)
		}
	}
	if err := taskFits(ti, need, avail); err != nil {
		return res{}, err
	}
	return need, nil
}

// validateTaskCommon is task::internal::validateTask (src/master/validation.cpp),
// the checks of a task alone, LAUNCH or LAUNCH_GROUP: its ID, unique among
// the framework's tasks, its agent, its kill policy, completion time,
// check and health check, its resources (taskRes parses them), its
// container.
func validateTaskCommon(fw *framework, a *agent, ti *mesos.TaskInfo, taskRes func(*mesos.TaskInfo) (res, error)) (res, error) {
	id := ti.TaskID.Value
	if err := validID(id); err != nil {
		return res{}, err
	}
	if t := fw.tasks[id]; t != nil && t.state == mesos.TASK_UNREACHABLE || fw.lostUnreachableTask(id) != nil {
		return res{}, fmt.Errorf("Task reuses the ID of an unreachable task: %s", id)
	} else if t != nil {
		return res{}, fmt.Errorf("Task has duplicate ID: %s", id)
	}
	if ti.AgentID.Value != a.id {
		return res{}, fmt.Errorf("Task uses invalid agent %s while agent %s is expected", ti.AgentID.Value, a.id)
	}
	if err := validateTaskTimes(ti); err != nil {
		return res{}, err
	}
	if len(ti.Resources) == 0 {
		return res{}, errNoResources
	}
	need, err := taskRes(ti)
	if err != nil {
		return res{}, err
	}
	if err := checkContainer(ti.Container); err != nil {
		return res{}, err
	}
	return need, nil
}

// validateExecutorInfo is executor::internal::validate
// (src/master/validation.cpp): the executor's type against its command,
// its ID, container, framework ID and resources, and, when the agent runs
// it already, that it is the same ExecutorInfo. It returns the executor's
// resources and whether it runs.
func validateExecutorInfo(fw *framework, a *agent, ei *mesos.ExecutorInfo) (res, bool, error) {
	switch {
	case ei.Type == mesos.ExecutorInfo_DEFAULT && ei.Command != nil:
		return res{}, false, errors.New("'ExecutorInfo.command' must not be set for 'DEFAULT' executor")
	case ei.Type == mesos.ExecutorInfo_CUSTOM && ei.Command == nil:
		return res{}, false, errors.New("'ExecutorInfo.command' must be set for 'CUSTOM' executor")
	}
	if err := validID(ei.ExecutorID.Value); err != nil {
		return res{}, false, err
	}
	if err := checkContainer(ei.Container); err != nil {
		return res{}, false, err
	}
	if ei.FrameworkID == nil {
		return res{}, false, errors.New("'ExecutorInfo.framework_id' must be set")
	}
	if ei.FrameworkID.Value != fw.id {
		return res{}, false, fmt.Errorf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", ei.FrameworkID.Value, fw.id)
	}
	eres, err := parseResources(ei.Resources)
	if err != nil {
		return res{}, false, fmt.Errorf("Executor uses invalid resources: %v", err)
	}
	e := a.executors[fw.id+"/"+ei.ExecutorID.Value]
	if e == nil || e.state == execTerminated {
		return eres, false, nil
	}
	if e.command || !sameExecutor(&e.info, ei) {
		// Mesos goes on with both ExecutorInfos in protobuf text form.
		return res{}, false, errors.New("ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID.")
	}
	if e.shutdown {
		return res{}, false, fmt.Errorf("Executor %s is shutting down", ei.ExecutorID.Value)
	}
	return eres, true, nil
}

func checkContainer(ci *mesos.ContainerInfo) error {
	if ci == nil {
		return nil
	}
	if ci.Type != nil && *ci.Type == mesos.ContainerInfo_DOCKER {
		return fmt.Errorf("Docker containers are not supported by testenv")
	}
	if ci.Mesos != nil && ci.Mesos.Image != nil {
		return fmt.Errorf("container images are not supported by testenv")
	}
	return nil
}

func sameExecutor(a, b *mesos.ExecutorInfo) bool {
	x, err1 := a.Marshal()
	y, err2 := b.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// validateGroupLocked validates a LAUNCH_GROUP as
// validation::task::group::validate does (src/master/validation.cpp), in
// its order and with its messages: each task (its errors prefixed "Task
// '<id>' is invalid: "), then the executor, its minimum resources, and the
// whole against the offers. It returns the resources the group takes.
func (c *Cluster) validateGroupLocked(fw *framework, a *agent, lg *mesos.Offer_Operation_LaunchGroup, avail res) (res, error) {
	ei := &lg.Executor
	if len(lg.TaskGroup.Tasks) == 0 {
		return res{}, errors.New("Task group is empty")
	}
	need := newRes()
	ids := map[string]bool{}
	for i := range lg.TaskGroup.Tasks {
		ti := &lg.TaskGroup.Tasks[i]
		invalid := func(err error) error { return fmt.Errorf("Task '%s' is invalid: %w", ti.TaskID.Value, err) }
		if ids[ti.TaskID.Value] {
			return res{}, invalid(fmt.Errorf("Task has duplicate ID: %s", ti.TaskID.Value))
		}
		ids[ti.TaskID.Value] = true
		tres, err := validateTaskCommon(fw, a, ti, groupTaskResources)
		if err != nil {
			return res{}, invalid(err)
		}
		if err := groupHealthCheck(ti); err != nil {
			return res{}, invalid(err)
		}
		if ti.Command == nil {
			// Mesos' master lets it through; taskkit's DEFAULT executor
			// runs commands only.
			return res{}, invalid(errors.New("'TaskInfo.command' must be set"))
		}
		need = need.add(tres)
	}
	eres, running, err := validateExecutorInfo(fw, a, ei)
	if err != nil {
		return res{}, err
	}
	if ei.Type == mesos.ExecutorInfo_UNKNOWN {
		return res{}, errors.New("'ExecutorInfo.type' must be set")
	}
	for i := range lg.TaskGroup.Tasks {
		if ti := &lg.TaskGroup.Tasks[i]; ti.Executor != nil && !sameExecutor(ti.Executor, ei) {
			return res{}, fmt.Errorf("The `ExecutorInfo` of task '%s' is different from executor '%s'", ti.TaskID.Value, ei.ExecutorID.Value)
		}
	}
	eid := ei.ExecutorID.Value
	switch {
	case !eres.has("cpus") || eres.scalar("cpus") < minExecutorCPUs:
		return res{}, fmt.Errorf("Executor '%s' uses less CPUs (%s) than the minimum required (%s)", eid, scalarOrNone(eres, "cpus", formatDouble), formatDouble(minExecutorCPUs))
	case !eres.has("mem") || eres.scalar("mem") < minExecutorMem:
		return res{}, fmt.Errorf("Executor '%s' uses less memory (%s) than the minimum required (%s)", eid, scalarOrNone(eres, "mem", formatMegabytes), formatMegabytes(minExecutorMem))
	case !eres.has("disk"):
		return res{}, fmt.Errorf("Executor '%s' uses no disk", eid)
	}
	if !running {
		need = need.add(eres)
	}
	if err := groupFits(lg, need, avail); err != nil {
		return res{}, err
	}
	return need, nil
}

// groupHealthCheck is the health check rule of
// task::group::internal::validateTask (src/master/validation.cpp): a task
// of a group whose container has network_infos of its own (a nested
// container not joining its executor's network) cannot have an HTTP or TCP
// health check, which the executor would run in its own network.
func groupHealthCheck(ti *mesos.TaskInfo) error {
	if ti.Container == nil || len(ti.Container.NetworkInfos) == 0 || ti.HealthCheck == nil {
		return nil
	}
	if t := ti.HealthCheck.Type; t == mesos.HealthCheck_HTTP || t == mesos.HealthCheck_TCP {
		return errors.New("HTTP and TCP health checks are not supported for nested containers not joining parent's network")
	}
	return nil
}

// The least an executor of a task group may have (MIN_CPUS, MIN_MEM in
// src/master/constants.hpp): cpus, and mem in MB.
const (
	minExecutorCPUs = 0.01
	minExecutorMem  = 32
)

// scalarOrNone is r's scalar name formatted, or "None" when r has none, as
// Mesos writes an Option.
func scalarOrNone(r res, name string, format func(float64) string) string {
	if !r.has(name) {
		return "None"
	}
	return format(r.scalar(name))
}

// formatDouble writes f as stout's stringify(double) does (an ostream's
// default format: %g with 6 significant digits).
func formatDouble(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// formatMegabytes writes mb megabytes as stout's Bytes does
// (3rdparty/stout/include/stout/bytes.hpp): in the largest unit that
// loses nothing, "32MB", "1536KB", "1GB".
func formatMegabytes(mb float64) string {
	b := uint64(mb * 1024 * 1024)
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for b != 0 && b%1024 == 0 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if b == 0 {
		return "0B"
	}
	return strconv.FormatUint(b, 10) + units[i]
}

// newStatus builds a status for t with a fresh uuid.
func (c *Cluster) newStatus(t *task, state mesos.TaskState, src mesos.TaskStatus_Source, reason mesos.TaskStatus_Reason, msg string) mesos.TaskStatus {
	ts := float64(time.Now().UnixNano()) / 1e9
	st := mesos.TaskStatus{
		TaskID:    t.info.TaskID,
		State:     &state,
		Source:    &src,
		Timestamp: &ts,
		UUID:      mesosx.NewUUID(),
		AgentID:   &mesos.AgentID{Value: t.agent.id},
	}
	if reason != noReason {
		st.Reason = &reason
	}
	if msg != "" {
		st.Message = &msg
	}
	if t.exec != nil {
		eid := t.exec.info.ExecutorID
		st.ExecutorID = &eid
	}
	return st
}

// noReason marks a status without a reason.
const noReason = mesos.TaskStatus_Reason(-1)

// recordStatusLocked makes st the task's latest state, releasing its
// resources when the state is terminal.
func (c *Cluster) recordStatusLocked(t *task, st mesos.TaskStatus) {
	prev := t.state
	t.state = st.GetState()
	// Master::updateTask counts a transition to terminal or unreachable.
	ended := func(s mesos.TaskState) bool { return mesosx.IsTerminal(s) || s == mesos.TASK_UNREACHABLE }
	if !ended(prev) && ended(t.state) {
		c.countTaskEndLocked(st)
	}
	t.statuses = append(t.statuses, st)
	if len(t.statuses) > maxStatusesKept {
		t.statuses = trimStatuses(t.statuses, t.pending)
	}
	if prev != t.state && (prev == mesos.TASK_RUNNING || t.state == mesos.TASK_RUNNING) {
		c.dnsDirty = true
	}
	if mesosx.IsTerminal(t.state) && !t.released {
		c.releaseTaskLocked(t)
		c.allocateLocked()
	}
}

// trimStatuses drops one of a task's statuses, kept over maxStatusesKept:
// the oldest followed by one of the same state, which the master's task
// JSON does not show (taskJSON, as Master::updateTask keeps one status per
// state in a row), so a health check's many TASK_RUNNING updates never
// push out the task's first status; else the oldest. The head of the
// task's update stream (pending) is kept while it can be, as
// reconciliation answers from the statuses up to it (reconcileLocked).
func trimStatuses(sts, pending []mesos.TaskStatus) []mesos.TaskStatus {
	for i := 0; i+1 < len(sts); i++ {
		head := len(pending) > 0 && bytes.Equal(sts[i].UUID, pending[0].UUID)
		if !head && sts[i].GetState() == sts[i+1].GetState() {
			return slices.Delete(sts, i, i+1)
		}
	}
	return sts[1:]
}

// statusUpdateLocked is the agent's status update manager receiving an
// update (from an executor or the agent itself): it records it, queues it
// and forwards it when it is the head of the task's stream.
func (c *Cluster) statusUpdateLocked(t *task, st mesos.TaskStatus) {
	if t.removed {
		return
	}
	key := string(st.UUID)
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	if t.seen[key] {
		return // a re-sent update the agent already has
	}
	t.seen[key] = true
	aid := mesos.AgentID{Value: t.agent.id}
	st.AgentID = &aid
	if st.Timestamp == nil {
		ts := float64(time.Now().UnixNano()) / 1e9
		st.Timestamp = &ts
	}
	c.recordStatusLocked(t, st)
	t.pending = append(t.pending, st)
	if len(t.pending) == 1 {
		t.backoff = 0
		c.forwardLocked(t, true)
	}
}

// forwardLocked sends the head of t's update stream to the framework and
// schedules its retry. fresh resets the retry backoff.
func (c *Cluster) forwardLocked(t *task, fresh bool) {
	if len(t.pending) == 0 {
		return
	}
	if fresh || t.backoff == 0 {
		t.backoff = c.cfg.StatusUpdateRetry
	} else {
		t.backoff *= 2
		if t.backoff > maxStatusRetry {
			t.backoff = maxStatusRetry
		}
	}
	t.retryAt = time.Now().Add(t.backoff)
	st := t.pending[0]
	t.fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}})
}

func (c *Cluster) acknowledgeLocked(fw *framework, ack *scheduler.Call_Acknowledge) {
	t := fw.tasks[ack.TaskID.Value]
	if t == nil || t.agent.id != ack.AgentID.Value || len(t.pending) == 0 {
		c.log.Debug("ignoring acknowledgement", "framework", fw.id, "task", ack.TaskID.Value)
		return
	}
	if !bytes.Equal(t.pending[0].UUID, ack.UUID) {
		c.log.Debug("unexpected acknowledgement", "framework", fw.id, "task", ack.TaskID.Value)
		return
	}
	head := t.pending[0]
	t.pending = t.pending[1:]
	t.retryAt = time.Time{}
	if len(t.pending) > 0 {
		c.forwardLocked(t, true)
		return
	}
	if mesosx.IsTerminal(head.GetState()) {
		c.removeTaskLocked(t)
	}
}

// removeTaskLocked moves a terminal task (or one of a removed framework)
// out of the master's live tasks.
func (c *Cluster) removeTaskLocked(t *task) {
	if t.removed {
		return
	}
	c.dropTaskLocked(t)
	t.fw.addCompleted(t)
}

// removeUnreachableLocked removes t, TASK_LOST on an agent marked
// unreachable, into its framework's lostUnreachable, as Master::removeTask
// does with unreachable set (Framework::addUnreachableTask).
func (c *Cluster) removeUnreachableLocked(t *task) {
	if t.removed {
		return
	}
	c.dropTaskLocked(t)
	fw := t.fw
	fw.lostUnreachable = append(fw.lostUnreachable, t)
	slices.SortFunc(fw.lostUnreachable, func(a, b *task) int { return strings.Compare(a.id(), b.id()) })
}

// addCompleted appends t to fw's completed tasks, the oldest dropped
// beyond maxCompleted.
func (fw *framework) addCompleted(t *task) {
	fw.completed = append(fw.completed, t)
	if len(fw.completed) > maxCompleted {
		fw.completed = fw.completed[len(fw.completed)-maxCompleted:]
	}
}

// lostUnreachableTask returns fw's task of ID id in lostUnreachable, or nil.
func (fw *framework) lostUnreachableTask(id string) *task {
	for _, t := range fw.lostUnreachable {
		if t.id() == id {
			return t
		}
	}
	return nil
}

// dropTaskLocked takes t out of its framework's and executor's live tasks,
// its resources released.
func (c *Cluster) dropTaskLocked(t *task) {
	if !t.released {
		c.releaseTaskLocked(t)
	}
	t.removed = true
	fw := t.fw
	delete(fw.tasks, t.id())
	if e := t.exec; e != nil {
		delete(e.tasks, t.id())
		if e.command && e.state == execTerminated {
			delete(t.agent.executors, fw.id+"/"+e.info.ExecutorID.Value)
		}
	}
	c.dnsDirty = true
}

// reconcileLocked answers RECONCILE with master-sourced updates.
func (c *Cluster) reconcileLocked(fw *framework, tasks []scheduler.Call_Reconcile_Task) {
	answer := func(t *task) {
		// The master knows a task's statuses up to the one its agent is
		// forwarding, the head of the task's update stream, and answers with
		// that one's state (Task.status_update_state, set by Master::forward)
		// and the health, check and container status of the statuses it has
		// (getTaskHealth, getTaskCheckStatus, getTaskContainerStatus in
		// src/common/protobuf_utils.cpp); no labels, data or unreachable time.
		state, known := t.state, t.statuses
		if len(t.pending) > 0 {
			head := t.pending[0]
			state = head.GetState()
			for i := len(known) - 1; i >= 0; i-- {
				if bytes.Equal(known[i].UUID, head.UUID) {
					known = known[:i+1]
					break
				}
			}
		}
		st := masterStatus(t.info.TaskID, &mesos.AgentID{Value: t.agent.id}, state, mesos.REASON_RECONCILIATION, "Reconciliation: Latest task state")
		st.ExecutorID = t.masterExecutorID()
		if n := len(known); n > 0 {
			st.Healthy = known[n-1].Healthy
			st.CheckStatus = known[n-1].CheckStatus
		}
		for i := len(known) - 1; i >= 0; i-- {
			if known[i].ContainerStatus != nil {
				st.ContainerStatus = known[i].ContainerStatus
				break
			}
		}
		c.sendUpdateLocked(fw, st)
	}
	if len(tasks) == 0 {
		for _, t := range fw.tasks {
			answer(t)
		}
		return
	}
	for _, rt := range tasks {
		if t := fw.tasks[rt.TaskID.Value]; t != nil {
			answer(t)
			continue
		}
		var agentID *mesos.AgentID
		var unreachable *mesos.TimeInfo
		state := mesos.TASK_UNKNOWN
		msg := "Reconciliation: Task is unknown"
		if rt.AgentID != nil && rt.AgentID.Value != "" {
			agentID = rt.AgentID
			a := c.agentByID[rt.AgentID.Value]
			// An agent registered (connected or not), unreachable, or
			// removed (unknown to the master).
			switch {
			case a != nil && !a.removed:
				state, msg = mesos.TASK_GONE, "Reconciliation: Task is unknown to the agent"
			case a != nil && !a.unreachableAt.IsZero():
				state, msg = mesos.TASK_UNREACHABLE, "Reconciliation: Task is unreachable"
				unreachable = &mesos.TimeInfo{Nanoseconds: a.unreachableAt.UnixNano()}
			}
		}
		if !fw.partitionAware() {
			state = mesos.TASK_LOST
		}
		st := masterStatus(rt.TaskID, agentID, state, mesos.REASON_RECONCILIATION, msg)
		st.UnreachableTime = unreachable // with TASK_LOST too, as Master::reconcile does
		c.sendUpdateLocked(fw, st)
	}
}

// killTaskLocked handles KILL as Master::kill (src/master/master.cpp)
// does: an unknown task is reconciled; a KILL whose agent_id is not the
// task's agent is ignored (no kill, no update).
func (c *Cluster) killTaskLocked(fw *framework, k *scheduler.Call_Kill) {
	t := fw.tasks[k.TaskID.Value]
	if t == nil {
		c.reconcileLocked(fw, []scheduler.Call_Reconcile_Task{{TaskID: k.TaskID, AgentID: k.AgentID}})
		return
	}
	if k.AgentID != nil && k.AgentID.Value != t.agent.id {
		c.log.Warn("ignoring KILL: the task belongs to another agent", "framework", fw.id, "task", t.id(), "agent", k.AgentID.Value, "task_agent", t.agent.id)
		return
	}
	if mesosx.IsTerminal(t.state) || t.state == mesos.TASK_UNREACHABLE {
		return
	}
	c.killLocked(t, k.KillPolicy)
}
