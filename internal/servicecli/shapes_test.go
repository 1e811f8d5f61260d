package servicecli_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sdkAnswers are answers in the DC/OS SDK scheduler's shapes
// (dcos-commons http/queries/*, debug/OfferOutcomeTrackerV2) for what
// scheduler-lite's API does not serve yet or cannot be made to answer on
// demand: configurations, debug offers and reservations, pod pause/resume, force-complete,
// a cached state store's refresh, a failed plan, an unhealthy service, a
// bodyless 208, a proxy's HTML error. Keys are "METHOD path?query".
var sdkAnswers = map[string]struct {
	code int
	body string
}{
	"GET /v1/configurations":          {200, `["0d2f1b7e-6a52-4b7f-9f8e-3c1a2b4d5e6f","9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]`},
	"GET /v1/configurations/targetId": {200, `["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]`},
	"GET /v1/configurations/target":   {200, `{"name":"hello-world","role":"hello-world-role","pod-specs":[{"type":"hello","count":2}]}`},
	"GET /v1/configurations/nope":     {400, ``},
	"GET /v1/debug/offers":            {200, `{"acceptedCount":1,"rejectedCount":3,"failureReasons":{"Failed to satisfy required resource 'cpus'":2,"Offer does not match hostname:UNIQUE":1},"rejectedAgents":{"agent-S1":3},"offers":[{"timestamp":1700000000000,"pod-instance-name":"hello-1","outcome":"fail","explanation":["PASS(ResourceEvaluationStage): mem 32","FAIL(ResourceEvaluationStage): Failed to satisfy required resource 'cpus'"],"offer":"..."},{"timestamp":1700000001000,"pod-instance-name":"hello-0","outcome":"pass","explanation":["PASS(ResourceEvaluationStage): cpus 0.1"],"offer":"..."},{"timestamp":1700000002000,"pod-instance-name":"hello-1","outcome":"fail","explanation":["FAIL(PlacementRuleEvaluationStage): Offer does not match\nhostname:UNIQUE"],"offer":"..."}]}`},
	"GET /v1/debug/reservations":      {200, `{"10.0.0.2":["r-2b","r-2a"],"10.0.0.1":["r-1"]}`},
	"POST /v1/pod/hello-0/pause":      {200, `{"pod":"hello-0","tasks":["hello-0-server"]}`},
	"POST /v1/pod/hello-0/resume":     {200, `{"pod":"hello-0","tasks":["hello-0-server"]}`},
	"POST /v1/pod/hello-1/resume":     {208, `{"pod":"hello-1","tasks":["hello-1-server"],"message":"nothing changed: not paused"}`},
	"GET /v1/pod/status":              {200, `{"service":"hello-world","pods":[{"name":"hello","instances":[{"name":"hello-0","tasks":[{"id":"x","name":"hello-0-server","status":"PAUSED"}]},{"name":"hello-1","tasks":[{"id":"y","name":"hello-1-server"}]}]}]}`},
	"POST /v1/plans/deploy/forceComplete?phase=hello&step=hello-0%3A%5Bserver%5D": {200, `{"message":"Received cmd: forceComplete"}`},
	"POST /v1/plans/deploy/continue":                                              {208, ``},
	"POST /v1/plans/deploy/restart?phase=hello":                                   {200, `{"message":"Received cmd: restart"}`},
	"GET /v1/plans/failing":                                                       {417, `{"phases":[{"id":"p","name":"hello","strategy":"serial","status":"ERROR","steps":[{"id":"s","name":"hello-0:[server]","status":"ERROR","message":"Failed to launch:\n  cpus"}]}],"errors":["Validation error on field \"pods.hello.count\": cannot shrink without allow-decommission"],"strategy":"serial","status":"ERROR"}`},
	"GET /v1/health?verbose=true":                                                 {500, `{"value":500}`},
	"GET /v1/state/frameworkId":                                                   {200, `[]`},
	"GET /v1/state/properties":                                                    {200, "[\n  \"deployment-completed\",\n  \"file-VERSION\"\n]"},
	"GET /v1/state/properties/file-VERSION":                                       {200, "namespaceID=42"}, // StringPropertyDeserializer: the bytes as they are
	"GET /v1/state/properties/nope":                                               {404, ``},
	"PUT /v1/state/refresh":                                                       {200, "{\"message\": \"Received cmd: refresh\"}"}, // a cached state store
	"GET /v1/pod/hello-1/status":                                                  {404, "Pod hello-1 not found"},                    // no task stored yet (PodQueries.getStatus)
	"GET /v1/pod/hello-1/info":                                                    {404, "Pod hello-1 not found"},
	"GET /v1/plans":                                                               {502, "<html><body>502 Bad Gateway</body></html>\n<p>nginx</p>"},
}

