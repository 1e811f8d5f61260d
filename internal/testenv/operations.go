package testenv

import (
	"errors"
	"fmt"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// This file implements the offer operations that change an agent's
// resources: RESERVE, UNRESERVE, CREATE and DESTROY, as Mesos' master
// applies them in ACCEPT (Master::accept and Master::_accept in
// src/master/master.cpp, validation::operation in
// src/master/validation.cpp, getResourceConversions in
// src/common/resources_utils.cpp):
//
//   - every operation's resources are validated and converted to the
//     post-refinement format first; an invalid RESERVE, UNRESERVE, CREATE
//     or DESTROY is dropped ("Operation attempted with invalid resources:
//     ..."), an invalid LAUNCH or LAUNCH_GROUP fails its tasks with
//     TASK_ERROR;
//   - the operations then run in order on the offers' remaining
//     resources: a speculative operation converts some of them (reserved
//     resources become available to the next operation of the same
//     ACCEPT, as Mesos pipelines them), a launch consumes them;
//   - a refused operation is dropped with its reason, and only an
//     operation with an `id` hears about it: OPERATION_ERROR, not
//     reliably (no uuid);
//   - an applied operation with an `id` gets OPERATION_FINISHED from the
//     agent, reliably: re-sent until ACKNOWLEDGE_OPERATION_STATUS (Mesos
//     agents have the AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER
//     capabilities since 1.5, so operations on agent default resources get
//     feedback).
//
// The agent keeps the result in its total resources and checkpoints the
// reservations and volumes of its host (volumes.go), so that they survive
// an agent restart.

// operationState is an operation with an ID the framework asked feedback
// for: its latest status, re-sent until acknowledged.
type operationState struct {
	id      string
	agent   *agent
	status  mesos.OperationStatus
	retryAt time.Time
	backoff time.Duration
}

// prepareOperationsLocked is the first pass of ACCEPT over its
// operations (Master::accept): it validates each one's resources and
// converts them to the post-refinement format, refuses an `id` on LAUNCH
// and LAUNCH_GROUP, and allocates every resource to the offers' role
// (injectAllocationInfo). It returns the operations left to apply, in
// order; the others have been reported.
func (c *Cluster) prepareOperationsLocked(fw *framework, role string, ops []mesos.Offer_Operation) []mesos.Offer_Operation {
	var out []mesos.Offer_Operation
	for i := range ops {
		op := *proto.Clone(&ops[i]).(*mesos.Offer_Operation)
		err := upgradeOperation(&op)
		if err == nil && op.Type == mesos.Offer_Operation_RESERVE && len(op.Reserve.Source) > 0 {
			err = errors.New("Reservation updates are not yet implemented for the scheduler API.")
		}
		if err != nil {
			switch op.Type {
			case mesos.Offer_Operation_LAUNCH:
				c.taskErrorsLocked(fw, opTasks(op), mesos.REASON_TASK_INVALID, err.Error())
			case mesos.Offer_Operation_LAUNCH_GROUP:
				c.taskErrorsLocked(fw, opTasks(op), mesos.REASON_TASK_GROUP_INVALID, err.Error())
			case mesos.Offer_Operation_UNKNOWN:
				c.log.Warn("ignoring an unknown operation", "framework", fw.id)
			default:
				c.operationErrorLocked(fw, op, "Operation attempted with invalid resources: "+err.Error())
			}
			continue
		}
		if op.ID != nil {
			switch op.Type {
			case mesos.Offer_Operation_LAUNCH:
				c.taskErrorsLocked(fw, opTasks(op), mesos.REASON_TASK_INVALID, "The `id` field cannot be set on LAUNCH operations")
				continue
			case mesos.Offer_Operation_LAUNCH_GROUP:
				c.taskErrorsLocked(fw, opTasks(op), mesos.REASON_TASK_GROUP_INVALID, "The `id` field cannot be set on LAUNCH_GROUP operations")
				continue
			}
		}
		forEachResources(&op, func(rs []mesos.Resource) {
			for j := range rs {
				if rs[j].AllocationInfo == nil {
					rs[j].AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(role)}
				}
			}
		})
		out = append(out, op)
	}
	return out
}

// taskErrorsLocked fails tasks with TASK_ERROR from the master.
func (c *Cluster) taskErrorsLocked(fw *framework, tasks []mesos.TaskInfo, reason mesos.TaskStatus_Reason, msg string) {
	for _, ti := range tasks {
		st := masterStatus(ti.TaskID, &ti.AgentID, mesos.TASK_ERROR, reason, msg)
		c.countTaskEndLocked(st)
		c.sendUpdateLocked(fw, st)
	}
}

