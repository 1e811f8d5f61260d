package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/sdk/service"
	"github.com/taskkit/taskkit/internal/sdk/uninstall"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// running is the API of a scheduler that runs against sdktest's fake
// master, subscribed and reconciled.
func running(t *testing.T) (*httptest.Server, *sdktest.Master) {
	t.Helper()
	m := sdktest.NewMaster()
	sched := newScheduler(t, func(c *service.Config) { c.Caller, c.Clock = m, sdktest.NewClock(time.Unix(0, 0)) })
	runSubscribed(t, sched, m)
	srv := httptest.NewServer((&Server{Sched: sched}).Handler())
	t.Cleanup(srv.Close)
	return srv, m
}

// runSubscribed runs sched until t ends, subscribed to m as framework
// fw-1 and reconciled.
func runSubscribed(t testing.TB, sched *service.Scheduler, m *sdktest.Master) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sched.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	m.Subscription(t, 1)
	m.Send(t, sdktest.Subscribed("fw-1"))
	m.Expect(t, scheduler.Call_RECONCILE, scheduler.Call_REVIVE)
}

func call(t *testing.T, method, url string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestCommandsAndMethods: GET on a POST command is 405 with Allow; plan
// commands answer 200, 208 for a no-op (interrupting a COMPLETE plan
// included), 404 for unknown names.
func TestCommandsAndMethods(t *testing.T) {
	srv, m := running(t)
	for _, path := range []string{"/v1/plans/deploy/start", "/v1/plans/deploy/interrupt", "/v1/pod/web-0/restart", "/v1/pod/web-0/replace"} {
		code, hdr, body := call(t, http.MethodGet, srv.URL+path)
		if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" || !strings.Contains(body, "commands are POSTed") {
			t.Errorf("GET %s: %d %q %s", path, code, hdr.Get("Allow"), body)
		}
	}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/v1/plans/deploy/interrupt", 200},
		{"/v1/plans/deploy/interrupt", 208},
		{"/v1/plans/deploy/continue", 200},
		{"/v1/plans/deploy/continue", 208},
		{"/v1/plans/nope/start", 404},
		{"/v1/plans/deploy/explode", 404},
		{"/v1/plans/deploy/interrupt?phase=nope", 404},
		{"/v1/pod/nope-0/restart", 404},
		{"/v1/pod/web-0/pause", 404}, // no task launched yet
	} {
		if code, _, body := call(t, http.MethodPost, srv.URL+tt.path); code != tt.want {
			t.Errorf("POST %s: %d %s, want %d", tt.path, code, body, tt.want)
		}
	}
	// Deploy, then interrupting the COMPLETE plan is a no-op: 208.
	m.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	var acc *scheduler.Call
	deadline := time.Now().Add(sdktest.Wait)
	for acc == nil && time.Now().Before(deadline) {
		for _, c := range m.Calls() {
			if c.Type == scheduler.Call_ACCEPT {
				acc = c
			}
		}
		time.Sleep(time.Millisecond)
	}
	if acc == nil {
		t.Fatal("no ACCEPT")
	}
	ops := acc.GetAccept().Operations
	id := ops[len(ops)-1].GetLaunchGroup().TaskGroup.Tasks[0].TaskID.Value
	m.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING))
	for time.Now().Before(deadline) {
		if code, _, _ := call(t, http.MethodGet, srv.URL+"/v1/plans/deploy"); code == 200 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if code, _, body := call(t, http.MethodPost, srv.URL+"/v1/plans/deploy/interrupt"); code != 208 || !strings.Contains(body, "Received cmd: interrupt") {
		t.Errorf("interrupting a COMPLETE plan: %d %s", code, body)
	}
	// Resuming a pod that is not paused changes nothing: 208, as above.
	if code, _, body := call(t, http.MethodPost, srv.URL+"/v1/pod/web-0/resume"); code != 208 || !strings.Contains(body, `"message": "nothing changed: not paused"`) || !strings.Contains(body, `"web-0-server"`) {
		t.Errorf("resuming a running pod: %d %s", code, body)
	}
}

