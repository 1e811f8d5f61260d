package testenv

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/miekg/dns"
)

func query(t *testing.T, server, name string) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, server)
	return r, err
}

func TestDNS(t *testing.T) {
	cl := startCluster(t, Config{Agents: 2})
	s := subscribe(t, cl, frameworkInfo("/group/Hello_World"), protoCodec)
	o := s.offers()[0]
	task := commandTask("web-0-server", o, "exec sleep 300")
	task.Discovery = &mesos.DiscoveryInfo{Visibility: mesos.FRAMEWORK, Name: strPtr("web-disco")}
	names := []string{
		"web-0-server.group-hello-world.mesos",
		"web-0-server.grouphello-world.mesos",
		"web-0-server.grouphello-world.autoip.dcos.thisdcos.directory",
		"web-disco.group-hello-world.mesos",
	}
	expect := func(name string, rcode int, ip string) bool {
		r, err := query(t, cl.DNSAddr(), name)
		if err != nil || r.Rcode != rcode {
			return false
		}
		if ip == "" {
			return len(r.Answer) == 0
		}
		return len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == ip
	}
	for _, n := range names {
		if !expect(n, dns.RcodeNameError, "") {
			t.Errorf("%s answered before the task runs", n)
		}
	}
	s.launch(o, task)
	s.updateAck("web-0-server", mesos.TASK_STARTING)
	s.updateAck("web-0-server", mesos.TASK_RUNNING)
	for _, n := range names {
		n := n
		eventually(t, n+" → "+o.Hostname, func() bool { return expect(n, dns.RcodeSuccess, o.Hostname) })
	}
	if !expect("leader.mesos", dns.RcodeSuccess, "127.0.0.1") {
		t.Errorf("leader.mesos")
	}
	if r, err := query(t, cl.DNSAddr(), "example.com"); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("example.com: %v %v, want REFUSED", r, err)
	}
	s.MustCall(calls.Kill("web-0-server", ""))
	s.updateAck("web-0-server", mesos.TASK_KILLED)
	for _, n := range names {
		n := n
		eventually(t, n+" gone", func() bool { return expect(n, dns.RcodeNameError, "") })
	}
}

func TestDNSForward(t *testing.T) {
	// An upstream that answers everything with 192.0.2.1.
	upstream := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		rr, _ := dns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2.1")
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	upstream.NotifyStartedFunc = func() { close(started) }
	go func() { _ = upstream.ListenAndServe() }()
	<-started
	defer upstream.Shutdown()
	cl := startCluster(t, Config{DNSForward: upstream.PacketConn.LocalAddr().String()})
	r, err := query(t, cl.DNSAddr(), "example.com")
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("forwarded answer: %v %v", r, err)
	}
}

func TestStateAndFaultEndpoints(t *testing.T) {
	cl := startCluster(t, Config{Agents: 2})
	s := subscribe(t, cl, frameworkInfo("state"), protoCodec)
	o := s.offers()[0]
	s.launch(o, commandTask("st", o, "exec sleep 300"))
	s.updateAck("st", mesos.TASK_STARTING)
	s.updateAck("st", mesos.TASK_RUNNING)

	var state struct {
		Frameworks []struct {
			ID    string `json:"id"`
			Tasks []struct {
				ID, State, SlaveID string `json:"-"`
				RawID              string `json:"id"`
				RawState           string `json:"state"`
			} `json:"tasks"`
			UsedResources map[string]any `json:"used_resources"`
		} `json:"frameworks"`
		Slaves []struct {
			ID     string         `json:"id"`
			Used   map[string]any `json:"used_resources"`
			Domain map[string]any `json:"domain"`
		} `json:"slaves"`
	}
	for _, path := range []string{"/state", "/master/state", "/state.json"} {
		res, err := http.Get(cl.MasterURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&state)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, res.StatusCode, err)
		}
		if len(state.Frameworks) != 1 || len(state.Frameworks[0].Tasks) != 1 ||
			state.Frameworks[0].Tasks[0].RawState != "TASK_RUNNING" || len(state.Slaves) != 2 {
			t.Fatalf("%s: %+v", path, state)
		}
		if state.Frameworks[0].UsedResources["cpus"].(float64) != 0.1 {
			t.Errorf("used cpus %v", state.Frameworks[0].UsedResources["cpus"])
		}
	}

	post := func(path string) int {
		res, err := http.Post(cl.MasterURL()+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("/testenv/agents/nope/kill"); code != 404 {
		t.Errorf("kill unknown agent: %d", code)
	}
	if code := post("/testenv/frameworks/" + s.FrameworkID + "/executors/st/kill"); code != 200 {
		t.Errorf("kill executor: %d", code)
	}
	s.updateAck("st", mesos.TASK_FAILED)
	if code := post("/testenv/agents/" + o.AgentID.Value + "/kill"); code != 200 {
		t.Errorf("kill agent: %d", code)
	}
	if code := post("/testenv/agents/" + o.AgentID.Value + "/restart"); code != 200 {
		t.Errorf("restart agent: %d", code)
	}
	if code := post("/testenv/frameworks/" + s.FrameworkID + "/drop"); code != 200 {
		t.Errorf("drop framework: %d", code)
	}
	if !s.StreamClosed(waitLong) {
		t.Errorf("stream open after drop")
	}
}
