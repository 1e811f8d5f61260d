package executor_test

import (
	"os"
	"path/filepath"
	"strings"
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
		starting := s.update(id, mesos.TASK_STARTING)
		running := s.update(id, mesos.TASK_RUNNING)
		done := s.update(id, mesos.TASK_FINISHED)
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
	sb := sandbox(t, cl, s.fid, "pod-0")
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
	s.waitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_FAILURE && e.Failure.GetExecutorID().GetValue() == "pod-0"
	}, "FAILURE (executor exited)")
}

func TestGroupRule(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("group-rule", false))

	t.Run("essential failure kills the group", func(t *testing.T) {
		s.t = t
		o := s.offer()
		side := shellTask("g1-side", "sleep 300")
		side.Labels = label("essential", "false")
		s.launchGroup(o, s.defaultExecutor("g1"),
			shellTask("g1-main", "sleep 300"), side, shellTask("g1-bad", "sleep 0.5; exit 3"))
		st := s.update("g1-bad", mesos.TASK_FAILED)
		if st.GetMessage() != "Command exited with status 3" {
			t.Errorf("FAILED message %q", st.GetMessage())
		}
		for _, id := range []string{"g1-main", "g1-side"} {
			st := s.update(id, mesos.TASK_KILLED)
			if st.GetMessage() != "Command terminated with signal Terminated" {
				t.Errorf("%s KILLED message %q", id, st.GetMessage())
			}
		}
	})

	t.Run("non-essential failure kills nobody", func(t *testing.T) {
		s.t = t
		o := s.offer()
		side := shellTask("g2-side", "sleep 0.5; exit 4")
		side.Labels = label("essential", "false")
		s.launchGroup(o, s.defaultExecutor("g2"), shellTask("g2-main", "sleep 300"), side)
		s.update("g2-main", mesos.TASK_RUNNING)
		s.update("g2-side", mesos.TASK_FAILED)
		if ev, ok := s.waitWithin(func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == "g2-main" && mesosx.IsTerminal(e.Update.Status.GetState())
		}, 2*time.Second); ok {
			t.Fatalf("g2-main got %s after a non-essential sibling failed", ev.Update.Status.GetState())
		}
		// Killing an essential task applies the group rule to the rest
		// (here: nobody left); the executor then exits.
		s.mustCall(calls.Kill("g2-main", ""))
		s.update("g2-main", mesos.TASK_KILLED)
	})
}

func TestKillGracePeriod(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("kill", false, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
	// The task ignores SIGTERM (its sleeps do not, so the loop goes on).
	trap := `trap 'echo got TERM' TERM; while :; do sleep 0.1; done`
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
			s.t = t
			id := strings.ReplaceAll(tc.name, " ", "-")
			id = strings.ReplaceAll(id, "'", "")
			o := s.offer()
			task := shellTask(id, trap)
			task.KillPolicy = tc.taskPolicy
			s.launchGroup(o, s.defaultExecutor("kill-"+id), task)
			s.update(id, mesos.TASK_RUNNING)
			// Wait until the trap is installed: the shell loop has run.
			time.Sleep(300 * time.Millisecond)
			start := time.Now()
			k := calls.Kill(id, "")
			k.Kill.KillPolicy = tc.killPolicy
			s.mustCall(k)
			s.mustCall(calls.Kill(id, "")) // a duplicate KILL is ignored
			s.update(id, mesos.TASK_KILLING)
			st := s.update(id, mesos.TASK_KILLED)
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
	s.launchGroup(o, s.defaultExecutor("sd"), shellTask("sd-1", "sleep 300"), shellTask("sd-2", "exec sleep 300"))
	s.update("sd-1", mesos.TASK_RUNNING)
	s.update("sd-2", mesos.TASK_RUNNING)
	s.mustCall(calls.Shutdown("sd", o.AgentID.Value))
	for _, id := range []string{"sd-1", "sd-2"} {
		st := s.update(id, mesos.TASK_KILLED)
		if st.GetSource() != mesos.SOURCE_EXECUTOR {
			t.Errorf("%s KILLED from %s, want the executor", id, st.GetSource())
		}
	}
	f := s.waitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_FAILURE && e.Failure.GetExecutorID().GetValue() == "sd"
	}, "FAILURE (executor exited)")
	if f.Failure.GetStatus() != 0 {
		t.Errorf("executor wait status %d, want a clean exit", f.Failure.GetStatus())
	}
}
