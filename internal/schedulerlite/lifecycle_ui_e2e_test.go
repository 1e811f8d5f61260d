package schedulerlite

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/cdp"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testenv"
	"github.com/taskkit/taskkit/internal/testtools"
)

// uiBrowser is headless Chromium on a test's web UI, with the test's
// context and the directory its screenshots go to.
type uiBrowser struct {
	*cdp.Browser
	t   *testing.T
	ctx context.Context
	dir string
}

// browser launches headless Chromium (1280 × height), closed (with every
// process it started) when the test ends; screenshots go to
// $TASKKIT_ARTIFACTS, else the test's temp dir.
func browser(ctx context.Context, t *testing.T, height int) *uiBrowser {
	t.Helper()
	b, err := cdp.Launch(ctx, cdp.Options{Width: 1280, Height: height})
	if err != nil {
		t.Fatalf("launching the browser: %v", err)
	}
	profile := b.Profile()
	t.Cleanup(func() {
		b.Close()
		if left := cdp.Stragglers(profile); len(left) > 0 {
			t.Errorf("browser processes left: %v", left)
		}
	})
	dir := os.Getenv("TASKKIT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &uiBrowser{Browser: b, t: t, ctx: ctx, dir: dir}
}

// shot keeps a screenshot of the page as name in the screenshots'
// directory.
func (b *uiBrowser) shot(name string) {
	png, err := b.Screenshot(b.ctx)
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Error(err)
	}
	b.t.Logf("screenshot: %s", p)
}

// waitDOM waits (at most d) for the JavaScript condition expr on the page;
// on failure it keeps a screenshot (webui-failure.png) and shows the
// page's text.
func (b *uiBrowser) waitDOM(what string, d time.Duration, expr string) {
	b.t.Helper()
	wctx, wcancel := context.WithTimeout(b.ctx, d)
	defer wcancel()
	if err := b.WaitFor(wctx, expr); err != nil {
		var text string
		b.Evaluate(b.ctx, "document.body.innerText", &text)
		b.shot("webui-failure.png")
		b.t.Fatalf("%s: %v\npage:\n%s\npage errors: %v", what, err, text, b.PageErrors())
	}
}

// uiUpdateSpec: a serial roll the test holds with GATE, a file the new
// task's readiness check waits for.
const uiUpdateSpec = `name: ui-update
pods:
  web:
    count: 2
    tasks:
      server:
        goal: RUNNING
        cmd: "exec sleep 600"
        cpus: 0.01
        memory: 1
        env: {GREETING: "{{GREETING}}"}
        readiness-check: {cmd: "test -e {{GATE}}", interval: 1, delay: 0, timeout: 5}
plans:
  deploy:
    phases:
      web: {pod: web, strategy: serial}
`

// TestWebUIUpdate restarts a scheduler with a changed environment while
// the web UI is open: the page shows the new target configuration and,
// while the roll waits for web-0's readiness, web-1 out of date; its Pause
// button pauses web-1 (PAUSED, relaunched on the configuration it ran, as
// the SDK's recovery does: still out of date), Resume brings it back; once
// the roll completes nothing is out of date.
func TestWebUIUpdate(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	if _, err := cdp.Find(); err != nil {
		testtools.Skip(t, "chromium", err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := cluster(t, testenv.Config{Agents: 2})
	dir := t.TempDir()
	specPath := specFile(t, uiUpdateSpec)
	state := "file:" + filepath.Join(dir, "state.db")
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	start := func(env ...string) (*Instance, context.CancelFunc) {
		t.Helper()
		sctx, stop := context.WithCancel(context.Background())
		in, err := Start(sctx, Options{SpecPath: specPath, Env: env, Master: cl.MasterURL(), State: state, APIListen: listen,
			ArtifactsDir: fastArtifacts(t), Checkpoint: true})
		if err != nil {
			stop()
			t.Fatal(err)
		}
		return in, stop
	}
	in, stop := start("GREETING=hello", "GATE=/dev/null")
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(in.APIURL, plan.Deploy) == plan.Complete })
	stop()
	if err := in.Wait(); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(dir, "gate")
	in, stop = start("GREETING=bonjour", "GATE="+gate)
	defer func() {
		stop()
		in.Wait()
	}()
	target := mustTargetID(t, in.APIURL)

	b := browser(ctx, t, 900)
	waitDOM := b.waitDOM
	pod := func(name string) string { return `document.querySelector('#pods tr[data-pod="` + name + `"]')` }
	status := func(name string) string { return pod(name) + `.querySelector("[data-status]").dataset.status` }
	if err := b.Navigate(ctx, in.APIURL+"/"); err != nil {
		t.Fatal(err)
	}
	waitDOM("the target configuration in the header", 30*time.Second, `document.getElementById("target").dataset.configuration === `+strconv.Quote(target))
	waitDOM("web-0 rolled (on the target), web-1 out of date", 60*time.Second,
		pod("web-0")+` && `+pod("web-0")+`.dataset.outOfDate === "false" && `+pod("web-1")+`.dataset.outOfDate === "true" && `+
			pod("web-1")+`.textContent.includes("out of date: environment")`)
	b.shot("webui-update.png")

	if err := b.Click(ctx, `button[data-action="pod"][data-pod="web-1"][data-cmd="pause"]`); err != nil {
		t.Fatal(err)
	}
	waitDOM("web-1 PAUSED, on the configuration it ran (still out of date)", 60*time.Second, status("web-1")+` === "PAUSED" && `+pod("web-1")+`.dataset.outOfDate === "true"`)
	if err := b.Click(ctx, `button[data-action="pod"][data-pod="web-1"][data-cmd="resume"]`); err != nil {
		t.Fatal(err)
	}
	waitDOM("web-1 RUNNING again", 60*time.Second, status("web-1")+` === "RUNNING" && `+pod("web-1")+` .querySelector('button[data-cmd="pause"]')`)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDOM("the roll COMPLETE, nothing out of date", 60*time.Second,
		`document.querySelector('.plan[data-plan="deploy"]').dataset.status === "COMPLETE" && !document.querySelector('#pods tr[data-out-of-date="true"]')`)
	for _, e := range b.PageErrors() {
		t.Errorf("page error: %s", e)
	}
}