// sdkServer serves sdkAnswers on loopback and records each request's
// Authorization header and body.
type sdkServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path?query auth=... body=..."
}

func newSDKServer(t *testing.T) *sdkServer {
	s := &sdkServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			key += "?" + r.URL.RawQuery
		}
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, fmt.Sprintf("%s auth=%s body=%s", key, r.Header.Get("Authorization"), b))
		s.mu.Unlock()
		a, ok := sdkAnswers[key]
		if !ok {
			http.Error(w, "Element not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.code)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sdkServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// TestSDKShapes runs the commands against answers in the SDK's shapes:
// the text each prints (golden files), the requests each sends (path,
// query, JSON body, bearer token) and their exit codes.
func TestSDKShapes(t *testing.T) {
	srv := newSDKServer(t)
	e := newEnv(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	conn := []string{"--url", srv.URL + "/", "--api-token-file", tokenFile} // a trailing slash is fine

	for _, c := range []struct {
		golden string
		code   int
		args   []string
		sent   string // the request the command sends, with its body
	}{
		{"sdk-config-list", 0, []string{"config", "list"}, "GET /v1/configurations auth=Bearer " + token + " body="},
		{"sdk-config-target-id", 0, []string{"config", "target_id"}, "GET /v1/configurations/targetId"},
		{"sdk-config-target", 0, []string{"config", "target"}, "GET /v1/configurations/target"},
		{"sdk-debug-offers", 0, []string{"debug", "offers"}, "GET /v1/debug/offers"},
		{"sdk-debug-reservations", 0, []string{"debug", "reservations"}, "GET /v1/debug/reservations"},
		{"sdk-pod-pause", 0, []string{"pod", "pause", "hello-0", "-t", "server"}, `POST /v1/pod/hello-0/pause auth=Bearer ` + token + ` body=["server"]`},
		{"sdk-pod-resume", 0, []string{"pod", "resume", "hello-0"}, "POST /v1/pod/hello-0/resume auth=Bearer " + token + " body="},
		{"pod-resume-208", 0, []string{"pod", "resume", "hello-1"}, "POST /v1/pod/hello-1/resume"},
		{"sdk-pod-status", 0, []string{"pod", "status"}, "GET /v1/pod/status"},
		{"sdk-plan-force-complete", 0, []string{"plan", "force-complete", "deploy", "--phase", "hello", "--step", "hello-0:[server]"}, "POST /v1/plans/deploy/forceComplete?phase=hello&step=hello-0%3A%5Bserver%5D"},
		{"sdk-plan-continue-208", 0, []string{"plan", "continue", "deploy"}, "POST /v1/plans/deploy/continue"},
		{"sdk-plan-force-restart-phase", 0, []string{"plan", "restart", "deploy", "--phase", "hello"}, "POST /v1/plans/deploy/restart?phase=hello"},
		{"sdk-plan-force-restart-phase", 0, []string{"SCHEDULER_LITE_PHASE=hello", "plan", "force-restart", "deploy"}, "POST /v1/plans/deploy/restart?phase=hello"},
		{"sdk-pod-pause", 0, []string{"SCHEDULER_LITE_POD_TASKS=server", "pod", "pause", "hello-0"}, `POST /v1/pod/hello-0/pause auth=Bearer ` + token + ` body=["server"]`},
		{"sdk-plan-show-failing", 0, []string{"plan", "show", "failing"}, "GET /v1/plans/failing"},
		{"sdk-plan-show-failing", 1, []string{"plan", "show", "failing", "--wait", "COMPLETE"}, "GET /v1/plans/failing"},
		{"sdk-health-error", 1, []string{"health"}, "GET /v1/health?verbose=true"},
		{"", 1, []string{"config", "show", "nope"}, "GET /v1/configurations/nope"},
		{"", 1, []string{"state", "framework-id"}, "GET /v1/state/frameworkId"},
		{"sdk-state-properties", 0, []string{"state", "properties"}, "GET /v1/state/properties"},
		{"sdk-state-property", 0, []string{"state", "property", "file-VERSION"}, "GET /v1/state/properties/file-VERSION"},
		{"", 1, []string{"state", "property", "nope"}, "GET /v1/state/properties/nope"},
		{"sdk-state-refresh-cache", 0, []string{"state", "refresh_cache"}, "PUT /v1/state/refresh auth=Bearer " + token + " body="},
		{"", 1, []string{"plan", "list"}, "GET /v1/plans"},
		{"", 1, []string{"pod", "status", "hello-1"}, "GET /v1/pod/hello-1/status"},
		{"", 1, []string{"pod", "info", "hello-1"}, "GET /v1/pod/hello-1/info"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			before := len(srv.requests())
			r := e.want(t, c.code, append(c.args, conn...)...)
			if c.golden != "" {
				golden(t, c.golden, r.stdout)
			}
			reqs := srv.requests()[before:]
			if len(reqs) == 0 || !strings.HasPrefix(reqs[0], c.sent) {
				t.Errorf("sent %q, want %q", reqs, c.sent)
			}
			for _, q := range reqs {
				if !strings.Contains(q, "auth=Bearer "+token) {
					t.Errorf("request without the token: %s", q)
				}
			}
		})
	}

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"config", "show", "nope"}, "GET /v1/configurations/nope: 400 Bad Request"},
		{[]string{"state", "framework-id"}, "no framework ID yet"},
		{[]string{"state", "property", "nope"}, "GET /v1/state/properties/nope: 404 Not Found"},
		{[]string{"plan", "list"}, "GET /v1/plans: 502 Bad Gateway: <html><body>502 Bad Gateway</body></html>"},
		{[]string{"plan", "show", "failing", "--wait", "COMPLETE"}, "plan failing failed (ERROR) while waiting for COMPLETE"},
		{[]string{"health"}, "the service is unhealthy (500)"},
		{[]string{"pod", "status", "hello-1"}, "GET /v1/pod/hello-1/status: 404 Not Found: Pod hello-1 not found"},
		{[]string{"pod", "info", "hello-1"}, "GET /v1/pod/hello-1/info: 404 Not Found: Pod hello-1 not found"},
	} {
		if r := e.run(t, append(c.args, conn...)...); !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: stderr %q lacks %q", c.args, r.stderr, c.msg)
		}
	}
}

