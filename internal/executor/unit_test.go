package executor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/supervise"
)

func f64(v float64) *float64 { return &v }
func str(s string) *string   { return &s }

func TestValidateHealthCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		hc   mesos.HealthCheck
		want string // substring of the error; "" means valid
	}{
		{"command", mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: str("true")}}, ""},
		{"http", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: 80, Path: str("/x")}}, ""},
		{"tcp", mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{Port: 80}}, ""},
		{"no type", mesos.HealthCheck{Command: &mesos.CommandInfo{Value: str("true")}}, "'type'"},
		{"command missing", mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND}, "'command'"},
		{"command empty", mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{}}, "no 'value'"},
		{"http missing", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP}, "'http'"},
		{"http scheme", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: 80, Scheme: str("ftp")}}, "scheme"},
		{"http path", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: 80, Path: str("x")}}, "must start with '/'"},
		{"tcp missing", mesos.HealthCheck{Type: mesos.HealthCheck_TCP}, "'tcp'"},
		{"negative delay", mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{Port: 1}, DelaySeconds: f64(-1)}, "delay_seconds"},
		{"negative grace", mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{Port: 1}, GracePeriodSeconds: f64(-1)}, "grace_period_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateHealthCheck(&tc.hc)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidateCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    mesos.CheckInfo
		want string
	}{
		{"command", mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: str("true")}}}, ""},
		{"http", mesos.CheckInfo{Type: mesos.CheckInfo_HTTP, HTTP: &mesos.CheckInfo_Http{Port: 8080}}, ""},
		{"no type", mesos.CheckInfo{}, "'type'"},
		{"http path", mesos.CheckInfo{Type: mesos.CheckInfo_HTTP, HTTP: &mesos.CheckInfo_Http{Port: 8080, Path: str("ready")}}, "must start with '/'"},
		{"tcp port", mesos.CheckInfo{Type: mesos.CheckInfo_TCP, TCP: &mesos.CheckInfo_Tcp{}}, "port"},
		{"negative interval", mesos.CheckInfo{Type: mesos.CheckInfo_TCP, TCP: &mesos.CheckInfo_Tcp{Port: 1}, IntervalSeconds: f64(-2)}, "interval_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCheck(&tc.c)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTaskRules(t *testing.T) {
	lbl := func(k, v string) *mesos.Labels { return &mesos.Labels{Labels: []mesos.Label{{Key: k, Value: &v}}} }
	for _, tc := range []struct {
		labels *mesos.Labels
		want   bool
	}{
		{nil, true}, {lbl("essential", "false"), false}, {lbl("essential", " FALSE "), false},
		{lbl("essential", "true"), true}, {lbl("other", "false"), true},
	} {
		if got := isEssential(&mesos.TaskInfo{Labels: tc.labels}); got != tc.want {
			t.Errorf("isEssential(%v) = %v", tc.labels, got)
		}
	}
	p := func(d time.Duration) *mesos.KillPolicy {
		return &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: d.Nanoseconds()}}
	}
	for _, tc := range []struct {
		kill, task *mesos.KillPolicy
		want       time.Duration
	}{
		{nil, nil, 3 * time.Second}, {p(time.Second), p(time.Minute), time.Second},
		{nil, p(time.Minute), time.Minute}, {&mesos.KillPolicy{}, p(5 * time.Second), 5 * time.Second},
	} {
		if got := killGrace(tc.kill, tc.task); got != tc.want {
			t.Errorf("killGrace = %v, want %v", got, tc.want)
		}
	}
	for _, tc := range []struct {
		st   supervise.Status
		want string
	}{
		{supervise.Status{Code: 0}, "Command exited with status 0"},
		{supervise.Status{Code: 3}, "Command exited with status 3"},
		{supervise.Status{Code: -1, Signal: syscall.SIGKILL}, "Command terminated with signal Killed"},
		{supervise.Status{Code: -1, Signal: syscall.SIGTERM}, "Command terminated with signal Terminated"},
		{supervise.Status{Code: -1, Signal: syscall.SIGSEGV, CoreDumped: true}, "Command terminated with signal Segmentation fault (core dumped)"},
		{supervise.Status{Code: -1, Signal: syscall.SIGABRT}, "Command terminated with signal Aborted"},
	} {
		if got := exitMessage(tc.st); got != tc.want {
			t.Errorf("exitMessage(%v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

// TestMaxCompletionTimeValidation: a negative max_completion_time is
// invalid, as Mesos' master says (src/master/validation.cpp); zero is no
// limit.
func TestMaxCompletionTimeValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       *mesos.DurationInfo
		invalid bool
	}{
		{"unset", nil, false},
		{"zero", &mesos.DurationInfo{}, false},
		{"positive", &mesos.DurationInfo{Nanoseconds: int64(1500 * time.Millisecond)}, false},
		{"negative", &mesos.DurationInfo{Nanoseconds: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateTask(&mesos.TaskInfo{MaxCompletionTime: tc.d})
			if tc.invalid != (err != nil) || err != nil && err.Error() != "Task's `max_completion_time` must be non-negative" {
				t.Errorf("validateTask = %v, want invalid: %v", err, tc.invalid)
			}
		})
	}
}

func TestTaskEnvAndCommand(t *testing.T) {
	role := "web"
	ti := &mesos.TaskInfo{
		Resources: []mesos.Resource{{Name: "cpus", AllocationInfo: &mesos.Resource_AllocationInfo{Role: &role}}},
		Command: &mesos.CommandInfo{Value: str("echo hi"), Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
			{Name: "A", Value: str("1")}, {Name: "MESOS_SANDBOX", Value: str("overridden")},
			{Name: "TOKEN", Type: mesos.Environment_Variable_SECRET.Enum(), Secret: &mesos.Secret{Value: &mesos.Secret_Value{Data: []byte("tok")}}},
		}}},
	}
	env := taskEnv(ti, "/sb/tasks/t", "10.0.0.1", allocationRole(ti, nil))
	want := []string{"PATH=" + defaultPath, "A=1", "MESOS_SANDBOX=/sb/tasks/t", "TOKEN=tok", "MESOS_CONTAINER_IP=10.0.0.1", "MESOS_ALLOCATION_ROLE=web"}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("env = %q, want %q", env, want)
	}
	if got := mesosx.SecretValues(ti.Command); len(got) != 1 || got[0] != "tok" {
		t.Errorf("SecretValues = %q", got)
	}
	if r := allocationRole(&mesos.TaskInfo{}, &mesos.FrameworkInfo{Roles: []string{"r1"}}); r != "r1" {
		t.Errorf("role from framework = %q", r)
	}

	spec, err := commandSpec(ti.Command, env, "/sb")
	if shell, _ := mesosx.ShellCommand(""); err != nil || spec.Path != shell || strings.Join(spec.Args, " ") != "sh -c echo hi" {
		t.Errorf("shell spec = %+v, %v", spec, err)
	}
	no := false
	spec, err = commandSpec(&mesos.CommandInfo{Shell: &no, Value: str("sh"), Arguments: []string{"sh", "-c", "exit 0"}}, env, "/sb")
	if err != nil || !strings.HasSuffix(spec.Path, "/sh") || strings.Join(spec.Args, " ") != "sh -c exit 0" {
		t.Errorf("exec spec = %+v, %v", spec, err)
	}
	if _, err := commandSpec(&mesos.CommandInfo{Shell: &no, Value: str("no-such-binary-xyz")}, env, "/sb"); err == nil {
		t.Error("a missing executable was accepted")
	}
	if _, err := commandSpec(nil, env, "/sb"); err == nil {
		t.Error("a task without a command was accepted")
	}
	for _, id := range []string{"", ".", "..", "a/b"} {
		if validTaskDir(id) == nil {
			t.Errorf("task ID %q accepted as a directory", id)
		}
	}
}

