package testenv

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/redact"
)

// readonlySetup starts a cluster with one agent, a static reservation for
// role "pub" (1 cpu, ports 30000-30001), and a framework of role "web/a"
// that ran task "first" to TASK_FINISHED, then launched "second" (a
// container with a SECRET volume given by value) and holds it
// TASK_RUNNING, and holds no offer (suppressed, the rest declined). It
// returns the cluster, the framework and the secret.
func readonlySetup(t *testing.T) (*Cluster, *sched, string) {
	t.Helper()
	cl := startCluster(t, Config{Reserved: "cpus(pub):1;ports(pub):[30000-30001]", Ports: "30000-30010", AllocationInterval: 50 * time.Millisecond})
	fi := frameworkInfo("readonly")
	fi.Role = strPtr("web/a")
	fi.WebUiURL = strPtr("http://admin:webui-pa55word@ui.example:8080/")
	s := subscribe(t, cl, fi, protoCodec)
	o := s.offers()[0]
	s.launch(o, commandTask("first", o, "true"))
	for _, state := range []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED} {
		s.updateAck("first", state)
	}
	const secret = "readonly-5ecret-volume-31"
	o = s.offers()[0]
	second := commandTask("second", o, "exec sleep 60")
	second.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []mesos.Volume{{
		ContainerPath: "secret", Mode: mesos.RO.Enum(),
		Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SECRET, Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(secret)}}},
	}}}
	// A health check (never run: an hour's delay) whose command has the
	// secret in a SECRET variable given by value and in a secret-named
	// one.
	delay := 3600.0
	second.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, DelaySeconds: &delay, Command: &mesos.CommandInfo{
		Value: strPtr("true"), Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
			{Name: "CHECK_SECRET", Type: mesos.Environment_Variable_SECRET.Enum(), Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(secret)}}},
			{Name: "CHECK_PASSWORD", Value: strPtr(secret)},
		}}}}
	s.launch(o, second)
	s.updateAck("second", mesos.TASK_STARTING)
	s.updateAck("second", mesos.TASK_RUNNING)
	s.MustCall(calls.Suppress())
	eventually(t, "the framework holding no offer", func() bool {
		offers := frameworkIn(t, stateOf(t, cl, "/state"), s.FrameworkID)["offers"].([]any)
		for _, of := range offers {
			s.MustCall(calls.Decline(mesos.OfferID{Value: of.(map[string]any)["id"].(string)}))
		}
		return len(offers) == 0
	})
	return cl, s, secret
}

