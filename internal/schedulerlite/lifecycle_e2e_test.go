package schedulerlite

// End-to-end tests of a service's life (issue 12): configuration updates
// rolled out pod by pod, refused changes, scaling down with the
// decommission plan, kill -9 during a roll, pause and resume. scheduler-lite
// runs as a process (the binary TestMain builds) against an in-process
// testenv, restarted with a new environment as an operator restarts it
// with new options.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/config"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/testenv"
)

// rollSpec: three web pods, rolled serially, whose task writes its
// environment and when it started, became ready (its readiness check
// looks for that file) and was asked to stop (SIGTERM, within its kill
// grace period), in its sandbox; and a side pod nothing changes.
const rollSpec = `name: roll
pods:
  web:
    count: 3
    tasks:
      server:
        goal: RUNNING
        cmd: "trap 'date +%s%N > stopped; exit 0' TERM; env > env.txt; date +%s%N > started; sleep 1; date +%s%N > ready; sleep 600 & wait"
        cpus: 0.01
        memory: 1
        kill-grace-period: 5
        env:
          GREETING: "{{GREETING}}"
        readiness-check:
          cmd: "test -e ready"
          interval: 1
          delay: 0
          timeout: 5
  side:
    count: 1
    tasks:
      t: {goal: RUNNING, cmd: "exec sleep 600", cpus: 0.01, memory: 1}
plans:
  deploy:
    strategy: serial
    phases:
      web: {pod: web, strategy: serial}
      side: {pod: side}
`

// specFile writes a svc.yml and returns its path.
func specFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lifecycle is one service's scheduler-lite, restarted on the same state
// and API port with another environment.
type lifecycle struct {
	t    *testing.T
	cl   *testenv.Cluster
	args []string
	p    *proc
	api  string
	n    int
	env  []string // KEY=VALUE given to start so far, the later winning
}

// newLifecycle runs svc with its state in the bbolt file state ("": a
// temporary one).
func newLifecycle(t *testing.T, cl *testenv.Cluster, svc, state string) *lifecycle {
	if state == "" {
		state = filepath.Join(t.TempDir(), "state.db")
	}
	args := []string{"--master", cl.MasterURL(), "--state", "file:" + state, "--api-listen", "127.0.0.1:" + strconv.Itoa(freePort(t)),
		"--artifacts-dir", fastArtifacts(t), svc}
	return &lifecycle{t: t, cl: cl, args: args}
}

// start runs the scheduler with env (KEY=VALUE, on top of the test's own
// environment and of what earlier starts were given) and waits for its
// API. The variables go to the scheduler's process only, not the test's,
// so that tests can run in parallel.
func (l *lifecycle) start(env ...string) {
	l.t.Helper()
	l.env = append(l.env, env...)
	l.n++
	l.p = startSchedEnv(l.t, fmt.Sprintf("sched-%d.log", l.n), l.env, l.args...)
	l.api = l.p.waitAPI(l.t, 30*time.Second)
}

// stop stops it as an operator does (SIGTERM).
func (l *lifecycle) stop() { l.p.kill(syscall.SIGTERM) }

// log is the running scheduler's log, for failures.
func (l *lifecycle) log() string {
	b, _ := os.ReadFile(l.p.logPath)
	return tailStr(b)
}

// liveTasks are the framework's live tasks by name (their reachable
// incarnation).
func liveTasks(cl *testenv.Cluster, fid string) map[string]testenv.TaskState {
	live, _ := frameworkTasks(cl, fid)
	out := map[string]testenv.TaskState{}
	for _, tk := range live {
		out[tk.Name] = tk
	}
	return out
}

// sandbox is the sandbox of task ID id ("" before it exists).
func sandbox(cl *testenv.Cluster, id string) string {
	m, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "tasks", id))
	for _, d := range m {
		if !strings.Contains(d, "/runs/latest/") {
			return d
		}
	}
	return ""
}

