package schedulerlite

// Fault-injection tests: scheduler-lite runs as a process (the binary the
// package's TestMain builds), testenv in-process (its executors and tasks
// are processes), ZooKeeper as a process. Faults are real: SIGKILL of the
// scheduler, of an executor, of an agent, a dropped subscription stream.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/store/zktest"
	"github.com/taskkit/taskkit/internal/testenv"
)

// fastArtifacts is a directory with only the executor: pods of these tests
// fetch nothing from the scheduler, so a scheduler killed mid-fetch cannot
// fail a launch (that would be a correct relaunch, but not "exactly once").
func fastArtifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(artifacts, "executor"), filepath.Join(dir, "executor")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cluster starts an in-process testenv with n agents, stopped (every
// process gone) when the test ends; without DNS unless cfg.DNSListen
// says where.
func cluster(t *testing.T, cfg testenv.Config) *testenv.Cluster {
	t.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	cfg.ExecutorPath = filepath.Join(artifacts, "executor")
	cfg.AgentPort = 0
	if cfg.DNSListen == "" {
		cfg.DNSListen = "off"
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 500 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := testenv.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-cl.Done():
		case <-time.After(30 * time.Second):
			t.Error("testenv did not stop within 30 s")
		}
	})
	return cl
}

// freePort returns a free loopback port (kept by the scheduler across
// restarts, as Marathon's PORT_API would be).
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a scheduler-lite process.
type proc struct {
	cmd     *exec.Cmd
	api     chan string // SCHEDULER_API once printed
	done    chan struct{}
	logPath string
}

// startSched runs scheduler-lite with args (svc.yml last); it is killed
// when the test ends.
func startSched(t *testing.T, logName string, args ...string) *proc {
	t.Helper()
	return startSchedEnv(t, logName, nil, args...)
}

// startSchedEnv is startSched with env (KEY=VALUE) added to the process's
// environment.
func startSchedEnv(t *testing.T, logName string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(artifacts, "scheduler-lite"), args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, api: make(chan string, 1), done: make(chan struct{}), logPath: logPath}
	go func() { // owned by p: ends when the process closes its stdout
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "SCHEDULER_API="); ok {
				p.api <- v
			}
		}
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() { // CI keeps no temp dir: the log's end says why
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("the end of %s:\n%s", logName, tailStr(b))
			}
		}
	})
	return p
}

// waitAPI waits for the API URL (the scheduler leads and runs), and
// checks that the scheduler registered in the tests' runtimeDir.
func (p *proc) waitAPI(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case u := <-p.api:
		p.checkRegistered(t)
		return u
	case <-p.done:
		b, _ := os.ReadFile(p.logPath)
		t.Fatalf("scheduler-lite exited: %s", tailStr(b))
	case <-time.After(d):
		b, _ := os.ReadFile(p.logPath)
		t.Fatalf("scheduler-lite did not start within %s: %s", d, tailStr(b))
	}
	return ""
}

// checkRegistered fails t unless a registration of p (its PID) is in
// runtimeDir: the scheduler registers before it prints its API URL. The
// SDK uninstall mode (SDK_UNINSTALL=true, inherited from the test's
// environment) serves Cosmos only and does not register.
func (p *proc) checkRegistered(t *testing.T) {
	t.Helper()
	if os.Getenv("SDK_UNINSTALL") == "true" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(runtimeDir, "taskkit", "scheduler-lite", "*.json"))
	for _, f := range files {
		var reg struct{ PID int }
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &reg) == nil && reg.PID == p.cmd.Process.Pid {
			return
		}
	}
	t.Errorf("scheduler-lite (pid %d) is not registered in the tests' XDG_RUNTIME_DIR %s (%q)", p.cmd.Process.Pid, runtimeDir, files)
}

// kill signals the process group and waits (at most 10 s) for the end.
func (p *proc) kill(sig syscall.Signal) {
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func tailStr(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// writeSpec writes a svc.yml of count tiny pods "p" (phase strategy
// strategy) with the given tasks (YAML flow maps) and returns its path.
func writeSpec(t *testing.T, name string, count int, strategy string, tasks map[string]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\npods:\n  p:\n    count: %d\n    tasks:\n", name, count)
	keys := make([]string, 0, len(tasks))
	for k := range tasks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "      %s: %s\n", k, tasks[k])
	}
	fmt.Fprintf(&b, "plans:\n  deploy:\n    phases:\n      p: {pod: p, strategy: %s}\n", strategy)
	p := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const sleeper = `{goal: RUNNING, cmd: "exec sleep 600", cpus: 0.01, memory: 1}`

// planStatus reads the deploy plan's status from the API ("" on error).
func planStatus(api, name string) plan.Status {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(api + "/v1/plans/" + name)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var v plan.View
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return ""
	}
	return v.Status
}