// TestDebugOffersCountsWhatItLists: scheduler-lite keeps the latest
// evaluations (newest first), several per pod instance; the text lists
// each pod instance's latest, and its summary counts those, not the
// earlier ones it does not list (a failure since passed said "1 failed"
// over a list with none).
func TestDebugOffersCountsWhatItLists(t *testing.T) {
	for _, c := range []struct {
		golden, body string
	}{
		{"debug-offers-earlier-failure", `{"waiting":[],"outcomes":[` +
			`{"timestamp":"2026-01-02T12:00:04Z","step":"web-1:[server]","pod-instance-name":"web-1","outcome":"pass","hostname":"127.0.1.3","explanation":["PASS(resources): cpus 0.1"]},` +
			`{"timestamp":"2026-01-02T12:00:03Z","step":"web-0:[server]","pod-instance-name":"web-0","outcome":"pass","hostname":"127.0.1.2","explanation":["PASS(resources): cpus 0.1"]},` +
			`{"timestamp":"2026-01-02T12:00:02Z","step":"web-1:[server]","pod-instance-name":"web-1","outcome":"fail","hostname":"127.0.1.2","explanation":["FAIL(placement): hostname:UNIQUE"]},` +
			`{"timestamp":"2026-01-02T12:00:01Z","step":"hello-0:[server]","pod-instance-name":"hello-0","outcome":"pass","hostname":"127.0.1.2","explanation":["PASS(resources): cpus 0.1"]}]}`},
		{"debug-offers-latest-fails", `{"waiting":[{"plan":"deploy","step":"web-0:[server]","status":"PENDING","message":"no offer fits"}],"outcomes":[` +
			`{"timestamp":"2026-01-02T12:00:02Z","step":"web-0:[server]","pod-instance-name":"web-0","outcome":"fail","hostname":"127.0.1.2","explanation":["FAIL(resources): insufficient cpus"]}]}`},
	} {
		t.Run(c.golden, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/debug/offers" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			golden(t, c.golden, newEnv(t).want(t, 0, "debug", "offers", "--url", srv.URL).stdout)
		})
	}
}

// TestEndpointsNoneSaysWhy: a service without an advertised port lists no
// endpoint; the text says why on stderr (a newcomer's svc.yml without
// advertise: true printed nothing at all), and stdout stays the empty list.
func TestEndpointsNoneSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "[]")
	}))
	defer srv.Close()
	e := newEnv(t)
	r := e.want(t, 0, "endpoints", "--url", srv.URL)
	if r.stdout != "" || !strings.Contains(r.stderr, "no advertised endpoints: a task's port is listed here when svc.yml gives it advertise: true") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if r = e.want(t, 0, "endpoints", "--json", "--url", srv.URL); r.stdout != "[]\n" || r.stderr != "" {
		t.Errorf("--json: stdout %q, stderr %q", r.stdout, r.stderr)
	}
}
