package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/recordio"
)

// rawStream is a v1 event stream read as raw JSON records, as a client in
// another language sees it.
type rawStream struct {
	t        *testing.T
	streamID string
	mu       sync.Mutex
	records  [][]byte
	wake     chan struct{}
	// ackURL and fid, once set, make waitFor acknowledge every update
	// with a uuid, as a framework must to get the next one.
	ackURL, fid string
	acked       map[int]bool
}

// openRaw POSTs a JSON SUBSCRIBE body to url and reads the RecordIO stream
// in the background (until the test ends).
func openRaw(t *testing.T, url, body string) *rawStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("subscribe: %s %s", res.Status, b)
	}
	t.Cleanup(func() { res.Body.Close() })
	s := &rawStream{t: t, streamID: res.Header.Get("Mesos-Stream-Id"), wake: make(chan struct{}, 1)}
	go func() { // owned by the test: ends when the body is closed
		r := recordio.NewReader(res.Body)
		for {
			rec, err := r.ReadFrame()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.records = append(s.records, append([]byte(nil), rec...))
			s.mu.Unlock()
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}()
	return s
}

// waitFor returns the first record (decoded loosely) after index from for
// which pred holds, and its index.
func (s *rawStream) waitFor(what string, from int, pred func(map[string]any) bool) (map[string]any, int) {
	s.t.Helper()
	deadline := time.After(waitLong)
	for {
		s.mu.Lock()
		recs := s.records
		s.mu.Unlock()
		s.ackUpdates(recs)
		for i := from; i < len(recs); i++ {
			var m map[string]any
			if json.Unmarshal(recs[i], &m) == nil && pred(m) {
				return m, i
			}
		}
		select {
		case <-s.wake:
		case <-deadline:
			s.t.Fatalf("no %s within %v; got %d records", what, waitLong, len(recs))
		}
	}
}

func (s *rawStream) ackUpdates(recs [][]byte) {
	if s.fid == "" {
		return
	}
	for i, r := range recs {
		var ev struct {
			Update struct {
				Status struct {
					TaskID  map[string]any `json:"task_id"`
					AgentID map[string]any `json:"agent_id"`
					UUID    string         `json:"uuid"`
				} `json:"status"`
			} `json:"update"`
		}
		if s.acked[i] || json.Unmarshal(r, &ev) != nil || ev.Update.Status.UUID == "" {
			continue
		}
		s.acked[i] = true
		st := ev.Update.Status
		call, _ := json.Marshal(map[string]any{"framework_id": map[string]string{"value": s.fid}, "type": "ACKNOWLEDGE",
			"acknowledge": map[string]any{"agent_id": st.AgentID, "task_id": st.TaskID, "uuid": st.UUID}})
		postJSON(s.t, s.ackURL, s.streamID, string(call), http.StatusAccepted)
	}
}

// raw returns the records so far as one RecordIO stream.
func (s *rawStream) raw() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	w := recordio.NewWriter(&b)
	for _, r := range s.records {
		_ = w.WriteFrame(r)
	}
	return b.Bytes()
}

// postJSON sends a JSON call and checks the status code.
func postJSON(t *testing.T, url, streamID, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("POST %s: %s %s, want %d", body, res.Status, b, want)
	}
}

// strictDecode runs testdata/strict_json.py on data: Python's json with
// hooks that fail on null, NaN and exponent-form numbers.
func strictDecode(t *testing.T, mode string, data []byte) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the strict decoder is Python's json module")
	}
	cmd := exec.Command(py, "testdata/strict_json.py", mode)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("strict JSON decode (%s): %v\n%s", mode, err, out)
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	return b
}