// upgradeOperation is validateAndUpgradeResources
// (src/common/resources_utils.cpp): the operation's body must be there
// and its resources valid; they are converted in place.
func upgradeOperation(op *mesos.Offer_Operation) error {
	missing := func(field string) error {
		return fmt.Errorf("A %s offer operation must have the Offer.Operation.%s field set.", op.Type, field)
	}
	switch op.Type {
	case mesos.Offer_Operation_UNKNOWN:
		return errors.New("Unknown offer operation")
	case mesos.Offer_Operation_LAUNCH:
		if op.Launch == nil {
			return missing("launch")
		}
	case mesos.Offer_Operation_LAUNCH_GROUP:
		if op.LaunchGroup == nil {
			return missing("launch_group")
		}
	case mesos.Offer_Operation_RESERVE:
		if op.Reserve == nil {
			return missing("reserve")
		}
	case mesos.Offer_Operation_UNRESERVE:
		if op.Unreserve == nil {
			return missing("unreserve")
		}
	case mesos.Offer_Operation_CREATE:
		if op.Create == nil {
			return missing("create")
		}
	case mesos.Offer_Operation_DESTROY:
		if op.Destroy == nil {
			return missing("destroy")
		}
	}
	var err error
	forEachResources(op, func(rs []mesos.Resource) {
		for i := range rs {
			if err != nil {
				return
			}
			if e := validateResource(&rs[i]); e != nil {
				err = e
				return
			}
			upgradeResource(&rs[i])
		}
	})
	return err
}

// forEachResources calls f on every resource list of op: the resources of
// RESERVE (and its source), UNRESERVE, the volumes of CREATE and DESTROY,
// and the resources of the tasks and executors of LAUNCH and LAUNCH_GROUP.
func forEachResources(op *mesos.Offer_Operation, f func([]mesos.Resource)) {
	task := func(ti *mesos.TaskInfo) {
		f(ti.Resources)
		if ti.Executor != nil {
			f(ti.Executor.Resources)
		}
	}
	switch {
	case op.Type == mesos.Offer_Operation_LAUNCH && op.Launch != nil:
		for i := range op.Launch.TaskInfos {
			task(&op.Launch.TaskInfos[i])
		}
	case op.Type == mesos.Offer_Operation_LAUNCH_GROUP && op.LaunchGroup != nil:
		f(op.LaunchGroup.Executor.Resources)
		for i := range op.LaunchGroup.TaskGroup.Tasks {
			task(&op.LaunchGroup.TaskGroup.Tasks[i])
		}
	case op.Type == mesos.Offer_Operation_RESERVE && op.Reserve != nil:
		f(op.Reserve.Resources)
		f(op.Reserve.Source)
	case op.Type == mesos.Offer_Operation_UNRESERVE && op.Unreserve != nil:
		f(op.Unreserve.Resources)
	case op.Type == mesos.Offer_Operation_CREATE && op.Create != nil:
		f(op.Create.Volumes)
	case op.Type == mesos.Offer_Operation_DESTROY && op.Destroy != nil:
		f(op.Destroy.Volumes)
	}
}

// conversion is a ResourceConversion: consumed becomes converted.
type conversion struct{ consumed, converted res }

// conversions returns the conversions of a speculative operation
// (getResourceConversions).
func conversions(op *mesos.Offer_Operation) []conversion {
	var out []conversion
	switch op.Type {
	case mesos.Offer_Operation_RESERVE:
		reserved := res(op.Reserve.Resources).coalesced()
		out = append(out, conversion{consumed: res(mesos.Resources(reserved).PopReservation()), converted: reserved})
	case mesos.Offer_Operation_UNRESERVE:
		for _, r := range op.Unreserve.Resources {
			out = append(out, conversion{consumed: res{r}, converted: res(mesos.Resources{r}.PopReservation())})
		}
	case mesos.Offer_Operation_CREATE:
		for _, v := range op.Create.Volumes {
			out = append(out, conversion{consumed: res{stripVolume(v)}, converted: res{v}})
		}
	case mesos.Offer_Operation_DESTROY:
		for _, v := range op.Destroy.Volumes {
			out = append(out, conversion{consumed: res{v}, converted: res{stripVolume(v)}})
		}
	}
	return out
}

