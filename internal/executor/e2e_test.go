package executor_test

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/testenv"
)

// These tests run the built executor under testenv, driven by the test
// scheduler in harness_test.go.

func TestGroupOfThreeFinishes(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("three", false))
	o := s.offer()
	ei := s.defaultExecutor("pod-0")
	var tasks []mesos.TaskInfo
	for _, id := range []string{"a", "b", "c"} {
		tasks = append(tasks, shellTask(id, `echo "sandbox=$MESOS_SANDBOX ip=$MESOS_CONTAINER_IP role=$MESOS_ALLOCATION_ROLE pwd=$(pwd) x=$X"`, "X=x-"+id))
	}
	s.launchGroup(o, ei, tasks...)
	for _, id := range []string{"a", "b", "c"} {
		starting := s.Update(id, mesos.TASK_STARTING)
		running := s.Update(id, mesos.TASK_RUNNING)
		done := s.Update(id, mesos.TASK_FINISHED)
		for _, st := range []mesos.TaskStatus{starting, running, done} {
			if st.GetSource() != mesos.SOURCE_EXECUTOR || st.GetExecutorID().GetValue() != "pod-0" || len(st.UUID) != 16 {
				t.Errorf("%s %s: source %s executor %v uuid %x", id, st.GetState(), st.GetSource(), st.ExecutorID, st.UUID)
			}
			if cs := st.GetContainerStatus(); cs == nil || cs.GetContainerID().GetValue() == "" || cs.GetContainerID().GetParent().GetValue() == "" {
				t.Errorf("%s %s: container status %v", id, st.GetState(), cs)
			}
		}
		if running.GetContainerStatus().GetExecutorPID() == 0 {
			t.Errorf("%s RUNNING: no pid in the container status", id)
		}
		if done.GetMessage() != "Command exited with status 0" {
			t.Errorf("%s FINISHED message %q", id, done.GetMessage())
		}
	}
	// Each task ran in tasks/<id> with its own stdout and environment.
	sb := sandbox(t, cl, s.FrameworkID, "pod-0")
	agentIP := cl.Agents()[0].IP
	for _, id := range []string{"a", "b", "c"} {
		dir := filepath.Join(sb, "tasks", id)
		out, err := os.ReadFile(filepath.Join(dir, "stdout"))
		if err != nil {
			t.Fatal(err)
		}
		want := "sandbox=" + dir + " ip=" + agentIP + " role=* pwd=" + dir + " x=x-" + id + "\n"
		if string(out) != want {
			t.Errorf("%s stdout = %q, want %q", id, out, want)
		}
	}
	// With no task left and every update acknowledged, the executor exits.
	s.WaitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_FAILURE && e.Failure.GetExecutorID().GetValue() == "pod-0"
	}, "FAILURE (executor exited)")
}

