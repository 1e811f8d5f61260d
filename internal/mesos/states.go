package mesos

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// IsTerminal reports whether s is a terminal task state: FINISHED, FAILED,
// KILLED, ERROR, LOST, DROPPED, GONE or GONE_BY_OPERATOR. (A LOST task may
// come back if its agent re-registers; it is still terminal.)
func IsTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR,
		mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}
