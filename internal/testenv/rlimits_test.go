package testenv

import (
	"os"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	sysunix "golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/rlimit"
)

func u64(v uint64) *uint64 { return &v }

// withRLimits gives a task a MESOS container with rlimits.
func withRLimits(ti mesos.TaskInfo, limits ...mesos.RLimitInfo_RLimit) mesos.TaskInfo {
	typ := mesos.ContainerInfo_MESOS
	ti.Container = &mesos.ContainerInfo{Type: &typ, RlimitInfo: &mesos.RLimitInfo{Rlimits: limits}}
	return ti
}

// TestCommandTaskRLimits follows PosixRLimitsIsolatorTest
// (src/tests/containerizer/posix_rlimits_isolator_tests.cpp) for command
// tasks: the limits are in force in the task's processes, a limit with
// neither value is unlimited, and invalid limits (soft above hard, only
// one value) fail the task with REASON_EXECUTOR_TERMINATED before it
// starts; a task exceeding its CPU limit is killed.
func TestCommandTaskRLimits(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
	s := subscribe(t, cl, frameworkInfo("rlimits"), protoCodec)

	o := s.offers()[0]
	script := `test "$(ulimit -Sn)" = 100 && test "$(ulimit -Hn)" = 200`
	limits := []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_NOFILE, Soft: u64(100), Hard: u64(200)}}
	if _, hard, _ := rlimit.Get(0, sysunix.RLIMIT_CORE); hard == rlimit.Unlimited || os.Geteuid() == 0 {
		// UnsetLimits: neither soft nor hard means unlimited.
		script += ` && test "$(ulimit -c)" = unlimited`
		limits = append(limits, mesos.RLimitInfo_RLimit{Type: mesos.RLimitInfo_RLimit_RLMT_CORE})
	}
	s.launch(o, withRLimits(commandTask("limited", o, script), limits...))
	s.updateAck("limited", mesos.TASK_STARTING)
	s.updateAck("limited", mesos.TASK_RUNNING)
	if st := s.Update("limited", mesos.TASK_FINISHED); st.GetState() == mesos.TASK_FINISHED {
		s.ack(st)
	}

	for _, tc := range []struct {
		mesosTest string
		limit     mesos.RLimitInfo_RLimit
		want      string
	}{
		{"InvalidLimits", mesos.RLimitInfo_RLimit{Type: mesos.RLimitInfo_RLimit_RLMT_CPU, Soft: u64(100), Hard: u64(1)}, "Failed to set RLMT_CPU limit"},
		{"BothSoftAndHardLimitSet", mesos.RLimitInfo_RLimit{Type: mesos.RLimitInfo_RLimit_RLMT_CORE, Soft: u64(1)}, "Failed to set RLMT_CORE limit: Invalid rlimit values"},
	} {
		t.Run(tc.mesosTest, func(t *testing.T) {
			o := s.offers()[0]
			id := "bad-" + tc.mesosTest
			s.launch(o, withRLimits(commandTask(id, o, "true"), tc.limit))
			st := s.Update(id, mesos.TASK_FAILED)
			if st.GetReason() != mesos.REASON_EXECUTOR_TERMINATED || !strings.Contains(st.GetMessage(), tc.want) {
				t.Errorf("%s %q, want REASON_EXECUTOR_TERMINATED with %q", st.GetReason(), st.GetMessage(), tc.want)
			}
			s.ack(st)
			for _, e := range s.Pending() {
				if e.Update != nil && e.Update.Status.TaskID.Value == id {
					t.Errorf("update besides TASK_FAILED: %s", e.Update.Status.GetState())
				}
			}
		})
	}

	t.Run("TaskExceedingLimit", func(t *testing.T) {
		o := s.offers()[0]
		s.launch(o, withRLimits(commandTask("spin", o, "while :; do :; done"),
			mesos.RLimitInfo_RLimit{Type: mesos.RLimitInfo_RLimit_RLMT_CPU, Soft: u64(1), Hard: u64(1)}))
		s.updateAck("spin", mesos.TASK_STARTING)
		s.updateAck("spin", mesos.TASK_RUNNING)
		if st := s.Update("spin", mesos.TASK_FAILED); !strings.Contains(st.GetMessage(), "signal") {
			t.Errorf("spin: %q, want it killed by a signal", st.GetMessage())
		}
	})
}

// TestLimitsAndLabelsPassThrough checks that TaskInfo.limits and labels
// reach the agent (and so the executor) as the framework sent them, in
// both codecs, and that limits are validated as Mesos does
// (validateResourceLimits, and 'share_cgroups' false in a task group).
func TestLimitsAndLabelsPassThrough(t *testing.T) {
	for _, codec := range []struct {
		name string
		json bool
	}{{"json", true}, {"protobuf", false}} {
		t.Run(codec.name, func(t *testing.T) {
			cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
			c := protoCodec
			if codec.json {
				c = jsonCodec
			}
			s := subscribe(t, cl, frameworkInfo("limits"), c)
			o := s.offers()[0]
			ti := commandTask("limited", o, "sleep 600")
			ti.Limits = map[string]mesos.Value_Scalar{"cpus": {Value: 2}, "mem": {Value: 1024}}
			ti.Labels = labels("tier", "db", "essential", "false")
			bad := commandTask("below-request", o, "true")
			bad.Limits = map[string]mesos.Value_Scalar{"cpus": {Value: 0.05}}
			diskLimit := commandTask("disk-limit", o, "true")
			diskLimit.Limits = map[string]mesos.Value_Scalar{"disk": {Value: 10}}
			s.launch(o, ti, bad, diskLimit)
			if st := s.Update("below-request", mesos.TASK_ERROR); st.GetMessage() != "The cpu limit must be greater than or equal to the cpu request" {
				t.Errorf("below-request: %q", st.GetMessage())
			}
			if st := s.Update("disk-limit", mesos.TASK_ERROR); st.GetMessage() != "Only cpus and mem may be included in a task's resource limits" {
				t.Errorf("disk-limit: %q", st.GetMessage())
			}
			s.updateAck("limited", mesos.TASK_STARTING)
			cl.mu.Lock()
			got := cl.frameworks[s.FrameworkID].tasks["limited"].info
			cl.mu.Unlock()
			if got.Limits["cpus"].Value != 2 || got.Limits["mem"].Value != 1024 || len(got.Labels.GetLabels()) != 2 {
				t.Errorf("task as the agent has it: limits %v labels %v", got.Limits, got.Labels)
			}
			if tasks := stateOf(t, cl, "/state")["frameworks"].([]any)[0].(map[string]any)["tasks"].([]any); !strings.Contains(mustJSON(t, tasks), `"tier"`) {
				t.Errorf("/state task labels: %s", mustJSON(t, tasks))
			}

			o = s.offers()[0]
			g := commandTask("grouped", o, "true")
			g.Limits = map[string]mesos.Value_Scalar{"cpus": {Value: 1}}
			ei := mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "e"},
				FrameworkID: &mesos.FrameworkID{Value: s.FrameworkID}, Resources: []mesos.Resource{cpus(0.1), mem(32), disk(10)}}
			s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, g)}.WithOffers(o.ID)))
			if st := s.Update("grouped", mesos.TASK_ERROR); !strings.Contains(st.GetMessage(), "'share_cgroups' field is set to 'false'") {
				t.Errorf("grouped: %q", st.GetMessage())
			}
		})
	}
}