// TestJSONStrict drives a framework and an executor over JSON as a client
// in another language would, and decodes every event, /state and
// /testenv/agents with a decoder that fails on null, NaN and exponent
// forms — Mesos' JSON writer (stout) produces none of them. It also pins
// the differences from mesos-go's encoder that such a client sees.
func TestJSONStrict(t *testing.T) {
	cl := startCluster(t, Config{Agents: 2, Attributes: map[string]string{"rack": "r1"}})
	api := cl.MasterURL() + "/api/v1/scheduler"
	s := openRaw(t, api, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"strict","capabilities":[{"type":"TASK_KILLING_STATE"}]}}}`)
	sub, _ := s.waitFor("SUBSCRIBED", 0, func(m map[string]any) bool { return m["type"] == "SUBSCRIBED" })
	fid := sub["subscribed"].(map[string]any)["framework_id"].(map[string]any)["value"].(string)
	s.ackURL, s.fid, s.acked = api, fid, map[int]bool{}
	offers, _ := s.waitFor("OFFERS", 0, func(m map[string]any) bool { return m["type"] == "OFFERS" })
	offer := offers["offers"].(map[string]any)["offers"].([]any)[0].(map[string]any)
	if _, ok := offer["executor_ids"]; ok {
		t.Errorf("offer without executors has executor_ids: %v", offer)
	}
	oid := offer["id"].(map[string]any)["value"].(string)
	aid := offer["agent_id"].(map[string]any)["value"].(string)

	// A command task, and a custom executor without a type that never
	// subscribes by itself: the test subscribes for it, over JSON.
	accept := `{"framework_id":{"value":"` + fid + `"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"` + oid + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[` +
		`{"name":"cmd","task_id":{"value":"cmd"},"agent_id":{"value":"` + aid + `"},"command":{"value":"exec sleep 30","environment":{"variables":[{"name":"` + strings.Split(leakMarker, "=")[0] + `","value":"` + strings.Split(leakMarker, "=")[1] + `"}]}},` +
		`"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}],"labels":{"labels":[{"key":"k","value":"v"}]}},` +
		`{"name":"ex","task_id":{"value":"ex"},"agent_id":{"value":"` + aid + `"},"executor":{"executor_id":{"value":"quiet"},"command":{"value":"exec sleep 30","environment":{"variables":[{"name":"` + strings.Split(leakMarker, "=")[0] + `","value":"` + strings.Split(leakMarker, "=")[1] + `"}]}},` +
		`"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}]},` +
		`"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}]}` +
		`]}}],"filters":{"refuse_seconds":0}}}`
	postJSON(t, api, s.streamID, accept, http.StatusAccepted)
	_, n := s.waitFor("cmd RUNNING", 0, func(m map[string]any) bool {
		u, _ := m["update"].(map[string]any)
		st, _ := u["status"].(map[string]any)
		return st != nil && st["state"] == "TASK_RUNNING" && st["task_id"].(map[string]any)["value"] == "cmd"
	})
	_ = n

	// The executor side: SUBSCRIBE for "quiet" on its agent, over JSON.
	var agentURL string
	for _, a := range cl.Agents() {
		if a.ID == aid {
			agentURL = "http://" + a.Endpoint + "/api/v1/executor"
		}
	}
	ex := openRaw(t, agentURL, `{"type":"SUBSCRIBE","framework_id":{"value":"`+fid+`"},"executor_id":{"value":"quiet"},"subscribe":{}}`)
	esub, _ := ex.waitFor("executor SUBSCRIBED", 0, func(m map[string]any) bool { return m["type"] == "SUBSCRIBED" })
	if ei := esub["subscribed"].(map[string]any)["executor_info"].(map[string]any); ei["type"] != nil {
		t.Errorf("an ExecutorInfo without type came back with type %v", ei["type"])
	}
	ex.waitFor("executor LAUNCH", 0, func(m map[string]any) bool { return m["type"] == "LAUNCH" })

	// Reconciliation of the command task: no executor_id.
	postJSON(t, api, s.streamID, `{"framework_id":{"value":"`+fid+`"},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"cmd"}}]}}`, http.StatusAccepted)
	rec, _ := s.waitFor("reconciliation answer", 0, func(m map[string]any) bool {
		u, _ := m["update"].(map[string]any)
		st, _ := u["status"].(map[string]any)
		return st != nil && st["reason"] == "REASON_RECONCILIATION"
	})
	if st := rec["update"].(map[string]any)["status"].(map[string]any); st["executor_id"] != nil {
		t.Errorf("reconciliation answer for a command task has executor_id %v", st["executor_id"])
	}
	// A KILL: TASK_KILLING (the capability), then TASK_KILLED.
	postJSON(t, api, s.streamID, `{"framework_id":{"value":"`+fid+`"},"type":"KILL","kill":{"task_id":{"value":"cmd"}}}`, http.StatusAccepted)
	s.waitFor("cmd KILLED", 0, func(m map[string]any) bool {
		u, _ := m["update"].(map[string]any)
		st, _ := u["status"].(map[string]any)
		return st != nil && st["state"] == "TASK_KILLED"
	})

	strictDecode(t, "recordio", s.raw())
	strictDecode(t, "recordio", ex.raw())
	for _, p := range []string{"/state", "/master/state", "/slaves", "/testenv/agents"} {
		strictDecode(t, "json", get(t, cl.MasterURL()+p))
	}

	// /state: tasks have their role, lists are [] when empty.
	var state struct {
		Frameworks []struct {
			Capabilities []string `json:"capabilities"`
			Tasks        []struct {
				ID   string `json:"id"`
				Role string `json:"role"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	b := get(t, cl.MasterURL()+"/state")
	if err := json.Unmarshal(b, &state); err != nil || len(state.Frameworks) != 1 {
		t.Fatalf("state: %v %s", err, b)
	}
	for _, tk := range state.Frameworks[0].Tasks {
		if tk.Role != "*" {
			t.Errorf("/state task %s role %q, want *", tk.ID, tk.Role)
		}
	}
	// /testenv/agents has /state's snake_case keys.
	var agents []map[string]any
	if err := json.Unmarshal(get(t, cl.MasterURL()+"/testenv/agents"), &agents); err != nil || len(agents) != 2 || agents[0]["id"] == nil || agents[0]["ip"] == nil {
		t.Errorf("/testenv/agents: %v %v", err, agents)
	}
}
