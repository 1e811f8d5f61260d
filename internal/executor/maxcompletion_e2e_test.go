package executor_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/testenv"
)

// TestMaxCompletionTime: a task still running at the end of its
// max_completion_time is killed at once, whatever its kill policy, with no
// TASK_KILLING, and ends TASK_FAILED / REASON_MAX_COMPLETION_TIME_REACHED
// (Mesos' default executor, src/launcher/default_executor.cpp,
// maxCompletion); being FAILED, it kills the rest of its group. A task of
// the same group ending within its own limit is not affected.
func TestMaxCompletionTime(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("max-completion", false, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
	o := s.offer()
	limit := func(d time.Duration) *mesos.DurationInfo { return &mesos.DurationInfo{Nanoseconds: d.Nanoseconds()} }
	// The overdue task ignores SIGTERM and has a long kill policy: neither
	// may delay its end.
	slow := shellTask("mct-slow", `trap '' TERM; touch started; while :; do sleep 0.1; done`)
	slow.MaxCompletionTime = limit(time.Second)
	slow.KillPolicy = &mesos.KillPolicy{GracePeriod: limit(time.Minute)}
	quick := shellTask("mct-quick", "exit 0")
	quick.MaxCompletionTime = limit(time.Minute)
	unlimited := shellTask("mct-sibling", "sleep 300")
	zero := shellTask("mct-zero", "sleep 300")
	zero.MaxCompletionTime = limit(0) // no limit, as in Mesos
	start := time.Now()
	s.launchGroup(o, s.defaultExecutor("mct"), slow, quick, unlimited, zero)

	if st := s.Update("mct-quick", mesos.TASK_FINISHED); st.Reason != nil {
		t.Errorf("mct-quick FINISHED with reason %s", st.GetReason())
	}
	st := s.Update("mct-slow", mesos.TASK_FAILED)
	took := time.Since(start)
	if st.GetReason() != mesos.REASON_MAX_COMPLETION_TIME_REACHED || st.GetSource() != mesos.SOURCE_EXECUTOR {
		t.Errorf("mct-slow FAILED: reason %s source %s, want REASON_MAX_COMPLETION_TIME_REACHED from the executor", st.GetReason(), st.GetSource())
	}
	if st.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("mct-slow FAILED message %q, want SIGKILL at once", st.GetMessage())
	}
	if took < time.Second {
		t.Errorf("mct-slow ended %v after its launch, before its 1 s max_completion_time", took)
	}
	if took > time.Second+30*time.Second {
		t.Errorf("mct-slow ended %v after its launch: its 1 s max_completion_time was not enforced without grace", took)
	}
	if _, err := os.Stat(filepath.Join(sandbox(t, cl, s.FrameworkID, "mct"), "tasks", "mct-slow", "started")); err != nil {
		t.Errorf("mct-slow never ran: %v", err)
	}
	if n := countStates(s.updates("mct-slow"), mesos.TASK_KILLING); n != 0 {
		t.Errorf("mct-slow got %d TASK_KILLING updates, want none", n)
	}
	// The group rule: the siblings still running are killed (TASK_KILLING,
	// then TASK_KILLED, without the reason).
	for _, id := range []string{"mct-sibling", "mct-zero"} {
		s.Update(id, mesos.TASK_KILLING)
		if st := s.Update(id, mesos.TASK_KILLED); st.Reason != nil {
			t.Errorf("%s KILLED with reason %s", id, st.GetReason())
		}
	}
}

// TestKillBeforeMaxCompletionTime: a KILL cancels the max_completion_time
// timer (Mesos' kill() does): a task still in its kill's grace period when
// its limit passes ends TASK_KILLED, without the reason.
func TestKillBeforeMaxCompletionTime(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("kill-first", false, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
	o := s.offer()
	const id = "killed-first"
	task := shellTask(id, `trap '' TERM; touch trapped; while :; do sleep 0.1; done`)
	task.MaxCompletionTime = &mesos.DurationInfo{Nanoseconds: (3 * time.Second).Nanoseconds()}
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: (5 * time.Second).Nanoseconds()}}
	start := time.Now()
	s.launchGroup(o, s.defaultExecutor("kill-first"), task)
	s.Update(id, mesos.TASK_RUNNING)
	trapped := filepath.Join(sandbox(t, cl, s.FrameworkID, "kill-first"), "tasks", id, "trapped")
	eventually(t, "the task to ignore SIGTERM", func() bool { _, err := os.Stat(trapped); return err == nil })
	s.MustCall(calls.Kill(id, ""))
	late := time.Since(start) >= 3*time.Second
	s.Update(id, mesos.TASK_KILLING)
	ev := s.WaitFor(func(e *scheduler.Event) bool {
		st := e.Update.GetStatus()
		return e.Type == scheduler.Event_UPDATE && st.TaskID.Value == id && mesosx.IsTerminal(st.GetState())
	}, "the terminal update of "+id)
	st := ev.Update.Status
	if late {
		// The machine was too slow for the KILL to come first: the limit
		// may have passed before it, and either end is right.
		t.Logf("the KILL came %v after the launch, after the limit; ended %s", time.Since(start), st.GetState())
		return
	}
	if st.GetState() != mesos.TASK_KILLED || st.Reason != nil {
		t.Errorf("ended %s (reason %s), want TASK_KILLED without a reason", st.GetState(), st.GetReason())
	}
	if st.GetMessage() != "Command terminated with signal Killed" {
		t.Errorf("KILLED message %q, want SIGKILL after the grace", st.GetMessage())
	}
}