// TestStateSummaryTasksRolesFlags follows Mesos 1.11's /state-summary,
// /tasks, /roles and /flags (ReadOnlyHandler::stateSummary, tasks, roles
// in src/master/readonly_handler.cpp; Master::Http::flags in
// src/master/http.cpp; Master::knownRoles and RoleResourceBreakdown in
// src/master/master.cpp; ResourceQuantities in
// src/common/resource_quantities.cpp): their fields, /tasks' query
// parameters as Mesos reads them (numify<int>, size_t arithmetic, the
// TaskComparator orders), the secret of a task's container masked in
// /tasks as in /state, the /master/ aliases, any method, and ?jsonp=.
func TestStateSummaryTasksRolesFlags(t *testing.T) {
	cl, s, secret := readonlySetup(t)
	fid := s.FrameworkID
	st := stateOf(t, cl, "/state")
	agentID := st["slaves"].([]any)[0].(map[string]any)["id"].(string)

	t.Run("state-summary", func(t *testing.T) {
		sum := stateOf(t, cl, "/master/state-summary")
		if got := sortedKeysOf(sum); got != "frameworks hostname slaves" || sum["hostname"] != "127.0.0.1" {
			t.Errorf("keys %s, hostname %v; want frameworks hostname slaves, 127.0.0.1", got, sum["hostname"])
		}
		counts := `TASK_ERROR TASK_FAILED TASK_FINISHED TASK_KILLED TASK_KILLING TASK_LOST TASK_RUNNING TASK_STAGING TASK_STARTING TASK_UNREACHABLE`
		a := sum["slaves"].([]any)[0].(map[string]any)
		if got, want := sortedKeysOf(a), counts+" active attributes capabilities deactivated domain framework_ids hostname id offered_resources pid port registered_time reserved_resources resources unreserved_resources used_resources version"; got != want {
			t.Errorf("agent keys\n%s, want\n%s", got, want)
		}
		f := sum["frameworks"].([]any)[0].(map[string]any)
		if got, want := sortedKeysOf(f), counts+" active capabilities connected hostname id name offered_resources recovered slave_ids used_resources webui_url"; got != want {
			t.Errorf("framework keys\n%s, want\n%s", got, want)
		}
		full := frameworkOf(t, st, fid)
		for _, c := range []struct {
			what string
			got  any
			want string
		}{
			{"agent's id", a["id"], `"` + agentID + `"`},
			{"agent's framework_ids", a["framework_ids"], `["` + fid + `"]`},
			{"agent's TASK_FINISHED", a["TASK_FINISHED"], `1`},
			{"agent's TASK_RUNNING", a["TASK_RUNNING"], `1`},
			{"agent's TASK_STAGING", a["TASK_STAGING"], `0`},
			{"agent's resources, as /state", a["resources"], mustJSON(t, st["slaves"].([]any)[0].(map[string]any)["resources"])},
			{"framework's slave_ids", f["slave_ids"], `["` + agentID + `"]`},
			{"framework's TASK_FINISHED", f["TASK_FINISHED"], `1`},
			{"framework's TASK_RUNNING", f["TASK_RUNNING"], `1`},
			{"framework's used_resources, as /state", f["used_resources"], mustJSON(t, full["used_resources"])},
			{"framework's connected", f["connected"], `true`},
			// Unlike Mesos, which writes it as given: a URL's password is
			// masked, as everywhere in testenv's answers.
			{"framework's webui_url", f["webui_url"], `"http://admin:` + redact.Mask + `@ui.example:8080/"`},
			{"framework's webui_url in /state", full["webui_url"], `"http://admin:` + redact.Mask + `@ui.example:8080/"`},
		} {
			if got := mustJSON(t, c.got); got != c.want {
				t.Errorf("%s: %s, want %s", c.what, got, c.want)
			}
		}
	})

	t.Run("tasks", func(t *testing.T) {
		for _, c := range []struct {
			query string
			want  string // the IDs of the tasks listed, in order
		}{
			{"", "second first"},
			{"?order=asc", "first second"},
			{"?order=desc", "second first"},
			{"?order=ASC", "second first"}, // only "asc" is ascending
			{"?limit=1", "second"},
			{"?limit=1&order=asc", "first"},
			{"?offset=1", "first"},
			{"?offset=2", ""},
			{"?limit=0", ""},
			{"?limit=0x1", "second"},               // numify<int> reads hexadecimal
			{"?limit=0x1g", "second"},              // up to the first non-hex digit, as an istream
			{"?limit=0x", "second first"},          // no hex digit: the default
			{"?offset=-0x80000000", ""},            // int's minimum: near 2^64 as a size_t
			{"?limit=0x80000000", "second first"},  // beyond int: the default
			{"?limit=0x1p", "second first"},        // "p" anywhere: the default
			{"?limit=%2B1", "second"},              // "+1"
			{"?limit=+1", "second first"},          // " 1": a query's "+" is a space
			{"?limit=one", "second first"},         // malformed: the default, 100
			{"?limit=1.5", "second first"},         // not an int either
			{"?limit=-1", "second first"},          // SIZE_MAX
			{"?limit=-1&offset=1", ""},             // 1 + SIZE_MAX wraps to 0
			{"?offset=-1", ""},                     // from SIZE_MAX
			{"?limit=99999999999", "second first"}, // beyond int: the default
			{"?task_id=first", "first"},
			{"?task_id=", ""},
			{"?task_id=nope", ""},
			{"?framework_id=" + fid + "&task_id=second", "second"},
			{"?framework_id=" + fid, "second first"},
			{"?framework_id=", ""},
			// libprocess' query::decode: the last of a parameter given
			// twice counts, and ";" separates parameters as "&" does.
			{"?limit=0&limit=1", "second"},
			{"?order=asc&order=des", "second first"},
			{"?task_id=first&task_id=second", "second"},
			{"?limit=1;order=asc", "first"},
			{"?order=asc;limit=1&offset=1", "second"},
		} {
			var ids []string
			for _, tk := range stateOf(t, cl, "/tasks"+c.query)["tasks"].([]any) {
				ids = append(ids, tk.(map[string]any)["id"].(string))
			}
			if got := strings.Join(ids, " "); got != c.want {
				t.Errorf("/tasks%s: %q, want %q", c.query, got, c.want)
			}
		}
		// Each task as /state writes it, the secrets of its container and
		// its health check's command masked.
		body := string(get(t, cl.MasterURL()+"/master/tasks?task_id=second"))
		if b64 := base64.StdEncoding.EncodeToString; strings.Contains(body, secret) || strings.Contains(body, b64([]byte(secret))) ||
			strings.Count(body, `"data":"`+b64([]byte(redact.Mask))+`"`) != 2 || !strings.Contains(body, `"value":"`+redact.Mask+`"`) {
			t.Errorf("/tasks shows the secret, or no mask: %s", body)
		}
		var inState any
		for _, tk := range frameworkOf(t, st, fid)["tasks"].([]any) {
			if tk.(map[string]any)["id"] == "second" {
				inState = tk
			}
		}
		if got, want := mustJSON(t, stateOf(t, cl, "/tasks?task_id=second")["tasks"].([]any)[0]), mustJSON(t, inState); got != want {
			t.Errorf("/tasks' task\n%s, /state's\n%s", got, want)
		}
	})

	t.Run("roles", func(t *testing.T) {
		// pub: reserved on the agent, unused; web/a: the running task's
		// 0.1 cpus and 32 MB; web: its ancestor, no framework of its own.
		want := `[` +
			`{"allocated":{},"frameworks":[],"name":"pub","offered":{},"quota":{"consumed":{"cpus":1,"ports":2},"guarantee":{},"limit":{},"role":"pub"},"reserved":{"cpus":1,"ports":2},"resources":{},"weight":1},` +
			`{"allocated":{"cpus":0.1,"mem":32},"frameworks":[],"name":"web","offered":{},"quota":{"consumed":{"cpus":0.1,"mem":32},"guarantee":{},"limit":{},"role":"web"},"reserved":{},"resources":{"cpus":0.1,"mem":32},"weight":1},` +
			`{"allocated":{"cpus":0.1,"mem":32},"frameworks":["` + fid + `"],"name":"web/a","offered":{},"quota":{"consumed":{"cpus":0.1,"mem":32},"guarantee":{},"limit":{},"role":"web/a"},"reserved":{},"resources":{"cpus":0.1,"mem":32},"weight":1}]`
		if got := mustJSON(t, stateOf(t, cl, "/master/roles")["roles"]); got != want {
			t.Errorf("/roles\n%s, want\n%s", got, want)
		}
	})

	t.Run("flags", func(t *testing.T) {
		if got, want := mustJSON(t, stateOf(t, cl, "/flags")), mustJSON(t, map[string]any{"flags": st["flags"]}); got != want {
			t.Errorf("/flags %s, want /state's flags: %s", got, want)
		}
	})

	t.Run("methods and jsonp", func(t *testing.T) {
		for _, p := range []string{"/state-summary", "/master/state-summary", "/tasks", "/master/tasks", "/roles", "/master/roles", "/flags", "/master/flags"} {
			res, err := http.Post(cl.MasterURL()+p, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("POST %s: %d %s, want 200 application/json", p, res.StatusCode, res.Header.Get("Content-Type"))
			}
			res, err = http.Get(cl.MasterURL() + p + "?jsonp=cb")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.Header.Get("Content-Type") != "text/javascript" || !strings.HasPrefix(string(b), "cb({") || !strings.HasSuffix(string(b), "})") {
				t.Errorf("GET %s?jsonp=cb: %s %.60s..., want text/javascript cb({...})", p, res.Header.Get("Content-Type"), b)
			}
		}
		// Mesos 1.11 has no .json aliases of these.
		for _, p := range []string{"/tasks.json", "/state-summary.json", "/master/tasks.json"} {
			res, err := http.Get(cl.MasterURL() + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
			}
		}
	})

	// Torn down, the framework is a completed one: /tasks still lists its
	// tasks ("second" now TASK_KILLED by the master), /state-summary
	// neither it nor its tasks (it counts the registered frameworks'),
	// and /roles only the agent's reservation role.
	t.Run("completed framework", func(t *testing.T) {
		s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		eventually(t, "the framework completed", func() bool {
			return len(stateOf(t, cl, "/state")["completed_frameworks"].([]any)) == 1
		})
		var listed []string
		for _, tk := range stateOf(t, cl, "/tasks?framework_id="+fid)["tasks"].([]any) {
			listed = append(listed, tk.(map[string]any)["id"].(string)+" "+tk.(map[string]any)["state"].(string))
		}
		if got := strings.Join(listed, ", "); got != "second TASK_KILLED, first TASK_FINISHED" {
			t.Errorf("/tasks?framework_id=%s: %s, want second TASK_KILLED, first TASK_FINISHED", fid, got)
		}
		sum := stateOf(t, cl, "/state-summary")
		a := sum["slaves"].([]any)[0].(map[string]any)
		if got := mustJSON(t, sum["frameworks"]); got != "[]" || mustJSON(t, a["framework_ids"]) != "[]" || a["TASK_FINISHED"] != 0.0 || a["TASK_KILLED"] != 0.0 {
			t.Errorf("/state-summary: frameworks %s, the agent's framework_ids %s, TASK_FINISHED %v, TASK_KILLED %v; want none and 0",
				got, mustJSON(t, a["framework_ids"]), a["TASK_FINISHED"], a["TASK_KILLED"])
		}
		var roles []string
		for _, r := range stateOf(t, cl, "/roles")["roles"].([]any) {
			roles = append(roles, r.(map[string]any)["name"].(string))
		}
		if got := strings.Join(roles, " "); got != "pub" {
			t.Errorf("/roles lists %q, want pub", got)
		}
	})
}