// TestCommandProbe: a COMMAND check or health check runs as Mesos' checker
// runs it (checker_process.cpp): a shell command through the task's
// shell, else value exec'd with arguments as its whole argv. The exec form
// lost arguments[0] (value took its place as argv[0]), which a program
// that looks at its name (busybox, a launcher's applets) needs.
func TestCommandProbe(t *testing.T) {
	no := false
	env := []string{"PATH=/usr/bin:/bin", "CHECK_VAR=from-the-check"}
	tests := []struct {
		name   string
		ci     *mesos.CommandInfo
		status probe.Status
		code   int
	}{
		{"shell", &mesos.CommandInfo{Value: str(`test "$CHECK_VAR" = from-the-check && exit 3`)}, probe.Unhealthy, 3},
		{"exec: arguments[0] is argv[0]", &mesos.CommandInfo{Shell: &no, Value: str("/bin/sh"),
			Arguments: []string{"probe-name", "-c", `test "$0" = probe-name`}}, probe.Healthy, 0},
		{"exec: found on the PATH", &mesos.CommandInfo{Shell: &no, Value: str("sh"),
			Arguments: []string{"sh", "-c", `exit 4`}}, probe.Unhealthy, 4},
		{"exec without arguments: argv is {value}", &mesos.CommandInfo{Shell: &no, Value: str("true")}, probe.Healthy, 0},
		{"exec of a missing program", &mesos.CommandInfo{Shell: &no, Value: str("no-such-binary-xyz")}, probe.Error, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r := commandProbe{ci: tt.ci, env: env, dir: t.TempDir()}.Probe(ctx)
			if r.Status != tt.status || r.ExitCode != tt.code {
				t.Errorf("probe: %s, exit code %d (%s); want %s, %d", r.Status, r.ExitCode, r.Reason, tt.status, tt.code)
			}
		})
	}
}

