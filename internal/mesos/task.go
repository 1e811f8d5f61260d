package mesos

import (
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// MaxCompletionTime is a task's max_completion_time as a limit on its run:
// 0 (no limit) when it is unset, zero or negative, as both of Mesos'
// executors arm their timer only for a positive one
// (src/launcher/executor.cpp, src/launcher/default_executor.cpp). A
// negative one never gets that far: the master refuses the task.
func MaxCompletionTime(ti *mesos.TaskInfo) time.Duration {
	if d := ti.GetMaxCompletionTime(); d != nil && d.Nanoseconds > 0 {
		return time.Duration(d.Nanoseconds)
	}
	return 0
}
