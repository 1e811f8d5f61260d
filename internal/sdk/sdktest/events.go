package sdktest

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Subscribed is a SUBSCRIBED event for framework id (heartbeat 15 s).
func Subscribed(id string) *scheduler.Event {
	hb := 15.0
	return &scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
		FrameworkID: &mesos.FrameworkID{Value: id}, HeartbeatIntervalSeconds: &hb,
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