// taskFile reads a file in the sandbox of task ID id.
func taskFile(cl *testenv.Cluster, id, name string) ([]byte, error) {
	d := sandbox(cl, id)
	if d == "" {
		return nil, fmt.Errorf("no sandbox of task %s", id)
	}
	return os.ReadFile(filepath.Join(d, name))
}

// stamp reads a nanosecond time a task wrote to file in its sandbox (0
// when it has not).
func stamp(t *testing.T, cl *testenv.Cluster, id, file string) int64 {
	t.Helper()
	b, err := taskFile(cl, id, file)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// TestRollingConfigUpdate: an environment value changed and the scheduler
// restarted: the three web pods are relaunched with the new value, seen in
// the task's own environment, one at a time (each only once the one before
// is ready, the old task stopped with SIGTERM first, never two down at
// once); the side pod, whose spec did not change, keeps its task.
func TestRollingConfigUpdate(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	cl := cluster(t, testenv.Config{Agents: 2})
	l := newLifecycle(t, cl, specFile(t, rollSpec), "")
	l.start("GREETING=hello")
	poll(t, "deploy COMPLETE", 90*time.Second, func() bool { return planStatus(l.api, plan.Deploy) == plan.Complete })
	fid := fetchFrameworkID(t, l.api)
	var v1 []string
	getJSON(t, l.api+"/v1/configurations/targetId", &v1)
	before := liveTasks(cl, fid)
	l.stop()

	l.start("GREETING=bonjour")
	defer func() {
		if t.Failed() {
			t.Logf("scheduler log: %s", l.log())
		}
	}()
	var v2 []string
	getJSON(t, l.api+"/v1/configurations/targetId", &v2)
	if v2[0] == v1[0] {
		t.Fatalf("the target did not change: %s", v2[0])
	}
	poll(t, "the roll COMPLETE", 120*time.Second, func() bool {
		var v plan.View
		return getJSON(t, l.api+"/v1/plans/deploy", &v) == 200 && v.Status == plan.Complete && len(liveTasks(cl, fid)) == 4
	})
	after := liveTasks(cl, fid)
	if after["side-0-t"].ID != before["side-0-t"].ID {
		t.Errorf("side relaunched: %s → %s", before["side-0-t"].ID, after["side-0-t"].ID)
	}
	var prevReady int64
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("web-%d-server", i)
		old, cur := before[name].ID, after[name].ID
		if old == cur {
			t.Errorf("%s not relaunched", name)
			continue
		}
		env, err := taskFile(cl, cur, "env.txt")
		if err != nil || !strings.Contains("\n"+string(env), "\nGREETING=bonjour\n") {
			t.Errorf("%s's environment lacks GREETING=bonjour: %v\n%s", name, err, env)
		}
		stopped, started, ready := stamp(t, cl, old, "stopped"), stamp(t, cl, cur, "started"), stamp(t, cl, cur, "ready")
		switch {
		case stopped == 0:
			t.Errorf("%s's old task was not sent SIGTERM (its kill grace period)", name)
		case started < stopped:
			t.Errorf("%s relaunched before its old task stopped", name)
		case i > 0 && stopped < prevReady:
			t.Errorf("%s was stopped before web-%d was ready: two pods of the phase down at once", name, i-1)
		}
		prevReady = ready
		if a := after[name].AgentID; a != before[name].AgentID {
			t.Errorf("%s moved from agent %s to %s: not relaunched in place", name, before[name].AgentID, a)
		}
	}
	var st struct {
		Tasks []struct{ Configuration string }
	}
	getJSON(t, l.api+"/v1/pod/web-2/status", &st)
	if len(st.Tasks) != 1 || st.Tasks[0].Configuration != v2[0] {
		t.Errorf("web-2 on %+v, want %s", st, v2[0])
	}
}

