package testenv

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/rlimit"
)

// containerLimits are the rlimits of a container (nil: none), checked as
// Mesos' posix/rlimits isolator does (internal/mesos.RLimits): testenv
// sets them on a command task's process and on a custom executor's (the
// DEFAULT executor, taskkit's, sets those of each task it runs). An
// invalid one is an *rlimit.Error (errors.Is rlimit.ErrSet), reported as
// Mesos reports a container it could not start: TASK_FAILED with
// REASON_EXECUTOR_TERMINATED.
func containerLimits(ci *mesos.ContainerInfo) ([]rlimit.Limit, error) {
	return mesosx.RLimits(ci.GetRlimitInfo())
}