// stripVolume returns the disk a volume was made of: without persistence
// and volume (on a MOUNT or PATH disk), or without DiskInfo (on the root
// disk); never shared.
func stripVolume(v mesos.Resource) mesos.Resource {
	x := *proto.Clone(&v).(*mesos.Resource)
	if x.Disk != nil && x.Disk.Source != nil {
		x.Disk.Persistence, x.Disk.Volume = nil, nil
	} else {
		x.Disk = nil
	}
	x.Shared = nil
	return x
}

// applyConversions applies conversions in order to rs
// (ResourceConversion::apply): each one's consumed resources must be
// there.
func applyConversions(rs res, convs []conversion) (res, error) {
	for _, cv := range convs {
		if !rs.contains(cv.consumed) {
			return rs, fmt.Errorf("%s does not contain %s", describe(rs), describe(cv.consumed))
		}
		rs = rs.sub(cv.consumed).add(cv.converted)
	}
	return rs, nil
}

// speculativeLocked applies a RESERVE, UNRESERVE, CREATE or DESTROY of an
// ACCEPT to the offers' remaining resources avail (allocated to the
// offers' role) and to agent a, and returns what remains. A refused
// operation leaves avail as it was.
func (c *Cluster) speculativeLocked(fw *framework, a *agent, op mesos.Offer_Operation, avail res) res {
	var err error
	switch op.Type {
	case mesos.Offer_Operation_RESERVE:
		err = validateReserve(fw, res(op.Reserve.Resources))
	case mesos.Offer_Operation_UNRESERVE:
		err = validateUnreserve(res(op.Unreserve.Resources))
	case mesos.Offer_Operation_CREATE:
		err = validateCreate(fw, res(op.Create.Volumes), a.total.checkpointed())
	case mesos.Offer_Operation_DESTROY:
		err = validateDestroy(res(op.Destroy.Volumes), a.total.checkpointed(), a.used)
	}
	if err != nil {
		c.operationErrorLocked(fw, op, err.Error()+"; on agent "+a.describe())
		return avail
	}
	convs := conversions(&op)
	next, err := applyConversions(avail, convs)
	if err != nil {
		c.operationErrorLocked(fw, op, err.Error())
		return avail
	}
	// (Mesos also rescinds other offers holding a volume being destroyed:
	// only a shared volume can be in two, and testenv has none.)
	for _, cv := range convs {
		a.total = a.total.sub(cv.consumed.unallocated()).add(cv.converted.unallocated())
	}
	c.log.Info("applied operation", "type", op.Type.String(), "framework", fw.id, "agent", a.id)
	c.checkpointLocked(a)
	if op.ID != nil {
		c.operationFinishedLocked(fw, a, op)
	}
	return next
}

// describe names the agent as Mesos does in operation errors.
func (a *agent) describe() string {
	return a.id + " at slave(1)@" + a.endpoint() + " (" + a.ip + ")"
}

// singleProvider is validateSingleResourceProvider: testenv has no
// resource providers, so resources naming one cannot be in an offer, but
// mixing them is refused first, as in Mesos.
func singleProvider(rs res) error {
	ids := map[string]bool{}
	for i := range rs {
		id := "\x00none"
		if rs[i].ProviderID != nil {
			id = rs[i].ProviderID.Value
		}
		ids[id] = true
	}
	if len(ids) > 1 {
		if ids["\x00none"] {
			return errors.New("Some resources have a resource provider and some do not")
		}
		return errors.New("The resources have multiple resource providers")
	}
	return nil
}

// operationResources is where the validation of every operation starts:
// its resources are valid (resource::validate) and of one provider.
func operationResources(rs res) error {
	if err := validateResources(rs); err != nil {
		return fmt.Errorf("Invalid resources: %w", err)
	}
	if err := singleProvider(rs); err != nil {
		return fmt.Errorf("Invalid resources: %w", err)
	}
	return nil
}

// volumeResources is operationResources for CREATE and DESTROY: and
// every resource is a persistent volume.
func volumeResources(vols res) error {
	if err := operationResources(vols); err != nil {
		return err
	}
	if err := persistentVolumes(vols); err != nil {
		return fmt.Errorf("Not a persistent volume: %w", err)
	}
	return nil
}