// shrinkSpec is a parallel service of COUNT pods with an advertised port;
// DECOMMISSION allows it to shrink.
const shrinkSpec = `name: shrink
pods:
  web:
    count: {{COUNT}}
    {{#DECOMMISSION}}allow-decommission: true{{/DECOMMISSION}}
    tasks:
      server:
        goal: RUNNING
        cmd: "exec sleep 600"
        cpus: 0.01
        memory: 1
        ports: {http: {port: 0, advertise: true}}
plans:
  deploy:
    phases:
      web: {pod: web, strategy: parallel}
`

// TestScaleDown: count 3 → 2 without allow-decommission is refused (417 with
// the validator's message, the old target kept, nothing killed); with it,
// the decommission plan kills web-2, which is gone from the API, the state
// store and the master's running tasks.
func TestScaleDown(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	cl := cluster(t, testenv.Config{Agents: 2})
	state := filepath.Join(t.TempDir(), "state.db")
	l := newLifecycle(t, cl, specFile(t, shrinkSpec), state)
	l.start("COUNT=3", "DECOMMISSION=")
	defer func() {
		if t.Failed() {
			t.Logf("scheduler log: %s", l.log())
		}
	}()
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(l.api, plan.Deploy) == plan.Complete })
	fid := fetchFrameworkID(t, l.api)
	var v1 []string
	getJSON(t, l.api+"/v1/configurations/targetId", &v1)
	before := liveTasks(cl, fid)
	l.stop()

	l.start("COUNT=2")
	var v struct {
		Status string
		Errors []string
	}
	if code := getJSON(t, l.api+"/v1/plans/deploy", &v); code != 417 || v.Status != "ERROR" || len(v.Errors) != 1 ||
		!strings.Contains(v.Errors[0], "pods.web.count: 2: pod web cannot shrink from 3 instances without allow-decommission: true") {
		t.Errorf("deploy plan: %d %+v", code, v)
	}
	var tid []string
	getJSON(t, l.api+"/v1/configurations/targetId", &tid)
	if tid[0] != v1[0] {
		t.Errorf("target %s, want the old %s", tid[0], v1[0])
	}
	poll(t, "health 500", 30*time.Second, func() bool { return getJSON(t, l.api+"/v1/health", nil) == 500 })
	time.Sleep(2 * time.Second) // time to do what it must not
	if now := liveTasks(cl, fid); len(now) != 3 || now["web-2-server"].ID != before["web-2-server"].ID {
		t.Errorf("tasks after a refused change: %+v", now)
	}
	l.stop()

	l.start("COUNT=2", "DECOMMISSION=true")
	poll(t, "decommission COMPLETE", 60*time.Second, func() bool { return planStatus(l.api, plan.Decommission) == plan.Complete })
	var pods []string
	getJSON(t, l.api+"/v1/pod", &pods) // web-2 listed until erased, as in the SDK
	if !slices.Equal(pods, []string{"web-0", "web-1"}) {
		t.Errorf("pods %v", pods)
	}
	if code := getJSON(t, l.api+"/v1/pod/web-2/status", nil); code != 404 {
		t.Errorf("web-2 status: %d", code)
	}
	now := liveTasks(cl, fid)
	if _, ok := now["web-2-server"]; ok || len(now) != 2 || now["web-0-server"].ID != before["web-0-server"].ID {
		t.Errorf("live tasks %+v", now)
	}
	_, completed := frameworkTasks(cl, fid)
	if len(completed) != 1 || completed[0].Name != "web-2-server" || completed[0].State != mesos.TASK_KILLED {
		t.Errorf("completed tasks %+v", completed)
	}
	var ep struct{ Address []string }
	getJSON(t, l.api+"/v1/endpoints/http", &ep)
	if len(ep.Address) != 2 {
		t.Errorf("endpoint http %v", ep.Address)
	}
	l.stop()
	st, err := store.OpenBolt(state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tasks, _ := st.Tasks()
	if _, ok := tasks["web-2-server"]; ok || len(tasks) != 2 {
		t.Errorf("stored tasks: %d, web-2-server among them: %v", len(tasks), ok)
	}
	cs, _ := st.Configurations()
	if len(cs) != 1 {
		t.Errorf("%d configurations stored, want the target only", len(cs))
	}
}

