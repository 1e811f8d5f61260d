package mesostest_test

import (
	"errors"
	"net"
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
	if st := s.Update("web", mesos.TASK_LOST); st.GetReason() != mesos.REASON_AGENT_REMOVED {
		t.Errorf("reason %s", st.GetReason())
	}
	if err := cl.KillAgent("no-such-agent"); !errors.Is(err, mesostest.ErrUnknownAgent) {
		t.Errorf("KillAgent(unknown) = %v, want ErrUnknownAgent", err)
	}
}

// TestBadOptions: an invalid option is an error naming it.
func TestBadOptions(t *testing.T) {
	for _, o := range []mesostest.Options{{Agents: 300}, {Ports: "nope"}, {CPUs: -1}} {
		if _, err := mesostest.Start(t.Context(), o); err == nil || !strings.Contains(err.Error(), "invalid configuration") {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}

func strPtr(s string) *string { return &s }