// poll waits for cond, failing the test after d.
func poll(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// frameworkTasks returns the framework's live and completed tasks.
func frameworkTasks(cl *testenv.Cluster, fid string) (live, completed []testenv.TaskState) {
	for _, f := range cl.State().Frameworks {
		if f.ID == fid {
			return f.Tasks, f.Completed
		}
	}
	return nil, nil
}

// checkExactlyOnce asserts one RUNNING task per pod instance, and that no
// task ever ended (nothing was launched twice or killed).
func checkExactlyOnce(t *testing.T, cl *testenv.Cluster, fid string, pods int) {
	t.Helper()
	live, completed := frameworkTasks(cl, fid)
	if len(cl.State().Frameworks) != 1 {
		t.Errorf("%d frameworks, want 1", len(cl.State().Frameworks))
	}
	seen := map[string]int{}
	for _, tk := range live {
		seen[tk.Name]++
		if tk.State != mesos.TASK_RUNNING {
			t.Errorf("task %s %s", tk.Name, tk.State)
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s launched %d times", name, n)
		}
	}
	if len(seen) != pods || len(live) != pods {
		t.Errorf("%d live tasks for %d pods, want %d", len(live), len(seen), pods)
	}
	for _, tk := range completed {
		t.Errorf("a task ended: %s %s", tk.Name, tk.State)
	}
}

func fetchFrameworkID(t *testing.T, api string) string {
	t.Helper()
	var fid []string
	getJSON(t, api+"/v1/state/frameworkId", &fid)
	if len(fid) != 1 || fid[0] == "" {
		t.Fatalf("framework ID %v", fid)
	}
	return fid[0]
}

// TestFaultSchedulerKill9 kills the scheduler with SIGKILL 20 times at
// random points of a 50-pod serial deploy and restarts it on the same
// state: every pod must run exactly once, the plan COMPLETE, the framework
// ID unchanged.
func TestFaultSchedulerKill9(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	const pods, kills = 50, 20
	cl := cluster(t, testenv.Config{Agents: 3})
	svc := writeSpec(t, "kill9", pods, "serial", map[string]string{"t": sleeper})
	state := "file:" + filepath.Join(t.TempDir(), "state.db")
	port := strconv.Itoa(freePort(t))
	arts := fastArtifacts(t)
	args := []string{"--master", cl.MasterURL(), "--state", state, "--api-listen", "127.0.0.1:" + port, "--artifacts-dir", arts, svc}
	start := time.Now()
	p := startSched(t, "sched-0.log", args...)
	api := p.waitAPI(t, 30*time.Second)
	fid := ""
	poll(t, "a framework ID", 30*time.Second, func() bool {
		var ids []string
		getJSON(t, api+"/v1/state/frameworkId", &ids)
		if len(ids) == 1 {
			fid = ids[0]
		}
		return fid != ""
	})
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t.Logf("random seed point: %d", rng.Int63())
	var statuses []string
	for i := 1; i <= kills; i++ {
		time.Sleep(time.Duration(200+rng.Intn(1300)) * time.Millisecond)
		statuses = append(statuses, fmt.Sprintf("%d:%d", i, runningCount(cl, fid)))
		p.kill(syscall.SIGKILL)
		p = startSched(t, fmt.Sprintf("sched-%d.log", i), args...)
		p.waitAPI(t, 30*time.Second)
		if got := fetchFrameworkID(t, api); got != fid {
			t.Fatalf("framework ID changed after kill %d: %s → %s", i, fid, got)
		}
	}
	t.Logf("kills at (kill:running tasks) %s", strings.Join(statuses, " "))
	poll(t, "deploy COMPLETE", 120*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	t.Logf("50 pods with 20 kill -9s: COMPLETE after %s", time.Since(start).Round(time.Millisecond))
	checkExactlyOnce(t, cl, fid, pods)
}

func runningCount(cl *testenv.Cluster, fid string) int {
	live, _ := frameworkTasks(cl, fid)
	n := 0
	for _, tk := range live {
		if tk.State == mesos.TASK_RUNNING {
			n++
		}
	}
	return n
}

// podTask returns the task ID, agent and state of the task named name
// (its reachable incarnation, if any), from testenv.
func podTask(cl *testenv.Cluster, fid, name string) (id, agent string, state mesos.TaskState) {
	live, _ := frameworkTasks(cl, fid)
	for _, tk := range live {
		// An unreachable task stays listed next to its replacement.
		if tk.Name == name && (tk.State != mesos.TASK_UNREACHABLE || id == "") {
			id, agent, state = tk.ID, tk.AgentID, tk.State
		}
	}
	return id, agent, state
}

// TestFaultAgentKilled kills the agent of a pod: its task goes
// UNREACHABLE once the master's pings time out (2 of 250 ms here, not
// Mesos' 5 of 15 s), waits for the agent --agent-lost-timeout, then runs
// elsewhere.
func TestFaultAgentKilled(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	const lostTimeout = 3 * time.Second
	cl := cluster(t, testenv.Config{Agents: 3, AgentPingTimeout: 250 * time.Millisecond, MaxAgentPingTimeouts: 2})
	svc := writeSpec(t, "agentkill", 2, "parallel", map[string]string{"t": sleeper})
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"),
		"--artifacts-dir", fastArtifacts(t), "--agent-lost-timeout", lostTimeout.String(), svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)
	id, agent, _ := podTask(cl, fid, "p-0-t")
	killed := time.Now()
	if err := cl.KillAgent(agent); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			t.Logf("scheduler log: %s", tailStr(b))
		}
	}()
	poll(t, "p-0-t RUNNING on another agent", lostTimeout+30*time.Second, func() bool {
		nid, nagent, st := podTask(cl, fid, "p-0-t")
		return nid != "" && nid != id && nagent != agent && st == mesos.TASK_RUNNING
	})
	// From before KillAgent, which returns only once the agent's processes
	// are gone (slow on a loaded machine).
	if took := time.Since(killed); took < lostTimeout-500*time.Millisecond {
		t.Errorf("relaunched elsewhere after %s, before the agent-lost timeout %s", took, lostTimeout)
	}
	t.Logf("agent killed → task RUNNING elsewhere after %s (timeout %s)", time.Since(killed).Round(time.Millisecond), lostTimeout)
	poll(t, "health 200", 30*time.Second, func() bool { return getJSON(t, api+"/v1/health", nil) == 200 })
}