func TestGroupRule(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("group-rule", false))

	t.Run("essential failure kills the group", func(t *testing.T) {
		s.T = t
		o := s.offer()
		side := shellTask("g1-side", "sleep 300")
		side.Labels = label("essential", "false")
		s.launchGroup(o, s.defaultExecutor("g1"),
			shellTask("g1-main", "sleep 300"), side, shellTask("g1-bad", "sleep 1; exit 3"))
		st := s.Update("g1-bad", mesos.TASK_FAILED)
		if st.GetMessage() != "Command exited with status 3" {
			t.Errorf("FAILED message %q", st.GetMessage())
		}
		for _, id := range []string{"g1-main", "g1-side"} {
			st := s.Update(id, mesos.TASK_KILLED)
			if st.GetMessage() != "Command terminated with signal Terminated" {
				t.Errorf("%s KILLED message %q", id, st.GetMessage())
			}
		}
	})

	// Mesos' default executor kills the rest of the group with its
	// kill()'s default grace, 3 s, whatever their kill policy
	// (default_executor.cpp, waited()); only a KILL uses the policy. A
	// sibling ignoring SIGTERM with a 12 s policy was given 12 s.
	t.Run("the group is killed with 3 s of grace, not the tasks' policy", func(t *testing.T) {
		s.T = t
		o := s.offer()
		stubborn := shellTask("g3-stubborn", `trap '' TERM; touch trapped; while :; do sleep 0.1; done`)
		stubborn.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: (12 * time.Second).Nanoseconds()}}
		s.launchGroup(o, s.defaultExecutor("g3"), stubborn, shellTask("g3-bad", "while [ ! -e ../g3-stubborn/trapped ]; do sleep 0.05; done; exit 3"))
		s.Update("g3-bad", mesos.TASK_FAILED)
		failed := time.Now()
		st := s.Update("g3-stubborn", mesos.TASK_KILLED)
		took := time.Since(failed)
		if st.GetMessage() != "Command terminated with signal Killed" {
			t.Errorf("KILLED message %q, want SIGKILL after the grace", st.GetMessage())
		}
		if took > 3*time.Second+5*time.Second || took < 2*time.Second {
			t.Errorf("the group kill took %v, want 3 s (not the task's 12 s)", took)
		}
	})

	t.Run("non-essential failure kills nobody", func(t *testing.T) {
		s.T = t
		o := s.offer()
		side := shellTask("g2-side", "sleep 0.5; exit 4")
		side.Labels = label("essential", "false")
		s.launchGroup(o, s.defaultExecutor("g2"), shellTask("g2-main", "sleep 300"), side)
		s.Update("g2-main", mesos.TASK_RUNNING)
		s.Update("g2-side", mesos.TASK_FAILED)
		if ev, ok := s.WaitWithin(func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == "g2-main" && mesosx.IsTerminal(e.Update.Status.GetState())
		}, 2*time.Second); ok {
			t.Fatalf("g2-main got %s after a non-essential sibling failed", ev.Update.Status.GetState())
		}
		// Killing an essential task applies the group rule to the rest
		// (here: nobody left); the executor then exits.
		s.MustCall(calls.Kill("g2-main", ""))
		s.Update("g2-main", mesos.TASK_KILLED)
	})
}

func TestKillGracePeriod(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("kill", false, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
	// The task ignores SIGTERM (its sleeps do not, so the loop goes on).
	trap := `trap 'echo got TERM' TERM; touch trapped; while :; do sleep 0.1; done`
	grace := 1500 * time.Millisecond
	for _, tc := range []struct {
		name       string
		killPolicy *mesos.KillPolicy // on KILL
		taskPolicy *mesos.KillPolicy // on TaskInfo
	}{
		{"KILL's policy", &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: grace.Nanoseconds()}}, nil},
		{"task's policy", nil, &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: grace.Nanoseconds()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.T = t
			id := strings.ReplaceAll(tc.name, " ", "-")
			id = strings.ReplaceAll(id, "'", "")
			o := s.offer()
			task := shellTask(id, trap)
			task.KillPolicy = tc.taskPolicy
			s.launchGroup(o, s.defaultExecutor("kill-"+id), task)
			s.Update(id, mesos.TASK_RUNNING)
			trapped := filepath.Join(sandbox(t, cl, s.FrameworkID, "kill-"+id), "tasks", id, "trapped")
			eventually(t, "SIGTERM trapped", func() bool { _, err := os.Stat(trapped); return err == nil })
			start := time.Now()
			k := calls.Kill(id, "")
			k.Kill.KillPolicy = tc.killPolicy
			s.MustCall(k)
			s.MustCall(calls.Kill(id, "")) // a duplicate KILL is ignored
			s.Update(id, mesos.TASK_KILLING)
			st := s.Update(id, mesos.TASK_KILLED)
			took := time.Since(start)
			if st.GetMessage() != "Command terminated with signal Killed" {
				t.Errorf("KILLED message %q, want SIGKILL", st.GetMessage())
			}
			if took < grace {
				t.Errorf("KILLED after %v, before the %v grace period", took, grace)
			}
			if took > grace+20*time.Second {
				t.Errorf("KILLED after %v, long after the %v grace period", took, grace)
			}
			if n := countStates(s.updates(id), mesos.TASK_KILLED); n != 1 {
				t.Errorf("%d KILLED updates", n)
			}
		})
	}
}

