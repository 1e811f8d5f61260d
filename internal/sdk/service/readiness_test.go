package service

import (
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

const readyTask = `name: svc
pods:
  web:
    count: 1
    tasks:
      server:
        goal: RUNNING
        cmd: "exec sleep 600"
        cpus: 0.1
        memory: 32
        readiness-check: {cmd: "./check-up", interval: 1, delay: 0, timeout: 5}
`

// checkExit is a status carrying a readiness result: the DEFAULT
// executor's check_status with the command's exit code, or (code < 0) the
// check_status of a check that has not run yet (no exit code), as Mesos
// sends with the first TASK_RUNNING of a checked task.
func checkExit(code int32) sdktest.StatusOption {
	return func(st *mesos.TaskStatus) {
		cs := &mesos.CheckStatusInfo{Type: mesos.CheckInfo_COMMAND.Enum(), Command: &mesos.CheckStatusInfo_Command{}}
		if code >= 0 {
			cs.Command.ExitCode = &code
		}
		st.CheckStatus = cs
	}
}

// readinessLabel is the SDK executor's readiness result label.
func readinessLabel(passed string) sdktest.StatusOption {
	return func(st *mesos.TaskStatus) {
		st.Labels = &mesos.Labels{Labels: []mesos.Label{{Key: "readiness_check_passed", Value: &passed}}}
	}
}

// TestReadinessWaitMessage: a step whose task runs but has not passed its
// readiness check is STARTED, and its message says so with the check's
// last result as the updates carry it (the SDK's step says only
// "... with status: STARTED"); once the check passes the step is
// COMPLETE and the message goes.
func TestReadinessWaitMessage(t *testing.T) {
	const step = "web-0:[server]"
	for _, tc := range []struct {
		name    string
		updates []sdktest.StatusOption // TASK_RUNNING updates, in order; the last is checked
		status  plan.Status
		msg     string
	}{
		{"no check status yet", []sdktest.StatusOption{func(*mesos.TaskStatus) {}}, plan.Started, "waiting for the readiness check of web-0-server (not run yet)"},
		{"check not run yet", []sdktest.StatusOption{checkExit(-1)}, plan.Started, "waiting for the readiness check of web-0-server (not run yet)"},
		{"check fails", []sdktest.StatusOption{checkExit(-1), checkExit(1)}, plan.Started, "waiting for the readiness check of web-0-server (last: exit 1)"},
		{"check fails differently", []sdktest.StatusOption{checkExit(1), checkExit(127)}, plan.Started, "waiting for the readiness check of web-0-server (last: exit 127)"},
		{"the SDK executor's label", []sdktest.StatusOption{readinessLabel("false")}, plan.Started, "waiting for the readiness check of web-0-server (last: failed)"},
		{"check passes", []sdktest.StatusOption{checkExit(-1), checkExit(1), checkExit(0)}, plan.Complete, ""},
		{"the SDK executor's label passes", []sdktest.StatusOption{readinessLabel("false"), readinessLabel("true")}, plan.Complete, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyTask, nil, nil)
			h.ready()
			h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1", small()...)))
			ti := launched(h.master.Expect(t, tACCEPT)[0])[0]
			h.update(ti.TaskID.Value, "a1", mesos.TASK_STARTING)
			if m := h.stepMessage(plan.Deploy, step); m != "" {
				t.Errorf("STARTING: message %q, want none", m)
			}
			for _, o := range tc.updates {
				h.update(ti.TaskID.Value, "a1", mesos.TASK_RUNNING, o)
			}
			if s, m := h.stepStatus(plan.Deploy, step), h.stepMessage(plan.Deploy, step); s != tc.status || m != tc.msg {
				t.Errorf("step %s %q, want %s %q", s, m, tc.status, tc.msg)
			}
		})
	}
}