// TestRollingUpdateKill9 kills the scheduler with SIGKILL at random points
// of a serial roll of 20 pods and restarts it each time: the roll
// completes, every pod ends on the new configuration, and none is updated
// twice (each pod's old task killed once, no new task ended).
func TestRollingUpdateKill9(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	const pods, kills = 20, 8
	cl := cluster(t, testenv.Config{Agents: 3})
	svc := writeSpec(t, "roll20", pods, "serial", map[string]string{"t": `{goal: RUNNING, cmd: "exec sleep 600", cpus: 0.01, memory: 1, env: {VERSION: "{{VERSION}}"}}`})
	l := newLifecycle(t, cl, svc, "")
	l.start("VERSION=1")
	poll(t, "deploy COMPLETE", 120*time.Second, func() bool { return planStatus(l.api, plan.Deploy) == plan.Complete })
	fid := fetchFrameworkID(t, l.api)
	old := liveTasks(cl, fid)
	l.stop()

	l.start("VERSION=2")
	var target []string
	getJSON(t, l.api+"/v1/configurations/targetId", &target)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var at []string
	for i := 1; i <= kills; i++ {
		time.Sleep(time.Duration(200+rng.Intn(1300)) * time.Millisecond)
		rolled := 0
		for name, tk := range liveTasks(cl, fid) {
			if tk.ID != old[name].ID {
				rolled++
			}
		}
		at = append(at, fmt.Sprintf("%d:%d", i, rolled))
		l.p.kill(syscall.SIGKILL)
		l.n++
		l.p = startSchedEnv(t, fmt.Sprintf("sched-%d.log", l.n), l.env, l.args...)
		l.p.waitAPI(t, 30*time.Second)
	}
	t.Logf("kills at (kill:pods rolled) %s", strings.Join(at, " "))
	poll(t, "the roll COMPLETE", 180*time.Second, func() bool { return planStatus(l.api, plan.Deploy) == plan.Complete })
	live, completed := frameworkTasks(cl, fid)
	if len(live) != pods {
		t.Errorf("%d live tasks, want %d", len(live), pods)
	}
	ends := map[string]int{}
	for _, tk := range completed {
		ends[tk.Name]++
		if tk.ID != old[tk.Name].ID {
			t.Errorf("a task of the new configuration ended: %s %s %s", tk.Name, tk.ID, tk.State)
		}
	}
	for i := 0; i < pods; i++ {
		inst := fmt.Sprintf("p-%d", i)
		name := inst + "-t"
		if ends[name] != 1 {
			t.Errorf("%s: %d tasks ended, want its old one once", name, ends[name])
		}
		var info []struct{ Info mesos.TaskInfo }
		getJSON(t, l.api+"/v1/pod/"+inst+"/info", &info)
		if len(info) != 1 {
			t.Errorf("%s info %+v", inst, info)
			continue
		}
		ti := info[0].Info
		version := ""
		for _, v := range ti.GetCommand().GetEnvironment().GetVariables() {
			if v.Name == "VERSION" {
				version = v.GetValue()
			}
		}
		cfg := ""
		for _, lb := range ti.GetLabels().GetLabels() {
			if lb.Key == podinfo.LabelTargetConfiguration {
				cfg = lb.GetValue()
			}
		}
		if version != "2" || cfg != target[0] || ti.TaskID.Value == old[name].ID {
			t.Errorf("%s: VERSION=%s on %s (%s), want 2 on %s", inst, version, cfg, ti.TaskID.Value, target[0])
		}
	}
}