// frameworkOf is framework id of a /state answer; the test fails without it.
func frameworkOf(t *testing.T, st map[string]any, id string) map[string]any {
	t.Helper()
	fw := frameworkIn(t, st, id)
	if fw == nil {
		t.Fatalf("no framework %s in /state", id)
	}
	return fw
}

// sortedKeysOf is m's keys, sorted, separated by spaces.
func sortedKeysOf(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// TestMetricsSnapshot follows the Mesos 1.11 master's metrics
// (src/master/metrics.cpp; their values as Master::_slaves_connected ...,
// _tasks_staging ..., _resources_total/used/percent in
// src/master/master.cpp compute them; the ended-task counters as
// Master::updateTask and Master::_accept count them, and
// Metrics::incrementTasksStates' per-reason counters in v0 names) served
// as libprocess' /metrics/snapshot does (metrics.cpp): every metric
// testenv counts, computed from the cluster, none made up; ?timeout=
// checked as a duration; ?jsonp=; any method.
func TestMetricsSnapshot(t *testing.T) {
	cl, _, _ := readonlySetup(t)
	agentID := stateOf(t, cl, "/state")["slaves"].([]any)[0].(map[string]any)["id"].(string)
	// A second framework: one task refused (TASK_ERROR, from the
	// master), one killed; then it declines its offers for an hour.
	other := subscribe(t, cl, frameworkInfo("other"), protoCodec)
	o := other.offers()[0]
	bad := commandTask("bad", o, "true")
	bad.Resources = []mesos.Resource{resources.NewCPUs(1000).Resource}
	other.launch(o, bad, commandTask("victim", o, "exec sleep 60"))
	other.Update("bad", mesos.TASK_ERROR) // from the master: no uuid, no ack
	other.updateAck("victim", mesos.TASK_STARTING)
	other.updateAck("victim", mesos.TASK_RUNNING)
	other.MustCall(calls.Kill("victim", agentID))
	other.updateAck("victim", mesos.TASK_KILLED)
	eventually(t, "no outstanding offer", func() bool {
		offers := frameworkIn(t, stateOf(t, cl, "/state"), other.FrameworkID)["offers"].([]any)
		for _, of := range offers {
			other.MustCall(calls.Decline(mesos.OfferID{Value: of.(map[string]any)["id"].(string)}).With(calls.RefuseSeconds(time.Hour)))
		}
		return len(offers) == 0
	})

	snapshot := func(t *testing.T) map[string]float64 {
		t.Helper()
		var m map[string]float64
		if err := json.Unmarshal(get(t, cl.MasterURL()+"/metrics/snapshot"), &m); err != nil {
			t.Fatal(err)
		}
		if up := m["master/uptime_secs"]; up <= 0 || up > time.Since(cl.started).Seconds() {
			t.Errorf("master/uptime_secs %v, want in (0, %v]", up, time.Since(cl.started).Seconds())
		}
		delete(m, "master/uptime_secs")
		return m
	}
	// zero is every metric at 0 but master/elected.
	zero := func() map[string]float64 {
		m := map[string]float64{"master/elected": 1}
		for _, k := range []string{"slaves_connected", "slaves_disconnected", "slaves_active", "slaves_inactive", "slaves_unreachable",
			"frameworks_connected", "frameworks_disconnected", "frameworks_active", "frameworks_inactive", "outstanding_offers",
			"tasks_staging", "tasks_starting", "tasks_running", "tasks_killing", "tasks_unreachable",
			"tasks_finished", "tasks_failed", "tasks_killed", "tasks_lost", "tasks_error", "tasks_dropped", "tasks_gone", "tasks_gone_by_operator"} {
			m["master/"+k] = 0
		}
		for _, r := range []string{"cpus", "gpus", "mem", "disk"} {
			for _, k := range []string{"_total", "_used", "_percent", "_revocable_total", "_revocable_used", "_revocable_percent"} {
				m["master/"+r+k] = 0
			}
		}
		return m
	}
	// The agent: 4 cpus and 1 reserved for pub, 8192 MB, 16384 MB of disk
	// (Config's defaults); "second" uses 0.1 cpus and 32 MB.
	want := zero()
	for k, v := range map[string]float64{
		"slaves_connected": 1, "slaves_active": 1, "frameworks_connected": 2, "frameworks_active": 2,
		"tasks_running": 1, "tasks_finished": 1, "tasks_killed": 1, "tasks_error": 1,
		"cpus_total": 5, "cpus_used": 0.1, "cpus_percent": 0.1 / 5,
		"mem_total": 8192, "mem_used": 32, "mem_percent": 32.0 / 8192, "disk_total": 16384,
	} {
		want["master/"+k] = v
	}
	want["master/task_error/source_master/reason_task_invalid"] = 1
	if got := snapshot(t); mustJSON(t, got) != mustJSON(t, want) {
		t.Errorf("/metrics/snapshot\n%s, want\n%s", mustJSON(t, got), mustJSON(t, want))
	}

	// The agent killed: disconnected and inactive; "second", of a
	// framework that does not checkpoint, TASK_LOST at once, counted with
	// its reason in Mesos' v0 names (SLAVE for AGENT).
	if err := cl.KillAgent(agentID); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{
		"slaves_connected": 0, "slaves_active": 0, "slaves_disconnected": 1, "slaves_inactive": 1,
		"tasks_running": 0, "tasks_lost": 1, "cpus_used": 0, "cpus_percent": 0, "mem_used": 0, "mem_percent": 0,
	} {
		want["master/"+k] = v
	}
	want["master/task_lost/source_master/reason_slave_disconnected"] = 1
	if got := snapshot(t); mustJSON(t, got) != mustJSON(t, want) {
		t.Errorf("/metrics/snapshot after the agent's kill\n%s, want\n%s", mustJSON(t, got), mustJSON(t, want))
	}

	for _, c := range []struct {
		method, query string
		code          int
		contentType   string
		body          string // its start
	}{
		{"GET", "?timeout=5secs", http.StatusOK, "application/json", `{"master/cpus_percent":`},
		{"POST", "", http.StatusOK, "application/json", `{"master/cpus_percent":`},
		{"GET", "?jsonp=cb", http.StatusOK, "text/javascript", `cb({"master/cpus_percent":`},
		{"GET", "?timeout=5s", http.StatusBadRequest, "text/plain; charset=utf-8", `Invalid timeout '5s': `},
		{"GET", "?timeout=", http.StatusBadRequest, "text/plain; charset=utf-8", `Invalid timeout '': `},
		// As libprocess reads a query: the last of a parameter given twice,
		// ";" between parameters.
		{"GET", "?timeout=5s&timeout=5secs", http.StatusOK, "application/json", `{"master/cpus_percent":`},
		{"GET", "?timeout=5secs&timeout=5s", http.StatusBadRequest, "text/plain; charset=utf-8", `Invalid timeout '5s': `},
		{"GET", "?timeout=5secs;jsonp=cb", http.StatusOK, "text/javascript", `cb({"master/cpus_percent":`},
	} {
		req, _ := http.NewRequest(c.method, cl.MasterURL()+"/metrics/snapshot"+c.query, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.code || res.Header.Get("Content-Type") != c.contentType || !strings.HasPrefix(string(b), c.body) {
			t.Errorf("%s /metrics/snapshot%s: %d %s %.80q, want %d %s %q...", c.method, c.query, res.StatusCode, res.Header.Get("Content-Type"), b, c.code, c.contentType, c.body)
		}
	}
}

// TestMetricsAgentUnreachable follows the master's counters when an agent
// is marked unreachable (Master::__removeSlave, Master::updateTask in
// src/master/master.cpp): updateTask counts a task's transition to a
// terminal state or to TASK_UNREACHABLE, the latter only by its state,
// source and reason (TASK_UNREACHABLE has a gauge, no counter), so a
// PARTITION_AWARE framework's task counts
// master/task_unreachable/source_master/reason_slave_removed once, and
// another's TASK_LOST counts master/tasks_lost and its reason.
func TestMetricsAgentUnreachable(t *testing.T) {
	pa := []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}
	for _, tc := range []struct {
		name string
		caps []mesos.FrameworkInfo_Capability_Type
		end  mesos.TaskState
		want map[string]float64 // beyond the 0 of every task metric
	}{
		{"partition-aware", pa, mesos.TASK_UNREACHABLE, map[string]float64{
			"master/tasks_unreachable": 1, "master/task_unreachable/source_master/reason_slave_removed": 1}},
		{"not partition-aware", nil, mesos.TASK_LOST, map[string]float64{
			"master/tasks_lost": 1, "master/task_lost/source_master/reason_slave_removed": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond,
				AgentPingTimeout: 300 * time.Millisecond, MaxAgentPingTimeouts: 2})
			fi := frameworkInfo("unreachable", tc.caps...)
			checkpoint := true
			fi.Checkpoint = &checkpoint
			s := subscribe(t, cl, fi, protoCodec)
			o := s.offers()[0]
			s.launch(o, commandTask("victim", o, "exec sleep 300"))
			s.updateAck("victim", mesos.TASK_STARTING)
			s.updateAck("victim", mesos.TASK_RUNNING)
			if err := cl.KillAgent(o.AgentID.Value); err != nil {
				t.Fatal(err)
			}
			s.Update("victim", tc.end)
			eventually(t, "the agent unreachable", func() bool {
				return stateOf(t, cl, "/state")["unreachable_slaves"] == 1.0
			})
			var m map[string]float64
			if err := json.Unmarshal(get(t, cl.MasterURL()+"/metrics/snapshot"), &m); err != nil {
				t.Fatal(err)
			}
			got, want := map[string]float64{}, map[string]float64{}
			for k, v := range m {
				if strings.HasPrefix(k, "master/task") {
					got[k] = v
					if want[k] = tc.want[k]; strings.Count(k, "/") > 1 {
						delete(want, k) // a reason's counter, there only once counted
					}
				}
			}
			for k, v := range tc.want {
				want[k] = v
			}
			if mustJSON(t, got) != mustJSON(t, want) {
				t.Errorf("/metrics/snapshot's task metrics\n%s, want\n%s", mustJSON(t, got), mustJSON(t, want))
			}
			eventually(t, "task process gone", func() bool { return len(leakedPIDs(cl.WorkDir())) == 0 })
		})
	}
}

// TestHealthCheckPathMasked: a task's HTTP health check path with a
// secret-looking query parameter is masked in /tasks and /state (unlike
// Mesos, which writes the health check as given), as testenv masks a
// URI's credentials everywhere it answers.
func TestHealthCheckPathMasked(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("hcpath"), protoCodec)
	o := s.offers()[0]
	const token = "hcpath-t0ken-5ecret"
	ti := commandTask("web", o, "exec sleep 60")
	delay := 3600.0 // never run
	ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, DelaySeconds: &delay,
		HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: 8080, Path: strPtr("/health?token=" + token)}}
	s.launch(o, ti)
	s.updateAck("web", mesos.TASK_STARTING)
	s.updateAck("web", mesos.TASK_RUNNING)
	for _, path := range []string{"/tasks", "/state", "/frameworks"} {
		body := string(get(t, cl.MasterURL()+path))
		if strings.Contains(body, token) || !strings.Contains(body, `"path":"/health?token=`+redact.Mask+`"`) {
			t.Errorf("%s shows the health check's token, or no mask: %s", path, body)
		}
	}
}
