package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/sdk/service"
	"github.com/taskkit/taskkit/internal/spec"
)

// canarySpec has one serial-canary phase of three instances: hello-0 and
// hello-1 are its canary steps.
const canarySpec = `name: canary-unit
pods:
  hello:
    count: 3
    tasks:
      server: {goal: RUNNING, cmd: "sleep 600", cpus: 0.1, memory: 32}
plans:
  deploy:
    strategy: serial
    phases:
      hello-deploy: {strategy: serial-canary, pod: hello}
`

// TestCanaryPhaseInterrupt: POST interrupt?phase= of a canary phase while
// its canary lasts changes nothing and answers 208, and each continue
// naming the phase still proceeds the next canary step, as the SDK's
// CanaryStrategy.interrupt ignores an interrupt while a canary step waits
// (PlansQueries.interrupt answers 208 before the first continue, the phase
// being interrupted; after it the SDK answers 200 for the ignored
// interrupt, where we keep 208: nothing changed). Once the canary is over
// an interrupt holds the phase (200) until a continue names it. No offer
// is sent, so the steps continued stay PENDING.
func TestCanaryPhaseInterrupt(t *testing.T) {
	m := sdktest.NewMaster()
	sched := newScheduler(t, func(c *service.Config) {
		loaded, err := spec.Parse([]byte(canarySpec), spec.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		c.Loaded, c.Caller, c.Clock = loaded, m, sdktest.NewClock(time.Unix(0, 0))
	})
	runSubscribed(t, sched, m)
	srv := httptest.NewServer((&Server{Sched: sched}).Handler())
	t.Cleanup(srv.Close)

	const phase = "?phase=hello-deploy"
	for i, tc := range []struct {
		cmd   string
		code  int
		steps string // hello-0, hello-1, hello-2 after the command
	}{
		{"interrupt", 208, "WAITING WAITING PENDING"}, // the canary holds it
		{"continue", 200, "PENDING WAITING PENDING"},  // hello-0 proceeds
		{"interrupt", 208, "PENDING WAITING PENDING"}, // ignored: hello-1 still waits
		{"continue", 200, "PENDING PENDING PENDING"},  // hello-1 proceeds: the canary is over
		{"interrupt", 200, "WAITING WAITING WAITING"}, // now it holds the phase
		{"interrupt", 208, "WAITING WAITING WAITING"},
		{"continue", 200, "PENDING PENDING PENDING"},
		{"continue", 208, "PENDING PENDING PENDING"},
	} {
		code, _, body := call(t, http.MethodPost, srv.URL+"/v1/plans/deploy/"+tc.cmd+phase)
		if code != tc.code || !strings.Contains(body, "Received cmd: "+tc.cmd) {
			t.Errorf("#%d POST %s%s: %d %s, want %d", i, tc.cmd, phase, code, body, tc.code)
		}
		_, _, body = call(t, http.MethodGet, srv.URL+"/v1/plans/deploy")
		var v struct {
			Phases []struct {
				Steps []struct {
					Status string `json:"status"`
				} `json:"steps"`
			} `json:"phases"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Phases) != 1 {
			t.Fatalf("#%d GET /v1/plans/deploy: %v %s", i, err, body)
		}
		var got []string
		for _, s := range v.Phases[0].Steps {
			got = append(got, s.Status)
		}
		if strings.Join(got, " ") != tc.steps {
			t.Errorf("#%d after %s: steps %s, want %s", i, tc.cmd, strings.Join(got, " "), tc.steps)
		}
	}
}
