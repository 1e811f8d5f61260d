package testenv

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

func TestCommandTaskLifecycle(t *testing.T) {
	cl := startCluster(t, Config{Agents: 2, Attributes: map[string]string{"rack": "r1"}})
	for _, tc := range []struct {
		name  string
		codec encoding.Codec
	}{
		{"protobuf", protoCodec},
		{"json", jsonCodec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := subscribe(t, cl, frameworkInfo("lifecycle-"+tc.name), tc.codec)
			offers := s.offers()
			o := offers[0]
			checkOffer(t, cl, o)

			s.launch(o,
				commandTask("ok", o, "echo hello; exit 0"),
				commandTask("bad", o, "exit 3"),
			)
			for _, id := range []string{"ok", "bad"} {
				st := s.updateAck(id, mesos.TASK_STARTING)
				if st.GetSource() != mesos.SOURCE_EXECUTOR || len(st.UUID) != 16 || st.AgentID == nil {
					t.Errorf("%s STARTING: source %s uuid %d bytes agent %v", id, st.GetSource(), len(st.UUID), st.AgentID)
				}
				run := s.updateAck(id, mesos.TASK_RUNNING)
				if cs := run.ContainerStatus; cs == nil || len(cs.NetworkInfos) == 0 || cs.NetworkInfos[0].IPAddresses[0].GetIPAddress() == "" {
					t.Errorf("%s RUNNING has no container IP: %+v", id, run.ContainerStatus)
				}
			}
			fin := s.updateAck("ok", mesos.TASK_FINISHED)
			if !strings.Contains(fin.GetMessage(), "status 0") {
				t.Errorf("FINISHED message %q", fin.GetMessage())
			}
			failed := s.updateAck("bad", mesos.TASK_FAILED)
			if got := failed.GetMessage(); got != "Command exited with status 3" {
				t.Errorf("FAILED message %q", got)
			}
			eventually(t, "tasks completed in state", func() bool {
				for _, fw := range cl.State().Frameworks {
					if fw.ID == s.FrameworkID {
						return len(fw.Tasks) == 0 && len(fw.Completed) == 2
					}
				}
				return false
			})
			// The sandbox has Mesos' layout and the task's stdout.
			out := readSandboxFile(t, cl, s.FrameworkID, "ok", "stdout")
			if !strings.Contains(out, "hello") {
				t.Errorf("stdout = %q", out)
			}
			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}

func checkOffer(t *testing.T, cl *Cluster, o mesos.Offer) {
	t.Helper()
	if o.ID.Value == "" || o.AgentID.Value == "" || o.Hostname == "" || o.FrameworkID.Value == "" {
		t.Errorf("offer lacks required fields: %+v", o)
	}
	if cpus, _ := resources.CPUs(o.Resources...); cpus != 4 {
		t.Errorf("offer cpus = %v, want 4", cpus)
	}
	if mem, _ := resources.Memory(o.Resources...); mem != 8192 {
		t.Errorf("offer mem = %v", mem)
	}
	if disk, _ := resources.Disk(o.Resources...); disk != 16384 {
		t.Errorf("offer disk = %v", disk)
	}
	// Every unprivileged port but those held on the agent's address or
	// the wildcard address: its own listener's port among them.
	ports, _ := resources.Ports(o.Resources...)
	agentPort := uint64(0)
	for _, a := range cl.Agents() {
		if a.ID == o.AgentID.Value {
			_, p, _ := net.SplitHostPort(a.Endpoint)
			agentPort, _ = strconv.ParseUint(p, 10, 16)
		}
	}
	if len(ports) == 0 || ports[0].Begin < 1024 || ports[len(ports)-1].End != 65535 || ports.Size() < 60000 ||
		agentPort == 0 || ports.Search(agentPort) >= 0 {
		t.Errorf("offer ports = %v (agent port %d)", ports, agentPort)
	}
	for _, r := range o.Resources {
		if r.GetRole() != "*" {
			t.Errorf("resource %s role %q, want *", r.Name, r.GetRole())
		}
	}
	if len(o.Attributes) != 1 || o.Attributes[0].Name != "rack" || o.Attributes[0].Text.GetValue() != "r1" {
		t.Errorf("attributes = %+v", o.Attributes)
	}
	fd := o.GetDomain().GetFaultDomain()
	if fd == nil || fd.Region.Name != "region-1" || !strings.HasPrefix(fd.Zone.Name, "zone-") {
		t.Errorf("fault domain = %+v", fd)
	}
	var found bool
	for _, a := range cl.Agents() {
		if a.ID == o.AgentID.Value && a.Hostname == o.Hostname {
			found = true
		}
	}
	if !found {
		t.Errorf("offer agent %s/%s is not a cluster agent", o.AgentID.Value, o.Hostname)
	}
}

func readSandboxFile(t *testing.T, cl *Cluster, fid, eid, name string) string {
	t.Helper()
	for _, a := range cl.State().Agents {
		p := cl.WorkDir() + "/slaves/" + a.ID + "/frameworks/" + fid + "/executors/" + eid + "/runs/latest/" + name
		if b, err := readFile(p); err == nil {
			return string(b)
		}
	}
	t.Fatalf("no sandbox file %s for executor %s", name, eid)
	return ""
}

func TestKillCommandTask(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("kill", mesos.FrameworkInfo_Capability_TASK_KILLING_STATE), protoCodec)
	o := s.offers()[0]
	polite := commandTask("polite", o, "exec sleep 300")
	stubborn := commandTask("stubborn", o, "trap '' TERM; sleep 300 & wait; sleep 300")
	stubborn.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(500 * time.Millisecond)}}
	s.launch(o, polite, stubborn)
	for _, id := range []string{"polite", "stubborn"} {
		s.updateAck(id, mesos.TASK_STARTING)
		s.updateAck(id, mesos.TASK_RUNNING)
	}
	for _, id := range []string{"polite", "stubborn"} {
		s.MustCall(calls.Kill(id, o.AgentID.Value))
		s.updateAck(id, mesos.TASK_KILLING)
		st := s.updateAck(id, mesos.TASK_KILLED)
		if st.GetSource() != mesos.SOURCE_EXECUTOR {
			t.Errorf("%s KILLED source %s", id, st.GetSource())
		}
	}
	// KILL of an unknown task is answered by reconciliation.
	s.MustCall(calls.Kill("nope", ""))
	st := s.Update("nope", mesos.TASK_LOST)
	if st.GetReason() != mesos.REASON_RECONCILIATION || len(st.UUID) != 0 {
		t.Errorf("unknown-task KILL answer: reason %s uuid %x", st.GetReason(), st.UUID)
	}
}

