package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// checkEnv is what a TestCommandTaskChecks case works with: its task's
// cluster and scheduler, a directory of files its checks read, and a
// server on the agent's IP that HTTP and TCP checks reach.
type checkEnv struct {
	t       *testing.T
	cl      *Cluster
	s       *sched
	agentID string
	taskID  string
	dir     string
	code    atomic.Int32 // the status the HTTP server answers on /health
	flap    atomic.Bool  // /health alternates 200 and 503 instead
	hits    atomic.Int32 // the requests /health answered
	ln      net.Listener
	port    uint32
	pending []mesos.TaskStatus // read ahead by next's callers, not yet matched
}

func (e *checkEnv) file(name string) string { return filepath.Join(e.dir, name) }

func (e *checkEnv) write(name, content string) {
	if err := os.WriteFile(e.file(name), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *checkEnv) remove(name string) {
	if err := os.Remove(e.file(name)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *checkEnv) kill() { e.s.MustCall(calls.Kill(e.taskID, e.agentID)) }

// sandboxStderr is the task's sandbox's stderr file.
func (e *checkEnv) sandboxStderr() string {
	e.cl.mu.Lock()
	defer e.cl.mu.Unlock()
	for _, fw := range e.cl.frameworks {
		if t := fw.tasks[e.taskID]; t != nil && t.exec != nil {
			b, _ := os.ReadFile(filepath.Join(t.exec.dir, "stderr"))
			return string(b)
		}
	}
	return ""
}

// statusesAre checks the task's statuses as the master's /tasks and
// /state write them, rendered "STARTING RUNNING(healthy=true)": Mesos'
// Master::updateTask (src/master/master.cpp) replaces the task's latest
// status by an update of the same state, so a health check's or check's
// updates leave one TASK_RUNNING, the latest.
func statusesAre(want string) func(*checkEnv) {
	return func(e *checkEnv) {
		e.t.Helper()
		render := func(task map[string]any) string {
			var parts []string
			for _, st := range task["statuses"].([]any) {
				st := st.(map[string]any)
				part := strings.TrimPrefix(st["state"].(string), "TASK_")
				if h, ok := st["healthy"]; ok {
					part += fmt.Sprintf("(healthy=%v)", h)
				}
				parts = append(parts, part)
			}
			return strings.Join(parts, " ")
		}
		tasks := stateOf(e.t, e.cl, "/tasks?task_id="+e.taskID)["tasks"].([]any)
		if len(tasks) != 1 {
			e.t.Fatalf("/tasks?task_id=%s: %d tasks", e.taskID, len(tasks))
		}
		if got := render(tasks[0].(map[string]any)); got != want {
			e.t.Errorf("/tasks: statuses %q, want %q", got, want)
		}
		fw := frameworkIn(e.t, stateOf(e.t, e.cl, "/state"), e.s.FrameworkID)
		for _, key := range []string{"tasks", "completed_tasks"} {
			for _, task := range fw[key].([]any) {
				if task := task.(map[string]any); task["id"] == e.taskID {
					if got := render(task); got != want {
						e.t.Errorf("/state's %s: statuses %q, want %q", key, got, want)
					}
				}
			}
		}
	}
}

// closeServer closes the listener: connections to the port are refused.
func (e *checkEnv) closeServer() { e.ln.Close() }

// peek returns the task's next update without consuming it; next
// consumes it. Each is acknowledged when read, so the next one comes.
func (e *checkEnv) peek() mesos.TaskStatus {
	e.t.Helper()
	if len(e.pending) == 0 {
		ev := e.s.WaitFor(func(ev *scheduler.Event) bool {
			return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == e.taskID
		}, "UPDATE of "+e.taskID)
		st := ev.Update.Status
		e.s.ack(st)
		e.pending = append(e.pending, st)
	}
	return e.pending[0]
}

func (e *checkEnv) next() mesos.TaskStatus {
	st := e.peek()
	e.pending = e.pending[1:]
	return st
}

// describeUpdate renders what a scheduler sees of a command task's
// update with checks: "RUNNING TASK_HEALTH_CHECK_STATUS_UPDATED
// healthy=false check=COMMAND(exit=1)", and the message of a terminal
// update ("KILLED healthy=false msg=Command terminated with signal
// Terminated").
func describeUpdate(st mesos.TaskStatus) string {
	parts := []string{strings.TrimPrefix(st.GetState().String(), "TASK_")}
	if st.Reason != nil {
		parts = append(parts, strings.TrimPrefix(st.GetReason().String(), "REASON_"))
	}
	if st.Healthy != nil {
		parts = append(parts, "healthy="+strconv.FormatBool(*st.Healthy))
	}
	if cs := st.CheckStatus; cs != nil {
		var v string
		switch {
		case cs.Command != nil && cs.Command.ExitCode != nil:
			v = fmt.Sprintf("exit=%d", *cs.Command.ExitCode)
		case cs.HTTP != nil && cs.HTTP.StatusCode != nil:
			v = fmt.Sprint(*cs.HTTP.StatusCode)
		case cs.TCP != nil && cs.TCP.Succeeded != nil:
			v = strconv.FormatBool(*cs.TCP.Succeeded)
		}
		kind := cs.GetType().String()
		if cs.Command == nil && cs.HTTP == nil && cs.TCP == nil {
			kind += "-without-result-field"
		}
		parts = append(parts, "check="+kind+"("+v+")")
	}
	if st.GetState() != mesos.TASK_RUNNING && st.GetState() != mesos.TASK_STARTING && st.Message != nil {
		parts = append(parts, "msg="+st.GetMessage())
	}
	return strings.Join(parts, " ")
}

// expect matches the next updates with want: an update as describeUpdate
// renders it, with a "+" suffix for one or more such updates in a row and
// "*" for zero or more.
func (e *checkEnv) expect(want string) {
	e.t.Helper()
	min, many := 1, false
	switch {
	case strings.HasSuffix(want, "+"):
		want, many = strings.TrimSuffix(want, "+"), true
	case strings.HasSuffix(want, "*"):
		want, many, min = strings.TrimSuffix(want, "*"), true, 0
	}
	for n := 0; ; n++ {
		if n >= min && (n > 0 && !many || describeUpdate(e.peek()) != want) {
			return
		}
		if got := describeUpdate(e.next()); got != want {
			e.t.Fatalf("update %d of %q: got %q", n+1, want, got)
		}
	}
}

// TestCommandTaskChecks launches command tasks with health checks and
// checks of each kind on a real cluster and reads their updates as a
// scheduler does, in order, acknowledging each: what Mesos 1.11's command
// executor sends (src/launcher/executor.cpp, with src/checks/checker.cpp,
// checker_process.cpp and health_checker.cpp):
//
//   - a health check's TASK_RUNNING with healthy and
//     REASON_TASK_HEALTH_CHECK_STATUS_UPDATED on its first success, on the
//     first success after failures and on every counted failure; failures
//     before the first success are ignored within grace_period_seconds; at
//     consecutive_failures the task is killed (TASK_KILLING, then
//     TASK_KILLED with healthy=false and no reason); a framework's KILL
//     ends a task TASK_KILLED without healthy;
//   - a check's TASK_RUNNING with check_status and
//     REASON_TASK_CHECK_STATUS_UPDATED when its result changes, every other
//     update carrying the empty check_status of the check's type; a run
//     that cannot finish (a refused HTTP connection) gives the empty one;
//   - command checks run in the task's sandbox with its environment and
//     their own variables, and a timed-out one has its process group
//     killed; HTTP and TCP checks reach a server on the agent's IP.
func TestCommandTaskChecks(t *testing.T) {
	f64 := func(v float64) *float64 { return &v }
	u32 := func(v uint32) *uint32 { return &v }
	// fast is a check's schedule: at once, then every 100ms.
	fastHealth := func(hc *mesos.HealthCheck) *mesos.HealthCheck {
		hc.DelaySeconds, hc.IntervalSeconds, hc.TimeoutSeconds = f64(0), f64(0.1), f64(20)
		if hc.GracePeriodSeconds == nil {
			hc.GracePeriodSeconds = f64(0)
		}
		return hc
	}
	fastCheck := func(ci *mesos.CheckInfo) *mesos.CheckInfo {
		ci.DelaySeconds, ci.IntervalSeconds, ci.TimeoutSeconds = f64(0), f64(0.1), f64(20)
		return ci
	}
	checkCommand := func(e *checkEnv, line string) mesos.CommandInfo {
		return mesos.CommandInfo{Value: strPtr(line), Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
			envVar("DIR=" + e.dir)}}}
	}
	const (
		healthy   = "RUNNING TASK_HEALTH_CHECK_STATUS_UPDATED healthy=true"
		unhealthy = "RUNNING TASK_HEALTH_CHECK_STATUS_UPDATED healthy=false"
		killedBad = "KILLED healthy=false msg=Command terminated with signal Terminated"
		killed    = "KILLED msg=Command terminated with signal Terminated"
	)
	for _, tc := range []struct {
		name  string
		shell string // the task's command
		setup func(e *checkEnv, ti *mesos.TaskInfo)
		steps []any // an expected update (see expect) or a func(*checkEnv)
	}{
		{
			name:  "health COMMAND: healthy, then consecutive_failures failures kill the task",
			shell: "touch ready; exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				e.write("gate", "")
				// In the sandbox (ready), with the task's variable and the
				// check's own (DIR); the grace period covers the runs
				// before the task has made ready.
				cmd := checkCommand(e, `test -f ready && test "$TASK_VAR" = task && test -f "$DIR/gate"`)
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &cmd,
					ConsecutiveFailures: u32(2), GracePeriodSeconds: f64(600)})
			},
			steps: []any{"STARTING", "RUNNING", healthy,
				func(e *checkEnv) { e.remove("gate") },
				unhealthy, unhealthy, "KILLING", killedBad},
		},
		{
			name:  "health COMMAND: failures are ignored in the grace period until the first success, not after",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				cmd := checkCommand(e, `echo run >> "$DIR/runs"; test -f "$DIR/gate"`)
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &cmd,
					ConsecutiveFailures: u32(1), GracePeriodSeconds: f64(600)})
			},
			steps: []any{"STARTING", "RUNNING",
				func(e *checkEnv) {
					eventually(e.t, "three failed runs", func() bool {
						b, _ := os.ReadFile(e.file("runs"))
						return strings.Count(string(b), "\n") >= 3
					})
					e.write("gate", "")
				},
				healthy,
				func(e *checkEnv) { e.remove("gate") },
				unhealthy, "KILLING", killedBad},
		},
		{
			name:  "health COMMAND: a run past timeout_seconds fails and its process group is killed",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				cmd := checkCommand(e, `sleep 300 & echo $! > "$DIR/child"; wait`)
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &cmd,
					ConsecutiveFailures: u32(1)})
				// Long enough for the shell to write the pid on a loaded
				// machine.
				ti.HealthCheck.TimeoutSeconds = f64(3)
			},
			steps: []any{"STARTING", "RUNNING", unhealthy,
				func(e *checkEnv) {
					b, err := os.ReadFile(e.file("child"))
					pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
					if err != nil || pid <= 0 {
						e.t.Fatalf("the check's child pid: %q, %v", b, err)
					}
					eventually(e.t, "the check's child killed", func() bool {
						stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
						// Gone, or a zombie not reaped yet.
						return err != nil || strings.Contains(string(stat), ") Z ")
					})
				},
				"KILLING", killedBad},
		},
		{
			name:  "health HTTP: healthy, unhealthy on every failure, healthy again; a KILL ends it without healthy",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				e.code.Store(http.StatusOK)
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_HTTP,
					HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: e.port, Path: strPtr("/health")}, ConsecutiveFailures: u32(1000000)})
			},
			steps: []any{"STARTING", "RUNNING", healthy,
				statusesAre("STARTING RUNNING(healthy=true)"),
				func(e *checkEnv) { e.code.Store(http.StatusServiceUnavailable) },
				unhealthy,
				func(e *checkEnv) { e.code.Store(http.StatusNoContent) },
				unhealthy + "*", healthy,
				func(e *checkEnv) { e.kill() },
				"KILLING", killed,
				statusesAre("STARTING RUNNING(healthy=true) KILLING KILLED")},
		},
		{
			// Mesos keeps one status per state in a row (Master::updateTask),
			// so a task's first status stays however many updates its
			// health check sends.
			name:  "health HTTP: a flapping check's many updates leave /tasks' statuses STARTING and the latest RUNNING",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				e.code.Store(http.StatusOK)
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_HTTP,
					HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: e.port, Path: strPtr("/health")}, ConsecutiveFailures: u32(1000000)})
			},
			steps: []any{"STARTING", "RUNNING", healthy,
				func(e *checkEnv) {
					e.flap.Store(true)
					from := e.hits.Load()
					// More updates than testenv keeps statuses of a task.
					eventually(e.t, "60 more health checks", func() bool { return e.hits.Load()-from >= 60 })
					e.flap.Store(false) // 200 from now on
					eventually(e.t, "the task healthy again", func() bool {
						tasks := stateOf(e.t, e.cl, "/tasks?task_id="+e.taskID)["tasks"].([]any)
						sts := tasks[0].(map[string]any)["statuses"].([]any)
						return sts[len(sts)-1].(map[string]any)["healthy"] == true
					})
				},
				statusesAre("STARTING RUNNING(healthy=true)")},
		},
		{
			name:  "health TCP: healthy, then a refused connection kills the task",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_TCP,
					TCP: &mesos.HealthCheck_TCPCheckInfo{Port: e.port}, ConsecutiveFailures: u32(1)})
			},
			steps: []any{"STARTING", "RUNNING", healthy,
				func(e *checkEnv) { e.closeServer() },
				unhealthy, "KILLING", killedBad},
		},
		{
			name:  "check COMMAND: the exit code when it changes; none when killed by a signal",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				e.write("code", "3")
				cmd := checkCommand(e, `test "$TASK_VAR" = task && test -f "$MESOS_SANDBOX/stdout" || exit 99
echo "check out"; echo "check err" >&2
c=$(cat "$DIR/code"); if test "$c" = kill; then kill -KILL $$; fi; exit $c`)
				ti.Check = fastCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{Command: cmd}})
			},
			steps: []any{"STARTING check=COMMAND()", "RUNNING check=COMMAND()",
				"RUNNING TASK_CHECK_STATUS_UPDATED check=COMMAND(exit=3)",
				func(e *checkEnv) {
					// Its output goes to the sandbox's stderr, as the command
					// executor's stderr on Mesos.
					eventually(e.t, "the check's output in the sandbox's stderr", func() bool {
						out := e.sandboxStderr()
						return strings.Contains(out, "check out\n") && strings.Contains(out, "check err\n")
					})
					e.write("code", "0")
				},
				"RUNNING TASK_CHECK_STATUS_UPDATED check=COMMAND(exit=0)",
				func(e *checkEnv) { e.write("code", "kill") },
				"RUNNING TASK_CHECK_STATUS_UPDATED check=COMMAND()",
				func(e *checkEnv) { e.kill() },
				"KILLING check=COMMAND()", "KILLED check=COMMAND() msg=Command terminated with signal Terminated",
			},
		},
		{
			// Mesos' checker sets a check command's variables by their
			// value (commandCheck: variable.value()), so a SECRET one is
			// empty; the task's own SECRET variables are resolved, being
			// the command executor's environment.
			name:  "check COMMAND: its own SECRET variables are empty, the task's resolved",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				secretVar := func(name, value string) mesos.Environment_Variable {
					return mesos.Environment_Variable{Name: name, Type: mesos.Environment_Variable_SECRET.Enum(),
						Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(value)}}}
				}
				ti.Command.Environment.Variables = append(ti.Command.Environment.Variables, secretVar("TASK_SECRET", "task-5ecret"))
				cmd := checkCommand(e, `test "$TASK_SECRET" = task-5ecret || exit 9
test "${CHECK_SECRET+set}" = set || exit 10
test -z "$CHECK_SECRET" && exit 7; exit 8`)
				cmd.Environment.Variables = append(cmd.Environment.Variables, secretVar("CHECK_SECRET", "check-5ecret"))
				ti.Check = fastCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{Command: cmd}})
			},
			steps: []any{"STARTING check=COMMAND()", "RUNNING check=COMMAND()",
				"RUNNING TASK_CHECK_STATUS_UPDATED check=COMMAND(exit=7)",
				func(e *checkEnv) { e.kill() },
				"KILLING check=COMMAND()", "KILLED check=COMMAND() msg=Command terminated with signal Terminated"},
		},
		{
			name:  "health check and check: each update keeps the other's latest result",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				e.write("code", "0")
				hcmd := checkCommand(e, `test -f "$DIR/gate"`)
				ti.HealthCheck = fastHealth(&mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &hcmd,
					GracePeriodSeconds: f64(600)})
				ccmd := checkCommand(e, `exit $(cat "$DIR/code")`)
				ti.Check = fastCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{Command: ccmd}})
			},
			steps: []any{"STARTING check=COMMAND()", "RUNNING check=COMMAND()",
				"RUNNING TASK_CHECK_STATUS_UPDATED check=COMMAND(exit=0)",
				func(e *checkEnv) { e.write("gate", "") },
				healthy + " check=COMMAND(exit=0)",
				func(e *checkEnv) { e.write("code", "1") },
				"RUNNING TASK_CHECK_STATUS_UPDATED healthy=true check=COMMAND(exit=1)",
				func(e *checkEnv) { e.kill() },
				"KILLING check=COMMAND()", "KILLED check=COMMAND() msg=Command terminated with signal Terminated"},
		},
		{
			name:  "check HTTP: the status code when it changes; none once the connection is refused",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				e.code.Store(http.StatusOK)
				ti.Check = fastCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_HTTP, HTTP: &mesos.CheckInfo_Http{Port: e.port, Path: strPtr("/health")}})
			},
			steps: []any{"STARTING check=HTTP()", "RUNNING check=HTTP()",
				"RUNNING TASK_CHECK_STATUS_UPDATED check=HTTP(200)",
				func(e *checkEnv) { e.code.Store(http.StatusServiceUnavailable) },
				"RUNNING TASK_CHECK_STATUS_UPDATED check=HTTP(503)",
				func(e *checkEnv) { e.closeServer() },
				"RUNNING TASK_CHECK_STATUS_UPDATED check=HTTP()",
				func(e *checkEnv) { e.kill() },
				"KILLING check=HTTP()", "KILLED check=HTTP() msg=Command terminated with signal Terminated"},
		},
		{
			name:  "check TCP: whether the connection succeeded, when it changes",
			shell: "exec sleep 300",
			setup: func(e *checkEnv, ti *mesos.TaskInfo) {
				ti.Check = fastCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_TCP, TCP: &mesos.CheckInfo_Tcp{Port: e.port}})
			},
			steps: []any{"STARTING check=TCP()", "RUNNING check=TCP()",
				"RUNNING TASK_CHECK_STATUS_UPDATED check=TCP(true)",
				func(e *checkEnv) { e.closeServer() },
				"RUNNING TASK_CHECK_STATUS_UPDATED check=TCP(false)",
				func(e *checkEnv) { e.kill() },
				"KILLING check=TCP()", "KILLED check=TCP() msg=Command terminated with signal Terminated"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, Config{})
			s := subscribe(t, cl, frameworkInfo("command-checks", mesos.FrameworkInfo_Capability_TASK_KILLING_STATE), protoCodec)
			cl.mu.Lock()
			ip := cl.agents[0].ip
			cl.mu.Unlock()
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
			if err != nil {
				t.Fatal(err)
			}
			e := &checkEnv{t: t, cl: cl, s: s, taskID: "checked", dir: t.TempDir(), ln: ln, port: uint32(ln.Addr().(*net.TCPAddr).Port)}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/health" {
					http.NotFound(w, r)
					return
				}
				n := e.hits.Add(1)
				switch {
				case !e.flap.Load():
					w.WriteHeader(int(e.code.Load()))
				case n%2 == 0:
					w.WriteHeader(http.StatusOK)
				default:
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()

			o := s.offers()[0]
			e.agentID = o.AgentID.Value
			ti := commandTask(e.taskID, o, tc.shell)
			ti.Command.Environment.Variables = append(ti.Command.Environment.Variables, envVar("TASK_VAR=task"))
			tc.setup(e, &ti)
			s.launch(o, ti)
			for _, step := range tc.steps {
				switch step := step.(type) {
				case string:
					e.expect(step)
				case func(*checkEnv):
					step(e)
				}
			}
		})
	}
}