// TestFaultExecutorKilled kills a pod's executor (the whole pod is
// relaunched in place) and runs a crash-looping non-essential task next to
// an essential one (only it is relaunched, into the same executor, with a
// DELAYED backoff; the essential task keeps running).
func TestFaultExecutorKilled(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 2})
	svc := writeSpec(t, "execkill", 2, "parallel", map[string]string{
		"server": sleeper,
		"side":   `{goal: RUNNING, cmd: "exec sleep 600", cpus: 0.01, memory: 1, essential: false}`,
	})
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"),
		"--artifacts-dir", fastArtifacts(t), svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)

	t.Run("executor killed: pod relaunched in place", func(t *testing.T) {
		sid, agent, _ := podTask(cl, fid, "p-0-server")
		var exec string
		live, _ := frameworkTasks(cl, fid)
		for _, tk := range live {
			if tk.ID == sid {
				exec = tk.ExecutorID
			}
		}
		if err := cl.KillExecutor(fid, exec); err != nil {
			t.Fatal(err)
		}
		poll(t, "both tasks of p-0 relaunched", 30*time.Second, func() bool {
			nid, nagent, st := podTask(cl, fid, "p-0-server")
			_, _, sst := podTask(cl, fid, "p-0-side")
			return nid != sid && nagent == agent && st == mesos.TASK_RUNNING && sst == mesos.TASK_RUNNING
		})
	})
}