// pauseSpec: a pod with health and readiness checks whose command says it
// runs.
const pauseSpec = `name: nap
pods:
  web:
    count: 1
    tasks:
      server:
        goal: RUNNING
        cmd: "echo original-command-running; exec sleep 600"
        cpus: 0.01
        memory: 1
        health-check: {cmd: "true", interval: 5, grace-period: 30, max-consecutive-failures: 3, delay: 0, timeout: 5}
        readiness-check: {cmd: "true", interval: 1, delay: 0, timeout: 5}
`

// TestPauseResume: pause relaunches the pod's task idle (the pause
// command, no checks), status PAUSED; resume relaunches it with its own
// command and checks.
func TestPauseResume(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	cl := cluster(t, testenv.Config{Agents: 1})
	l := newLifecycle(t, cl, specFile(t, pauseSpec), "")
	l.start()
	defer func() {
		if t.Failed() {
			t.Logf("scheduler log: %s", l.log())
		}
	}()
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(l.api, plan.Deploy) == plan.Complete })
	fid := fetchFrameworkID(t, l.api)
	first := liveTasks(cl, fid)["web-0-server"].ID
	info := func() (cmd string, checks bool, id string) {
		var v []struct{ Info mesos.TaskInfo }
		getJSON(t, l.api+"/v1/pod/web-0/info", &v)
		if len(v) != 1 {
			t.Fatalf("info %+v", v)
		}
		ti := v[0].Info
		return ti.GetCommand().GetValue(), ti.HealthCheck != nil && ti.Check != nil, ti.TaskID.Value
	}
	status := func() string {
		var st struct{ Tasks []struct{ ID, Status string } }
		getJSON(t, l.api+"/v1/pod/web-0/status", &st)
		if len(st.Tasks) != 1 {
			return ""
		}
		return st.Tasks[0].Status
	}
	if code, body := post(t, l.api+"/v1/pod/web-0/pause", `["server"]`); code != 200 || !strings.Contains(body, "web-0-server") {
		t.Fatalf("pause: %d %s", code, body)
	}
	poll(t, "PAUSED", 60*time.Second, func() bool { return status() == "PAUSED" })
	cmd, checks, paused := info()
	if cmd != podinfo.DefaultPauseCommand || checks || paused == first {
		t.Errorf("paused task %s: command %q, checks %v", paused, cmd, checks)
	}
	poll(t, "the paused task idling", 10*time.Second, func() bool {
		b, _ := taskFile(cl, paused, "stdout")
		return strings.Contains(string(b), "This task is PAUSED")
	})
	// PAUSED once relaunched paused, as in the SDK (PAUSED + COMPLETE when
	// the relaunch is triggered): the master sees it run a moment later.
	poll(t, "the paused task RUNNING in the master", 10*time.Second, func() bool {
		live := liveTasks(cl, fid)["web-0-server"]
		return live.ID == paused && live.State == mesos.TASK_RUNNING
	})
	if code, body := post(t, l.api+"/v1/pod/web-0/resume", ""); code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	poll(t, "RUNNING with its own command", 60*time.Second, func() bool {
		_, _, id := info()
		return id != paused && status() == "RUNNING"
	})
	cmd, checks, resumed := info()
	if cmd != "echo original-command-running; exec sleep 600" || !checks {
		t.Errorf("resumed task %s: command %q, checks %v", resumed, cmd, checks)
	}
	poll(t, "the resumed task running its command", 10*time.Second, func() bool {
		b, _ := taskFile(cl, resumed, "stdout")
		return strings.Contains(string(b), "original-command-running")
	})
	poll(t, "health 200", 30*time.Second, func() bool { return getJSON(t, l.api+"/v1/health", nil) == 200 })
	var c json.RawMessage
	if code := getJSON(t, l.api+"/v1/configurations/target", &c); code != 200 || !config.ValidID(mustTargetID(t, l.api)) {
		t.Errorf("target configuration %d %s", code, c)
	}
}

func mustTargetID(t *testing.T, api string) string {
	var id []string
	getJSON(t, api+"/v1/configurations/targetId", &id)
	if len(id) != 1 {
		t.Fatalf("targetId %v", id)
	}
	return id[0]
}