// validateReserve is validation::operation::validate for RESERVE by a
// framework.
func validateReserve(fw *framework, rs res) error {
	if err := operationResources(rs); err != nil {
		return err
	}
	roles := map[string]bool{}
	for _, r := range fw.roles {
		roles[r] = true
	}
	principal := fw.info.Principal
	for i := range rs {
		x := &rs[i]
		if !x.IsDynamicallyReserved() {
			return fmt.Errorf("Resource %s is not dynamically reserved", describe(res{*x}))
		}
		if principal != nil {
			last := x.Reservations[len(x.Reservations)-1]
			if last.Principal == nil {
				return fmt.Errorf("A reserve operation was attempted by principal '%s', but there is a reserved resource in the request with no principal set", *principal)
			}
			if *last.Principal != *principal {
				return fmt.Errorf("A reserve operation was attempted by authenticated principal '%s', which does not match a reserved resource in the request with principal '%s'", *principal, *last.Principal)
			}
		}
		alloc := x.GetAllocationInfo().GetRole()
		if x.AllocationInfo == nil || x.AllocationInfo.Role == nil {
			return fmt.Errorf("A reserve operation was attempted on unallocated resource %s, but frameworks can only perform reservations on allocated resources", describe(res{*x}))
		}
		if alloc != x.ReservationRole() {
			return fmt.Errorf("A reserve operation was attempted for a resource with role '%s', but the resource was allocated to role '%s'", x.ReservationRole(), alloc)
		}
		if !roles[alloc] {
			return fmt.Errorf("A reserve operation was attempted for a resource allocated to role '%s', but the framework only has roles '%v'", alloc, fw.roles)
		}
	}
	if err := singleAllocationRole(rs); err != nil {
		return fmt.Errorf("Invalid reservation resources: %w", err)
	}
	return nil
}

// validateUnreserve is validation::operation::validate for UNRESERVE.
// Mesos does not require the framework's principal to be the
// reservation's: without authorization ACLs any principal may unreserve.
func validateUnreserve(rs res) error {
	if err := operationResources(rs); err != nil {
		return err
	}
	for i := range rs {
		x := &rs[i]
		if !x.IsDynamicallyReserved() {
			return fmt.Errorf("Resource %s is not dynamically reserved", describe(res{*x}))
		}
		if x.IsPersistentVolume() {
			return fmt.Errorf("A dynamically reserved persistent volume %s cannot be unreserved directly. Please destroy the persistent volume first then unreserve the resource", describe(res{*x}))
		}
	}
	return nil
}

// persistentVolumes is validatePersistentVolume: every resource is a
// read-write persistent volume.
func persistentVolumes(rs res) error {
	for i := range rs {
		d := rs[i].GetDisk()
		switch {
		case d == nil:
			return fmt.Errorf("Resource %s does not have DiskInfo", describe(res{rs[i]}))
		case d.Persistence == nil:
			return errors.New("'persistence' is not set in DiskInfo")
		case d.Volume == nil:
			return errors.New("Expecting 'volume' to be set for persistent volume")
		case d.Volume.GetMode() == mesos.RO:
			return errors.New("Read-only persistent volume not supported")
		}
	}
	return nil
}

// validateCreate is validation::operation::validate for CREATE by a
// framework; checkpointed holds the agent's reservations and volumes.
func validateCreate(fw *framework, vols, checkpointed res) error {
	if err := volumeResources(vols); err != nil {
		return err
	}
	if err := uniquePersistenceIDs(append(append(res{}, checkpointed...), vols.unallocated()...)); err != nil {
		return err
	}
	principal := fw.info.Principal
	for i := range vols {
		v := &vols[i]
		if v.Shared != nil {
			if !fw.hasCap(mesos.FrameworkInfo_Capability_SHARED_RESOURCES) {
				return fmt.Errorf("Create volume operation for '%s' has been attempted by framework '%s' with no SHARED_RESOURCES capability", describe(res{*v}), fw.id)
			}
			return fmt.Errorf("Create volume operation for '%s': shared persistent volumes are not supported by testenv", describe(res{*v}))
		}
		if principal != nil {
			p := v.Disk.Persistence.Principal
			if p == nil {
				return fmt.Errorf("Create volume operation attempted by principal '%s', but there is a volume in the operation with no principal set in 'disk.persistence'", *principal)
			}
			if *p != *principal {
				return fmt.Errorf("Create volume operation attempted by authenticated principal '%s', which does not match a volume in the operation with principal '%s' set in 'disk.persistence'", *principal, *p)
			}
		}
	}
	if err := singleAllocationRole(vols); err != nil {
		return fmt.Errorf("Invalid volume resources: %w", err)
	}
	return nil
}