// TestFaultNonEssentialCrashLoop: a non-essential task that keeps failing
// is relaunched alone into its pod's running executor, with backoff (the
// recovery step DELAYED), while the essential task keeps running.
func TestFaultNonEssentialCrashLoop(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 2})
	svc := writeSpec(t, "crashloop", 1, "parallel", map[string]string{
		"server": sleeper,
		"side":   `{goal: RUNNING, cmd: "sleep 1; exit 1", cpus: 0.01, memory: 1, essential: false}`,
	})
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"),
		"--artifacts-dir", fastArtifacts(t), "--backoff-initial", "2s", "--backoff-max", "4s", svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)
	sid, _, _ := podTask(cl, fid, "p-0-server")
	delayed := false
	poll(t, "the recovery step DELAYED and health 208", 30*time.Second, func() bool {
		var v plan.View
		getJSON(t, api+"/v1/plans/recovery", &v)
		for _, ph := range v.Phases {
			for _, st := range ph.Steps {
				if st.Status == plan.Delayed && strings.Contains(st.Name, "[side]") {
					delayed = true
				}
			}
		}
		return delayed && getJSON(t, api+"/v1/health", nil) == 208
	})
	poll(t, "side relaunched at least twice", 30*time.Second, func() bool {
		_, completed := frameworkTasks(cl, fid)
		n := 0
		for _, tk := range completed {
			if tk.Name == "p-0-side" {
				n++
			}
		}
		return n >= 2
	})
	if nid, _, st := podTask(cl, fid, "p-0-server"); nid != sid || st != mesos.TASK_RUNNING {
		t.Errorf("the essential task was touched: %s %s (was %s)", nid, st, sid)
	}
	_, completed := frameworkTasks(cl, fid)
	execs := map[string]bool{}
	live, _ := frameworkTasks(cl, fid)
	for _, tk := range append(live, completed...) {
		execs[tk.ExecutorID] = true
	}
	if len(execs) != 1 {
		t.Errorf("%d executors, want the pod's one: %v", len(execs), execs)
	}
}

// TestFaultStreamDropped drops the scheduler's subscription; while it is
// down an executor dies. The scheduler re-subscribes with the same
// framework ID, gets the re-sent update and relaunches the pod.
func TestFaultStreamDropped(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 2})
	svc := writeSpec(t, "drop", 2, "parallel", map[string]string{"t": sleeper})
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"),
		"--artifacts-dir", fastArtifacts(t), svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)
	id0, _, _ := podTask(cl, fid, "p-0-t")
	id1, _, _ := podTask(cl, fid, "p-1-t")
	live, _ := frameworkTasks(cl, fid)
	var exec string
	for _, tk := range live {
		if tk.ID == id1 {
			exec = tk.ExecutorID
		}
	}
	if err := cl.DropFramework(fid); err != nil {
		t.Fatal(err)
	}
	if err := cl.KillExecutor(fid, exec); err != nil {
		t.Fatal(err)
	}
	poll(t, "p-1 relaunched after the re-subscription", 30*time.Second, func() bool {
		nid, _, st := podTask(cl, fid, "p-1-t")
		return nid != "" && nid != id1 && st == mesos.TASK_RUNNING
	})
	if got := fetchFrameworkID(t, api); got != fid {
		t.Errorf("framework ID changed: %s → %s", fid, got)
	}
	if nid, _, _ := podTask(cl, fid, "p-0-t"); nid != id0 {
		t.Errorf("p-0 was touched: %s → %s", id0, nid)
	}
	if n := len(cl.State().Frameworks); n != 1 {
		t.Errorf("%d frameworks", n)
	}
}

