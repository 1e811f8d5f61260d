package schedulerlite

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testenv"
)

// restartSpec fetches a file of the service's from ARTIFACTS_URL and
// renders a config template: both name the scheduler's own address.
const restartSpec = `name: moved
pods:
  web:
    count: 2
    uris: ["{{ARTIFACTS_URL}}/data.txt"]
    tasks:
      server:
        goal: RUNNING
        cmd: "test -s data.txt && exec sleep 600"
        cpus: 0.01
        memory: 1
        configs:
          app: {template: app.conf.mustache, dest: app.conf}
plans:
  deploy:
    phases:
      web: {pod: web, strategy: parallel}
`

// TestRestartOnAnotherPort: a scheduler restarted on the same state with
// its API on another port (--api-listen's default port 0, Marathon's
// PORT_API, a failover to another host) has the same configuration: its
// address, in ARTIFACTS_URL, is no part of it. Nothing is relaunched; a
// pod restarted afterwards fetches from the new address.
func TestRestartOnAnotherPort(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	cl := cluster(t, testenv.Config{Agents: 2})
	svc := specFile(t, restartSpec)
	if err := os.WriteFile(filepath.Join(filepath.Dir(svc), "app.conf.mustache"), []byte("greeting = {{POD_INSTANCE_INDEX}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	arts := fastArtifacts(t)
	if err := os.WriteFile(filepath.Join(arts, "data.txt"), []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLifecycle(t, cl, svc, "")
	l.args = replaceArg(l.args, "--artifacts-dir", arts)
	l.start()
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(l.api, plan.Deploy) == plan.Complete })
	target := mustTargetID(t, l.api)
	fid := fetchFrameworkID(t, l.api)
	before := liveTasks(cl, fid)
	l.stop()

	oldAPI := l.api
	l.args = replaceArg(l.args, "--api-listen", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	l.start()
	if l.api == oldAPI {
		t.Fatalf("the API did not move: %s", l.api)
	}
	if got := mustTargetID(t, l.api); got != target {
		t.Errorf("target configuration %s after the move, want %s\n%s", got, target, l.log())
	}
	// Reconciled (318 until then), then long enough to decide: a fixed
	// window from the start could end before the reconciliation on a
	// loaded machine, and then looked at nothing.
	poll(t, "the restarted scheduler reconciled", 60*time.Second, func() bool { return getJSON(t, l.api+"/v1/health", nil) != 318 })
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for name, tk := range before {
			if now := liveTasks(cl, fid)[name]; now.ID != tk.ID {
				t.Fatalf("%s relaunched after the move (%s → %s)\n%s", name, tk.ID, now.ID, l.log())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := planStatus(l.api, plan.Deploy); s != plan.Complete {
		t.Errorf("deploy %s after the move, want COMPLETE", s)
	}
	if strings.Contains(l.log(), "out of date") {
		t.Errorf("tasks out of date after the move:\n%s", l.log())
	}

	// The old address is gone: a relaunch fetches from the new one.
	old := liveTasks(cl, fid)["web-0-server"].ID
	if code, body := post(t, l.api+"/v1/pod/web-0/restart", ""); code != 200 {
		t.Fatalf("restart web-0: %d %s", code, body)
	}
	poll(t, "web-0 RUNNING again", 60*time.Second, func() bool {
		tk := liveTasks(cl, fid)["web-0-server"]
		return tk.ID != old && tk.State == mesos.TASK_RUNNING
	})
}

// replaceArg returns args with the value after flag set to v.
func replaceArg(args []string, flag, v string) []string {
	out := append([]string(nil), args...)
	for i := range out[:len(out)-1] {
		if out[i] == flag {
			out[i+1] = v
		}
	}
	return out
}
