package mesostest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/miekg/dns"

	"github.com/taskkit/taskkit/internal/testenv/testsched"
	"github.com/taskkit/taskkit/mesostest"
)

// TestFramework drives a cluster from New with a mesos-go scheduler, as a
// framework's own test would: a command task runs, resolves in DNS, and
// fails over to TASK_LOST when its agent dies.
func TestFramework(t *testing.T) {
	cl := mesostest.New(t, mesostest.Options{Agents: 2, Attributes: map[string]string{"rack": "a"}})
	s := testsched.Subscribe(t, cl.MasterURL(), &mesos.FrameworkInfo{User: "nobody", Name: "lib"},
		testsched.Options{Codec: codecs.ByMediaType[codecs.MediaTypeProtobuf], Wait: 30 * time.Second})
	o := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "OFFERS").Offers.Offers[0]
	task := mesos.TaskInfo{
		Name: "web", TaskID: mesos.TaskID{Value: "web"}, AgentID: o.AgentID,
		Command:   &mesos.CommandInfo{Value: strPtr("exec sleep 60")},
		Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource},
	}
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunch(task)}.WithOffers(o.ID)))
	for _, state := range []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING} {
		st := s.Update("web", state)
		s.MustCall(calls.Acknowledge(st.AgentID.Value, "web", st.UUID))
	}

	m := new(dns.Msg)
	m.SetQuestion("web.lib.mesos.", dns.TypeA)
	r, err := dns.Exchange(m, cl.DNSAddr())
	if err != nil || len(r.Answer) == 0 || r.Answer[0].(*dns.A).A.String() != o.Hostname {
		t.Errorf("web.lib.mesos: %v %v, want %s", r, err, o.Hostname)
	}
	if ip := net.ParseIP(o.Hostname); ip == nil || !ip.IsLoopback() {
		t.Errorf("agent hostname %q is not a loopback address", o.Hostname)
	}

	if err := cl.KillAgent(o.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	// The framework does not checkpoint: its task is lost with the
	// connection (Master::removeFramework(Slave*, Framework*)).
	if st := s.Update("web", mesos.TASK_LOST); st.GetReason() != mesos.REASON_AGENT_DISCONNECTED {
		t.Errorf("reason %s", st.GetReason())
	}
	if err := cl.KillAgent("no-such-agent"); !errors.Is(err, mesostest.ErrUnknownAgent) {
		t.Errorf("KillAgent(unknown) = %v, want ErrUnknownAgent", err)
	}
}