// TestKillLetsHelpersFinish: a KILL is a stop under way; when the task's
// main process exits at once on SIGTERM, a helper in its process group that
// is still flushing gets the rest of the grace period before SIGKILL, and
// TASK_KILLED comes once it is done (the kind's table is
// internal/supervise's TestGracefulStop).
func TestKillLetsHelpersFinish(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("flush", false))
	const id = "flusher"
	helper := `sh -c 'trap "sleep 0.5; echo flushed > flushed; exit 0" TERM; echo up > up; while :; do sleep 0.05; done' & `
	o := s.offer()
	task := shellTask(id, helper+`trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: (5 * time.Second).Nanoseconds()}}
	s.launchGroup(o, s.defaultExecutor("flush-ex"), task)
	s.Update(id, mesos.TASK_RUNNING)
	dir := filepath.Join(sandbox(t, cl, s.FrameworkID, "flush-ex"), "tasks", id)
	eventually(t, "the helper to start", func() bool { _, err := os.Stat(filepath.Join(dir, "up")); return err == nil })
	s.MustCall(calls.Kill(id, ""))
	s.Update(id, mesos.TASK_KILLED)
	if _, err := os.Stat(filepath.Join(dir, "flushed")); err != nil {
		t.Errorf("the helper was killed before its flush: %v", err)
	}
}

func countStates(sts []mesos.TaskStatus, state mesos.TaskState) int {
	n := 0
	for _, st := range sts {
		if st.GetState() == state {
			n++
		}
	}
	return n
}

func TestShutdown(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("shutdown", false))
	o := s.offer()
	// sd-3 ignores SIGTERM and has a 12 s kill policy: SHUTDOWN kills it
	// with Mesos' 3 s (default_executor.cpp, shutdown()), within the
	// agent's 5 s executor shutdown grace period, after which testenv, as
	// Mesos, kills the executor (and no TASK_KILLED comes from it).
	stubborn := shellTask("sd-3", `trap '' TERM; while :; do sleep 0.1; done`)
	stubborn.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: (12 * time.Second).Nanoseconds()}}
	s.launchGroup(o, s.defaultExecutor("sd"), shellTask("sd-1", "sleep 300"), shellTask("sd-2", "exec sleep 300"), stubborn)
	for _, id := range []string{"sd-1", "sd-2", "sd-3"} {
		s.Update(id, mesos.TASK_RUNNING)
	}
	s.MustCall(calls.Shutdown("sd", o.AgentID.Value))
	for _, id := range []string{"sd-1", "sd-2", "sd-3"} {
		st := s.Update(id, mesos.TASK_KILLED)
		if st.GetSource() != mesos.SOURCE_EXECUTOR {
			t.Errorf("%s KILLED from %s, want the executor", id, st.GetSource())
		}
	}
	f := s.WaitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_FAILURE && e.Failure.GetExecutorID().GetValue() == "sd"
	}, "FAILURE (executor exited)")
	if f.Failure.GetStatus() != 0 {
		t.Errorf("executor wait status %d, want a clean exit", f.Failure.GetStatus())
	}
}

func secs(f float64) *float64 { return &f }

func TestHealthChecks(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("health", false))
	fast := func(cmd string, failures ...uint32) *mesos.HealthCheck {
		shell := cmd
		n := uint32(3)
		if len(failures) > 0 {
			n = failures[0]
		}
		return &mesos.HealthCheck{
			Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: &shell},
			DelaySeconds: secs(0), IntervalSeconds: secs(0.2), TimeoutSeconds: secs(10), GracePeriodSeconds: secs(0),
			ConsecutiveFailures: &n,
		}
	}

	t.Run("failing check: healthy=false, then KILLED", func(t *testing.T) {
		s.T = t
		o := s.offer()
		task := shellTask("sick", "sleep 300")
		task.HealthCheck = fast("exit 1")
		s.launchGroup(o, s.defaultExecutor("sick"), task)
		s.Update("sick", mesos.TASK_RUNNING)
		for i := 0; i < 3; i++ {
			st := s.UpdateWhere("sick", mesos.TASK_RUNNING, func(st mesos.TaskStatus) bool { return st.Healthy != nil })
			if st.GetHealthy() || st.GetReason() != mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
				t.Errorf("health update %d: healthy=%v reason %s", i, st.GetHealthy(), st.GetReason())
			}
		}
		st := s.Update("sick", mesos.TASK_KILLED)
		if st.Healthy == nil || st.GetHealthy() {
			t.Errorf("KILLED healthy = %v, want false", st.Healthy)
		}
	})

	// Mesos kills once consecutiveFailures >= consecutive_failures
	// (health_checker.cpp, failure()), so 0 kills at the first counted
	// failure; it never killed.
	t.Run("consecutive_failures 0: KILLED at the first failure", func(t *testing.T) {
		s.T = t
		o := s.offer()
		task := shellTask("sick0", "sleep 300")
		task.HealthCheck = fast("exit 1", 0)
		s.launchGroup(o, s.defaultExecutor("sick0"), task)
		s.UpdateWhere("sick0", mesos.TASK_RUNNING, func(st mesos.TaskStatus) bool { return st.Healthy != nil && !st.GetHealthy() })
		st := s.Update("sick0", mesos.TASK_KILLED)
		if st.Healthy == nil || st.GetHealthy() {
			t.Errorf("KILLED healthy = %v, want false", st.Healthy)
		}
		if n := len(s.updates("sick0")); n > 6 {
			t.Errorf("%d updates: more than one failure before the kill", n)
		}
	})

	t.Run("passing check: healthy=true once", func(t *testing.T) {
		s.T = t
		o := s.offer()
		task := shellTask("fine", "sleep 300")
		task.HealthCheck = fast("true")
		s.launchGroup(o, s.defaultExecutor("fine"), task)
		st := s.UpdateWhere("fine", mesos.TASK_RUNNING, func(st mesos.TaskStatus) bool { return st.Healthy != nil })
		if !st.GetHealthy() {
			t.Errorf("healthy = false")
		}
		if _, ok := s.WaitWithin(func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == "fine" && e.Update.Status.Healthy != nil
		}, time.Second); ok {
			t.Errorf("a second health update while healthy")
		}
		s.MustCall(calls.Kill("fine", ""))
		s.Update("fine", mesos.TASK_KILLED)
	})

	// As Mesos' master, testenv's refuses the group before the executor
	// sees it; the executor's own refusal is TestValidateHealthCheck's.
	t.Run("invalid check: TASK_ERROR for the group", func(t *testing.T) {
		s.T = t
		o := s.offer()
		bad := shellTask("bad-hc", "sleep 300")
		bad.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP}
		sib := shellTask("bad-sib", "sleep 300")
		s.launchGroup(o, s.defaultExecutor("bad"), bad, sib)
		for _, id := range []string{"bad-hc", "bad-sib"} {
			if st := s.Update(id, mesos.TASK_ERROR); st.GetReason() != mesos.REASON_TASK_GROUP_INVALID || !strings.Contains(st.GetMessage(), "'http'") {
				t.Errorf("%s: %s %q", id, st.GetReason(), st.GetMessage())
			}
		}
	})
}

func TestReadinessCheckStatus(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("readiness", false))

	// An HTTP server answering 503 until told otherwise, behind a
	// redirect: Mesos' checker runs curl -L and reports the last status
	// (checker_process.cpp, httpCheckCommand), never the 302.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			http.Redirect(w, r, "/ready/", http.StatusFound)
			return
		}
		if ready.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := uint32(ln.Addr().(*net.TCPAddr).Port)

	o := s.offer()
	cmdTask := shellTask("cmd-ready", "sleep 300")
	line := "test -e ready"
	cmdTask.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND,
		Command:      &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: &line}},
		DelaySeconds: secs(0), IntervalSeconds: secs(0.2), TimeoutSeconds: secs(10)}
	path := "/ready"
	httpTask := shellTask("http-ready", "sleep 300")
	httpTask.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP, HTTP: &mesos.CheckInfo_Http{Port: port, Path: &path},
		DelaySeconds: secs(0), IntervalSeconds: secs(0.2), TimeoutSeconds: secs(10)}
	s.launchGroup(o, s.defaultExecutor("ready"), cmdTask, httpTask)

	// Every update of a checked task carries a check_status of its type.
	st := s.Update("cmd-ready", mesos.TASK_STARTING)
	if cs := st.GetCheckStatus(); cs.GetType() != mesos.CheckInfo_COMMAND || cs.GetCommand() == nil || cs.GetCommand().ExitCode != nil {
		t.Errorf("STARTING check_status = %v, want an empty COMMAND status", cs)
	}
	exitCode := func(want int32) func(mesos.TaskStatus) bool {
		return func(st mesos.TaskStatus) bool {
			c := st.GetCheckStatus().GetCommand()
			return st.GetReason() == mesos.REASON_TASK_CHECK_STATUS_UPDATED && c != nil && c.ExitCode != nil && *c.ExitCode == want
		}
	}
	s.UpdateWhere("cmd-ready", mesos.TASK_RUNNING, exitCode(1))
	if err := os.WriteFile(filepath.Join(sandbox(t, cl, s.FrameworkID, "ready"), "tasks", "cmd-ready", "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.UpdateWhere("cmd-ready", mesos.TASK_RUNNING, exitCode(0))

	httpCode := func(want uint32) func(mesos.TaskStatus) bool {
		return func(st mesos.TaskStatus) bool {
			h := st.GetCheckStatus().GetHTTP()
			return st.GetReason() == mesos.REASON_TASK_CHECK_STATUS_UPDATED && h != nil && h.StatusCode != nil && *h.StatusCode == want
		}
	}
	s.UpdateWhere("http-ready", mesos.TASK_RUNNING, httpCode(503))
	ready.Store(true)
	s.UpdateWhere("http-ready", mesos.TASK_RUNNING, httpCode(200))
	// An unchanged result is not reported again.
	if _, ok := s.WaitWithin(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == "http-ready" &&
			e.Update.Status.GetReason() == mesos.REASON_TASK_CHECK_STATUS_UPDATED
	}, time.Second); ok {
		t.Errorf("check update without a change")
	}
	s.MustCall(calls.Shutdown("ready", o.AgentID.Value))
	s.Update("cmd-ready", mesos.TASK_KILLED)
	s.Update("http-ready", mesos.TASK_KILLED)
}

func TestURIsFetchedPerTask(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("uris", false))
	src := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("hello.sh", "#!/bin/sh\necho hello from $1\n", 0o644)
	plain := write("a-only.txt", "for a\n", 0o644)
	archive := filepath.Join(src, "bundle.tar.gz")
	tarball(t, archive, map[string]string{"bundle/conf.txt": "conf\n"})
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	t.Cleanup(srv.Close)

	yes := true
	out := "renamed/b.txt"
	a := shellTask("fa", `./hello.sh a > hello.out && test -f a-only.txt && test -f bundle/conf.txt && ! test -e renamed`)
	a.Command.URIs = []mesos.CommandInfo_URI{{Value: srv.URL + "/hello.sh", Executable: &yes}, {Value: plain}, {Value: "file://" + archive}}
	b := shellTask("fb", `test -f renamed/b.txt && ! test -e a-only.txt && ! test -e hello.sh`)
	b.Command.URIs = []mesos.CommandInfo_URI{{Value: plain, OutputFile: &out}}
	s.launchGroup(s.offer(), s.defaultExecutor("uris"), a, b)
	s.Update("fa", mesos.TASK_FINISHED)
	s.Update("fb", mesos.TASK_FINISHED)
	got, err := os.ReadFile(filepath.Join(sandbox(t, cl, s.FrameworkID, "uris"), "tasks", "fa", "hello.out"))
	if err != nil || string(got) != "hello from a\n" {
		t.Errorf("hello.out = %q, %v", got, err)
	}

	// A URI that cannot be fetched fails the task before it starts, and
	// the group rule kills its sibling.
	missing := shellTask("fmissing", "true")
	missing.Command.URIs = []mesos.CommandInfo_URI{{Value: srv.URL + "/nope"}}
	s.launchGroup(s.offer(), s.defaultExecutor("uris2"), missing, shellTask("fsib", "sleep 300"))
	// The message names the file by its path in the task's sandbox, not by
	// the /proc/self/fd path the executor fetched through.
	st := s.Update("fmissing", mesos.TASK_FAILED)
	wantFile := filepath.Join(sandbox(t, cl, s.FrameworkID, "uris2"), "tasks", "fmissing", "nope")
	if st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "/nope\" into "+wantFile+": HTTP 404") ||
		strings.Contains(st.GetMessage(), "/proc/self/fd") {
		t.Errorf("fmissing: %s %q, want it to name %s", st.GetReason(), st.GetMessage(), wantFile)
	}
	s.Update("fsib", mesos.TASK_KILLED)

	// The message is masked with the task's secrets (the agent, the
	// master's state and the scheduler show it): a URI can quote one.
	leaky := shellTask("fleaky", "true", "DB_PASSWORD=hunter2222longsecret")
	leaky.Command.URIs = []mesos.CommandInfo_URI{{Value: srv.URL + "/hunter2222longsecret"}}
	s.launchGroup(s.offer(), s.defaultExecutor("uris3"), leaky)
	st = s.Update("fleaky", mesos.TASK_FAILED)
	if msg := st.GetMessage(); strings.Contains(msg, "hunter2222") || !strings.Contains(msg, ": HTTP 404") {
		t.Errorf("fleaky: %q, want the 404 with DB_PASSWORD's value masked", msg)
	}
}

// tarball writes a .tar.gz of files.
func tarball(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestExecutorKilledLeavesNoTask(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("kill9", false))
	marker := fmt.Sprintf("KILL9_MARKER=%d", time.Now().UnixNano())
	s.launchGroup(s.offer(), s.defaultExecutor("k9"),
		shellTask("k9-exec", "exec sleep 300", marker),
		shellTask("k9-shell", "sleep 300; echo done", marker),
		// A grandchild in the background, and a shell ignoring SIGTERM.
		shellTask("k9-bg", "trap '' TERM; sleep 300 & wait", marker))
	for _, id := range []string{"k9-exec", "k9-shell", "k9-bg"} {
		s.Update(id, mesos.TASK_RUNNING)
	}
	eventually(t, "task processes running", func() bool { return len(leftoversOf(marker)) >= 4 })
	if err := cl.KillExecutor(s.FrameworkID, "k9"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"k9-exec", "k9-shell", "k9-bg"} {
		if st := s.Update(id, mesos.TASK_FAILED); st.GetReason() != mesos.REASON_EXECUTOR_TERMINATED {
			t.Errorf("%s: %s", id, st.GetReason())
		}
	}
	eventually(t, "every task process gone", func() bool { return len(leftoversOf(marker)) == 0 })
}

func TestAgentConnectionDropped(t *testing.T) {
	cl := startCluster(t, testenv.Config{})

	t.Run("checkpointing: reconnect, nothing lost or duplicated", func(t *testing.T) {
		s := subscribe(t, cl, frameworkInfo("checkpoint", true))
		flag := filepath.Join(t.TempDir(), "go")
		s.launchGroup(s.offer(), s.defaultExecutor("cp"),
			shellTask("cp-wait", fmt.Sprintf("while ! test -e %s; do sleep 0.05; done; exit 0", flag)),
			shellTask("cp-long", "sleep 300"))
		s.Update("cp-wait", mesos.TASK_RUNNING)
		s.Update("cp-long", mesos.TASK_RUNNING)

		// The task ends while the executor is cut off from the agent.
		if err := cl.DropExecutor(s.FrameworkID, "cp"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(flag, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s.Update("cp-wait", mesos.TASK_FINISHED)

		// A KILL sent while the executor is cut off reaches it once it is back.
		if err := cl.DropExecutor(s.FrameworkID, "cp"); err != nil {
			t.Fatal(err)
		}
		s.MustCall(calls.Kill("cp-long", ""))
		s.Update("cp-long", mesos.TASK_KILLED)
		s.WaitFor(func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_FAILURE && e.Failure.GetExecutorID().GetValue() == "cp"
		}, "FAILURE (executor exited)")

		for _, id := range []string{"cp-wait", "cp-long"} {
			seen := map[mesos.TaskState]int{}
			uuids := map[string]bool{}
			for _, st := range s.updates(id) {
				seen[st.GetState()]++
				if uuids[string(st.UUID)] {
					t.Errorf("%s: update %s delivered twice", id, st.GetState())
				}
				uuids[string(st.UUID)] = true
			}
			want := map[mesos.TaskState]int{mesos.TASK_STARTING: 1, mesos.TASK_RUNNING: 1, mesos.TASK_FINISHED: 1}
			if id == "cp-long" {
				want = map[mesos.TaskState]int{mesos.TASK_STARTING: 1, mesos.TASK_RUNNING: 1, mesos.TASK_KILLED: 1}
			}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("%s: updates %v, want %v", id, seen, want)
			}
		}
	})

	t.Run("no checkpointing: tasks killed, executor exits", func(t *testing.T) {
		s := subscribe(t, cl, frameworkInfo("no-checkpoint", false))
		marker := fmt.Sprintf("NOCP_MARKER=%d", time.Now().UnixNano())
		s.launchGroup(s.offer(), s.defaultExecutor("nocp"), shellTask("nocp-1", "sleep 300", marker))
		s.Update("nocp-1", mesos.TASK_RUNNING)
		eventually(t, "task running", func() bool { return len(leftoversOf(marker)) > 0 })
		if err := cl.DropExecutor(s.FrameworkID, "nocp"); err != nil {
			t.Fatal(err)
		}
		if st := s.Update("nocp-1", mesos.TASK_FAILED); st.GetReason() != mesos.REASON_EXECUTOR_TERMINATED {
			t.Errorf("nocp-1: %s %q", st.GetReason(), st.GetMessage())
		}
		eventually(t, "task process gone", func() bool { return len(leftoversOf(marker)) == 0 })
	})
}

// TestCustomExecutorLaunch runs the executor as a CUSTOM executor: a
// LAUNCH is a group of one, its command in the task's data.
// It also checks that task secrets never reach the executor's log.
func TestCustomExecutorLaunch(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("custom", false))
	o := s.offer()
	no := false
	bin := executorBin
	ei := s.defaultExecutor("custom")
	ei.Type = mesos.ExecutorInfo_CUSTOM
	ei.Command = &mesos.CommandInfo{Shell: &no, Value: &bin, Arguments: []string{"executor", "--verbose"}}
	const secret = "s3cr3t-value-42"
	task := shellTask("solo", `test "$DB_PASSWORD" = `+secret+` && test "$PLAIN" = visible`, "DB_PASSWORD="+secret, "PLAIN=visible")
	data, err := task.Command.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	task.Command, task.Data, task.Executor = nil, data, &ei
	task.AgentID = o.AgentID
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunch(task)}.WithOffers(s.offerIDs(o)...)))
	s.Update("solo", mesos.TASK_STARTING)
	s.Update("solo", mesos.TASK_RUNNING)
	s.Update("solo", mesos.TASK_FINISHED)
	s.WaitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_FAILURE && e.Failure.GetExecutorID().GetValue() == "custom"
	}, "FAILURE (executor exited)")
	logs, err := os.ReadFile(filepath.Join(sandbox(t, cl, s.FrameworkID, "custom"), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logs), secret) {
		t.Errorf("the executor logged a secret value:\n%s", logs)
	}
	if !strings.Contains(string(logs), "launching task") || !strings.Contains(string(logs), "********") {
		t.Errorf("the executor's log lacks the masked launch record:\n%s", logs)
	}
}