// TestHealthAndDebugOffers: a deploy waiting for an offer is 204, as the
// SDK answers (no body, verbose or not); verbose health gives the reasons
// once the code carries a body; the debug endpoint says why a step waits.
func TestHealthAndDebugOffers(t *testing.T) {
	srv, m := running(t)
	m.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", sdktest.CPUs(0.1), sdktest.Mem(1024), sdktest.Disk(1024))))
	m.Expect(t, scheduler.Call_DECLINE)
	for _, q := range []string{"", "?verbose=true"} {
		if code, _, body := call(t, http.MethodGet, srv.URL+"/v1/health"+q); code != http.StatusNoContent || body != "" {
			t.Errorf("health%s while the deploy is pending: %d %q, want the SDK's 204", q, code, body)
		}
	}
	if code, _, body := call(t, http.MethodPost, srv.URL+"/v1/plans/deploy/interrupt"); code != 200 {
		t.Fatalf("interrupt: %d %s", code, body)
	}
	// With nothing to launch the loop suppresses offers on its next tick;
	// waited for here, or a continue that comes first (a loaded machine)
	// leaves nothing to suppress. A tick before the interrupt may have
	// revived (the declined offer) first.
	waitCall(t, m, scheduler.Call_SUPPRESS)
	code, _, body := call(t, http.MethodGet, srv.URL+"/v1/health?verbose=true")
	var h struct {
		Value   int
		Status  string
		Plans   map[string]plan.Status
		Reasons []string
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if code != 207 || h.Value != 207 || h.Status != "DEPLOYING_WAITING_USER" || h.Plans["deploy"] != plan.Waiting || len(h.Reasons) != 1 ||
		!strings.Contains(h.Reasons[0], "web-0:[server]: waiting for an offer that fits: no offer has 0.5 cpus: h1: FAIL(resources)") {
		t.Errorf("health %d %+v", code, h)
	}
	if code, _, body := call(t, http.MethodGet, srv.URL+"/v1/health"); code != 207 || strings.Contains(body, "reasons") {
		t.Errorf("terse health %d %s", code, body)
	}
	code, _, body = call(t, http.MethodGet, srv.URL+"/v1/debug/offers")
	var d service.OffersDebug
	if err := json.Unmarshal([]byte(body), &d); err != nil || code != 200 {
		t.Fatalf("debug offers %d %v", code, err)
	}
	if len(d.Waiting) != 1 || d.Waiting[0].Step != "web-0:[server]" || len(d.Outcomes) != 1 || d.Outcomes[0].Outcome != "fail" || d.Outcomes[0].Offer != "o1" {
		t.Errorf("debug offers %+v", d)
	}
	// Continued, the pod's first launch reserves its resources.
	if code, _, body := call(t, http.MethodPost, srv.URL+"/v1/plans/deploy/continue"); code != 200 {
		t.Fatalf("continue: %d %s", code, body)
	}
	m.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1")))
	// Launched (after a REVIVE, unless the last one was too recent).
	waitCall(t, m, scheduler.Call_ACCEPT)
	code, _, body = call(t, http.MethodGet, srv.URL+"/v1/debug/reservations")
	var rs []service.PodReservationView
	if err := json.Unmarshal([]byte(body), &rs); err != nil || code != 200 {
		t.Fatalf("debug reservations %d %v %s", code, err, body)
	}
	if len(rs) != 1 || rs[0].Instance != "web-0" || rs[0].Hostname != "h1" || len(rs[0].Resources) == 0 || rs[0].Resources[0].Key != "executor/cpus" || rs[0].Resources[0].ResourceID == "" {
		t.Errorf("debug reservations %s", body)
	}
}

// TestErrorCodes maps the scheduler's errors to status codes: a command
// the event loop cannot take (after 10 s) is 503.
func TestErrorCodes(t *testing.T) {
	for err, want := range map[error]int{
		service.ErrNotRunning: 503, service.ErrNotFound: 404, service.ErrBadCommand: 400, io.EOF: 500,
	} {
		rec := httptest.NewRecorder()
		fail(rec, err)
		if rec.Code != want || !strings.Contains(rec.Body.String(), err.Error()) {
			t.Errorf("%v: %d %s, want %d", err, rec.Code, rec.Body, want)
		}
	}
}

// TestPodWithoutTasks: an instance of the spec with no task launched yet
// is absent from the listings and 404 for its status and info, as the SDK's
// PodQueries know instances by their stored tasks only; with none stored,
// GET /v1/pod/status has no "pods" at all, as the SDK's getStatuses
// (JSONObject.append adds the key with the first pod type).
func TestPodWithoutTasks(t *testing.T) {
	srv := httptest.NewServer(newTestServer(t).Handler())
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		path string
		code int
		body string
	}{
		{"/v1/pod/web-0/status", 404, `pod \"web-0\" has no task launched yet`},
		{"/v1/pod/web-0/info", 404, `pod \"web-0\" has no task launched yet`},
		{"/v1/pod/web-1/status", 404, `pod \"web-1\" has no task launched yet`},
		{"/v1/pod/web-1/info", 404, `pod \"web-1\" has no task launched yet`},
		{"/v1/pod", 200, "[]"},
		{"/v1/pod/status", 200, `{
  "service": "ui-unit"
}`},
	} {
		if code, _, body := call(t, http.MethodGet, srv.URL+tt.path); code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s: %d %s, want %d with %s", tt.path, code, body, tt.code, tt.body)
		}
	}
}

