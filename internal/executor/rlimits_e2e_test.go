package executor_test

import (
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/testenv"
)

func u64(v uint64) *uint64 { return &v }

// withCPULimit gives a task a MESOS container with an RLMT_CPU limit.
func withCPULimit(ti mesos.TaskInfo, soft, hard uint64) mesos.TaskInfo {
	typ := mesos.ContainerInfo_MESOS
	ti.Container = &mesos.ContainerInfo{Type: &typ, RlimitInfo: &mesos.RLimitInfo{Rlimits: []mesos.RLimitInfo_RLimit{
		{Type: mesos.RLimitInfo_RLimit_RLMT_CPU, Soft: u64(soft), Hard: u64(hard)},
	}}}
	return ti
}

// TestTaskRLimits follows PosixRLimitsIsolatorTest.NestedContainers: each
// task of a group runs with its own container's rlimits (the SDK's
// `rlimits`); a task whose rlimits are invalid fails to launch.
func TestTaskRLimits(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("rlimits", false))
	o := s.offer()
	s.launchGroup(o, s.defaultExecutor("limited"),
		withCPULimit(shellTask("a", `test "$(ulimit -t)" = 10000`), 10000, 10000),
		withCPULimit(shellTask("b", `test "$(ulimit -t)" = 20000`), 20000, 20000),
	)
	for _, id := range []string{"a", "b"} {
		if st := s.Update(id, mesos.TASK_FINISHED); st.GetState() != mesos.TASK_FINISHED {
			t.Errorf("%s: %v", id, st)
		}
	}

	o = s.offer()
	s.launchGroup(o, s.defaultExecutor("invalid"), withCPULimit(shellTask("c", "true"), 100, 1))
	st := s.Update("c", mesos.TASK_FAILED)
	if st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), "Failed to set RLMT_CPU limit") {
		t.Errorf("invalid rlimits: %s %q", st.GetReason(), st.GetMessage())
	}
}