// TestFaultLeaderKilled runs two instances on one ZooKeeper path: one
// leads, the other waits; the leader is killed with SIGKILL mid-deploy and
// the standby takes over within seconds and completes the deploy, with the
// same framework ID and no task launched twice.
func TestFaultLeaderKilled(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	zks := zktest.Start(t)
	cl := cluster(t, testenv.Config{Agents: 3})
	const pods = 10
	svc := writeSpec(t, "leader", pods, "serial", map[string]string{"t": sleeper})
	arts := fastArtifacts(t)
	args := func() []string {
		// The default session, 5 s: the ZooKeeper client gives up on a
		// connection silent for 2/3 of it, and with 1 s a loaded machine's
		// ZooKeeper failed a's start ("zk: connection closed").
		return []string{"--master", cl.MasterURL(), "--state", zks.URL(""), "--zk-session-timeout", "5s", "--artifacts-dir", arts, svc}
	}
	started := time.Now()
	a := startSched(t, "a.log", args()...)
	apiA := a.waitAPI(t, 30*time.Second)
	aStart := time.Since(started) // what a start takes on this machine now
	b := startSched(t, "b.log", args()...)
	// In the election, then a second to lead if it wrongly would (a second
	// from its start could end before it got that far on a loaded machine).
	poll(t, "b in the election", 30*time.Second, func() bool {
		log, _ := os.ReadFile(b.logPath)
		return strings.Contains(string(log), "waiting for leadership")
	})
	time.Sleep(time.Second)
	select {
	case <-b.api:
		t.Fatal("two instances lead")
	default:
	}
	poll(t, "3 pods running", 60*time.Second, func() bool {
		var v plan.View
		getJSON(t, apiA+"/v1/plans/deploy", &v)
		n := 0
		for _, ph := range v.Phases {
			for _, st := range ph.Steps {
				if st.Status == plan.Complete {
					n++
				}
			}
		}
		return n >= 3
	})
	fid := fetchFrameworkID(t, apiA)
	// The takeover counts from the end of a's election node, which
	// ZooKeeper deletes when a's session expires, seen by a watch of the
	// test's own: on a loaded machine ZooKeeper's JVM alone can be seconds
	// late to expire it, and that is not the scheduler's doing.
	aNode := watchLeaderNode(t, zks.Addr, "/dcos-service-leader/lock")
	killed := time.Now()
	a.kill(syscall.SIGKILL)
	var gone time.Time
	select {
	case <-aNode:
		gone = time.Now()
	case <-time.After(60 * time.Second):
		t.Fatal("a's election node outlived its 5 s session by a minute")
	}
	apiB := b.waitAPI(t, 30*time.Second)
	takeover := time.Since(gone)
	poll(t, "the standby reconciled", 30*time.Second, func() bool { return getJSON(t, apiB+"/v1/health", nil) != 318 })
	t.Logf("leader killed → its election node gone after %s → standby leads %s later (a started in %s), reconciled %s after the kill",
		gone.Sub(killed).Round(time.Millisecond), takeover.Round(time.Millisecond), aStart.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	// The standby, already connected and in the election, does less than
	// a start did (a led at once); 10 s, or a's start on a machine so
	// loaded that this took longer.
	if limit := max(10*time.Second, aStart); takeover > limit {
		t.Errorf("the standby led %s after the leader's election node was gone, want at most %s", takeover, limit)
	}
	poll(t, "deploy COMPLETE", 120*time.Second, func() bool { return planStatus(apiB, "deploy") == plan.Complete })
	if got := fetchFrameworkID(t, apiB); got != fid {
		t.Errorf("framework ID changed: %s → %s", fid, got)
	}
	checkExactlyOnce(t, cl, fid, pods)
}

// watchLeaderNode returns a channel closed when the lowest (the leading)
// election node under dir is gone, watched through a ZooKeeper session of
// the test's own.
func watchLeaderNode(t *testing.T, addr, dir string) <-chan struct{} {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(zktest.Discard{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kids, _, err := c.Children(dir)
	if err != nil || len(kids) == 0 {
		t.Fatalf("election nodes under %s: %v %v", dir, kids, err)
	}
	seq := func(n string) string { return n[max(0, len(n)-10):] } // ZooKeeper's sequence suffix
	slices.SortFunc(kids, func(x, y string) int { return strings.Compare(seq(x), seq(y)) })
	ok, _, ev, err := c.ExistsW(dir + "/" + kids[0])
	if err != nil || !ok {
		t.Fatalf("leader's election node %s: %v %v", kids[0], ok, err)
	}
	gone := make(chan struct{})
	go func() { // owned by the test: ends at the watch's one event, or when c closes
		if e, ok := <-ev; ok && e.Type == zk.EventNodeDeleted {
			close(gone)
		}
	}()
	return gone
}

// TestFaultAuth: against a master requiring credentials, --principal with
// the right --secret-file deploys; a wrong secret is refused (401) and the
// scheduler never subscribes; the secret never reaches the log.
func TestFaultAuth(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 1, Credentials: map[string]string{"auth-principal": "right-s3cret"}})
	svc := writeSpec(t, "auth", 1, "parallel", map[string]string{"t": sleeper})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "right"), []byte("right-s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "wrong"), []byte("wrong-s3cret\n"), 0o600)
	run := func(secret string) (*proc, string) {
		p := startSched(t, secret+".log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"),
			"--artifacts-dir", fastArtifacts(t), "--principal", "auth-principal", "--secret-file", filepath.Join(dir, secret), svc)
		return p, p.waitAPI(t, 30*time.Second)
	}
	bad, badAPI := run("wrong")
	// Refused, then still not subscribed (a fixed sleep here could end
	// before the first SUBSCRIBE on a loaded machine).
	took := poll(t, "the refusal logged", 30*time.Second, func() bool { return refused(bad.logPath) })
	t.Logf("the refusal logged %s after the API came up", took.Round(time.Millisecond))
	if code := getJSON(t, badAPI+"/v1/health", nil); code != 318 {
		t.Errorf("health with a wrong secret %d, want 318 (never subscribed)", code)
	}
	bad.kill(syscall.SIGTERM)
	_, api := run("right")
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	for _, f := range []string{bad.logPath} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("%s shows the secret", f)
		}
		if !refused(f) {
			t.Errorf("%s does not say the master refused the credentials: %s", f, tailStr(b))
		}
	}
}