// waitCall waits (at most sdktest.Wait) for a call of type want among the
// calls m has seen, and then drops every call so far from what Expect
// looks at.
func waitCall(t *testing.T, m *sdktest.Master, want scheduler.Call_Type) {
	t.Helper()
	deadline := time.Now().Add(sdktest.Wait)
	for !slices.ContainsFunc(m.Calls(), func(c *scheduler.Call) bool { return c.Type == want }) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", want, sdktest.Wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Skip()
}

type plans struct{ p *plan.Plan }

func (p plans) PlanView(name string) (plan.View, error) {
	if name != plan.Deploy {
		return plan.View{}, io.EOF
	}
	return p.p.View(), nil
}

// TestUninstallHandler serves the uninstall plan as the deploy plan:
// 202 while it works, 417 with errors, 200 when done, compact JSON; any
// other endpoint 503.
func TestUninstallHandler(t *testing.T) {
	p := uninstall.NewPlan()
	srv := httptest.NewServer(UninstallHandler(plans{p}))
	defer srv.Close()
	if code, _, body := call(t, http.MethodGet, srv.URL+"/v1/plans/deploy"); code != 202 || !strings.Contains(body, `"name":"uninstall"`) || !strings.Contains(body, `"name":"kill-tasks"`) {
		t.Errorf("in progress: %d %s", code, body)
	}
	if code, _, _ := call(t, http.MethodGet, srv.URL+"/v1/health"); code != 202 {
		t.Errorf("health %d", code)
	}
	p.Errors = []string{"no master"}
	if code, _, body := call(t, http.MethodGet, srv.URL+"/v1/plans/deploy"); code != 417 || !strings.Contains(body, "no master") {
		t.Errorf("errors: %d %s", code, body)
	}
	p.Errors = nil
	for _, st := range p.Steps() {
		st.SetStatus(plan.Complete)
	}
	if code, _, _ := call(t, http.MethodGet, srv.URL+"/v1/plans/deploy"); code != 200 {
		t.Errorf("complete: %d", code)
	}
	if code, _, body := call(t, http.MethodGet, srv.URL+"/v1/plans"); code != 200 || strings.TrimSpace(body) != `["deploy"]` {
		t.Errorf("plans %d %s", code, body)
	}
	if code, _, _ := call(t, http.MethodGet, srv.URL+"/v1/plans/recovery"); code != 404 {
		t.Errorf("recovery %d", code)
	}
	if code, _, body := call(t, http.MethodGet, srv.URL+"/v1/pod"); code != 503 || !strings.Contains(body, "SDK_UNINSTALL") {
		t.Errorf("other endpoints %d %s", code, body)
	}
}

