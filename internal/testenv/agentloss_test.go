package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestAgentLoss follows an agent killed under a running task through the
// states of Mesos 1.11's master (src/master/master.cpp, agentloss.go), on
// a cluster of two agents each with a static reservation for the
// framework's role. Right after the kill the agent is still listed by
// /slaves with "active": false and its reservation, and counted in
// /state's deactivated_slaves, while a checkpointing framework's task
// keeps its state. Then, no sooner than the timeouts allow: the task's
// update (TASK_UNREACHABLE for a PARTITION_AWARE framework, else
// TASK_LOST, REASON_AGENT_REMOVED, "health check timed out" after
// MaxAgentPingTimeouts pings, or the re-registration timeout's message
// when that comes first, with the unreachable time), FAILURE, and the
// agent gone from /slaves and /state's slaves, counted in
// unreachable_slaves. A framework that does not checkpoint loses the task
// at once (REASON_AGENT_DISCONNECTED); an agent restarted before the
// timeouts removes the old one (TASK_LOST, "... removed: a new agent
// registered at the same address"), which is not counted unreachable.
// Reconciliation of an unknown task on the old agent answers as Mesos
// does for each.
func TestAgentLoss(t *testing.T) {
	const (
		ping   = 700 * time.Millisecond
		pings  = 2
		health = ping * pings // the soonest a ping timeout can mark it
		rereg  = time.Second
	)
	pa := []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}
	for _, tc := range []struct {
		name           string
		ping           time.Duration
		rereg          time.Duration
		caps           []mesos.FrameworkInfo_Capability_Type
		noCheckpoint   bool
		restart        bool // RestartAgent right after the kill
		want           mesos.TaskState
		reason         mesos.TaskStatus_Reason
		msg            string // {ip}: the agent's address
		after          time.Duration
		unreachable    bool   // the agent ends unreachable (else removed)
		reconciliation string // the message about an unknown task on it
	}{
		{name: "checkpointing", ping: ping, want: mesos.TASK_LOST, reason: mesos.REASON_AGENT_REMOVED,
			msg: "health check timed out", after: health, unreachable: true, reconciliation: "Reconciliation: Task is unreachable"},
		{name: "partition-aware", ping: ping, caps: pa, want: mesos.TASK_UNREACHABLE, reason: mesos.REASON_AGENT_REMOVED,
			msg: "health check timed out", after: health, unreachable: true, reconciliation: "Reconciliation: Task is unreachable"},
		{name: "re-registration timeout first", ping: 20 * time.Second, rereg: rereg, caps: pa, want: mesos.TASK_UNREACHABLE, reason: mesos.REASON_AGENT_REMOVED,
			msg: "agent did not reregister within 1secs after disconnecting", after: rereg, unreachable: true, reconciliation: "Reconciliation: Task is unreachable"},
		{name: "not checkpointing", ping: ping, noCheckpoint: true, want: mesos.TASK_LOST, reason: mesos.REASON_AGENT_DISCONNECTED,
			msg: "Agent {ip} disconnected", unreachable: true, reconciliation: "Reconciliation: Task is unreachable"},
		{name: "restarted before the timeouts", caps: pa, restart: true, want: mesos.TASK_LOST, reason: mesos.REASON_AGENT_REMOVED,
			msg: "Agent {ip} removed: a new agent registered at the same address", reconciliation: "Reconciliation: Task is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, Config{Agents: 2, Reserved: "cpus(role):1", AllocationInterval: 50 * time.Millisecond,
				AgentPingTimeout: tc.ping, MaxAgentPingTimeouts: pings, AgentReregisterTimeout: tc.rereg})
			fi := roleFramework("loss", "role", "", tc.caps...)
			checkpoint := !tc.noCheckpoint
			fi.Checkpoint = &checkpoint
			s := subscribe(t, cl, fi, protoCodec)
			o := s.offers()[0]
			agentID := o.AgentID.Value
			s.launch(o, commandTask("victim", o, "exec sleep 300"))
			s.updateAck("victim", mesos.TASK_STARTING)
			s.updateAck("victim", mesos.TASK_RUNNING)

			killed := time.Now()
			if err := cl.KillAgent(agentID); err != nil {
				t.Fatal(err)
			}
			slaves, state := stateOf(t, cl, "/slaves"), stateOf(t, cl, "/state")
			victim, _ := taskIn(cl.State(), s.FrameworkID, "victim")
			running := victim.State == mesos.TASK_RUNNING
			if time.Since(killed) < min(health, rereg) { // read before any timeout could have passed
				a := agentIn(slaves, agentID)
				if a == nil || a["active"] != false {
					t.Errorf("/slaves right after the kill: agent %v, want it listed with active false", a)
				} else if _, ok := a["reserved_resources_full"].(map[string]any)["role"]; !ok {
					t.Errorf("/slaves right after the kill: no reservation for role: %s", mustJSON(t, a))
				}
				if state["activated_slaves"] != 1.0 || state["deactivated_slaves"] != 1.0 || state["unreachable_slaves"] != 0.0 {
					t.Errorf("/state right after the kill: activated %v deactivated %v unreachable %v, want 1 1 0",
						state["activated_slaves"], state["deactivated_slaves"], state["unreachable_slaves"])
				}
				if running == tc.noCheckpoint {
					t.Errorf("task RUNNING right after the kill: %v, want %v", running, !tc.noCheckpoint)
				}
			}
			if tc.restart {
				if _, err := cl.RestartAgent(agentID); err != nil {
					t.Fatal(err)
				}
			}

			st := s.Update("victim", tc.want)
			took := time.Since(killed)
			msg := strings.ReplaceAll(tc.msg, "{ip}", o.Hostname)
			if st.GetReason() != tc.reason || st.GetSource() != mesos.SOURCE_MASTER || st.GetMessage() != msg || (st.UnreachableTime != nil) != (tc.unreachable && !tc.noCheckpoint) {
				t.Errorf("%s: %s %s %q unreachable_time %v; want SOURCE_MASTER %s %q, unreachable time %v",
					tc.want, st.GetSource(), st.GetReason(), st.GetMessage(), st.UnreachableTime, tc.reason, msg, tc.unreachable && !tc.noCheckpoint)
			}
			if took < tc.after {
				t.Errorf("%s %q %v after the kill, before the timeout (%v)", tc.want, st.GetMessage(), took, tc.after)
			}
			s.WaitFor(func(e *scheduler.Event) bool {
				return e.Type == scheduler.Event_FAILURE && e.Failure.AgentID != nil && e.Failure.AgentID.Value == agentID
			}, "FAILURE")

			unreachable := 0.0
			if tc.unreachable {
				unreachable = 1
			}
			eventually(t, "the agent gone from /slaves and /state", func() bool {
				state := stateOf(t, cl, "/state")
				return agentIn(stateOf(t, cl, "/slaves"), agentID) == nil && agentIn(state, agentID) == nil &&
					state["deactivated_slaves"] == 0.0 && state["unreachable_slaves"] == unreachable
			})
			s.MustCall(calls.Reconcile(calls.ReconcileTasks(map[string]string{"ghost": agentID})))
			ghost := s.UpdateWhere("ghost", ghostState(tc.caps, tc.unreachable), func(mesos.TaskStatus) bool { return true })
			if ghost.GetMessage() != tc.reconciliation || (ghost.UnreachableTime != nil) != tc.unreachable ||
				st.UnreachableTime != nil && ghost.UnreachableTime.GetNanoseconds() != st.UnreachableTime.GetNanoseconds() {
				t.Errorf("reconciled ghost: %q unreachable_time %v, want %q (unreachable time %v, the update's)", ghost.GetMessage(), ghost.UnreachableTime, tc.reconciliation, tc.unreachable)
			}
			eventually(t, "task process gone", func() bool { return len(leakedPIDs(cl.WorkDir())) == 0 })
			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}

