package schedulerlite

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/cdp"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testtools"
)

// uiSpec has a deploy plan the test holds open: the gate task's readiness
// check passes only once the test creates GATE_FILE. PASSWORD looks secret,
// so the API masks it, and the page must never show it.
const uiSpec = `name: ui-test
pods:
  web:
    count: 2
    placement: "hostname:UNIQUE"
    tasks:
      server:
        goal: RUNNING
        cmd: "exec sleep 600"
        cpus: 0.1
        memory: 32
        env:
          PASSWORD: hunter2-never-shown
  gate:
    count: 1
    tasks:
      wait:
        goal: RUNNING
        cmd: "exec sleep 600"
        cpus: 0.1
        memory: 32
        readiness-check:
          cmd: "test -e {{GATE_FILE}}"
          interval: 1
          delay: 0
          timeout: 5
`

// uiProxy is DC/OS's Admin Router in miniature: it serves the scheduler
// under /service/<name>/ (prefix stripped) and records every request, so the
// test can tell that the page used relative paths only, and which token
// each POST carried and what the scheduler (run with an API token, as
// --api-token-file sets) answered.
type uiProxy struct {
	prefix, token string
	mu            sync.Mutex
	outside       []string // requests that missed the prefix
	posts         []string // "path auth=ok|missing|wrong code"
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (p *uiProxy) handler(target *url.URL) http.Handler {
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.URL.Path = "/" + strings.TrimPrefix(r.In.URL.Path, p.prefix)
		r.Out.URL.RawPath = ""
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(p.prefix, "/") {
			http.Redirect(w, r, p.prefix, http.StatusMovedPermanently)
			return
		}
		if !strings.HasPrefix(r.URL.Path, p.prefix) {
			p.mu.Lock()
			p.outside = append(p.outside, r.Method+" "+r.URL.Path)
			p.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			rp.ServeHTTP(w, r)
			return
		}
		auth := "missing"
		switch r.Header.Get("Authorization") {
		case "":
		case "Bearer " + p.token:
			auth = "ok"
		default:
			auth = "wrong"
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		rp.ServeHTTP(rec, r)
		p.mu.Lock()
		p.posts = append(p.posts, fmt.Sprintf("%s auth=%s %d", strings.TrimPrefix(r.URL.Path, p.prefix), auth, rec.code))
		p.mu.Unlock()
	})
}

func (p *uiProxy) record() (outside, posts []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.outside), slices.Clone(p.posts)
}