// TestFromEnv: the executor environment is read with every missing or
// malformed variable named, with its value (a secret's never); an agent
// endpoint without a usable port is refused rather than dialled on port 80.
func TestFromEnv(t *testing.T) {
	valid := map[string]string{
		"MESOS_FRAMEWORK_ID": "fw", "MESOS_EXECUTOR_ID": "ex", "MESOS_DIRECTORY": "/d", "MESOS_SANDBOX": "/d",
		"MESOS_AGENT_ENDPOINT": "10.1.2.3:5051", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
		"MESOS_CHECKPOINT": "1", "MESOS_RECOVERY_TIMEOUT": "15mins", "MESOS_SUBSCRIPTION_BACKOFF_MAX": "2secs",
	}
	const token = "s3cr3t\ntoken"
	for _, tc := range []struct {
		name string
		set  map[string]string // over valid; "" unsets
		want []string          // substrings of the error; none: valid
		ok   func(Config) bool
	}{
		{"valid", nil, nil, func(c Config) bool {
			return c.ContainerIP == "10.1.2.3" && c.Checkpoint && c.RecoveryTimeout == 15*time.Minute &&
				c.SubscriptionBackoffMax == 2*time.Second && c.ExecutorShutdownGracePeriod == 5*time.Second
		}},
		{"no checkpointing", map[string]string{"MESOS_CHECKPOINT": "", "MESOS_RECOVERY_TIMEOUT": "", "MESOS_SUBSCRIPTION_BACKOFF_MAX": ""}, nil,
			func(c Config) bool { return !c.Checkpoint }},
		{"IPv6 endpoint, LIBPROCESS_IP", map[string]string{"MESOS_AGENT_ENDPOINT": "[::1]:5051", "LIBPROCESS_IP": "10.0.0.9"}, nil,
			func(c Config) bool { return c.AgentEndpoint == "[::1]:5051" && c.ContainerIP == "10.0.0.9" }},
		{"LIBPROCESS_IP 0.0.0.0", map[string]string{"MESOS_AGENT_ENDPOINT": "[::1]:5051", "LIBPROCESS_IP": "0.0.0.0"}, nil,
			func(c Config) bool { return c.ContainerIP == "::1" }},
		{"missing", map[string]string{"MESOS_SANDBOX": "", "MESOS_FRAMEWORK_ID": ""}, []string{"MESOS_SANDBOX: not set", "MESOS_FRAMEWORK_ID: not set"}, nil},
		{"grace not a duration", map[string]string{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "xx"}, []string{`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: invalid duration "xx": "" is not a number`}, nil},
		{"grace in Go's units", map[string]string{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5s"}, []string{`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: invalid duration "5s": unknown unit "s"`}, nil},
		{"grace without a unit", map[string]string{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5"}, []string{`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: invalid duration "5"`}, nil},
		{"negative", map[string]string{"MESOS_RECOVERY_TIMEOUT": "-1secs"}, []string{`MESOS_RECOVERY_TIMEOUT: invalid duration "-1secs"`}, nil},
		// mesos-go's lib/time converts the 1e19 s out of range to int64 as
		// the CPU does: negative on amd64, math.MaxInt64 (292 years) on
		// arm64, where it was taken; stout refuses it.
		{"out of range", map[string]string{"MESOS_SUBSCRIPTION_BACKOFF_MAX": "10000000000000000000secs"}, []string{`MESOS_SUBSCRIPTION_BACKOFF_MAX: invalid duration "10000000000000000000secs": out of range`}, nil},
		{"fractions of every unit, truncated to nanoseconds", map[string]string{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "1.5mins", "MESOS_RECOVERY_TIMEOUT": ".5days", "MESOS_SUBSCRIPTION_BACKOFF_MAX": "1.9ns"}, nil,
			func(c Config) bool {
				return c.ExecutorShutdownGracePeriod == 90*time.Second && c.RecoveryTimeout == 12*time.Hour && c.SubscriptionBackoffMax == 1
			}},
		{"checkpoint not a boolean", map[string]string{"MESOS_CHECKPOINT": "yes"}, []string{`MESOS_CHECKPOINT: "yes" is not a boolean`}, nil},
		{"checkpointing without its timers", map[string]string{"MESOS_RECOVERY_TIMEOUT": "", "MESOS_SUBSCRIPTION_BACKOFF_MAX": "soon"},
			[]string{"MESOS_RECOVERY_TIMEOUT: not set", `MESOS_SUBSCRIPTION_BACKOFF_MAX: invalid duration "soon"`}, nil},
		{"endpoint without a port", map[string]string{"MESOS_AGENT_ENDPOINT": "127.0.0.1:"}, []string{`MESOS_AGENT_ENDPOINT: "127.0.0.1:" is not host:port: port "" is not a number in 1..65535`}, nil},
		{"endpoint without a colon", map[string]string{"MESOS_AGENT_ENDPOINT": "127.0.0.1"}, []string{`MESOS_AGENT_ENDPOINT: "127.0.0.1" is not host:port`}, nil},
		{"endpoint with port 0", map[string]string{"MESOS_AGENT_ENDPOINT": "127.0.0.1:0"}, []string{`port "0" is not a number in 1..65535`}, nil},
		{"endpoint with a port too large", map[string]string{"MESOS_AGENT_ENDPOINT": "127.0.0.1:65536"}, []string{`port "65536"`}, nil},
		{"endpoint with a named port", map[string]string{"MESOS_AGENT_ENDPOINT": "127.0.0.1:http"}, []string{`port "http"`}, nil},
		{"endpoint without a host", map[string]string{"MESOS_AGENT_ENDPOINT": ":5051"}, []string{`MESOS_AGENT_ENDPOINT: ":5051" is not host:port: no host`}, nil},
		{"LIBPROCESS_IP not an IP", map[string]string{"LIBPROCESS_IP": "agent-1"}, []string{`LIBPROCESS_IP: "agent-1" is not an IP address`}, nil},
		{"relative sandbox", map[string]string{"MESOS_SANDBOX": "sb"}, []string{`MESOS_SANDBOX: "sb" is not an absolute path`}, nil},
		{"relative cache", map[string]string{"TASKKIT_FETCHER_CACHE_DIR": "cache"}, []string{`TASKKIT_FETCHER_CACHE_DIR: "cache" is not an absolute path`}, nil},
		{"token with a line break", map[string]string{"MESOS_EXECUTOR_AUTHENTICATION_TOKEN": token}, []string{"MESOS_EXECUTOR_AUTHENTICATION_TOKEN: holds a line break"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(valid)
			maps.Copy(env, tc.set)
			cfg, err := fromEnv(func(k string) string { return env[k] })
			if tc.want == nil {
				if err != nil || !tc.ok(cfg) {
					t.Errorf("fromEnv = %+v, %v", cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("fromEnv accepted it: %+v", cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) || !strings.HasPrefix(err.Error(), "executor environment: ") {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

// TestUnacknowledgedTasks: a SUBSCRIBE lists every task received and not
// acknowledged, whatever its progress, or the agent drops it (TASK_DROPPED)
// as a launch that never arrived.
func TestUnacknowledgedTasks(t *testing.T) {
	for _, tc := range []struct {
		name string
		task task
		want bool
	}{
		{"received, validating", task{}, true},
		{"fetching or starting", task{launching: true}, true},
		{"running", task{proc: &supervise.Process{}}, true},
		{"ended", task{terminal: true}, true},
		{"running, acknowledged", task{proc: &supervise.Process{}, acked: true}, false},
		{"ended, acknowledged", task{terminal: true, acked: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := tc.task
			tk.info = mesos.TaskInfo{TaskID: mesos.TaskID{Value: "t1"}}
			e := &Executor{tasks: map[string]*task{"t1": &tk}}
			got := e.unacknowledgedTasks()
			if listed := len(got) == 1 && got[0].TaskID.Value == "t1"; listed != tc.want || len(got) > 1 {
				t.Errorf("unacknowledged_tasks = %v, want t1 listed: %v", got, tc.want)
			}
		})
	}
}

// TestNoTaskExit: an executor subscribed with no task exits after
// NoTaskTimeout (its launch was dropped, and its resources are needed for
// the relaunch); one with a task, or not yet subscribed, stays.
func TestNoTaskExit(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		subscribed bool
		tasks      int
		after      time.Duration
		done       bool
	}{
		{"no task, timeout passed", true, 0, 11 * time.Second, true},
		{"no task, within the timeout", true, 0, 9 * time.Second, false},
		{"not subscribed yet", false, 0, time.Hour, false},
		{"a task received", true, 1, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Executor{cfg: Config{NoTaskTimeout: 10 * time.Second}, tasks: map[string]*task{},
				log: slog.New(slog.DiscardHandler)}
			if tc.subscribed {
				e.subscribedAt = t0
			}
			for i := range tc.tasks {
				e.tasks[fmt.Sprint("t", i)] = &task{launching: true}
				e.launched = true
			}
			e.checkDone(t0.Add(tc.after))
			if e.done != tc.done {
				t.Errorf("done = %v, want %v", e.done, tc.done)
			}
		})
	}
}

// TestShutdownGracePeriod: once SHUTDOWN came (or the agent was given
// up), the executor is gone at the end of MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
// as Mesos' executor library's ShutdownProcess ends it
// (src/executor/executor.cpp), whether a task is still being killed
// (a KILL's long grace) or updates wait for acknowledgement; the
// variable was read and unused. Its end is a deadline the loop wakes for.
func TestShutdownGracePeriod(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	killing := func() map[string]*task { return map[string]*task{"t1": {proc: &supervise.Process{}, killing: true}} }
	acked := func() map[string]*task { return map[string]*task{"t1": {terminal: true}} }
	for _, tc := range []struct {
		name  string
		grace time.Duration
		tasks map[string]*task
		after time.Duration
		done  bool
	}{
		{"a task still being killed, grace over", 5 * time.Second, killing(), 5*time.Second + time.Millisecond, true},
		{"a task still being killed, within the grace", 5 * time.Second, killing(), 4 * time.Second, false},
		{"updates unacknowledged, grace over before AckWait", 5 * time.Second, acked(), 6 * time.Second, true},
		{"no grace period (a Config not from FromEnv)", 0, killing(), time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{AckWait: time.Minute}
			cfg.ExecutorShutdownGracePeriod = tc.grace
			e := &Executor{cfg: cfg, ackWait: time.Minute, conn: subscribed, gen: 2, launched: true, subscribedAt: t0, tasks: tc.tasks,
				pending: []*pendingUpdate{{status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t1"}}, sentGen: 1}}, log: slog.New(slog.DiscardHandler)}
			e.shuttingDown = true
			e.shutdownGrace(t0)
			e.checkDone(t0.Add(tc.after))
			if e.done != tc.done {
				t.Errorf("done = %v, want %v", e.done, tc.done)
			}
			if next := e.nextDeadline(); tc.grace > 0 && !next.Equal(t0.Add(tc.grace)) && !e.done {
				t.Errorf("nextDeadline = %v, want the end of the grace period %v", next, t0.Add(tc.grace))
			}
		})
	}
}

// TestNextDeadline: the event loop has no periodic tick, so every deadline
// housekeep and checkDone act on must be one its timer is armed for; an
// executor with a running, acknowledged task has none and sleeps until a
// message comes.
func TestNextDeadline(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	cfg := Config{UpdateRetry: 10 * time.Second, NoTaskTimeout: 10 * time.Second, RegistrationTimeout: time.Minute, CallTimeout: 10 * time.Second}
	cfg.RecoveryTimeout, cfg.Checkpoint = 15*time.Minute, true
	running := func() map[string]*task {
		return map[string]*task{"t1": {proc: &supervise.Process{}, acked: true}}
	}
	for _, tc := range []struct {
		name string
		e    *Executor
		want time.Time // zero: no deadline
	}{
		{"running task, everything acknowledged", &Executor{conn: subscribed, launched: true, subscribedAt: t0, tasks: running()}, time.Time{}},
		{"first SUBSCRIBE just sent", &Executor{conn: subscribing, started: t0, subscribeSent: t0, tasks: map[string]*task{}}, t0.Add(10 * time.Second)},
		{"first SUBSCRIBE slow, said so", &Executor{conn: subscribing, started: t0, subscribeSent: t0, slowNoted: true, tasks: map[string]*task{}}, t0.Add(time.Minute)},
		{"re-SUBSCRIBE slow, said so", &Executor{conn: subscribing, started: t0, subscribeSent: t0.Add(time.Hour), slowNoted: true, everSubscribed: true, disconnectedAt: t0.Add(time.Hour), launched: true, subscribedAt: t0, tasks: running()}, t0.Add(time.Hour + 15*time.Minute)},
		{"subscribed, no task yet", &Executor{conn: subscribed, subscribedAt: t0, tasks: map[string]*task{}}, t0.Add(10 * time.Second)},
		{"update sent on this connection", &Executor{conn: subscribed, gen: 2, launched: true, subscribedAt: t0, tasks: running(),
			pending: []*pendingUpdate{{sentGen: 2, sentAt: t0.Add(3 * time.Second)}, {sentGen: 2, sentAt: t0.Add(time.Second)}}}, t0.Add(11 * time.Second)},
		{"update from an older connection (resent on SUBSCRIBED)", &Executor{conn: subscribed, gen: 3, launched: true, subscribedAt: t0, tasks: running(),
			pending: []*pendingUpdate{{sentGen: 2, sentAt: t0}}}, time.Time{}},
		{"disconnected, checkpointed", &Executor{conn: disconnected, everSubscribed: true, disconnectedAt: t0, launched: true, subscribedAt: t0, tasks: running()}, t0.Add(15 * time.Minute)},
		{"disconnected, abandoning", &Executor{conn: disconnected, abandon: true, everSubscribed: true, disconnectedAt: t0, launched: true, subscribedAt: t0, tasks: running()}, time.Time{}},
		{"waiting for acknowledgements", &Executor{conn: subscribed, launched: true, subscribedAt: t0, tasks: map[string]*task{"t1": {terminal: true}}, exitBy: t0.Add(time.Minute)}, t0.Add(time.Minute)},
		{"running task with a max_completion_time", &Executor{conn: subscribed, launched: true, subscribedAt: t0,
			tasks: map[string]*task{"t1": {proc: &supervise.Process{}, acked: true, completeBy: t0.Add(5 * time.Second)}}}, t0.Add(5 * time.Second)},
		{"task being killed: its max_completion_time no longer counts", &Executor{conn: subscribed, launched: true, subscribedAt: t0,
			tasks: map[string]*task{"t1": {proc: &supervise.Process{}, acked: true, killing: true, completeBy: t0.Add(5 * time.Second)}}}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			e.cfg = cfg
			if got := e.nextDeadline(); !got.Equal(tc.want) {
				t.Errorf("nextDeadline = %v, want %v", got, tc.want)
			}
		})
	}
	// The no-task deadline is one checkDone acts on just after it.
	e := &Executor{cfg: cfg, conn: subscribed, subscribedAt: t0, tasks: map[string]*task{}, log: slog.New(slog.DiscardHandler)}
	e.checkDone(e.nextDeadline().Add(time.Millisecond))
	if !e.done {
		t.Error("checkDone just after the no-task deadline: not done")
	}
}

// TestSignalledShortensAckWait: SIGTERM makes the executor wait at most
// 1 s for acknowledgements, also when that wait had already begun (every
// task ended) with the default 60 s: Run returns soon after the signal.
func TestSignalledShortensAckWait(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		exitBy time.Time
		want   time.Time
	}{
		{"waiting for acknowledgements", t0.Add(59 * time.Second), t0.Add(time.Second)},
		{"not waiting yet", time.Time{}, time.Time{}},
		{"an earlier deadline stays", t0.Add(500 * time.Millisecond), t0.Add(500 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Executor{cfg: Config{AckWait: time.Minute}, ackWait: time.Minute, exitBy: tc.exitBy,
				tasks: map[string]*task{"t1": {terminal: true}}, launched: true, log: slog.New(slog.DiscardHandler)}
			e.signalled(t0)
			if !e.exitBy.Equal(tc.want) || e.ackWait != time.Second {
				t.Errorf("exitBy %v, ackWait %v; want %v, 1s", e.exitBy, e.ackWait, tc.want)
			}
		})
	}
}

// TestRegistrationTimeoutFlag: the bound of the first subscription (and of
// the wait for a SUBSCRIBE's answer) is a flag with an environment
// variable, shown in --help; a value that is not a positive duration is a
// usage error naming the one used, with the usage line.
func TestRegistrationTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		environ []string
		code    int
		want    string // in stdout+stderr
	}{
		{"help", []string{"--help"}, nil, ExitOK, "EXECUTOR_REGISTRATION_TIMEOUT"},
		{"zero", []string{"--registration-timeout", "0s"}, nil, ExitUsage, "executor: --registration-timeout: must be positive, got 0s\nusage: executor"},
		{"negative from the environment", nil, []string{"EXECUTOR_REGISTRATION_TIMEOUT=-1m"}, ExitUsage, "executor: EXECUTOR_REGISTRATION_TIMEOUT: must be positive, got -1m0s\nusage: executor"},
		{"not a duration", []string{"--registration-timeout", "soon"}, nil, ExitUsage, "registration-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := Run(context.Background(), append([]string{"executor"}, tc.args...), tc.environ, strings.NewReader(""), &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("exit %d, want %d; output does not contain %q:\n%s%s", code, tc.code, tc.want, out.String(), errb.String())
			}
		})
	}
}