// TestRequestMetrics: every request the API serves is timed in
// api.requests and counted by the status class it answered, whatever the
// handler (a plan, a 404 of the catch-all, a 405); the files tasks fetch
// are timed apart, in api.artifacts.
func TestRequestMetrics(t *testing.T) {
	srv, _ := running(t)
	for _, path := range []string{"/v1/plans/deploy", "/v1/plans", "/v1/nope", "/v1/plans/nope", "/v1/pod/web-0/restart", taskenv.ArtifactBinPath + "nope"} {
		call(t, http.MethodGet, srv.URL+path)
	}
	_, _, body := call(t, http.MethodGet, srv.URL+"/v1/metrics") // answered before it is counted
	var snap struct {
		Counters map[string]int64
		Timers   map[string]struct{ Count int64 }
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatalf("/v1/metrics: %v: %s", err, body)
	}
	if got := snap.Timers["api.requests"].Count; got != 5 {
		t.Errorf("api.requests count = %d, want 5", got)
	}
	if got := snap.Timers["api.artifacts"].Count; got != 1 {
		t.Errorf("api.artifacts count = %d, want 1", got)
	}
	for name, want := range map[string]int64{"api.responses.2xx": 2, "api.responses.4xx": 4, "api.responses.5xx": 0} {
		if got := snap.Counters[name]; got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

// TestStatusWriter: the final status is the one recorded; an informational
// 1xx before it is not, and a body without WriteHeader is a 200.
func TestStatusWriter(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    func(w http.ResponseWriter)
		want int
	}{
		{"body only", func(w http.ResponseWriter) { io.WriteString(w, "x") }, 200},
		{"nothing", func(w http.ResponseWriter) {}, 200},
		{"404", func(w http.ResponseWriter) { w.WriteHeader(404) }, 404},
		{"103 then 503", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(503) }, 503},
		{"500 then a second WriteHeader", func(w http.ResponseWriter) { w.WriteHeader(500); w.WriteHeader(200) }, 500},
	} {
		sw := &statusWriter{ResponseWriter: httptest.NewRecorder(), code: http.StatusOK}
		tt.h(sw)
		if sw.code != tt.want {
			t.Errorf("%s: code %d, want %d", tt.name, sw.code, tt.want)
		}
	}
}

// TestPlanGetFollowsCommands: GET /v1/plans/{plan} answers a plan command's
// change as soon as the command has answered (its body is kept per version
// of the plan's view, never served once the view changed), with the
// body's length.
func TestPlanGetFollowsCommands(t *testing.T) {
	srv, _ := running(t)
	for i, tc := range []struct {
		cmd  string // POSTed first, if any
		code int
		want plan.Status
	}{
		{"", http.StatusAccepted, plan.Pending},
		{"interrupt", http.StatusAccepted, plan.Waiting},
		{"", http.StatusAccepted, plan.Waiting},
		{"continue", http.StatusAccepted, plan.Pending},
		{"forceComplete", http.StatusOK, plan.Complete},
		{"", http.StatusOK, plan.Complete},
	} {
		if tc.cmd != "" {
			if code, _, body := call(t, http.MethodPost, srv.URL+"/v1/plans/deploy/"+tc.cmd); code != http.StatusOK {
				t.Fatalf("%d: POST %s: %d %s", i, tc.cmd, code, body)
			}
		}
		code, hdr, body := call(t, http.MethodGet, srv.URL+"/v1/plans/deploy")
		var v plan.View
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%d: %v in %s", i, err, body)
		}
		if code != tc.code || v.Status != tc.want {
			t.Errorf("%d: after %q: %d %s, want %d %s", i, tc.cmd, code, v.Status, tc.code, tc.want)
		}
		if got := hdr.Get("Content-Length"); got != strconv.Itoa(len(body)) {
			t.Errorf("%d: Content-Length %q, the body has %d bytes", i, got, len(body))
		}
	}
}