// TestAgentLostQuickly: with short ping timeouts, a checkpointing
// framework learns that a killed agent's task is unreachable in well under
// a second instead of Mesos' 75-90 s; until then the master's /state still
// lists the agent's executor for that framework, as Mesos' does for a
// disconnected agent, and it is gone once the agent is unreachable.
func TestAgentLostQuickly(t *testing.T) {
	cl := mesostest.New(t, mesostest.Options{AgentPingTimeout: 100 * time.Millisecond, MaxAgentPingTimeouts: 2})
	checkpoint := true
	s := testsched.Subscribe(t, cl.MasterURL(), &mesos.FrameworkInfo{User: "nobody", Name: "lost", Checkpoint: &checkpoint,
		Capabilities: []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE}}},
		testsched.Options{Codec: codecs.ByMediaType[codecs.MediaTypeProtobuf], Wait: 10 * time.Second})
	o := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "OFFERS").Offers.Offers[0]
	task := mesos.TaskInfo{
		Name: "t", TaskID: mesos.TaskID{Value: "t"}, AgentID: o.AgentID,
		Executor: &mesos.ExecutorInfo{
			Type: mesos.ExecutorInfo_CUSTOM, ExecutorID: mesos.ExecutorID{Value: "idle"},
			Command:   &mesos.CommandInfo{Value: strPtr("exec sleep 60")}, // never subscribes: the task stays STAGING
			Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource},
		},
		Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource},
	}
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunch(task)}.WithOffers(o.ID)))
	executors := func() []string {
		t.Helper()
		res, err := http.Get(cl.MasterURL() + "/state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var state struct {
			Frameworks []struct {
				Executors []struct {
					ID      string `json:"executor_id"`
					SlaveID string `json:"slave_id"`
				} `json:"executors"`
			} `json:"frameworks"`
		}
		if err := json.NewDecoder(res.Body).Decode(&state); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, fw := range state.Frameworks {
			for _, e := range fw.Executors {
				out = append(out, e.ID+"@"+e.SlaveID)
			}
		}
		return out
	}
	want := "idle@" + o.AgentID.Value
	deadline := time.Now().Add(10 * time.Second)
	for got := executors(); len(got) != 1 || got[0] != want; got = executors() {
		if time.Now().After(deadline) {
			t.Fatalf("/state executors %v, want [%s]", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	killed := time.Now()
	if err := cl.KillAgent(o.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	if got := executors(); len(got) != 1 || got[0] != want {
		t.Errorf("/state executors of the disconnected agent %v, want [%s]", got, want)
	}
	if st := s.Update("t", mesos.TASK_UNREACHABLE); st.GetReason() != mesos.REASON_AGENT_REMOVED {
		t.Errorf("reason %s", st.GetReason())
	}
	if took := time.Since(killed); took > 5*time.Second {
		t.Errorf("TASK_UNREACHABLE %v after the kill", took)
	}
	if got := executors(); len(got) != 0 {
		t.Errorf("/state executors of the unreachable agent %v, want none", got)
	}
}

// TestDiskMountsAndReserved: a framework of a sub-role of the reserved
// role is offered the static reservation and, unreserved, the MOUNT disk.
func TestDiskMountsAndReserved(t *testing.T) {
	cl := mesostest.New(t, mesostest.Options{DiskMounts: []float64{1024}, Reserved: "cpus(slave_public):1.5;ports(slave_public):[80-80,443-443]"})
	s := testsched.Subscribe(t, cl.MasterURL(), &mesos.FrameworkInfo{User: "nobody", Name: "lib", Roles: []string{"slave_public/lib"},
		Capabilities: []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE}, {Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT}}},
		testsched.Options{Codec: codecs.ByMediaType[codecs.MediaTypeProtobuf], Wait: 30 * time.Second})
	o := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "OFFERS").Offers.Offers[0]
	var reservedCPUs float64
	var reservedPorts, mounts []string
	for _, r := range o.Resources {
		static := len(r.Reservations) == 1 && r.Reservations[0].GetType() == mesos.Resource_ReservationInfo_STATIC && r.Reservations[0].GetRole() == "slave_public"
		switch {
		case static && r.Name == "cpus":
			reservedCPUs += r.GetScalar().GetValue()
		case static && r.Name == "ports":
			for _, pr := range r.GetRanges().GetRange() {
				reservedPorts = append(reservedPorts, fmt.Sprintf("%d-%d", pr.Begin, pr.End))
			}
		case len(r.Reservations) == 0 && r.Name == "disk" && r.GetDisk().GetSource().GetType() == mesos.Resource_DiskInfo_Source_MOUNT:
			mounts = append(mounts, fmt.Sprintf("%v MB at %s", r.GetScalar().GetValue(), r.GetDisk().GetSource().GetMount().GetRoot()))
		}
	}
	if reservedCPUs != 1.5 || strings.Join(reservedPorts, ",") != "80-80,443-443" {
		t.Errorf("static reservation offered: cpus %v, ports %v; want 1.5 and 80-80,443-443", reservedCPUs, reservedPorts)
	}
	if len(mounts) != 1 || !strings.HasPrefix(mounts[0], "1024 MB at /") {
		t.Errorf("MOUNT disks offered: %v, want one of 1024 MB", mounts)
	}
}

// TestBadOptions: an invalid option is an error naming it.
func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o     mesostest.Options
		field string
	}{
		{mesostest.Options{Agents: 300}, "Agents"},
		{mesostest.Options{Ports: "nope"}, "Ports"},
		{mesostest.Options{CPUs: -1}, "CPUs"},
		{mesostest.Options{DiskMounts: []float64{2048, -1}}, "DiskMounts"},
		{mesostest.Options{Reserved: "cpus:2"}, "Reserved"},
		{mesostest.Options{Reserved: "cpus(*):2"}, "Reserved"},
		{mesostest.Options{AgentPingTimeout: -time.Second}, "AgentPingTimeout"},
		{mesostest.Options{MaxAgentPingTimeouts: -1}, "MaxAgentPingTimeouts"},
		{mesostest.Options{AgentReregisterTimeout: -time.Minute}, "AgentReregisterTimeout"},
		{mesostest.Options{Isolation: "posix/cpu,cgroups/mem"}, "Isolation"},
		{mesostest.Options{Launcher: "systemd"}, "Launcher"},
	} {
		if _, err := mesostest.Start(t.Context(), tc.o); err == nil || !strings.Contains(err.Error(), "invalid configuration: "+tc.field+": ") {
			t.Errorf("%+v: err = %v, want one naming %s", tc.o, err, tc.field)
		}
	}
}

func strPtr(s string) *string { return &s }