func TestStatusUpdatesRetriedUntilAcknowledged(t *testing.T) {
	cl := startCluster(t, Config{StatusUpdateRetry: 200 * time.Millisecond})
	s := subscribe(t, cl, frameworkInfo("retry"), protoCodec)
	o := s.offers()[0]
	s.launch(o, commandTask("t", o, "exit 0"))
	first := s.Update("t", mesos.TASK_STARTING)
	again := s.Update("t", mesos.TASK_STARTING) // not acknowledged: sent again, same uuid
	if string(first.UUID) != string(again.UUID) {
		t.Fatalf("retry has a different uuid")
	}
	// Nothing later is sent before the head is acknowledged.
	for _, e := range s.Pending() {
		if e.Type == scheduler.Event_UPDATE && e.Update.Status.GetState() != mesos.TASK_STARTING {
			t.Errorf("update %s sent before STARTING was acknowledged", e.Update.Status.GetState())
		}
	}
	s.ack(first)
	s.updateAck("t", mesos.TASK_RUNNING)
	s.updateAck("t", mesos.TASK_FINISHED)
}

func TestReconcile(t *testing.T) {
	cl := startCluster(t, Config{})
	for _, tc := range []struct {
		name         string
		caps         []mesos.FrameworkInfo_Capability_Type
		knownAgent   mesos.TaskState
		unknownAgent mesos.TaskState
	}{
		{"plain", nil, mesos.TASK_LOST, mesos.TASK_LOST},
		{"partition-aware", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}, mesos.TASK_GONE, mesos.TASK_UNKNOWN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := subscribe(t, cl, frameworkInfo("reconcile-"+tc.name, tc.caps...), protoCodec)
			o := s.offers()[0]
			s.launch(o, commandTask("r", o, "exec sleep 300"))
			s.updateAck("r", mesos.TASK_STARTING)
			s.updateAck("r", mesos.TASK_RUNNING)

			s.MustCall(calls.Reconcile())
			st := s.Update("r", mesos.TASK_RUNNING)
			if st.GetReason() != mesos.REASON_RECONCILIATION || st.GetSource() != mesos.SOURCE_MASTER || len(st.UUID) != 0 {
				t.Errorf("implicit answer: %s %s uuid %x", st.GetSource(), st.GetReason(), st.UUID)
			}
			s.MustCall(calls.Reconcile(calls.ReconcileTasks(map[string]string{
				"r": "", "ghost": o.AgentID.Value, "phantom": "",
			})))
			s.Update("r", mesos.TASK_RUNNING)
			s.Update("ghost", tc.knownAgent)
			s.Update("phantom", tc.unknownAgent)
			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}

// TestReconcileAnswersTheForwardedState follows Master::reconcile and
// Master::forward (src/master/master.cpp): the master answers with the
// state of the update its agent is forwarding (Task.status_update_state),
// the head of the task's unacknowledged updates, not a later state only
// the agent knows yet.
func TestReconcileAnswersTheForwardedState(t *testing.T) {
	cl := startCluster(t, Config{StatusUpdateRetry: time.Hour})
	s := subscribe(t, cl, frameworkInfo("reconcile-head"), protoCodec)
	o := s.offers()[0]
	s.launch(o, commandTask("slow-ack", o, "exec sleep 300"))
	starting := s.Update("slow-ack", mesos.TASK_STARTING) // not acknowledged yet
	eventually(t, "TASK_RUNNING on the agent", func() bool {
		ts, ok := taskIn(cl.State(), s.FrameworkID, "slow-ack")
		return ok && ts.State == mesos.TASK_RUNNING
	})
	isAnswer := func(st mesos.TaskStatus) bool { return st.GetReason() == mesos.REASON_RECONCILIATION }
	s.MustCall(calls.Reconcile())
	st := s.UpdateWhere("slow-ack", mesos.TASK_STARTING, isAnswer)
	if len(st.UUID) != 0 || st.GetMessage() != "Reconciliation: Latest task state" || st.GetSource() != mesos.SOURCE_MASTER {
		t.Errorf("answer: %s uuid %x %q", st.GetSource(), st.UUID, st.GetMessage())
	}
	// Once STARTING is acknowledged the agent forwards RUNNING: that is the answer.
	s.ack(starting)
	s.updateAck("slow-ack", mesos.TASK_RUNNING)
	s.MustCall(calls.Reconcile())
	s.UpdateWhere("slow-ack", mesos.TASK_RUNNING, isAnswer)
}