// refused reports whether the log at path says the master refused the
// scheduler's credentials.
func refused(path string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), "401") || strings.Contains(strings.ToLower(string(b)), "unauthorized")
}

// TestUninstall deploys, stops the scheduler, and uninstalls: every task
// killed, the framework gone from the master, the state file deleted.
func TestUninstall(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 2})
	svc := writeSpec(t, "bye", 3, "parallel", map[string]string{"t": sleeper})
	stateFile := filepath.Join(t.TempDir(), "s.db")
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+stateFile, "--artifacts-dir", fastArtifacts(t), svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)
	p.kill(syscall.SIGTERM)
	var out, errb strings.Builder
	code := Run(context.Background(), []string{"scheduler-lite", "uninstall", "--master", cl.MasterURL(), "--state", "file:" + stateFile, "--kill-timeout", "20s", svc}, nil, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("uninstall exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "3 tasks killed") {
		t.Errorf("output %q", out.String())
	}
	if live, _ := frameworkTasks(cl, fid); len(live) != 0 {
		t.Errorf("tasks left: %v", live)
	}
	for _, f := range cl.State().Frameworks {
		if f.ID == fid && f.Connected {
			t.Error("framework still connected")
		}
	}
	if _, err := os.Stat(stateFile); !os.IsNotExist(err) {
		t.Errorf("state file left: %v", err)
	}
	// Usage errors.
	for _, args := range [][]string{{"uninstall", "--state", "file:x", svc}, {"uninstall", "--master", cl.MasterURL(), svc}, {"uninstall", "--master", cl.MasterURL(), "--state", "file:x"}} {
		if code := Run(context.Background(), append([]string{"scheduler-lite"}, args...), nil, nil, io.Discard, io.Discard); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// TestSDKUninstallMode is Cosmos's uninstall: the scheduler restarted with
// SDK_UNINSTALL=true kills the tasks, tears the framework down, deletes the
// state and answers GET /v1/plans/deploy with 200 (what Cosmos waits for
// before deleting the Marathon app), then keeps serving until stopped.
func TestSDKUninstallMode(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 2})
	svc := writeSpec(t, "cosmos-bye", 2, "parallel", map[string]string{"t": sleeper})
	stateFile := filepath.Join(t.TempDir(), "s.db")
	args := []string{"--master", cl.MasterURL(), "--state", "file:" + stateFile, "--artifacts-dir", fastArtifacts(t), svc}
	p := startSched(t, "sched.log", args...)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	fid := fetchFrameworkID(t, api)
	p.kill(syscall.SIGTERM)

	t.Setenv("SDK_UNINSTALL", "true") // as Marathon restarts it for Cosmos
	u := startSched(t, "uninstall.log", args...)
	uapi := u.waitAPI(t, 30*time.Second)
	var body string
	poll(t, "GET /v1/plans/deploy answering 200", 60*time.Second, func() bool {
		resp, err := http.Get(uapi + "/v1/plans/deploy")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(body, `"name":"uninstall"`) || !strings.Contains(body, "2 tasks killed") || !strings.Contains(body, fid) {
		t.Errorf("the deploy plan does not report the uninstall: %s", body)
	}
	if live, _ := frameworkTasks(cl, fid); len(live) != 0 {
		t.Errorf("tasks left: %v", live)
	}
	for _, f := range cl.State().Frameworks {
		if f.ID == fid && f.Connected {
			t.Error("framework still connected")
		}
	}
	if _, err := os.Stat(stateFile); !os.IsNotExist(err) {
		t.Errorf("state file left: %v", err)
	}
	if resp, err := http.Get(uapi + "/v1/pod"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("other endpoints during uninstall: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	u.kill(syscall.SIGTERM)
	if code := u.cmd.ProcessState.ExitCode(); code != 0 {
		b, _ := os.ReadFile(u.logPath)
		t.Errorf("exit %d after SIGTERM; log:\n%s", code, tailStr(b))
	}
}

// TestOffersTakeOnlyWhatPodsNeed (certification 000-06): after a deploy,
// what the agents have in use is exactly the pods' tasks plus one
// executor's share per pod, one port per declared port, and nothing more.
func TestOffersTakeOnlyWhatPodsNeed(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 2})
	const pods = 3
	task := `{goal: RUNNING, cmd: "exec sleep 600", cpus: 0.05, memory: 16, ports: {web: {port: 0}}}`
	svc := writeSpec(t, "frugal", pods, "parallel", map[string]string{"a": task, "b": task})
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"), "--artifacts-dir", fastArtifacts(t), svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })

	var state struct {
		Slaves []struct {
			Used map[string]any `json:"used_resources"`
		} `json:"slaves"`
	}
	getJSON(t, cl.MasterURL()+"/state", &state)
	var cpus, mem float64
	ports := 0
	for _, s := range state.Slaves {
		cpus += s.Used["cpus"].(float64)
		mem += s.Used["mem"].(float64)
		if r, ok := s.Used["ports"].(string); ok { // "[31000-31000, 31002-31003]"
			for _, rg := range strings.Split(strings.Trim(r, "[]"), ", ") {
				var lo, hi int
				fmt.Sscanf(rg, "%d-%d", &lo, &hi)
				ports += hi - lo + 1
			}
		}
	}
	wantCPUs := pods * (2*0.05 + evaluate.ExecutorCPUs)
	wantMem := float64(pods * (2*16 + evaluate.ExecutorMem))
	if math.Abs(cpus-wantCPUs) > 1e-9 || mem != wantMem || ports != pods*2 {
		t.Errorf("in use: cpus %.3f mem %.0f ports %d; want cpus %.3f mem %.0f ports %d", cpus, mem, ports, wantCPUs, wantMem, pods*2)
	}
}

// TestInstancesShareAnAgent (certification 000-16): two instances of one
// service on a single agent run side by side, each in its own executor and
// sandbox, with different dynamic ports.
func TestInstancesShareAnAgent(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 1})
	task := `{goal: RUNNING, cmd: "echo $PORT_WEB > port && exec sleep 600", cpus: 0.05, memory: 16, ports: {web: {port: 0, env-key: PORT_WEB}}}`
	svc := writeSpec(t, "cohabit", 2, "parallel", map[string]string{"t": task})
	p := startSched(t, "sched.log", "--master", cl.MasterURL(), "--state", "file:"+filepath.Join(t.TempDir(), "s.db"), "--artifacts-dir", fastArtifacts(t), svc)
	api := p.waitAPI(t, 30*time.Second)
	poll(t, "deploy COMPLETE", 60*time.Second, func() bool { return planStatus(api, "deploy") == plan.Complete })
	live, _ := frameworkTasks(cl, fetchFrameworkID(t, api))
	if len(live) != 2 || live[0].AgentID != live[1].AgentID || live[0].ExecutorID == live[1].ExecutorID {
		t.Fatalf("want two tasks on one agent in two executors: %+v", live)
	}
	ports := map[string]bool{}
	sandboxes := 0
	// RUNNING is sent when the command starts, before it writes the file.
	poll(t, "both tasks' port files", 10*time.Second, func() bool {
		files, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "tasks", "*", "port"))
		ports, sandboxes = map[string]bool{}, 0
		for _, f := range files {
			if strings.Contains(f, "/runs/latest/") { // Mesos' link to the current run
				continue
			}
			b, _ := os.ReadFile(f)
			if p := strings.TrimSpace(string(b)); p != "" {
				sandboxes++
				ports[p] = true
			}
		}
		return sandboxes >= 2
	})
	if sandboxes != 2 || len(ports) != 2 {
		t.Errorf("want two sandboxes with different ports, found %d with ports %v", sandboxes, ports)
	}
}