// ghostState is what reconciling an unknown task on a lost agent answers
// (Master::reconcile): TASK_UNREACHABLE on an unreachable agent and
// TASK_UNKNOWN on a removed one for a PARTITION_AWARE framework, TASK_LOST
// for the others.
func ghostState(caps []mesos.FrameworkInfo_Capability_Type, unreachable bool) mesos.TaskState {
	switch {
	case len(caps) == 0:
		return mesos.TASK_LOST
	case unreachable:
		return mesos.TASK_UNREACHABLE
	}
	return mesos.TASK_UNKNOWN
}

// agentIn returns the agent of ID id in the "slaves" of a /state or
// /slaves answer, nil when it is not listed.
func agentIn(answer map[string]any, id string) map[string]any {
	list, _ := answer["slaves"].([]any)
	for _, a := range list {
		if m, _ := a.(map[string]any); m["id"] == id {
			return m
		}
	}
	return nil
}

// TestAgentLossUnreachableTasks checks where /state, /frameworks and /tasks
// list a task whose agent is marked unreachable. Mesos 1.11 keeps it under
// the framework's unreachable_tasks, whether the framework is
// PARTITION_AWARE (TASK_UNREACHABLE) or not (TASK_LOST): __removeSlave
// calls removeTask(task, unreachable=true) for both, and
// Framework::removeTask then calls addUnreachableTask, not
// addCompletedTask (src/master/master.cpp, framework.cpp). Such a task's ID
// cannot be reused ("Task reuses the ID of an unreachable task",
// validation.cpp), and when the framework is removed the task moves to
// completed_tasks, keeping its state if it was TASK_LOST
// (Master::removeFramework, updateTask).
func TestAgentLossUnreachableTasks(t *testing.T) {
	pa := []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}
	for _, tc := range []struct {
		name      string
		caps      []mesos.FrameworkInfo_Capability_Type
		want      mesos.TaskState // while the agent is unreachable
		afterDown string          // in completed_tasks after TEARDOWN
	}{
		{name: "partition-aware", caps: pa, want: mesos.TASK_UNREACHABLE, afterDown: "TASK_KILLED"},
		{name: "not partition-aware", want: mesos.TASK_LOST, afterDown: "TASK_LOST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, Config{Agents: 2, AllocationInterval: 50 * time.Millisecond,
				AgentPingTimeout: 300 * time.Millisecond, MaxAgentPingTimeouts: 1})
			fi := frameworkInfo("unreachable-tasks", tc.caps...)
			checkpoint := true
			fi.Checkpoint = &checkpoint
			s := subscribe(t, cl, fi, protoCodec)
			offers := s.offers()
			o := offers[0]
			agentID := o.AgentID.Value
			s.launch(o, commandTask("victim", o, "exec sleep 300"))
			s.updateAck("victim", mesos.TASK_STARTING)
			s.updateAck("victim", mesos.TASK_RUNNING)
			if err := cl.KillAgent(agentID); err != nil {
				t.Fatal(err)
			}
			s.Update("victim", tc.want)

			ids := func(list any) []string {
				var out []string
				for _, x := range list.([]any) {
					m := x.(map[string]any)
					out = append(out, m["id"].(string)+" "+m["state"].(string))
				}
				return out
			}
			want := "[victim " + tc.want.String() + "]"
			for _, path := range []string{"/state", "/frameworks"} {
				fw := frameworkIn(t, stateOf(t, cl, path), s.FrameworkID)
				if fw == nil {
					t.Fatalf("%s: framework %s not listed", path, s.FrameworkID)
				}
				if got := fmt.Sprint(ids(fw["unreachable_tasks"])); got != want {
					t.Errorf("%s unreachable_tasks: %s, want %s", path, got, want)
				}
				if got := ids(fw["completed_tasks"]); len(got) != 0 {
					t.Errorf("%s completed_tasks: %v, want none", path, got)
				}
				if got := ids(fw["tasks"]); len(got) != 0 {
					t.Errorf("%s tasks: %v, want none", path, got)
				}
			}
			if got := fmt.Sprint(ids(stateOf(t, cl, "/tasks")["tasks"])); got != want {
				t.Errorf("/tasks: %s, want %s", got, want)
			}

			// The other agent's offer: a task reusing the ID is refused.
			var other *mesos.Offer
			for i := range offers[1:] {
				other = &offers[1+i]
			}
			for other == nil || other.AgentID.Value == agentID {
				offs := s.offers()
				other = &offs[0]
			}
			s.launch(*other, commandTask("victim", *other, "exec sleep 300"))
			st := s.UpdateWhere("victim", mesos.TASK_ERROR, func(mesos.TaskStatus) bool { return true })
			if st.GetMessage() != "Task reuses the ID of an unreachable task: victim" {
				t.Errorf("relaunch of victim: %s %q, want TASK_ERROR %q", st.GetState(), st.GetMessage(), "Task reuses the ID of an unreachable task: victim")
			}

			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
			var done map[string]any
			eventually(t, "the framework completed", func() bool {
				list := stateOf(t, cl, "/state")["completed_frameworks"].([]any)
				if len(list) != 1 {
					return false
				}
				done = list[0].(map[string]any)
				return true
			})
			if got := ids(done["unreachable_tasks"]); len(got) != 0 {
				t.Errorf("completed framework's unreachable_tasks: %v, want none", got)
			}
			if got := fmt.Sprint(ids(done["completed_tasks"])); !strings.Contains(got, "victim "+tc.afterDown) {
				t.Errorf("completed framework's completed_tasks: %s, want victim %s", got, tc.afterDown)
			}
		})
	}
}
