package sdktest

import (
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Subscribed is a SUBSCRIBED event for framework id (heartbeat 15 s, the
// Mesos default).
func Subscribed(id string) *scheduler.Event { return SubscribedEvery(id, 15*time.Second) }

// SubscribedEvery is a SUBSCRIBED event for framework id whose master
// promises a HEARTBEAT every hb. The framework gives up on a master silent
// for five of them, so a test that advances its clock past 5×15 s without
// sending events subscribes with a longer hb: the fake master sends no
// heartbeats of its own.
func SubscribedEvery(id string, hb time.Duration) *scheduler.Event {
	secs := hb.Seconds()
	return &scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
		FrameworkID: &mesos.FrameworkID{Value: id}, HeartbeatIntervalSeconds: &secs,
	}}
}

// Offers is an OFFERS event.
func Offers(offers ...mesos.Offer) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: offers}}
}

// StatusOption adds to a status fixture.
type StatusOption func(*mesos.TaskStatus)

// Status is an UPDATE event for a task on agent, with a uuid (an update to
// acknowledge) unless an option takes it away.
func Status(taskID, agent string, state mesos.TaskState, opts ...StatusOption) *scheduler.Event {
	st := mesos.TaskStatus{
		TaskID: mesos.TaskID{Value: taskID}, State: state.Enum(),
		AgentID: &mesos.AgentID{Value: agent}, UUID: []byte(taskID + "-" + state.String()),
		Source: mesos.SOURCE_EXECUTOR.Enum(),
	}
	for _, o := range opts {
		o(&st)
	}
	return &scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}}
}

// Reconciliation makes a status a reconciliation answer: no uuid, reason
// RECONCILIATION.
func Reconciliation() StatusOption {
	return func(st *mesos.TaskStatus) {
		st.UUID = nil
		st.Reason = mesos.REASON_RECONCILIATION.Enum()
		st.Source = mesos.SOURCE_MASTER.Enum()
	}
}

// Message sets a status's message.
func Message(msg string) StatusOption {
	return func(st *mesos.TaskStatus) { st.Message = &msg }
}

// Ready marks a status as carrying a passed readiness check (the DEFAULT
// executor's check_status with exit code 0).
func Ready() StatusOption {
	return func(st *mesos.TaskStatus) {
		zero := int32(0)
		st.CheckStatus = &mesos.CheckStatusInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: &mesos.CheckStatusInfo_Command{ExitCode: &zero}}
	}
}

// Rescind is a RESCIND event.
func Rescind(offer string) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: offer}}}
}

// Failure is a FAILURE event: an executor's end (with its status) or,
// without executor, an agent's loss.
func Failure(agent, executor string, status int32) *scheduler.Event {
	f := &scheduler.Event_Failure{AgentID: &mesos.AgentID{Value: agent}}
	if executor != "" {
		f.ExecutorID = &mesos.ExecutorID{Value: executor}
		f.Status = &status
	}
	return &scheduler.Event{Type: scheduler.Event_FAILURE, Failure: f}
}

// Error is an ERROR event.
func Error(msg string) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: msg}}
}

// Heartbeat is a HEARTBEAT event.
func Heartbeat() *scheduler.Event { return &scheduler.Event{Type: scheduler.Event_HEARTBEAT} }

// OperationStatus is an UPDATE_OPERATION_STATUS event for operation id:
// with agent set, a reliable one (a uuid to acknowledge), else an answer
// without one (a reconciliation, or a refused operation).
func OperationStatus(id, agent string, state mesos.OperationState) *scheduler.Event {
	st := mesos.OperationStatus{OperationID: &mesos.OperationID{Value: id}, State: state}
	if agent != "" {
		st.AgentID = &mesos.AgentID{Value: agent}
		st.UUID = &mesos.UUID{Value: []byte(id + "-" + state.String())}
	}
	return &scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{Status: st}}
}