// TestWebUI drives the scheduler's web UI in headless Chromium, through a
// /service/ui-test/ proxy, against a real scheduler-lite on testenv: the
// deploy shows up with phases, steps, pods, agents and health; Interrupt
// holds the deploy (WAITING in the page and in the API, health 207),
// without a token first (the page says so), then with one pasted in;
// Continue releases it and it completes; Restart relaunches a pod's task;
// the registered webui_url is the page.
// A screenshot is kept in $TASKKIT_ARTIFACTS (else the test's temp dir).
func TestWebUI(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	if _, err := cdp.Find(); err != nil {
		testtools.Skip(t, "chromium", err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate-open")
	specPath := filepath.Join(dir, "svc.yml")
	if err := os.WriteFile(specPath, []byte(uiSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	token := "tok-" + fmt.Sprint(time.Now().UnixNano())
	sctx, stop := context.WithCancel(context.Background())
	in, err := Start(sctx, Options{
		SpecPath: specPath, Env: []string{"GATE_FILE=" + gate}, Strict: true,
		Master: "local", LocalAgents: 3, LocalWorkDir: work, Checkpoint: true, ArtifactsDir: artifacts,
		Role: "ui-operators", FailoverTimeout: 90 * time.Minute, User: "uiuser",
		APIToken: token, // what --api-token-file sets: mutating calls need it
	})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	defer func() {
		stop()
		if err := in.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
		for _, p := range procs {
			if d, err := os.Readlink(p); err == nil && strings.HasPrefix(d, work) {
				t.Errorf("process %s still runs in %s", p, d)
			}
		}
	}()
	target, _ := url.Parse(in.APIURL)
	proxy := &uiProxy{prefix: "/service/ui-test/", token: token}
	front := httptest.NewServer(proxy.handler(target))
	defer front.Close()
	page := front.URL + "/service/ui-test/"

	b := browser(ctx, t, 1000)
	shot, waitDOM := b.shot, b.waitDOM
	click := func(sel string) {
		t.Helper()
		if err := b.Click(ctx, sel); err != nil {
			t.Fatal(err)
		}
	}
	planStatus := func(name string) plan.Status {
		var v plan.View
		getJSON(t, in.APIURL+"/v1/plans/"+name, &v)
		return v.Status
	}
	// q is the JavaScript for the first element matching a CSS selector.
	q := func(sel string) string { return "document.querySelector(" + strconv.Quote(sel) + ")" }
	const deploy = `.plan[data-plan="deploy"]`
	deployStatus := q(deploy) + ".dataset.status"
	health := `document.getElementById("health").dataset.value`

	// The page comes up through the proxy, with its assets, and fills in.
	if err := b.Navigate(ctx, page); err != nil {
		t.Fatal(err)
	}
	waitDOM("the page's first poll", 30*time.Second, `document.getElementById("updated").dataset.polls >= 1`)
	waitDOM("the web phase COMPLETE and the gate step STARTED (its readiness check fails)", 90*time.Second,
		q(deploy+` tr[data-phase="web"] [data-status="COMPLETE"]`)+" && "+q(deploy+` tr[data-step="gate-0:[wait]"] [data-status="STARTED"]`))
	waitDOM("pods and their tasks", 10*time.Second, `document.querySelectorAll('#pods tr[data-pod="web-0"] .task-id, #pods tr[data-pod="web-1"] .task-id, #pods tr[data-pod="gate-0"] .task-id').length === 3`)
	waitDOM("agents", 20*time.Second, `document.querySelectorAll("#agents tr[data-agent]").length >= 2 && document.querySelector("#pods tr[data-pod=web-0]").children[3].textContent.startsWith("`+agentBlock(in.Cluster)+`")`)
	// A poll that changes nothing keeps the page's elements: a click begun
	// on a button is not lost to a re-render (it was, under load, between
	// mouse down and up).
	if err := b.Evaluate(ctx, `window.kept = document.querySelector('#pods tr[data-pod="web-0"] button[data-cmd="restart"]'); window.keptAt = Number(document.getElementById("updated").dataset.polls)`, nil); err != nil {
		t.Fatal(err)
	}
	waitDOM("two polls later", 20*time.Second, `Number(document.getElementById("updated").dataset.polls) >= window.keptAt + 2`)
	var kept bool
	if err := b.Evaluate(ctx, `document.contains(window.kept)`, &kept); err != nil || !kept {
		t.Errorf("a poll that changed nothing replaced the pod's buttons (%v)", err)
	}
	waitDOM("health deploying (204 pending or 202 starting)", 10*time.Second, `["202", "204"].includes(`+health+`) && document.getElementById("health").dataset.status.startsWith("DEPLOYING")`)

	// Interrupt without a token: the scheduler refuses, the page says why.
	click(deploy + ` button[data-cmd="interrupt"]`)
	waitDOM("the page asks for a token and opens the token box", 10*time.Second, `document.getElementById("action").dataset.ok === "false" && document.getElementById("action").textContent.includes("token") && document.getElementById("token-box").open`)
	if st := planStatus(plan.Deploy); st == plan.Waiting {
		t.Fatalf("a refused interrupt changed the plan: %s", st)
	}
	// Paste the token; it is kept for the tab, not shown.
	if err := b.Evaluate(ctx, `document.getElementById("token").value = `+strconv.Quote(proxy.token), nil); err != nil {
		t.Fatal(err)
	}
	click(`#token-form button[type="submit"]`)
	waitDOM("the token kept in sessionStorage", 5*time.Second, `sessionStorage.getItem("scheduler-lite-api-token") === `+strconv.Quote(proxy.token)+` && document.getElementById("token").value === ""`)

	// A poll that changes a section keeps the elements that stand for the
	// same thing: the plan's buttons survive its status changing.
	if err := b.Evaluate(ctx, `window.keptPlan = `+q(deploy+` button[data-cmd="continue"]`), nil); err != nil {
		t.Fatal(err)
	}
	click(deploy + ` button[data-cmd="interrupt"]`)
	waitDOM("deploy WAITING in the page", 15*time.Second, deployStatus+` === "WAITING" && `+health+` === "207"`)
	if err := b.Evaluate(ctx, `document.contains(window.keptPlan)`, &kept); err != nil || !kept {
		t.Errorf("the deploy plan's status changed and its Continue button was replaced (%v)", err)
	}
	if st := planStatus(plan.Deploy); st != plan.Waiting {
		t.Errorf("after Interrupt the API says deploy is %s, want WAITING", st)
	}
	shot("webui-interrupted.png")

	// Continue, open the gate: the deploy completes.
	click(deploy + ` button[data-cmd="continue"]`)
	waitDOM("deploy no longer WAITING", 15*time.Second, deployStatus+` !== "WAITING"`)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDOM("deploy COMPLETE and health 200", 60*time.Second, deployStatus+` === "COMPLETE" && `+health+` === "200"`)
	if st := planStatus(plan.Deploy); st != plan.Complete {
		t.Errorf("the API says deploy is %s, want COMPLETE", st)
	}

	// Restart web-1: its task is relaunched with a new ID.
	oldID, _ := taskID(t, in.APIURL, "web-1")
	if err := b.Evaluate(ctx, `window.keptPod = `+q(`button[data-action="pod"][data-pod="web-1"][data-cmd="pause"]`), nil); err != nil {
		t.Fatal(err)
	}
	click(`button[data-action="pod"][data-pod="web-1"][data-cmd="restart"]`)
	waitDOM("web-1 relaunched and RUNNING", 60*time.Second, fmt.Sprintf(
		`(() => { const id = document.querySelector('#pods tr[data-pod="web-1"] .task-id'); const st = document.querySelector('#pods tr[data-pod="web-1"] [data-status]');
		  return id && st && id.dataset.taskId !== %q && st.dataset.status === "RUNNING"; })()`, oldID))
	if newID, st := taskID(t, in.APIURL, "web-1"); newID == oldID || st != "RUNNING" {
		t.Errorf("the API says web-1 is %s %s (was %s)", newID, st, oldID)
	}
	// Its row changed (task ID, status) and its buttons are the same ones.
	if err := b.Evaluate(ctx, `document.contains(window.keptPod) && window.keptPod.dataset.pod === "web-1"`, &kept); err != nil || !kept {
		t.Errorf("web-1's row changed and its Pause button was replaced (%v)", err)
	}
	waitDOM("deploy still COMPLETE and health 200 after the restart", 60*time.Second, deployStatus+` === "COMPLETE" && `+health+` === "200"`)
	shot("webui.png")

	// The framework registered its webui_url (with the role, user, failover
	// timeout and checkpointing it was given), and that URL is this page.
	var state struct {
		Frameworks []struct {
			Name, Role, User string
			WebUIURL         string  `json:"webui_url"`
			FailoverTimeout  float64 `json:"failover_timeout"`
			Checkpoint       bool
		}
	}
	getJSON(t, in.Cluster.MasterURL()+"/master/state", &state)
	if len(state.Frameworks) != 1 {
		t.Fatalf("frameworks %+v", state.Frameworks)
	}
	fw := state.Frameworks[0]
	if fw.Name != "ui-test" || fw.Role != "ui-operators" || fw.User != "uiuser" || fw.FailoverTimeout != 5400 || !fw.Checkpoint || fw.WebUIURL != in.APIURL+"/" {
		t.Errorf("registered framework %+v, want name ui-test, role ui-operators, user uiuser, failover 5400 s, checkpoint, webui_url %s/", fw, in.APIURL)
	}

	// What the page must never do: show a secret, show the token, reach
	// outside the proxy prefix, throw.
	var text string
	if err := b.Evaluate(ctx, "document.documentElement.outerHTML", &text); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", proxy.token} {
		if strings.Contains(text, secret) {
			t.Errorf("the page shows %q", secret)
		}
	}
	outside, posts := proxy.record()
	if len(outside) > 0 {
		t.Errorf("requests outside /service/ui-test/ (absolute paths in the page): %v", outside)
	}
	want := []string{
		"v1/plans/deploy/interrupt auth=missing 401",
		"v1/plans/deploy/interrupt auth=ok 200",
		"v1/plans/deploy/continue auth=ok 200",
		"v1/pod/web-1/restart auth=ok 200",
	}
	if !slices.Equal(posts, want) {
		t.Errorf("POSTs through the proxy:\n got %q\nwant %q", posts, want)
	}
	for _, e := range b.PageErrors() {
		if !strings.Contains(e, "status of 401") { // the refused interrupt, on purpose
			t.Errorf("page error: %s", e)
		}
	}
	if err := b.Navigate(ctx, fw.WebUIURL); err != nil {
		t.Fatal(err)
	}
	waitDOM("the UI at the registered webui_url", 30*time.Second, `document.title === "ui-test · scheduler-lite" && document.getElementById("updated").dataset.polls >= 1 && `+deployStatus+` === "COMPLETE"`)
	var polls string
	b.Evaluate(ctx, `document.getElementById("updated").dataset.polls`, &polls)
	t.Logf("the page polled %s times", polls)
}
