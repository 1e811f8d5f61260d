package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestCommandTaskMaxCompletionTime follows Mesos 1.11's command executor
// (src/launcher/executor.cpp, taskCompletionTimeout, kill, reaped): a task
// still running at the end of its max_completion_time is killed with no
// grace, whatever its kill policy, without TASK_KILLING, and ends
// TASK_FAILED / REASON_MAX_COMPLETION_TIME_REACHED from the executor; a
// task ending in time, or killed before, is not affected.
func TestCommandTaskMaxCompletionTime(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("max-completion", mesos.FrameworkInfo_Capability_TASK_KILLING_STATE), protoCodec)
	limit := func(d time.Duration) *mesos.DurationInfo { return &mesos.DurationInfo{Nanoseconds: d.Nanoseconds()} }
	// The task and its child ignore SIGTERM (an ignored signal is
	// inherited) once the file trapped is there, so only SIGKILL ends them.
	const stubborn = "trap '' TERM; touch trapped; sleep 300 & wait; sleep 300"

	t.Run("overdue", func(t *testing.T) {
		s.T = t
		o := s.offers()[0]
		overdue := commandTask("overdue", o, stubborn)
		overdue.MaxCompletionTime = limit(time.Second)
		overdue.KillPolicy = &mesos.KillPolicy{GracePeriod: limit(time.Minute)}
		quick := commandTask("quick", o, "exit 0")
		quick.MaxCompletionTime = limit(time.Minute)
		zero := commandTask("zero", o, "sleep 1.5")
		zero.MaxCompletionTime = limit(0) // no limit
		start := time.Now()
		s.launch(o, overdue, quick, zero)
		for _, id := range []string{"overdue", "quick", "zero"} {
			s.updateAck(id, mesos.TASK_STARTING)
			s.updateAck(id, mesos.TASK_RUNNING)
		}
		for _, id := range []string{"quick", "zero"} {
			if st := s.updateAck(id, mesos.TASK_FINISHED); st.Reason != nil {
				t.Errorf("%s FINISHED with reason %s", id, st.GetReason())
			}
		}
		st := s.updateAck("overdue", mesos.TASK_FAILED)
		took := time.Since(start)
		if st.GetReason() != mesos.REASON_MAX_COMPLETION_TIME_REACHED || st.GetSource() != mesos.SOURCE_EXECUTOR {
			t.Errorf("FAILED: reason %s source %s, want REASON_MAX_COMPLETION_TIME_REACHED from the executor", st.GetReason(), st.GetSource())
		}
		// SIGTERM, then SIGKILL at once: Killed, or Terminated on a machine
		// so slow that the shell had not set its trap yet.
		if msg := st.GetMessage(); !strings.HasPrefix(msg, "Command terminated with signal ") {
			t.Errorf("FAILED message %q, want the signal", msg)
		}
		if took < time.Second {
			t.Errorf("FAILED %v after the launch, before the 1 s max_completion_time", took)
		}
		if took > time.Second+20*time.Second {
			t.Errorf("FAILED %v after the launch: the 1 s max_completion_time was not enforced without grace", took)
		}
		for _, e := range s.Pending() {
			if e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == "overdue" {
				t.Errorf("unexpected update %s of the overdue task (no TASK_KILLING)", e.Update.Status.GetState())
			}
		}
	})

	// A KILL cancels the timer: the task, still being killed (its 5 s
	// grace) when its 3 s limit passes, ends TASK_KILLED.
	t.Run("killed first", func(t *testing.T) {
		s.T = t
		o := s.offers()[0]
		task := commandTask("killed-first", o, stubborn)
		task.MaxCompletionTime = limit(3 * time.Second)
		task.KillPolicy = &mesos.KillPolicy{GracePeriod: limit(5 * time.Second)}
		start := time.Now()
		s.launch(o, task)
		s.updateAck("killed-first", mesos.TASK_STARTING)
		s.updateAck("killed-first", mesos.TASK_RUNNING)
		trapped := filepath.Join(cl.WorkDir(), "slaves", o.AgentID.Value, "frameworks", s.FrameworkID, "executors", "killed-first", "runs", "latest", "trapped")
		eventually(t, "the task to ignore SIGTERM", func() bool { _, err := os.Stat(trapped); return err == nil })
		s.MustCall(calls.Kill("killed-first", o.AgentID.Value))
		late := time.Since(start) >= 3*time.Second
		s.updateAck("killed-first", mesos.TASK_KILLING)
		ev := s.WaitFor(func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == "killed-first" && e.Update.Status.GetState() != mesos.TASK_KILLING
		}, "the terminal update of killed-first")
		st := ev.Update.Status
		s.ack(st)
		if late {
			// The machine was too slow for the KILL to come first: the
			// timer may have fired before it, and either end is right.
			t.Logf("the KILL came %v after the launch, after the limit; ended %s", time.Since(start), st.GetState())
			return
		}
		if st.GetState() != mesos.TASK_KILLED || st.Reason != nil {
			t.Errorf("ended %s (reason %s), want TASK_KILLED without a reason", st.GetState(), st.GetReason())
		}
		if st.GetMessage() != "Command terminated with signal Killed" {
			t.Errorf("KILLED message %q, want SIGKILL after the grace", st.GetMessage())
		}
	})
}