// validateDestroy is validation::operation::validate for DESTROY: the
// volumes must exist on the agent and no task or executor may use them.
func validateDestroy(vols, checkpointed, used res) error {
	vols = vols.unallocated()
	if err := volumeResources(vols); err != nil {
		return err
	}
	for _, v := range vols {
		if !checkpointed.contains(res{v}) {
			return errors.New("Persistent volumes not found")
		}
	}
	for _, v := range vols {
		if used.contains(res{v}) {
			return errors.New("Persistent volumes in use")
		}
	}
	return nil
}

// operationFinishedLocked records an applied operation with an ID and
// sends its OPERATION_FINISHED, with a uuid to acknowledge.
func (c *Cluster) operationFinishedLocked(fw *framework, a *agent, op mesos.Offer_Operation) {
	if fw.operations == nil {
		fw.operations = map[string]*operationState{}
	}
	aid := mesos.AgentID{Value: a.id}
	st := &operationState{id: op.ID.Value, agent: a, status: mesos.OperationStatus{
		OperationID: op.ID,
		State:       mesos.OPERATION_FINISHED,
		UUID:        &mesos.UUID{Value: mesosx.NewUUID()},
		AgentID:     &aid,
	}}
	fw.operations[st.id] = st
	c.sendOperationStatusLocked(fw, st, true)
}

// sendOperationStatusLocked sends an operation's latest status and
// schedules its retry. fresh resets the retry backoff.
func (c *Cluster) sendOperationStatusLocked(fw *framework, st *operationState, fresh bool) {
	if fresh || st.backoff == 0 {
		st.backoff = c.cfg.StatusUpdateRetry
	} else {
		st.backoff = min(2*st.backoff, maxStatusRetry)
	}
	st.retryAt = time.Now().Add(st.backoff)
	fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
		Status: st.status,
	}})
}

// retryOperationsLocked re-sends unacknowledged operation statuses whose
// retry time has come; those of agents that are gone are dropped, as the
// agent's operation status update manager goes with it.
func (c *Cluster) retryOperationsLocked(now time.Time) {
	for _, fw := range c.frameworks {
		for id, st := range fw.operations {
			switch {
			case !st.agent.active:
				delete(fw.operations, id)
			case fw.connected() && !now.Before(st.retryAt):
				c.sendOperationStatusLocked(fw, st, false)
			}
		}
	}
}

// acknowledgeOperationLocked handles ACKNOWLEDGE_OPERATION_STATUS: the
// status with that uuid is acknowledged; a terminal one removes the
// operation (Master::acknowledgeOperationStatus).
func (c *Cluster) acknowledgeOperationLocked(fw *framework, ack *scheduler.Call_AcknowledgeOperationStatus) {
	st := fw.operations[ack.OperationID.Value]
	if st == nil || ack.AgentID == nil || ack.AgentID.Value != st.agent.id || st.status.UUID == nil || string(st.status.UUID.Value) != string(ack.UUID) {
		c.log.Debug("ignoring operation status acknowledgement", "framework", fw.id, "operation", ack.OperationID.Value)
		return
	}
	delete(fw.operations, st.id)
}

// reconcileOperationsLocked answers RECONCILE_OPERATIONS
// (Master::reconcileOperations), never reliably: an implicit one with
// the latest status of every known operation; an explicit one per
// operation: known → its latest status; unknown on a live agent or
// without an agent → OPERATION_UNKNOWN; on an agent that is gone →
// OPERATION_UNREACHABLE.
func (c *Cluster) reconcileOperationsLocked(fw *framework, rec *scheduler.Call_ReconcileOperations) {
	send := func(st mesos.OperationStatus) {
		st.UUID = nil
		fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{Status: st}})
	}
	if len(rec.Operations) == 0 {
		for _, st := range fw.operations {
			send(st.status)
		}
		return
	}
	for _, o := range rec.Operations {
		if st := fw.operations[o.OperationID.Value]; st != nil {
			send(st.status)
			continue
		}
		id := o.OperationID
		st := mesos.OperationStatus{OperationID: &id, State: mesos.OPERATION_UNKNOWN, Message: strPtr("Reconciliation: Operation is unknown")}
		if o.AgentID != nil {
			aid := *o.AgentID
			st.AgentID = &aid
			if a := c.agentByID[aid.Value]; a != nil && !a.unreachableAt.IsZero() {
				st.State, st.Message = mesos.OPERATION_UNREACHABLE, strPtr("Reconciliation: Agent is unreachable")
			}
		}
		send(st)
	}
}
