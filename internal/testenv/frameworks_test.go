package testenv

import (
	"net/http"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestReadOnlyEndpointsAsMesos follows Mesos 1.11's read-only master
// endpoints (src/master/http.cpp, readonly_handler.cpp, src/common/http.cpp):
// the master's leader_info, flags, capabilities and recovered_slaves; a
// framework with "roles" when MULTI_ROLE and "role" otherwise, its
// principal and labels only when set, offer_constraints, and
// reregistered_time after a re-SUBSCRIBE; an agent with "deactivated" and
// its capabilities; offers with their allocation_info; a task with its
// limits and command user; an executor with its command (credentials
// masked, unlike Mesos). /frameworks lists the frameworks, or the one
// ?framework_id= names; /slaves the one ?slave_id= names; and all of them
// answer any method.
func TestReadOnlyEndpointsAsMesos(t *testing.T) {
	cl := startCluster(t, Config{})
	multi := frameworkInfo("multi", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	multi.Roles = []string{"a", "b"}
	multi.Labels = &mesos.Labels{Labels: []mesos.Label{{Key: "k", Value: strPtr("v")}}}
	m := subscribe(t, cl, multi, protoCodec)
	o := m.offers()[0]

	// A task with limits and a user, and a custom executor whose command
	// carries a password; then the multi-role framework suppresses its
	// offers and declines those it holds, so that the single-role one is
	// offered the rest.
	task := commandTask("limited", o, "exec sleep 60")
	task.Command.User = strPtr("nobody")
	task.Limits = map[string]mesos.Value_Scalar{"cpus": {Value: 2}}
	ei := silentExecutorInfo(m.FrameworkID, "quiet")
	ei.Command.Arguments = []string{"--url=https://user:hunter2@example.com/x"}
	m.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunch(task, execTask("on-exec", o, &ei, ""))}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
	m.MustCall(calls.Suppress())
	eventually(t, "the multi-role framework holding no offer", func() bool {
		offers := frameworkIn(t, stateOf(t, cl, "/state"), m.FrameworkID)["offers"].([]any)
		for _, of := range offers {
			m.MustCall(calls.Decline(mesos.OfferID{Value: of.(map[string]any)["id"].(string)}))
		}
		return len(offers) == 0
	})
	m.updateAck("limited", mesos.TASK_STARTING)
	single := frameworkInfo("single")
	single.Role, single.Principal = strPtr("r"), strPtr("p")
	s := subscribe(t, cl, single, jsonCodec)
	s.offers()
	eventually(t, "the executor in /state", func() bool {
		return strings.Contains(mustJSON(t, stateOf(t, cl, "/state")), `"executor_id":"quiet"`)
	})
	// The single-role framework fails over: reregistered_time.
	single.ID = &mesos.FrameworkID{Value: s.FrameworkID}
	s = subscribe(t, cl, single, jsonCodec)
	eventually(t, "an offer to the single-role framework again", func() bool {
		fw := frameworkIn(t, stateOf(t, cl, "/state"), s.FrameworkID)
		return fw != nil && len(fw["offers"].([]any)) > 0
	})

	st := stateOf(t, cl, "/state")
	// The master: Mesos' top-level fields, its flags testenv has.
	for key, want := range map[string]string{
		"recovered_slaves": `[]`,
		"capabilities":     `[]`,
		"leader_info":      `{"hostname":"127.0.0.1","id":"` + cl.masterID + `","pid":"master@` + cl.MasterAddr() + `","port":` + cl.MasterAddr()[strings.LastIndex(cl.MasterAddr(), ":")+1:] + `}`,
		"flags": `{"agent_ping_timeout":"15secs","agent_reregister_timeout":"10mins","allocation_interval":"1secs",` +
			`"authenticate_frameworks":"false","max_agent_ping_timeouts":"5","port":"` + cl.MasterAddr()[strings.LastIndex(cl.MasterAddr(), ":")+1:] + `"}`,
	} {
		if got := mustJSON(t, st[key]); got != want {
			t.Errorf("/state %q: %s, want %s", key, got, want)
		}
	}
	mf, sf := frameworkIn(t, st, m.FrameworkID), frameworkIn(t, st, s.FrameworkID)
	for _, c := range []struct {
		what string
		fw   map[string]any
		key  string
		want string // its JSON; "" for no such key
	}{
		{"multi-role", mf, "roles", `["a","b"]`},
		{"multi-role", mf, "role", ""},
		{"multi-role", mf, "principal", ""},
		{"multi-role", mf, "labels", `[{"key":"k","value":"v"}]`},
		{"multi-role", mf, "offer_constraints", `{}`},
		{"multi-role", mf, "reregistered_time", ""},
		{"single-role", sf, "role", `"r"`},
		{"single-role", sf, "roles", ""},
		{"single-role", sf, "principal", `"p"`},
		{"single-role", sf, "labels", ""},
	} {
		v, ok := c.fw[c.key]
		if got := map[bool]string{true: mustJSON(t, v)}[ok]; got != c.want {
			t.Errorf("%s framework's %q: %s, want %s", c.what, c.key, got, c.want)
		}
	}
	if sf["reregistered_time"] == nil || sf["reregistered_time"].(float64) <= sf["registered_time"].(float64) {
		t.Errorf("after a re-SUBSCRIBE: reregistered_time %v, registered_time %v", sf["reregistered_time"], sf["registered_time"])
	}
	if got := mustJSON(t, sf["offers"].([]any)[0].(map[string]any)["allocation_info"]); got != `{"role":"r"}` {
		t.Errorf("offer allocation_info %s, want {\"role\":\"r\"}", got)
	}
	for _, tk := range mf["tasks"].([]any) {
		if tk := tk.(map[string]any); tk["id"] == "limited" {
			if got := mustJSON(t, tk["limits"]); got != `{"cpus":2}` || tk["user"] != "nobody" {
				t.Errorf("task limits %s, user %v; want {\"cpus\":2}, nobody", got, tk["user"])
			}
		}
	}
	ej := mf["executors"].([]any)[0].(map[string]any)
	if got := mustJSON(t, ej["command"]); ej["role"] != "a" || strings.Contains(got, "hunter2") ||
		!strings.Contains(got, `"argv":["--url=https://user:********@example.com/x"]`) || !strings.Contains(got, `"value":"exec sleep 60"`) || strings.Contains(got, "environment") {
		t.Errorf("executor role %v, command %s; want role a, the command without the password or environment", ej["role"], got)
	}

	// /frameworks, whole and filtered.
	fws := stateOf(t, cl, "/frameworks")
	if len(fws["frameworks"].([]any)) != 2 || fws["completed_frameworks"] == nil || mustJSON(t, fws["unregistered_frameworks"]) != "[]" {
		t.Errorf("/frameworks: %s", mustJSON(t, fws))
	}
	if got := stateOf(t, cl, "/master/frameworks?framework_id="+s.FrameworkID)["frameworks"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != s.FrameworkID {
		t.Errorf("/master/frameworks?framework_id=%s: %s", s.FrameworkID, mustJSON(t, got))
	}
	if got := stateOf(t, cl, "/frameworks?framework_id=")["frameworks"].([]any); len(got) != 0 {
		t.Errorf("/frameworks?framework_id= lists %d frameworks, want none", len(got))
	}
	if got := stateOf(t, cl, "/slaves?slave_id="+o.AgentID.Value)["slaves"].([]any); len(got) != 1 {
		t.Errorf("/slaves?slave_id=%s lists %d agents, want 1", o.AgentID.Value, len(got))
	} else if a := got[0].(map[string]any); a["deactivated"] != false ||
		mustJSON(t, a["capabilities"]) != `["MULTI_ROLE","HIERARCHICAL_ROLE","RESERVATION_REFINEMENT","AGENT_OPERATION_FEEDBACK"]` {
		t.Errorf("agent deactivated %v, capabilities %s", a["deactivated"], mustJSON(t, a["capabilities"]))
	}
	if got := stateOf(t, cl, "/slaves?slave_id=nope")["slaves"].([]any); len(got) != 0 {
		t.Errorf("/slaves?slave_id=nope lists %d agents, want none", len(got))
	}
	for _, p := range []string{"/state", "/slaves", "/frameworks"} {
		res, err := http.Post(cl.MasterURL()+p, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("POST %s: %d %s, want 200 application/json", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// frameworkIn is framework id in a /state answer, or nil.
func frameworkIn(t *testing.T, st map[string]any, id string) map[string]any {
	t.Helper()
	for _, fw := range st["frameworks"].([]any) {
		if fw := fw.(map[string]any); fw["id"] == id {
			return fw
		}
	}
	return nil
}
